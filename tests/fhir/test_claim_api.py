"""Claim and ClaimResponse over HTTP: read, search parameters, visibility per unit (404), scopes,
audit, query counts. The dossiers are built by the claims service from visits billed by billing;
the insurer's answers and settlement are written as the gateway and the reconciliation keep them.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import Role
from fhir_api import systems
from insurance.claims.batch_models import (
    BatchItem,
    BatchStatus,
    ClaimBatch,
    ItemState,
    Settlement,
    SettlementLine,
)
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.signing import demo_certificate_make
from patients.models import Encounter
from patients.services import patient_share_with_facility
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_refusal_audited,
    assert_scope_statuses,
    client_audit_rows,
    scope_cases,
)
from tests.insurance.claims.workspace_records import build, claimable_visit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claims_signing")]

D = Decimal
VN = ZoneInfo("Asia/Ho_Chi_Minh")
REASONS = [{"code": "E101", "message": "Mã thẻ không đúng"}]


@pytest.fixture(scope="session")
def claims_signing_files(tmp_path_factory):
    return demo_certificate_make(directory=tmp_path_factory.mktemp("fhir-claims-cert"))


@pytest.fixture
def claims_signing(settings, claims_signing_files):
    """The unit's signing key and certificate, configured as in production."""
    key_path, cert_path = claims_signing_files
    settings.CLAIMS_SIGNING_KEY_FILE = str(key_path)
    settings.CLAIMS_SIGNING_CERT_FILE = str(cert_path)


def _dossier(officer, facility, name: str) -> Dossier:
    """A visit billed by billing (1,000,000; the fund 800,000) built into a READY dossier."""
    dossier = build(officer, claimable_visit(facility, name=name)).dossier
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.READY
    return dossier


def _answer(dossier: Dossier, status: str, at: datetime, reasons=()) -> Dossier:
    """The gateway's answer as `insurance.claims.sending` records it."""
    batch = ClaimBatch.objects.create(
        facility_id=dossier.facility_id, year=at.year, month=at.month, status=BatchStatus.DONE
    )
    BatchItem.objects.create(
        batch=batch,
        dossier=dossier,
        version_number=dossier.current_version,
        state=ItemState.REJECTED if status == DossierStatus.REJECTED else ItemState.ACCEPTED,
        idempotency_key=f"test-{dossier.pk}",
        rejection_reasons=list(reasons),
        answered_at=at,
    )
    Dossier.objects.filter(pk=dossier.pk).update(
        status=status, rejection_reasons=list(reasons), row_version=F("row_version") + 1
    )
    dossier.refresh_from_db()
    return dossier


def _settle(dossier: Dossier, approved: str, at: datetime) -> None:
    """The insurer's settlement of the dossier, as the reconciliation import stores it."""
    settlement = Settlement.objects.create(
        facility_id=dossier.facility_id, year=at.year, month=at.month, total_approved=D(approved)
    )
    Settlement.objects.filter(pk=settlement.pk).update(imported_at=at)
    SettlementLine.objects.create(
        settlement=settlement,
        claim_key=dossier.claim_key,
        dossier=dossier,
        amount_approved=D(approved),
        amount_claimed=dossier.total_fund,
    )


