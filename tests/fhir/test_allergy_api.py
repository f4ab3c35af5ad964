"""AllergyIntolerance over HTTP: read, search parameters, visibility (404), scopes, audit, query
counts; create through the allergies service (round trip, bad input at its element)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent, Role, StaffMembership
from ehealth.core.permissions import staff_groups_sync
from fhir_api import systems
from fhir_api.models import ResourceExtra
from patients.clinical_choices import AllergySeverity
from patients.models import Allergy
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_drug, make_encounter
from tests.core.factories import make_staff
from tests.fhir.conftest import BASE, Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_refusal_audited,
    assert_scope_statuses,
    client_audit_rows,
    scope_cases,
)
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db
CLINICAL = systems.ALLERGY_CLINICAL_CS


def _utc(day: int, hour: int = 2, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _allergy(patient, substance, at, **fields) -> Allergy:
    facility = patient.identifiers.filter(facility__isnull=False).first().facility
    return Allergy.objects.create(
        patient=patient,
        substance=substance,
        recorded_by=make_staff(facility, Role.DOCTOR),
        recorded_at=at,
        **fields,
    )


@pytest.fixture
def al(facility, other_facility):
    """An: p = penicillin (moderate, rash, recorded 1 March), m = amoxicillin as the catalog drug
    (severe, 5 March), x = a voided one. Bình: s = seafood (no reaction, 20 Feb). A stranger at
    another unit: e."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    amox = make_drug(
        code="TH.AMOX500",
        name="Amoxicilin 500mg",
        active_ingredient="Amoxicilin",
        active_ingredient_code="40.150",
    )
    return {
        "p": _allergy(an, "Penicilin", _utc(1), reaction="Nổi mề đay",
                      severity=AllergySeverity.MODERATE),
        "m": _allergy(an, "Amoxicilin", _utc(5), drug=amox, active_ingredient="Amoxicilin",
                      severity=AllergySeverity.SEVERE, reaction="Khó thở"),
        "x": _allergy(an, "Aspirin", _utc(2), voided_at=_utc(3), void_reason="Nhầm"),
        "s": _allergy(binh, "Hải sản", _utc(20, month=2)),
        "e": _allergy(stranger, "Penicilin", _utc(1)),
        "an": an, "binh": binh, "stranger": stranger, "amox": amox,
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset", data
    return [e["resource"]["id"] for e in data.get("entry", [])]


# --- read --------------------------------------------------------------------------------------


def test_read_allergy(api, al):
    response = api.get(f"AllergyIntolerance/{al['m'].pk}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"]
    data = body(response)
    assert data["clinicalStatus"]["coding"][0]["code"] == "active"
    assert data["category"] == ["medication"]
    assert data["code"]["coding"][0] == {
        "system": systems.DRUG_CATALOG_CS,
        "code": "TH.AMOX500",
        "display": "Amoxicilin 500mg",
    }
    assert data["code"]["text"] == "Amoxicilin"
    assert data["patient"] == {"reference": f"Patient/{al['an'].pk}"}
    assert data["reaction"] == [{"manifestation": [{"text": "Khó thở"}], "severity": "severe"}]


def test_voided_allergy_reads_as_entered_in_error(api, al):
    response = api.get(f"AllergyIntolerance/{al['x'].pk}")
    assert response.status_code == 200 and response["ETag"] == 'W/"2"'
    data = body(response)
    assert data["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in data


def test_not_visible_is_404_like_a_missing_one(api, al):
    for resource_id in (al["e"].pk, 99999999, "abc"):
        response = api.get(f"AllergyIntolerance/{resource_id}")
        assert response.status_code == 404
        assert body(response)["issue"][0]["code"] == "not-found"


def test_shared_patient_allergies_become_visible(api_for, al, facility, other_facility):
    other = api_for(other_facility)
    assert other.get(f"AllergyIntolerance/{al['p'].pk}").status_code == 404
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=al["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    assert other.get(f"AllergyIntolerance/{al['p'].pk}").status_code == 200


def test_staff_session_sees_the_patients_of_their_unit(client, al, facility):
    client.force_login(make_staff(facility, Role.NURSE))
    assert client.get(f"{BASE}AllergyIntolerance/{al['p'].pk}").status_code == 200
    assert client.get(f"{BASE}AllergyIntolerance/{al['e'].pk}").status_code == 404


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "pms"),
        ({"patient": "{an}"}, "pm"),
        ({"patient": "Patient/{binh}"}, "s"),
        ({"patient": "{stranger}"}, ""),
        ({"patient": "Group/{an}"}, ""),
        ({"clinical-status": "active"}, "pms"),
        ({"clinical-status": f"{CLINICAL}|active"}, "pms"),
        ({"clinical-status": "resolved"}, ""),
        ({"code": "TH.AMOX500"}, "m"),
        ({"code": "th.amox500"}, "m"),
        ({"code": f"{systems.MOH_DRUG_CS}|40.150"}, "m"),
        ({"code": f"{systems.DRUG_CATALOG_CS}|"}, "m"),
        ({"code": "http://snomed.info/sct|TH.AMOX500"}, ""),
        ({"substance": "penicilin"}, "p"),
        ({"substance": "hai san"}, "s"),
        ({"substance": "san"}, "s"),
        ({"substance:contains": "cilin"}, "pm"),
        ({"substance:exact": "Hải sản"}, "s"),
        ({"substance:exact": "hải sản"}, ""),
        ({"substance": "aspirin"}, ""),
        ({"category": "medication"}, "m"),
        ({"category": "food"}, ""),
        ({"severity": "severe,moderate"}, "pm"),
        ({"severity": "mild"}, ""),
        ({"date": "2026-03"}, "pm"),
        ({"date": "lt2026-03-01"}, "s"),
        ({"_id": "{m},{e},{x}"}, "m"),
        ({"patient": "{an}", "severity": "moderate"}, "p"),
        ({"severity:not": "moderate"}, "ms"),
        ({"_lastUpdated": "ge2026-03-02"}, "m"),
        ({"_sort": "-date"}, "mps"),
        ({"_sort": "date", "patient": "{an}"}, "pm"),
    ],
)
def test_search_allergies(api, al, params, expected):
    values = {
        "an": al["an"].pk,
        "binh": al["binh"].pk,
        "stranger": al["stranger"].pk,
        "m": al["m"].pk,
        "e": al["e"].pk,
        "x": al["x"].pk,
    }
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("AllergyIntolerance", query)) == [str(al[k].pk) for k in expected]


