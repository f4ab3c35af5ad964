"""The claim endpoints of the portal client and of the simulator: receipts, replays, refusals,
answers decided by the simulator's rules, and each failure mapped to its own exception."""

from __future__ import annotations

import base64

import pytest
import requests

from insurance.clients import portal as portal_api
from insurance.clients.portal import (
    ClaimMalformedAnswer,
    ClaimPortalClient,
    ClaimRefusedError,
    ClaimTransientError,
)
from insurance.simulator.claims import claims_state
from tests.insurance.claims import batch_fixtures
from tests.insurance.claims.batch_fixtures import control, counts, reject

claims_portal = batch_fixtures.claims_portal


def envelope(claim_key: str, *, icd: str = "J06.9", signed: bool = True) -> bytes:
    """A minimal GIAMDINHHS file as the simulator reads it (not a valid dossier)."""
    xml1 = (
        f"<TONG_HOP><MA_LK>{claim_key}</MA_LK><MA_BENH_CHINH>{icd}</MA_BENH_CHINH>"
        "<T_TONGCHI_BV>150000.00</T_TONGCHI_BV></TONG_HOP>"
    ).encode()
    signature = "<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'/>" if signed else ""
    return (
        "<GIAMDINHHS><THONGTINDONVI><MACSKCB>48901</MACSKCB></THONGTINDONVI><THONGTINHOSO>"
        "<DANHSACHHOSO><HOSO><FILEHOSO><LOAIHOSO>XML1</LOAIHOSO>"
        f"<NOIDUNGFILE>{base64.b64encode(xml1).decode()}</NOIDUNGFILE></FILEHOSO></HOSO>"
        f"</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI>{signature}</CHUKYDONVI></GIAMDINHHS>"
    ).encode()


@pytest.fixture
def client(claims_portal) -> ClaimPortalClient:
    return ClaimPortalClient(
        claims_portal.url, timeout=0.3, retries=1, backoff=0.01, username="48901_BV",
        facility_code="48901", province_code="48",
    )  # fmt: skip


def test_a_file_is_received_once_and_its_retry_is_a_replay(client, claims_portal):
    # when the same file is sent twice with the same idempotency key
    first = client.claim_send(envelope=envelope("LK1"), claim_key="LK1", idempotency_key="k1")
    again = client.claim_send(envelope=envelope("LK1"), claim_key="LK1", idempotency_key="k1")
    # then one submission, the second answered with the same transaction id
    assert (first.replay, again.replay) == (False, True)
    assert again.transaction_id == first.transaction_id
    seen = counts(claims_portal)
    assert (seen["received"], seen["requests"], seen["replays"]) == (
        {"LK1": 1},
        {"LK1": 2},
        {"LK1": 1},
    )
    # and the exchange keeps a fingerprint of the file, not the file
    assert len(first.exchange.request["sha256"]) == 64
    assert "NOIDUNGFILE" not in str(first.exchange.request)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("bad", "201"),  # not JSON -> it is sent raw below
        ("not base64!", "201"),
        (base64.b64encode(b"<x>").decode(), "201"),
        (base64.b64encode(b"<ROOT/>").decode(), "202"),
        (base64.b64encode(envelope("LK2", signed=False)).decode(), "202"),
        (base64.b64encode(envelope("")).decode(), "206"),
        (base64.b64encode(envelope("OTHER")).decode(), "206"),
    ],
)
def test_the_simulator_refuses_a_file_it_cannot_read(claims_portal, body, code):
    token = requests.post(f"{claims_portal.url}/api/token/take", json={"username": "u"}, timeout=5)
    params = {"token": token.json()["APIKey"]["access_token"], "maLK": "LK2"}
    url = f"{claims_portal.url}/api/egw/guiHoSoGiamDinhQD3176"
    kwargs = {"data": b"{bad"} if body == "bad" else {"json": body}
    answer = requests.post(url, params=params, timeout=5, **kwargs).json()
    assert answer["maKetQua"] == code
    assert answer["dsLoi"][0]["moTaLoi"]
    assert counts(claims_portal)["received"] == {}