@pytest.fixture
def claims(facility, other_facility):
    """At the unit: An's dossier, ready (built on 5 January 2026); Bình's accepted (answered
    10 March), Cúc's rejected (12 March), Dũng's paid (answered 5 March, 700,000 of 800,000
    approved on 25 March), Em's with errors (invalid), Giang's accepted but its visit voided
    since. At the other unit: a stranger's dossier."""
    officer = make_staff(facility, Role.INSURANCE_OFFICER)
    ready = _dossier(officer, facility, "Nguyễn Văn An")
    Dossier.objects.filter(pk=ready.pk).update(created_at=datetime(2026, 1, 5, 9, tzinfo=VN))
    accepted = _answer(
        _dossier(officer, facility, "Trần Thị Bình"),
        DossierStatus.ACCEPTED,
        datetime(2026, 3, 10, 15, tzinfo=VN),
    )
    rejected = _answer(
        _dossier(officer, facility, "Lê Thị Cúc"),
        DossierStatus.REJECTED,
        datetime(2026, 3, 12, 15, tzinfo=VN),
        REASONS,
    )
    paid = _answer(
        _dossier(officer, facility, "Phạm Văn Dũng"),
        DossierStatus.PAID,
        datetime(2026, 3, 5, 15, tzinfo=VN),
    )
    _settle(paid, "700000.00", datetime(2026, 3, 25, 10, tzinfo=VN))
    invalid = _dossier(officer, facility, "Võ Thị Em")
    Dossier.objects.filter(pk=invalid.pk).update(status=DossierStatus.INVALID)
    voided = _answer(
        _dossier(officer, facility, "Đỗ Văn Giang"),
        DossierStatus.ACCEPTED,
        datetime(2026, 3, 11, 15, tzinfo=VN),
    )
    Encounter.objects.filter(pk=voided.encounter_id).update(voided_at=timezone.now())
    other_officer = make_staff(other_facility, Role.INSURANCE_OFFICER)
    stranger = _dossier(other_officer, other_facility, "Hồ Văn Lạ")
    return {
        "ready": ready, "accepted": accepted, "rejected": rejected, "paid": paid,
        "invalid": invalid, "voided": voided, "stranger": stranger, "officer": officer,
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200, data
    assert data["type"] == "searchset"
    return [e["resource"]["id"] for e in data.get("entry", [])]


def _exact(response) -> dict:
    body(response)
    return json.loads(response.content, parse_float=Decimal)


def _pks(claims, keys: str) -> list[str]:
    return [str(claims[k].pk) for k in keys.split()] if keys else []


def _values(claims) -> dict:
    values = {k: v.pk for k, v in claims.items()}
    for key in ("ready", "accepted"):
        values[f"key_{key}"] = claims[key].claim_key
        values[f"enc_{key}"] = claims[key].encounter_id
        values[f"pat_{key}"] = claims[key].encounter.patient_id
    values["today"] = timezone.now().date().isoformat()
    return values


# --- Claim read --------------------------------------------------------------------------------


def test_read_claim(api, claims):
    dossier = claims["ready"]
    response = api.get(f"Claim/{dossier.pk}")
    assert response.status_code == 200
    assert response["ETag"] == f'W/"{dossier.row_version}"' and response["Last-Modified"]
    data = _exact(response)
    assert data["identifier"] == [
        {"use": "official", "system": systems.MA_LK, "value": dossier.claim_key}
    ]
    assert data["status"] == "active" and data["use"] == "claim"
    assert data["type"]["coding"][0]["code"] == "professional"
    assert data["patient"] == {"reference": f"Patient/{dossier.encounter.patient_id}"}
    assert data["provider"] == {"reference": f"Organization/{dossier.facility_id}"}
    assert data["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "J06.9"
    assert data["total"] == {"value": 1000000, "currency": "VND"}
    fund = [e for e in data["extension"] if e["url"] == systems.FUND_CLAIMED_EXT]
    assert fund[0]["valueMoney"]["value"] == 800000
    items = data["item"]
    assert sum(i["net"]["value"] for i in items) == 1000000
    assert {i["productOrService"]["coding"][0]["system"] for i in items} == {systems.MOH_SERVICE_CS}
    assert all(
        i["encounter"] == [{"reference": f"Encounter/{dossier.encounter_id}"}] for i in items
    )


def test_claim_references_resolve(api, claims):
    data = body(api.get(f"Claim/{claims['ready'].pk}"))
    coverage = data["insurance"][0]["coverage"]["reference"]
    assert coverage.startswith("Coverage/")
    refs = [coverage, data["patient"]["reference"], data["provider"]["reference"]]
    refs += [data["item"][0]["encounter"][0]["reference"]]
    for ref in refs:
        assert api.get(ref).status_code == 200, ref


def test_claim_statuses_on_read(api, claims):
    status = {k: body(api.get(f"Claim/{claims[k].pk}"))["status"] for k in claims if k != "officer" and k != "stranger"}  # fmt: skip
    assert status == {
        "ready": "active",
        "accepted": "active",
        "rejected": "active",
        "paid": "active",
        "invalid": "draft",
        "voided": "entered-in-error",
    }
    dossier_status = body(api.get(f"Claim/{claims['rejected'].pk}"))["extension"][0]
    assert dossier_status["valueCoding"]["code"] == "rejected"


def test_claim_of_another_unit_is_404_even_for_a_shared_patient(
    api_for, claims, facility, other_facility
):
    other = api_for(other_facility)
    assert other.get(f"Claim/{claims['stranger'].pk}").status_code == 200
    an = claims["ready"].encounter.patient
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=an,
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    assert other.get(f"Patient/{an.pk}").status_code == 200
    response = other.get(f"Claim/{claims['ready'].pk}")
    assert response.status_code == 404 and body(response)["issue"][0]["code"] == "not-found"
    assert _ids(other.get("Claim", {"patient": str(an.pk)})) == []
    assert other.get(f"ClaimResponse/{claims['paid'].pk}").status_code == 404


@pytest.mark.parametrize(("role", "status"), [(Role.INSURANCE_OFFICER, 200), (Role.CASHIER, 404)])
def test_staff_see_what_the_claims_pages_show(client, claims, facility, role, status):
    client.force_login(make_staff(facility, role))
    assert client.get(f"/fhir/R4/Claim/{claims['ready'].pk}").status_code == status
    assert client.get(f"/fhir/R4/ClaimResponse/{claims['paid'].pk}").status_code == status
    assert client.get(f"/fhir/R4/Claim/{claims['stranger'].pk}").status_code == 404


# --- Claim search ------------------------------------------------------------------------------

LISTED = "ready accepted rejected paid invalid"


CLAIM_SEARCHES = [
    ({}, LISTED),
    ({"patient": "{pat_ready}"}, "ready"),
    ({"patient": "Patient/{pat_accepted}"}, "accepted"),
    ({"status": "draft"}, "invalid"),
    ({"status": "active"}, "ready accepted rejected paid"),
    ({"status": "http://hl7.org/fhir/fm-status|draft"}, "invalid"),
    ({"status": "entered-in-error"}, ""),
    ({"status": "cancelled,draft"}, "invalid"),
    ({"identifier": "{key_accepted}"}, "accepted"),
    ({"identifier": f"{systems.MA_LK}|{{key_ready}}"}, "ready"),
    ({"identifier": "urn:other|{key_ready}"}, ""),
    ({"encounter": "Encounter/{enc_accepted}"}, "accepted"),
    ({"encounter": "{enc_ready}"}, "ready"),
    ({"created": "2026-01-05"}, "ready"),
    ({"created": "lt{today}"}, "ready"),
    ({"created": "ge{today}"}, "accepted rejected paid invalid"),
    ({"provider": "Organization/{facility}"}, LISTED),
    ({"_id": "{ready},{voided},{stranger}"}, "ready"),
    ({"patient": "{pat_ready}", "status": "draft"}, ""),
    ({"status:not": "active"}, "invalid"),
    ({"_sort": "-created", "_id": "{ready},{accepted}"}, "accepted ready"),
    ({"_lastUpdated": "ge{today}"}, LISTED),
    ({"_lastUpdated": "lt2026-01-01"}, ""),
]


def test_search_claims(api, claims, facility):
    values = {**_values(claims), "facility": facility.pk}
    for params, expected in CLAIM_SEARCHES:
        query = {k: v.format(**values) for k, v in params.items()}
        assert _ids(api.get("Claim", query)) == _pks(claims, expected), params


def test_lower_case_ma_lk_finds_the_claim(api, claims):
    key = claims["accepted"].claim_key
    assert _ids(api.get("Claim", {"identifier": key.lower()})) == [str(claims["accepted"].pk)]


def test_claim_paging_and_summary(api, claims):
    seen: list[str] = []
    response = api.get("Claim", {"_count": 2})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == _pks(claims, LISTED)
    assert body(api.get("Claim", {"_summary": "count"}))["total"] == 5
    assert _ids(api.search_post("Claim/_search", {"status": "draft"})) == _pks(claims, "invalid")


def test_claim_unknown_parameter_is_400(api):
    response = api.get("Claim", {"use": "claim"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["use"]


# --- ClaimResponse -----------------------------------------------------------------------------


def test_read_paid_claim_response(api, claims):
    dossier = claims["paid"]
    response = api.get(f"ClaimResponse/{dossier.pk}")
    assert response.status_code == 200 and response["ETag"] == f'W/"{dossier.row_version}"'
    data = _exact(response)
    assert data["request"] == {"reference": f"Claim/{dossier.pk}"}
    assert api.get(data["request"]["reference"]).status_code == 200
    assert data["outcome"] == "complete"
    assert data["created"] == "2026-03-05T15:00:00+07:00"
    assert data["payment"] == {
        "type": {"coding": [{"system": systems.PAYMENT_TYPE_CS, "code": "partial"}]},
        "date": "2026-03-25",
        "amount": {"value": 700000, "currency": "VND"},
    }
    totals = {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in data["total"]}
    assert totals == {"submitted": 1000000, "eligible": 800000, "benefit": 700000}


def test_read_rejected_claim_response(api, claims):
    data = body(api.get(f"ClaimResponse/{claims['rejected'].pk}"))
    assert data["outcome"] == "error"
    assert data["disposition"] == "Hồ sơ bị từ chối: Mã thẻ không đúng"
    assert data["error"][0]["code"]["coding"][0] == {
        "system": systems.BHXH_ERROR_CS,
        "code": "E101",
        "display": "Mã thẻ không đúng",
    }
    assert "payment" not in data


def test_claim_response_exists_only_once_answered(api, claims):
    for key in ("ready", "invalid", "stranger"):
        assert api.get(f"ClaimResponse/{claims[key].pk}").status_code == 404, key
    voided = body(api.get(f"ClaimResponse/{claims['voided'].pk}"))
    assert voided["status"] == "entered-in-error"


CLAIM_RESPONSE_SEARCHES = [
    ({}, "accepted rejected paid"),
    ({"outcome": "complete"}, "accepted paid"),
    ({"outcome": "error"}, "rejected"),
    ({"outcome": "http://hl7.org/fhir/remittance-outcome|error"}, "rejected"),
    ({"outcome": "queued"}, ""),
    ({"request": "Claim/{accepted}"}, "accepted"),
    ({"request": "{ready}"}, ""),
    ({"patient": "{pat_accepted}"}, "accepted"),
    ({"created": "2026-03-10"}, "accepted"),
    ({"created": "ge2026-03-10"}, "accepted rejected"),
    ({"created": "lt2026-03-10"}, "paid"),
    ({"created": "2026-03"}, "accepted rejected paid"),
    ({"_id": "{paid},{ready},{voided}"}, "paid"),
    ({"outcome:not": "error"}, "accepted paid"),
    ({"_sort": "-created"}, "rejected accepted paid"),
    ({"_lastUpdated": "lt2026-01-01"}, ""),
]


def test_search_claim_responses(api, claims):
    values = _values(claims)
    for params, expected in CLAIM_RESPONSE_SEARCHES:
        query = {k: v.format(**values) for k, v in params.items()}
        assert _ids(api.get("ClaimResponse", query)) == _pks(claims, expected), params


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "search", "read"), scope_cases("Claim", "ClaimResponse", other="Coverage")
)
def test_scopes_are_enforced(api_for, claims, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    paid = claims["paid"].pk
    assert_scope_statuses(caller, search, read, Claim=paid, ClaimResponse=paid)


def test_anonymous_gets_401(claims):
    assert_anonymous_gets_401(f"Claim/{claims['paid'].pk}")


def test_every_access_is_audited_per_patient(api, claims):
    api.get(f"Claim/{claims['ready'].pk}")
    api.get("Claim", {"status": "draft"})
    api.get(f"ClaimResponse/{claims['paid'].pk}")
    api.get("ClaimResponse", {"outcome": "queued"})
    api.get(f"ClaimResponse/{claims['ready'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "target_id", "patient_id")
    patient = {k: claims[k].encounter.patient_id for k in ("ready", "invalid", "paid")}
    assert rows == [
        ("fhir.claim.read", "insurance.Dossier", str(claims["ready"].pk), patient["ready"]),
        ("fhir.claim.search", "patients.Patient", str(patient["invalid"]), patient["invalid"]),
        ("fhir.claimresponse.read", "insurance.Dossier", str(claims["paid"].pk), patient["paid"]),
        ("fhir.claimresponse.search", "", "", None),
        ("fhir.refused", "", "", None),
    ]
    assert_refusal_audited(api, "ClaimResponse")


def test_capability_statement_lists_claim_and_claim_response():
    data = body(Api(None).get("metadata"))
    resources = {r["type"]: r for r in data["rest"][0]["resource"]}
    expected = {
        "Claim": {"_id", "patient", "created", "status", "identifier", "encounter", "provider"},
        "ClaimResponse": {"_id", "patient", "request", "outcome", "created"},
    }
    for name, params in expected.items():
        assert {i["code"] for i in resources[name]["interaction"]} == {"read", "search-type"}
        assert params <= {p["name"] for p in resources[name]["searchParam"]}


def _queries(api, path) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, {"_count": 100})
    return len(ctx.captured_queries), len(body(response)["entry"])


def test_search_pages_run_a_constant_number_of_queries(
    api, claims, facility, django_assert_max_num_queries
):
    api.get("Claim", {"_count": 1})  # warm the caller's caches
    claim_queries, claim_rows = _queries(api, "Claim")
    response_queries, response_rows = _queries(api, "ClaimResponse")
    # when more dossiers are built and answered
    for n in range(4):
        dossier = _dossier(claims["officer"], facility, f"Bệnh Nhân {n}")
        _answer(dossier, DossierStatus.PAID, datetime(2026, 3, 6, 9, tzinfo=VN))
        _settle(dossier, "800000.00", datetime(2026, 3, 26, 9, tzinfo=VN))
    # then a page of every dossier, of every answer, runs no more queries than before
    with django_assert_max_num_queries(claim_queries):
        response = api.get("Claim", {"_count": 100})
    assert len(body(response)["entry"]) == claim_rows + 4
    with django_assert_max_num_queries(response_queries):
        response = api.get("ClaimResponse", {"_count": 100})
    assert len(body(response)["entry"]) == response_rows + 4
    assert claim_queries <= 11 and response_queries <= 10