def test_bad_date_and_unknown_parameter_are_400(api):
    assert api.get("AllergyIntolerance", {"date": "yesterday"}).status_code == 400
    response = api.get("AllergyIntolerance", {"criticality": "high"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["criticality"]


def test_paging_follows_the_cursor(api, al):
    seen: list[str] = []
    response = api.get("AllergyIntolerance", {"_count": 1})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(al[k].pk) for k in "pms"]


def test_summary_count(api, al):
    data = body(api.get("AllergyIntolerance", {"_summary": "count", "patient": str(al["an"].pk)}))
    assert data["total"] == 2 and "entry" not in data


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(("scopes", "search", "read"), scope_cases("AllergyIntolerance"))
def test_scopes_are_enforced(api_for, al, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, AllergyIntolerance=al["p"].pk)


def test_anonymous_gets_401(al):
    assert_anonymous_gets_401(f"AllergyIntolerance/{al['p'].pk}")


def test_every_access_is_audited_per_patient(api, al):
    api.get(f"AllergyIntolerance/{al['p'].pk}")
    api.get("AllergyIntolerance", {"substance:contains": "n"})
    api.get("AllergyIntolerance", {"substance": "latex"})
    api.get(f"AllergyIntolerance/{al['e'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "patient_id")
    an, binh = al["an"].pk, al["binh"].pk
    assert rows == [
        ("fhir.allergy.read", "patients.Allergy", an),
        ("fhir.allergy.search", "patients.Patient", an),
        ("fhir.allergy.search", "patients.Patient", binh),
        ("fhir.allergy.search", "", None),
        ("fhir.refused", "", None),
    ]
    assert_refusal_audited(api, "AllergyIntolerance")


def test_capability_statement_lists_allergy_intolerance():
    data = body(Api(None).get("metadata"))
    (res,) = [r for r in data["rest"][0]["resource"] if r["type"] == "AllergyIntolerance"]
    assert {i["code"] for i in res["interaction"]} >= {"read", "search-type", "create"}
    assert {i["code"] for i in res["interaction"]} >= {"vread", "delete"}
    assert {p["name"] for p in res["searchParam"]} >= {
        "_id", "patient", "clinical-status", "code", "substance", "category", "severity", "date",
    }  # fmt: skip


def test_search_page_runs_a_constant_number_of_queries(
    api, facility, al, django_assert_max_num_queries
):
    api.get("AllergyIntolerance", {"_count": 1})  # warm the caller's caches
    with CaptureQueriesContext(connection) as ctx:
        small_rows = len(body(api.get("AllergyIntolerance", {"_count": 100}))["entry"])
    small = len(ctx.captured_queries)
    for n in range(10):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        _allergy(patient, "Penicilin", _utc(2), drug=al["amox"], severity="mild")
    with django_assert_max_num_queries(small):
        response = api.get("AllergyIntolerance", {"_count": 100})
    assert small_rows == 3 and len(body(response)["entry"]) == 13
    assert small <= 12  # token, client, permissions, page (with the drug), extras, audit


# --- create --------------------------------------------------------------------------------------


def _as_nurse(api, facility):
    """The unit gives the client's service account the nurse role (records allergies)."""
    user = api.registered.client.application.user
    StaffMembership.objects.create(user=user, facility=facility, role=Role.NURSE)
    staff_groups_sync(user)
    return api


def _posted(patient, **extra) -> dict:
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "code": {"text": "Ibuprofen"},
        "patient": {"reference": f"Patient/{patient.pk}"},
        "reaction": [{"manifestation": [{"text": "Phù mặt"}], "severity": "severe"}],
        **extra,
    }


def test_create_round_trip_keeps_what_the_record_does_not_model(api, facility, al):
    _as_nurse(api, facility)
    sent = _posted(
        al["binh"],
        verificationStatus={
            "coding": [{"system": systems.ALLERGY_VERIFICATION_CS, "code": "confirmed"}]
        },
        type="allergy",
        criticality="high",
        onsetDateTime="2020-05-01",
        note=[{"text": "Người nhà kể lại"}],
    )
    response = api.post("AllergyIntolerance", sent)
    assert response.status_code == 201, response.content
    allergy = Allergy.objects.get(patient=al["binh"], substance="Ibuprofen")
    assert (allergy.reaction, allergy.severity) == ("Phù mặt", "severe")
    assert response["Location"].endswith(f"/AllergyIntolerance/{allergy.pk}/_history/1")
    assert response["ETag"] == 'W/"1"'
    read = body(api.get(f"AllergyIntolerance/{allergy.pk}"))
    assert read == body(response)
    for name, value in sent.items():
        assert read[name] == value, name
    assert AuditEvent.objects.filter(action="allergy.record", patient_id=al["binh"].pk).exists()


def test_create_with_a_catalog_drug(api, facility, al):
    _as_nurse(api, facility)
    sent = _posted(
        al["binh"],
        code={"coding": [{"system": systems.DRUG_CATALOG_CS, "code": "TH.AMOX500"}]},
        encounter={
            "reference": f"Encounter/{make_encounter(facility=facility, patient=al['binh']).pk}"
        },
    )
    data = body(api.post("AllergyIntolerance", sent))
    allergy = Allergy.objects.get(pk=data["id"])
    assert allergy.drug_id == al["amox"].pk and allergy.substance == "Amoxicilin"
    assert data["category"] == ["medication"] and data["encounter"] == sent["encounter"]


def test_create_honours_prefer_minimal(api, facility, al):
    _as_nurse(api, facility)
    response = api.post("AllergyIntolerance", _posted(al["binh"]), Prefer="return=minimal")
    assert response.status_code == 201 and response.content == b""
    assert response["Location"] and response["ETag"]


@pytest.mark.parametrize(
    ("changes", "expression"),
    [
        ({"code": {"text": "penicilin"}}, "AllergyIntolerance.code"),  # already recorded
        ({"code": {"coding": [{"system": systems.DRUG_CATALOG_CS, "code": "NOPE"}]}},
         "AllergyIntolerance.code.coding"),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}},
         "AllergyIntolerance.code"),
        ({"patient": {"reference": "Patient/{stranger}"}}, "AllergyIntolerance.patient"),
        ({"encounter": {"reference": "Encounter/99999999"}}, "AllergyIntolerance.encounter"),
        ({"clinicalStatus": {"coding": [{"system": CLINICAL, "code": "inactive"}]}},
         "AllergyIntolerance.clinicalStatus"),
        ({"reaction": [{"manifestation": [{"text": "x"}], "severity": "fatal"}]},
         "AllergyIntolerance.reaction[0].severity"),
    ],
)  # fmt: skip
def test_bad_input_is_422_at_its_element_and_nothing_is_written(
    api, facility, al, changes, expression
):
    _as_nurse(api, facility)
    before = Allergy.objects.count()
    sent = {**_posted(al["an"]), **changes}
    if "patient" in changes:
        sent["patient"] = {"reference": f"Patient/{al['stranger'].pk}"}
    response = api.post("AllergyIntolerance", sent)
    assert response.status_code == 422, response.content
    assert body(response)["issue"][0]["expression"] == [expression]
    assert Allergy.objects.count() == before
    assert not ResourceExtra.objects.filter(resource_type="AllergyIntolerance").exists()


