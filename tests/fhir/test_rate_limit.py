"""Rate limits per client (and per staff user): 429 with Retry-After and an OperationOutcome,
other callers unaffected, a new window starts afresh; counted atomically in the cache."""

from __future__ import annotations

import threading
import uuid
from types import SimpleNamespace
from unittest import mock

import pytest
from django.core.cache import caches

from ehealth.core.models import AuditEvent, Role
from fhir_api.ratelimit import Rate, Throttled, parse_rate, rate_limit_check
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body

T0 = 1_800_000_000.0  # a window start for 60 s windows (1_800_000_000 = 30_000_000 * 60)


def _clock(now: float):
    return mock.patch("fhir_api.ratelimit.time.time", return_value=now)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/minute", Rate(600, 60)),
        ("600/minutes", Rate(600, 60)),
        ("100/10s", Rate(100, 10)),
        ("5 / hour", Rate(5, 3600)),
        ("20/d", Rate(20, 86400)),
        ("", None),
        ("0/minute", None),
        (None, None),
    ],
)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["600", "600/ms", "x/minute", "10/fortnight"])
def test_parse_rate_refuses_nonsense(text):
    with pytest.raises(ValueError, match="Invalid rate"):
        parse_rate(text)


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_client_over_its_limit_gets_429_and_others_do_not(api_for, facility, settings):
    a = api_for(facility, "system/Organization.rs")
    b = api_for(facility, "system/Organization.rs")
    settings.FHIR_RATE_LIMIT = "100/minute"
    settings.FHIR_RATE_LIMIT_CLIENTS = {a.registered.client_id: "3/minute"}
    path = f"Organization/{facility.pk}"
    with _clock(T0 + 15.2):
        assert [a.get(path).status_code for _ in range(3)] == [200, 200, 200]
        # when client A sends a fourth request in the same minute
        response = a.get(path)
        # then it is refused with 429, when to retry, and an OperationOutcome saying why
        assert response.status_code == 429
        assert response["Retry-After"] == "45"  # 60 - 15.2, rounded up
        issue = body(response)["issue"][0]
        assert issue["code"] == "throttled" and "3 per 60 s" in issue["diagnostics"]
        # and client B of the same unit is not affected
        assert [b.get(path).status_code for _ in range(5)] == [200] * 5
    with _clock(T0 + 59.9):
        assert a.get(path).status_code == 429
        assert a.get(path)["Retry-After"] == "1"
    # when the next window starts, A is served again
    with _clock(T0 + 60.0):
        assert a.get(path).status_code == 200


@pytest.mark.django_db
def test_every_kind_of_request_counts(api_for, facility, settings):
    a = api_for(facility, "system/Organization.rs")
    settings.FHIR_RATE_LIMIT = "3/minute"
    with _clock(T0):
        assert a.get("Organization").status_code == 200  # search
        assert a.get("Organization/0").status_code == 404  # a miss
        assert a.get("Patient").status_code == 403  # a missing scope
        assert a.get("Organization").status_code == 429
        assert Api(None).get("metadata").status_code == 200  # not per caller: never limited


@pytest.mark.django_db
def test_a_flood_is_audited_once_per_window(api_for, facility, settings):
    a = api_for(facility, "system/Organization.rs")
    settings.FHIR_RATE_LIMIT = "2/minute"
    account = a.registered.client.application.user
    with _clock(T0):
        statuses = [a.get("Organization").status_code for _ in range(6)]
    with _clock(T0 + 61):
        statuses += [a.get("Organization").status_code for _ in range(3)]
    assert statuses == [200, 200, 429, 429, 429, 429, 200, 200, 429]
    refused = AuditEvent.objects.filter(actor=account, action="fhir.refused")
    assert [r.detail["status"] for r in refused] == [429, 429]  # one per window
    assert refused[0].detail["client_id"] == a.registered.client_id


@pytest.mark.django_db
def test_staff_sessions_are_counted_per_user(client, facility, settings):
    settings.FHIR_RATE_LIMIT_STAFF = "2/minute"
    first, second = make_staff(facility, Role.DOCTOR), make_staff(facility, Role.DOCTOR)
    with _clock(T0):
        client.force_login(first)
        codes = [client.get("/fhir/R4/Organization").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        client.force_login(second)
        assert client.get("/fhir/R4/Organization").status_code == 200


@pytest.mark.django_db
def test_no_limit_when_unset(api_for, facility, settings):
    a = api_for(facility, "system/Organization.rs")
    settings.FHIR_RATE_LIMIT = ""
    with _clock(T0):
        assert {a.get("Organization").status_code for _ in range(8)} == {200}


# --- the counter -------------------------------------------------------------------------------


def _client(limit: str, settings) -> SimpleNamespace:
    client_id = uuid.uuid4().hex
    settings.FHIR_RATE_LIMIT_CLIENTS = {client_id: limit}
    return SimpleNamespace(kind="client", client_id=client_id, user=None)


def _redis_available(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.mark.skipif(not _redis_available(REDIS_URL), reason="no Redis on 127.0.0.1:6379")
def test_redis_counter_is_atomic_under_concurrency(settings):
    # given the rate-limit counter in Redis (as in production) and a client allowed 20 per minute
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
    }
    settings.FHIR_RATE_LIMIT_CACHE = "ratelimit"
    principal = _client("20/minute", settings)
    passed, refused = [], []
    start = threading.Barrier(8)

    def burst():
        start.wait()
        for _ in range(10):
            try:
                rate_limit_check(principal, now=T0 + 1)
                passed.append(1)
            except Throttled:
                refused.append(1)

    # when 8 threads send 80 requests at once
    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly 20 pass
    assert len(passed) == 20 and len(refused) == 60
    # and the key expires with its window
    keys = caches["ratelimit"]._cache.get_client().keys(f"*{principal.client_id}*")
    ttl = caches["ratelimit"]._cache.get_client().ttl(keys[0])
    assert 0 < ttl <= 61
    caches["ratelimit"].close()


def test_a_cache_outage_lets_requests_through(settings):
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.FHIR_RATE_LIMIT_CACHE = "down"
    principal = _client("1/minute", settings)
    for _ in range(3):
        rate_limit_check(principal, now=T0)  # no exception: counted nowhere, served
