"""MedicationRequest over HTTP: read, search parameters, visibility (404), scopes, audit, query
counts. Dates are relative to today: a course's status depends on the day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import Role
from fhir_api import systems
from patients.clinical_choices import EncounterKind, EncounterStatus, PrescriptionStatus
from patients.models import Prescription, PrescriptionItem
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_drug, make_encounter
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_refusal_audited,
    assert_scope_statuses,
    client_audit_rows,
    scope_cases,
)
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _day(offset: int):
    return TODAY + timedelta(days=offset)


def _at(offset: int, hour: int = 3) -> datetime:
    """03:00 UTC = 10:00 in Ho Chi Minh City: the same calendar day in both."""
    return datetime.combine(_day(offset), time(hour), tzinfo=UTC)


def _rx(encounter, doctor, *, at, status=PrescriptionStatus.ISSUED, **fields):
    version = 2 if status != PrescriptionStatus.DRAFT else 1
    return Prescription.objects.create(
        encounter=encounter,
        prescribed_by=doctor,
        prescribed_at=at,
        status=status,
        version=fields.pop("version", version),
        **fields,
    )


def _line(rx, drug, days=5, **fields):
    values = {
        "dose": Decimal("1"),
        "dose_unit": "viên",
        "route": "Uống",
        "times_per_day": 2,
        "days": days,
        "quantity": Decimal(2 * days),
        "instructions": "Sau ăn",
    }
    values.update(fields)
    return PrescriptionItem.objects.create(prescription=rx, drug=drug, **values)


@pytest.fixture
def md(facility, other_facility):
    """An: visit A ten days ago: rx (issued) with p = paracetamol for 5 days (course over), a =
    amoxicillin for 30 days (running), v = a voided line; a cancelled prescription with c. Stay B
    since yesterday: d = today's drug order, y = yesterday's (over). Bình, in examination today:
    r = a line of the draft prescription. A stranger at another unit: e. A voided visit: f."""
    doctor = make_staff(facility, Role.DOCTOR)
    para = make_drug(code="TH-PARA", name="Paracetamol 500mg", active_ingredient_code="40.17")
    amox = make_drug(
        code="TH-AMOX",
        name="Amoxicilin 500mg",
        active_ingredient="Amoxicilin",
        active_ingredient_code="40.146",
    )
    ibu = make_drug(code="TH-IBU", name="Ibuprofen 400mg", active_ingredient="Ibuprofen")
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    visit_a = make_encounter(
        facility=facility,
        patient=an,
        status=EncounterStatus.CONCLUDED,
        started_at=_at(-10, 2),
        ended_at=_at(-10, 5),
    )
    stay_b = make_encounter(
        facility=facility, patient=an, kind=EncounterKind.INPATIENT, started_at=_at(-1, 1)
    )
    visit_c = make_encounter(
        facility=facility, patient=binh, status=EncounterStatus.IN_EXAMINATION, started_at=_at(0, 2)
    )
    visit_e = make_encounter(facility=other_facility, patient=stranger, started_at=_at(-10, 2))
    visit_f = make_encounter(
        facility=facility, patient=an, started_at=_at(-10, 2), voided_at=_at(-10, 4)
    )
    rx_a = _rx(visit_a, doctor, at=_at(-10), note="Uống nhiều nước")
    rx_x = _rx(
        visit_a,
        doctor,
        at=_at(-10),
        status=PrescriptionStatus.CANCELLED,
        cancelled_at=_at(-10, 4),
        cancel_reason="Kê lại đơn khác",
    )
    today_orders = _rx(stay_b, doctor, at=_at(-1), status=PrescriptionStatus.DRAFT, for_day=_day(0))
    yesterday_orders = _rx(
        stay_b, doctor, at=_at(-1), status=PrescriptionStatus.DRAFT, for_day=_day(-1)
    )
    draft = _rx(visit_c, doctor, at=_at(0), status=PrescriptionStatus.DRAFT)
    other_doctor = make_staff(other_facility, Role.DOCTOR)
    return {
        "p": _line(rx_a, para, days=5),
        "a": _line(rx_a, amox, days=30),
        "v": _line(rx_a, ibu, voided_at=_at(-10, 4), voided_by=doctor, void_reason="Kê nhầm"),
        "c": _line(rx_x, para),
        "d": _line(today_orders, para, days=1),
        "y": _line(yesterday_orders, amox, days=1),
        "r": _line(draft, ibu, days=3),
        "e": _line(_rx(visit_e, other_doctor, at=_at(-10)), para),
        "f": _line(_rx(visit_f, doctor, at=_at(-10)), para),
        "an": an, "binh": binh, "stranger": stranger, "A": visit_a, "B": stay_b,
        "doctor": doctor, "rx_a": rx_a,
    }  # fmt: skip


ALL = ["p", "a", "c", "d", "y", "r"]


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset", data
    return [e["resource"]["id"] for e in data.get("entry", [])]


# --- read ------------------------------------------------------------------------------------


def test_read_medication_request(api, md):
    response = api.get(f"MedicationRequest/{md['a'].pk}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"2"' and response["Last-Modified"]
    data = body(response)
    assert data["status"] == "active" and data["intent"] == "order"
    assert data["medicationCodeableConcept"]["coding"] == [
        {"system": systems.DRUG_CATALOG_CS, "code": "TH-AMOX", "display": "Amoxicilin 500mg"},
        {"system": systems.MOH_DRUG_CS, "code": "40.146", "display": "Amoxicilin"},
    ]
    assert data["subject"] == {"reference": f"Patient/{md['an'].pk}"}
    assert data["encounter"] == {"reference": f"Encounter/{md['A'].pk}"}
    assert data["requester"] == {"reference": f"Practitioner/{md['doctor'].pk}"}
    assert data["groupIdentifier"] == {
        "system": systems.PRESCRIPTION_ID,
        "value": str(md["rx_a"].pk),
    }
    assert data["authoredOn"] == f"{_day(-10).isoformat()}T10:00:00+07:00"
    (dosage,) = data["dosageInstruction"]
    assert dosage["text"] == "Uống 1 viên/lần, 2 lần/ngày, 30 ngày. Sau ăn"
    assert dosage["timing"]["repeat"]["frequency"] == 2
    assert data["dispenseRequest"]["quantity"] == {"value": 60, "unit": "viên"}
    assert data["note"] == [{"text": "Uống nhiều nước"}]
    assert data["category"][0]["coding"][0]["code"] == "community"


def test_referenced_patient_and_encounter_resolve(api, md):
    data = body(api.get(f"MedicationRequest/{md['d'].pk}"))
    assert data["category"][0]["coding"][0]["code"] == "inpatient"
    for ref in (data["subject"]["reference"], data["encounter"]["reference"]):
        assert api.get(ref).status_code == 200, ref


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("p", "completed"),
        ("a", "active"),
        ("c", "cancelled"),
        ("d", "active"),
        ("y", "completed"),
        ("r", "draft"),
    ],
)
def test_status_on_read(api, md, key, status):
    assert body(api.get(f"MedicationRequest/{md[key].pk}"))["status"] == status


def test_voided_line_reads_as_entered_in_error(api, md):
    response = api.get(f"MedicationRequest/{md['v'].pk}")
    assert response.status_code == 200 and response["ETag"] == 'W/"3"'
    data = body(response)
    assert data["status"] == "entered-in-error"
    assert data["note"][-1]["text"].endswith("Kê nhầm")


@pytest.mark.parametrize("key", ["e", "f"])
def test_not_visible_is_404_like_a_missing_one(api, md, key):
    response = api.get(f"MedicationRequest/{md[key].pk}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"
    assert api.get("MedicationRequest/99999999").status_code == 404
    assert api.get("MedicationRequest/rx-1").status_code == 404


def test_shared_patient_prescriptions_become_visible(api_for, md, facility, other_facility):
    other = api_for(other_facility)
    assert other.get(f"MedicationRequest/{md['p'].pk}").status_code == 404
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=md["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    assert other.get(f"MedicationRequest/{md['p'].pk}").status_code == 200
    assert _ids(other.get("MedicationRequest", {"patient": str(md["an"].pk)})) == [
        str(md[k].pk) for k in ("p", "a", "c", "d", "y")
    ]


def test_staff_session_sees_what_the_clinical_pages_show(client, md, facility):
    client.force_login(make_staff(facility, Role.DOCTOR))
    assert client.get(f"/fhir/R4/MedicationRequest/{md['p'].pk}").status_code == 200
    assert client.get(f"/fhir/R4/MedicationRequest/{md['e'].pk}").status_code == 404
    client.force_login(make_staff(facility, Role.RECEPTIONIST))  # no view_encounter
    assert client.get(f"/fhir/R4/MedicationRequest/{md['p'].pk}").status_code == 404


# --- search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL),
        ({"patient": "{an}"}, ["p", "a", "c", "d", "y"]),
        ({"patient": "Patient/{binh}"}, ["r"]),
        ({"subject": "Patient/{an}"}, ["p", "a", "c", "d", "y"]),
        ({"subject": "Group/{an}"}, []),
        ({"patient": "{stranger}"}, []),
        ({"encounter": "Encounter/{A}"}, ["p", "a", "c"]),
        ({"encounter": "{B}"}, ["d", "y"]),
        ({"code": "TH-PARA"}, ["p", "c", "d"]),
        ({"code": f"{systems.DRUG_CATALOG_CS}|TH-AMOX"}, ["a", "y"]),
        ({"code": "40.146"}, ["a", "y"]),
        ({"code": f"{systems.MOH_DRUG_CS}|40.17"}, ["p", "c", "d"]),
        ({"code": f"{systems.MOH_DRUG_CS}|TH-PARA"}, []),
        ({"code": f"{systems.MOH_DRUG_CS}|"}, ["p", "a", "c", "d", "y"]),
        ({"code": "TH-IBU,TH-AMOX"}, ["a", "y", "r"]),
        ({"status": "active"}, ["a", "d"]),
        ({"status": "completed"}, ["p", "y"]),
        ({"status": "cancelled"}, ["c"]),
        ({"status": "draft"}, ["r"]),
        ({"status": "entered-in-error"}, []),
        ({"status": "on-hold"}, []),
        ({"status": "http://hl7.org/fhir/CodeSystem/medicationrequest-status|active"}, ["a", "d"]),
        ({"status": "active,draft"}, ["a", "d", "r"]),
        ({"intent": "order"}, ALL),
        ({"intent": "http://hl7.org/fhir/CodeSystem/medicationrequest-intent|order"}, ALL),
        ({"intent": "proposal"}, []),
        ({"authoredon": "{minus10}"}, ["p", "a", "c"]),
        ({"authoredon": "ge{minus1}"}, ["d", "y", "r"]),
        ({"authoredon": "lt{minus1}"}, ["p", "a", "c"]),
        ({"authoredon": "eb{minus1}"}, ["p", "a", "c"]),
        ({"requester": "Practitioner/{doctor}"}, ALL),
        ({"requester": "Practitioner/{binh}"}, []),
        ({"_id": "{p},{e},{v}"}, ["p"]),
        ({"_lastUpdated": "{minus10}"}, ["p", "a", "c"]),
        ({"_lastUpdated": "ge{minus1}"}, ["d", "y", "r"]),
        ({"code:not": "TH-PARA"}, ["a", "y", "r"]),
        ({"status:not": "active,completed"}, ["c", "r"]),
        ({"_sort": "-authoredon"}, ["r", "d", "y", "p", "a", "c"]),
        ({"_sort": "authoredon", "_count": "2"}, ["p", "a"]),
        ({"patient": "{an}", "status": "active", "code": "TH-PARA"}, ["d"]),
    ],
)
def test_search_medication_requests(api, md, params, expected):
    values = {
        "an": md["an"].pk,
        "binh": md["binh"].pk,
        "stranger": md["stranger"].pk,
        "A": md["A"].pk,
        "B": md["B"].pk,
        "doctor": md["doctor"].pk,
        "minus10": _day(-10).isoformat(),
        "minus1": _day(-1).isoformat(),
        **{k: md[k].pk for k in ("p", "e", "v")},
    }
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("MedicationRequest", query)) == [str(md[k].pk) for k in expected]


def test_unknown_parameter_and_bad_date_are_400(api):
    response = api.get("MedicationRequest", {"medication": "Medication/1"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["medication"]
    assert api.get("MedicationRequest", {"authoredon": "hôm qua"}).status_code == 400
    assert api.get("MedicationRequest", {"code:text": "para"}).status_code == 400


def test_paging_follows_the_cursor(api, md):
    seen: list[str] = []
    response = api.get("MedicationRequest", {"_count": 4})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(md[k].pk) for k in ALL]


def test_summary_count_and_post_search(api, md):
    data = body(api.get("MedicationRequest", {"_summary": "count", "status": "completed"}))
    assert data["total"] == 2 and "entry" not in data
    response = api.search_post("MedicationRequest/_search", {"patient": str(md["binh"].pk)})
    assert _ids(response) == [str(md["r"].pk)]


# --- scopes, audit, capability, query counts -------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "search", "read"),
    [*scope_cases("MedicationRequest", other="ServiceRequest"), ("system/*.rs", 200, 200)],
)
def test_scopes_are_enforced(api_for, md, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, MedicationRequest=md["p"].pk)


def test_anonymous_gets_401(md):
    assert_anonymous_gets_401(f"MedicationRequest/{md['p'].pk}")


def test_every_access_is_audited_per_patient(api, md):
    api.get(f"MedicationRequest/{md['v'].pk}")
    api.get("MedicationRequest", {"code": "TH-IBU,TH-AMOX"})
    api.get("MedicationRequest", {"code": "NONE"})
    api.get(f"MedicationRequest/{md['e'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "target_id", "patient_id")
    an, binh = md["an"].pk, md["binh"].pk
    assert rows == [
        ("fhir.medication_request.read", "patients.PrescriptionItem", str(md["v"].pk), an),
        ("fhir.medication_request.search", "patients.Patient", str(an), an),
        ("fhir.medication_request.search", "patients.Patient", str(binh), binh),
        ("fhir.medication_request.search", "", "", None),
        ("fhir.refused", "", "", None),
    ]
    assert_refusal_audited(api, "MedicationRequest")


def test_capability_statement_lists_medication_request():
    data = body(Api(None).get("metadata"))
    (res,) = [r for r in data["rest"][0]["resource"] if r["type"] == "MedicationRequest"]
    assert {i["code"] for i in res["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in res["searchParam"]} == {
        "_id", "patient", "subject", "encounter", "code", "status", "intent", "authoredon",
        "requester", "_lastUpdated",
    }  # fmt: skip


def _queries(api, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("MedicationRequest", params)
    return len(ctx.captured_queries), len(body(response)["entry"])


@pytest.mark.parametrize("params", [{}, {"status": "active,completed", "code": "TH-PARA,TH-AMOX"}])
def test_search_page_runs_a_constant_number_of_queries(
    api, facility, md, django_assert_max_num_queries, params
):
    api.get("MedicationRequest", {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, {"_count": 100, **params})
    # when many more patients with prescriptions are added
    para, amox = md["p"].drug, md["a"].drug
    for n in range(8):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        visit = make_encounter(facility=facility, patient=patient, started_at=_at(-2, 2))
        rx = _rx(visit, md["doctor"], at=_at(-2))
        _line(rx, para, days=1)
        _line(rx, amox, days=7)
    # then a page of every line runs no more queries than the first, smaller page
    with django_assert_max_num_queries(small):
        response = api.get("MedicationRequest", {"_count": 100, **params})
    assert len(body(response)["entry"]) == small_rows + 16
    assert small <= 10  # token, client, permissions, page (with prescription and drug), audit