def test_structurally_invalid_body_is_400(api, facility, al):
    _as_nurse(api, facility)
    response = api.post("AllergyIntolerance", {**_posted(al["an"]), "patient": "Patient/1"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"][0].startswith("AllergyIntolerance.patient")


def test_create_without_a_clinical_role_at_the_unit_is_403(api, al):
    response = api.post("AllergyIntolerance", _posted(al["binh"]))
    assert response.status_code == 403
    assert not Allergy.objects.filter(substance="Ibuprofen").exists()


def test_create_needs_the_create_scope(api_for, facility, al):
    caller = _as_nurse(api_for(facility, "system/AllergyIntolerance.rs"), facility)
    assert caller.post("AllergyIntolerance", _posted(al["binh"])).status_code == 403


def test_sorted_paging_follows_the_cursor(api, al):
    seen: list[str] = []
    response = api.get("AllergyIntolerance", {"_count": 1, "_sort": "-date"})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(al[k].pk) for k in "mps"]


def test_vread_serves_the_current_version_only(api, al):
    assert api.get(f"AllergyIntolerance/{al['p'].pk}/_history/1").status_code == 200
    assert api.get(f"AllergyIntolerance/{al['p'].pk}/_history/2").status_code == 404
    assert api.get(f"AllergyIntolerance/{al['x'].pk}/_history/2").status_code == 200


# --- delete (void) -------------------------------------------------------------------------------


def _as_doctor(api, facility):
    user = api.registered.client.application.user
    StaffMembership.objects.create(user=user, facility=facility, role=Role.DOCTOR)
    staff_groups_sync(user)
    return api


def _delete(api, path, **headers):
    return api.http.delete(BASE + path, **api._headers(headers))


def test_delete_voids_with_the_reason_and_stays_readable(api, facility, al):
    _as_doctor(api, facility)
    response = _delete(
        api, f"AllergyIntolerance/{al['p'].pk}", X_Reason="Ghi nhầm", If_Match='W/"1"'
    )
    assert response.status_code == 204 and response["ETag"] == 'W/"2"'
    al["p"].refresh_from_db()
    assert al["p"].voided_at is not None and al["p"].void_reason == "Ghi nhầm"
    read = api.get(f"AllergyIntolerance/{al['p'].pk}")
    assert body(read)["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert _ids(api.get("AllergyIntolerance", {"patient": str(al["an"].pk)})) == [str(al["m"].pk)]
    # again: nothing changes, still 204
    assert _delete(api, f"AllergyIntolerance/{al['p'].pk}").status_code == 204
    assert AuditEvent.objects.filter(action="allergy.void", patient_id=al["an"].pk).count() == 1


def test_delete_with_a_stale_version_is_412(api, facility, al):
    _as_doctor(api, facility)
    response = _delete(api, f"AllergyIntolerance/{al['p'].pk}", If_Match='W/"7"')
    assert response.status_code == 412
    assert body(response)["issue"][0]["expression"] == ["If-Match"]


def test_delete_without_the_examine_permission_is_403_and_changes_nothing(api, facility, al):
    _as_nurse(api, facility)
    assert _delete(api, f"AllergyIntolerance/{al['p'].pk}").status_code == 403
    al["p"].refresh_from_db()
    assert al["p"].voided_at is None


def test_delete_of_a_stranger_allergy_is_404(api, facility, al):
    _as_doctor(api, facility)
    assert _delete(api, f"AllergyIntolerance/{al['e'].pk}").status_code == 404
