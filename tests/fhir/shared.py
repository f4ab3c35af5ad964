"""Checks the FHIR API test modules share: the scope cases of read and search, the audit rows of
a client, its audited refusal, the 401 of a caller without a token.

Not a test module, so pytest does not rewrite its asserts: each one says what it saw."""

from __future__ import annotations

from django.db.models import QuerySet

from ehealth.core.models import AuditEvent
from tests.fhir.conftest import Api


def scope_cases(*types: str, other: str = "Patient") -> list[tuple[str, int, int]]:
    """(scopes, search status, read status): another type's scope, then read, search, both."""

    def scopes(access: str) -> str:
        return " ".join(f"system/{t}.{access}" for t in types)

    return [
        (f"system/{other}.rs", 403, 403),
        (scopes("r"), 403, 200),
        (scopes("s"), 200, 403),
        (scopes("rs"), 200, 200),
    ]


def assert_scope_statuses(caller: Api, search: int, read: int, /, **ids: object) -> None:
    """Per type (keyword, in order), search it, then read the resource of that id."""
    for path, pk in ids.items():
        for url, expected in ((path, search), (f"{path}/{pk}", read)):
            status = caller.get(url).status_code
            assert status == expected, f"GET {url}: {status}, expected {expected}"


def client_audit_events(api: Api, **filters: object) -> QuerySet[AuditEvent]:
    """The audit events of the api's client (its service account), in id order."""
    user = api.registered.client.application.user
    return AuditEvent.objects.filter(actor=user, **filters).order_by("id")


def client_audit_rows(api: Api, *fields: str, **filters: object) -> list[tuple]:
    """The fields of the client's audit events, a tuple an event, in id order."""
    return list(client_audit_events(api, **filters).values_list(*fields))


def assert_refusal_audited(api: Api, resource_type: str, status: int = 404) -> None:
    """The client's one refusal is audited with its status and resource type."""
    user = api.registered.client.application.user
    detail = AuditEvent.objects.get(actor=user, action="fhir.refused").detail
    assert detail["status"] == status and detail["type"] == resource_type, (
        f"refusal audited as {detail}, expected status {status} and type {resource_type}"
    )


def assert_anonymous_gets_401(*paths: str) -> None:
    """A caller without a token gets 401 at each path."""
    for path in paths:
        status = Api(None).get(path).status_code
        assert status == 401, f"GET {path} without a token: {status}, expected 401"