def test_the_client_reports_a_refused_file_as_permanent(client):
    with pytest.raises(ClaimRefusedError) as refused:
        client.claim_send(
            envelope=envelope("LK3", signed=False), claim_key="LK3", idempotency_key="k3"
        )
    assert refused.value.code == "202"
    assert "chữ ký số" in refused.value.message


def test_answers_follow_the_rules_and_an_unknown_submission_says_so(client, claims_portal):
    # given a rule rejecting LK5 once, and R69 rejected by the content rule
    reject(claims_portal, "LK5", "GD-01", "Thiếu giấy chuyển tuyến", times=1)
    for key, icd in (("LK4", "J06.9"), ("LK5", "J06.9"), ("LK6", "R69")):
        client.claim_send(envelope=envelope(key, icd=icd), claim_key=key, idempotency_key=key)
    # when
    answers = {key: client.claim_answer(claim_key=key, idempotency_key=key) for key in ("LK4", "LK5", "LK6")}  # fmt: skip
    # then
    assert answers["LK4"].state == portal_api.CLAIM_ACCEPTED
    assert (answers["LK5"].state, answers["LK5"].reasons) == (
        portal_api.CLAIM_REJECTED,
        [{"code": "GD-01", "message": "Thiếu giấy chuyển tuyến"}],
    )
    assert answers["LK6"].reasons[0]["code"] == "GD-ICD-01"
    assert client.claim_answer(claim_key="LK7", idempotency_key="k7").state == (
        portal_api.CLAIM_UNKNOWN
    )
    # and the rule was for one submission only: the next version of LK5 is accepted
    client.claim_send(envelope=envelope("LK5"), claim_key="LK5", idempotency_key="LK5-v2")
    assert client.claim_answer(claim_key="LK5", idempotency_key="LK5-v2").state == (
        portal_api.CLAIM_ACCEPTED
    )


@pytest.mark.parametrize(
    ("fault", "error", "partial"),
    [
        ({"mode": "timeout", "delay": 0.6}, ClaimTransientError, None),
        ({"mode": "error"}, ClaimTransientError, None),
        ({"mode": "malformed"}, ClaimMalformedAnswer, False),
        ({"mode": "partial"}, ClaimMalformedAnswer, True),
    ],
)
def test_each_failure_of_the_send_has_its_own_exception(
    client, claims_portal, fault, error, partial
):
    control(claims_portal, "/_simulator/claims/faults", {**fault, "on": "send", "count": 1})
    with pytest.raises(error) as raised:
        client.claim_send(envelope=envelope("LK8"), claim_key="LK8", idempotency_key="k8")
    if partial is not None:
        assert raised.value.partial is partial
    assert raised.value.exchange.operation == "send"
    # and the fault was consumed: the next send goes through
    assert client.claim_send(envelope=envelope("LK8"), claim_key="LK8", idempotency_key="k8")


def test_the_answer_request_retries_a_transient_failure_itself(client, claims_portal):
    client.claim_send(envelope=envelope("LK9"), claim_key="LK9", idempotency_key="k9")
    control(
        claims_portal, "/_simulator/claims/faults", {"mode": "error", "on": "answer", "count": 1}
    )
    answer = client.claim_answer(claim_key="LK9", idempotency_key="k9")
    assert (answer.state, answer.exchange.attempt) == (portal_api.CLAIM_ACCEPTED, 2)


def test_an_unreachable_portal_is_a_transient_failure(closed_port):
    client = ClaimPortalClient(f"http://127.0.0.1:{closed_port}", timeout=0.3, retries=0)
    with pytest.raises(ClaimTransientError):
        client.claim_send(envelope=envelope("LK10"), claim_key="LK10", idempotency_key="k10")


def test_the_simulators_reset_forgets_the_claims(client, claims_portal):
    client.claim_send(envelope=envelope("LK11"), claim_key="LK11", idempotency_key="k11")
    requests.post(f"{claims_portal.url}/_simulator/reset", timeout=5)
    assert counts(claims_portal)["received"] == {}
    assert claims_state(claims_portal.app).by_key == {}
