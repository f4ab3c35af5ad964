"""Observation over HTTP: vital signs and result values read and searched (each parameter),
visibility (404), scopes, audit, query counts; vital signs created through the vitals service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role, StaffMembership
from ehealth.core.models.catalogs import CostGroup
from ehealth.core.permissions import staff_groups_sync
from fhir_api import systems
from fhir_api.models import ResourceExtra
from patients.clinical_choices import EncounterStatus, OrderStatus, ResultFlag
from patients.models import ResultValue, ServiceOrder, VitalSigns
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter, make_service
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
UCUM = systems.UCUM_UNITS


def _utc(day: int, hour: int = 2, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _vitals(encounter, at, **values) -> VitalSigns:
    return VitalSigns.objects.create(
        encounter=encounter,
        recorded_at=at,
        recorded_by=make_staff(encounter.facility, Role.NURSE),
        **values,
    )


def _order(encounter, service, status=OrderStatus.RESULTED, at=None) -> ServiceOrder:
    at = at or encounter.started_at + timedelta(hours=1)
    return ServiceOrder.objects.create(
        encounter=encounter,
        service=service,
        status=status,
        ordered_by=make_staff(encounter.facility, Role.DOCTOR),
        ordered_at=at,
        performed_at=at,
        resulted_at=at + timedelta(hours=1),
    )


def _value(order, name, value, numeric=None, unit="", code="", **fields) -> ResultValue:
    return ResultValue.objects.create(
        order=order,
        code=code,
        name=name,
        value=value,
        numeric_value=numeric,
        unit=unit,
        entered_by=order.ordered_by,
        entered_at=order.resulted_at,
        **fields,
    )


@pytest.fixture
def obs(facility, other_facility):
    """An: visit A (1 March, open): row v1 at 02:00Z (pulse 88, BP 130/85, 38.5 °C, 165 cm,
    60.5 kg -> BMI 22.2), row v2 at 03:00Z (37.0 °C, SpO2 97), a voided row vx (39.9 °C); a
    glucose order with r1 (7.8 mmol/L, H) and r2 (HBsAg, text). Bình: visit C (20 Feb): row vc
    (pulse 70, 36.8 °C) and an imaging value r3 (12 mm); a cancelled order's value rx. A
    stranger at another unit: row ve (40 °C)."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    visit_a = make_encounter(
        facility=facility,
        patient=an,
        status=EncounterStatus.IN_EXAMINATION,
        started_at=_utc(1, 1),
    )
    visit_c = make_encounter(facility=facility, patient=binh, started_at=_utc(20, 1, month=2))
    visit_e = make_encounter(facility=other_facility, patient=stranger, started_at=_utc(1, 1))
    nurse = make_staff(facility, Role.NURSE)
    glucose = make_service(code="XN.GLU", name="Định lượng Glucose", group=CostGroup.LAB)
    echo = make_service(code="SA.TG", name="Siêu âm tuyến giáp", group=CostGroup.IMAGING)
    lab = _order(visit_a, glucose)
    return {
        "v1": _vitals(
            visit_a, _utc(1, 2), pulse=88, systolic=130, diastolic=85,
            temperature=Decimal("38.5"), height_cm=Decimal("165.0"), weight_kg=Decimal("60.50"),
        ),
        "v2": _vitals(visit_a, _utc(1, 3), temperature=Decimal("37.0"), spo2=97),
        "vx": _vitals(
            visit_a, _utc(1, 4), temperature=Decimal("39.9"), voided_at=_utc(1, 5),
            voided_by=nurse, void_reason="Nhầm người bệnh",
        ),
        "vc": _vitals(visit_c, _utc(20, 2, month=2), pulse=70, temperature=Decimal("36.8")),
        "ve": _vitals(visit_e, _utc(1, 2), temperature=Decimal("40.0")),
        "r1": _value(
            lab, "Glucose", "7,8", Decimal("7.8"), "mmol/L", code="GLU",
            reference_low=Decimal("3.9"), reference_high=Decimal("6.4"), flag=ResultFlag.HIGH,
        ),
        "r2": _value(lab, "HBsAg", "Âm tính", code="HBSAG"),
        "r3": _value(_order(visit_c, echo), "Kích thước nhân", "12", Decimal("12"), "mm"),
        "rx": _value(
            _order(visit_c, glucose, status=OrderStatus.CANCELLED), "Glucose", "5", Decimal("5"),
            "mmol/L",
        ),
        "an": an, "binh": binh, "stranger": stranger, "A": visit_a, "C": visit_c, "E": visit_e,
    }  # fmt: skip


def _id(obs, label: str) -> str:
    """`v1.temp` -> vs-<pk>-temp; `r1` -> res-<pk>."""
    if "." in label:
        row, slot = label.split(".")
        return f"vs-{obs[row].pk}-{slot}"
    return f"res-{obs[label].pk}"


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset", data
    return [e["resource"]["id"] for e in data.get("entry", [])]


ALL_VITALS = "v1.pulse v1.bp v1.temp v1.height v1.weight v1.bmi v2.temp v2.spo2 vc.pulse vc.temp"


# --- read --------------------------------------------------------------------------------------


def test_read_temperature(api, obs):
    response = api.get(f"Observation/{_id(obs, 'v1.temp')}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"]
    data = body(response)
    assert data["code"]["coding"][0]["code"] == "8310-5"
    assert data["valueQuantity"] == {"value": 38.5, "unit": "°C", "system": UCUM, "code": "Cel"}
    assert data["subject"] == {"reference": f"Patient/{obs['an'].pk}"}
    assert data["encounter"] == {"reference": f"Encounter/{obs['A'].pk}"}


def test_read_blood_pressure_panel(api, obs):
    data = body(api.get(f"Observation/{_id(obs, 'v1.bp')}"))
    assert [c["valueQuantity"]["value"] for c in data["component"]] == [130, 85]


def test_read_lab_value(api, obs):
    data = body(api.get(f"Observation/{_id(obs, 'r1')}"))
    assert data["category"][0]["coding"][0]["code"] == "laboratory"
    assert data["valueQuantity"]["code"] == "mmol/L"
    assert data["interpretation"][0]["coding"][0]["code"] == "H"
    assert data["referenceRange"][0]["low"]["value"] == 3.9


def test_referenced_resources_resolve(api, obs):
    for label in ("v1.temp", "r1"):
        data = body(api.get(f"Observation/{_id(obs, label)}"))
        for ref in (data["subject"]["reference"], data["encounter"]["reference"]):
            assert api.get(ref).status_code == 200, ref
    bmi = body(api.get(f"Observation/{_id(obs, 'v1.bmi')}"))
    for ref in bmi["derivedFrom"]:
        assert api.get(ref["reference"]).status_code == 200


def test_voided_row_and_cancelled_order_read_as_entered_in_error(api, obs):
    for label in ("vx.temp", "rx"):
        response = api.get(f"Observation/{_id(obs, label)}")
        assert response.status_code == 200 and response["ETag"] == 'W/"2"'
        assert body(response)["status"] == "entered-in-error"


@pytest.mark.parametrize(
    "resource_id", ["{ve}", "{v1_resp}", "vs-99999999-temp", "res-99999999", "{v1pk}", "abc"]
)
def test_observation_not_visible_or_not_held_is_404(api, obs, resource_id):
    values = {
        "ve": _id(obs, "ve.temp"),
        "v1_resp": _id(obs, "v1.resp"),  # the row holds no respiratory rate
        "v1pk": str(obs["v1"].pk),
    }
    response = api.get(f"Observation/{resource_id.format(**values)}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"


def test_shared_patient_observations_become_visible(api_for, obs, facility, other_facility):
    other = api_for(other_facility)
    assert other.get(f"Observation/{_id(obs, 'v1.temp')}").status_code == 404
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=obs["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    assert other.get(f"Observation/{_id(obs, 'v1.temp')}").status_code == 200
    assert other.get(f"Observation/{_id(obs, 'r1')}").status_code == 200


def test_staff_session_sees_what_the_clinical_pages_show(client, obs, facility):
    client.force_login(make_staff(facility, Role.DOCTOR))
    assert client.get(f"{BASE}Observation/{_id(obs, 'v1.temp')}").status_code == 200
    assert client.get(f"{BASE}Observation/{_id(obs, 've.temp')}").status_code == 404
    client.force_login(make_staff(facility, Role.RECEPTIONIST))  # no view_encounter
    assert client.get(f"{BASE}Observation/{_id(obs, 'v1.temp')}").status_code == 404


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, f"{ALL_VITALS} r1 r2 r3"),
        ({"patient": "{an}"}, "v1.pulse v1.bp v1.temp v1.height v1.weight v1.bmi v2.temp v2.spo2 r1 r2"),
        ({"subject": "Patient/{binh}"}, "vc.pulse vc.temp r3"),
        ({"patient": "{stranger}"}, ""),
        ({"subject": "Group/{an}"}, ""),
        ({"encounter": "Encounter/{C}"}, "vc.pulse vc.temp r3"),
        ({"code": "8310-5"}, "v1.temp v2.temp vc.temp"),
        ({"code": f"{systems.LOINC}|85354-9"}, "v1.bp"),
        ({"code": "2708-6"}, "v2.spo2"),
        ({"code": "59408-5,39156-5"}, "v1.bmi v2.spo2"),
        ({"code": f"{systems.LOINC}|"}, ALL_VITALS),
        ({"code": "http://snomed.info/sct|8310-5"}, ""),
        ({"code": "glu"}, "r1"),
        ({"code": f"{systems.RESULT_INDEX_CS}|HBSAG"}, "r2"),
        ({"code": f"{systems.SERVICE_CATALOG_CS}|XN.GLU"}, "r1 r2"),
        ({"code": "XN.GLU,8867-4"}, "v1.pulse vc.pulse r1 r2"),
        ({"category": "vital-signs"}, ALL_VITALS),
        ({"category": f"{systems.OBSERVATION_CATEGORY_CS}|laboratory"}, "r1 r2"),
        ({"category": "imaging"}, "r3"),
        ({"category": "procedure"}, ""),
        ({"category": "laboratory", "code": "8310-5"}, ""),
        ({"date": "2026-03-01"}, "v1.pulse v1.bp v1.temp v1.height v1.weight v1.bmi v2.temp v2.spo2 r1 r2"),
        ({"date": "lt2026-03-01"}, "vc.pulse vc.temp r3"),
        ({"date": "ge2026-03-01"}, "v1.pulse v1.bp v1.temp v1.height v1.weight v1.bmi v2.temp v2.spo2 r1 r2"),
        ({"value-quantity": f"gt38|{UCUM}|Cel"}, "v1.temp"),
        ({"value-quantity": "38.5"}, "v1.temp"),
        ({"value-quantity": "37"}, "v2.temp vc.temp"),  # 37 = [36.5, 37.5)
        ({"value-quantity": "37.0"}, "v2.temp"),  # 37.0 = [36.95, 37.05)
        ({"value-quantity": "ge88||/min"}, "v1.pulse"),
        ({"value-quantity": f"22.2|{UCUM}|kg/m2"}, "v1.bmi"),
        ({"value-quantity": "gt7||mmol/L"}, "r1"),
        ({"value-quantity": f"7.8|{UCUM}|mmol/L"}, "r1"),
        ({"value-quantity": "ap12"}, "r3"),
        ({"value-quantity": f"gt7|{UCUM}|mm[Hg]"}, ""),
        ({"value-quantity": "lt100"}, "v1.pulse v1.temp v1.weight v1.bmi v2.temp v2.spo2 vc.pulse vc.temp r1 r3"),
        ({"value-quantity": "ne38.5||Cel"}, "v2.temp vc.temp"),
        ({"component-value-quantity": "gt120"}, "v1.bp"),
        ({"component-value-quantity": f"lt80|{UCUM}|mm[Hg]"}, ""),
        ({"_id": "{v1_temp},{r2},{vx_temp},{v1_resp}"}, "v1.temp r2"),
        ({"patient": "{an}", "code": "8310-5"}, "v1.temp v2.temp"),
        ({"code": "8310-5", "value-quantity": "lt38"}, "v2.temp vc.temp"),
    ],
)  # fmt: skip
def test_search_observations(api, obs, params, expected):
    values = {
        "an": obs["an"].pk,
        "binh": obs["binh"].pk,
        "stranger": obs["stranger"].pk,
        "C": obs["C"].pk,
        "v1_temp": _id(obs, "v1.temp"),
        "v1_resp": _id(obs, "v1.resp"),
        "vx_temp": _id(obs, "vx.temp"),
        "r2": _id(obs, "r2"),
    }
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("Observation", query)) == [_id(obs, k) for k in expected.split()]


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"value-quantity": "hot"}, "value-quantity"),
        ({"value-quantity": "38|Cel"}, "value-quantity"),
        ({"date": "yesterday"}, "date"),
        ({"status": "final"}, "status"),
        ({"value-quantity:missing": "true"}, "value-quantity:missing"),
        ({"_lastUpdated": "ge2026-01-01"}, "_lastUpdated"),
        ({"code:not": "8310-5"}, ":not"),
        ({"_sort": "date"}, "_sort"),
    ],
)
def test_bad_search_values_are_400(api, params, expression):
    response = api.get("Observation", params)
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == [expression]


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_paging_follows_the_cursor_across_rows_and_tables(api, obs, count):
    seen = _follow(api, api.get("Observation", {"_count": count}))
    assert seen == [_id(obs, k) for k in f"{ALL_VITALS} r1 r2 r3".split()]


def _follow(api, response) -> list[str]:
    seen: list[str] = []
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            return seen
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")


def test_paging_while_records_are_added_has_no_gaps_nor_duplicates(api, obs):
    data = body(api.get("Observation", {"_count": 4}))
    first = [e["resource"]["id"] for e in data["entry"]]
    nxt = next(link["url"] for link in data["link"] if link["relation"] == "next")
    # when a new vitals row and a new result value arrive between two pages
    new_row = _vitals(obs["A"], _utc(1, 6), pulse=90)
    new_value = _value(ResultValue.objects.get(pk=obs["r1"].pk).order, "Ure", "5", Decimal("5"))
    rest = _follow(api, api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}"))
    seen = first + rest
    assert len(seen) == len(set(seen))
    expected = [_id(obs, k) for k in f"{ALL_VITALS} r1 r2 r3".split()]
    expected[10:10] = [f"vs-{new_row.pk}-pulse"]  # after the last vitals row, before results
    assert seen == [*expected, f"res-{new_value.pk}"]


def test_summary_count(api, obs):
    data = body(api.get("Observation", {"_summary": "count", "patient": str(obs["an"].pk)}))
    assert data["total"] == 10 and "entry" not in data
    data = body(api.get("Observation", {"_summary": "count", "code": "8310-5"}))
    assert data["total"] == 3


def test_post_search_is_the_same_search(api, obs):
    response = api.search_post("Observation/_search", {"code": "8867-4"})
    assert _ids(response) == [_id(obs, "v1.pulse"), _id(obs, "vc.pulse")]


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "search", "read"), scope_cases("Observation", other="Condition")
)
def test_scopes_are_enforced(api_for, obs, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, Observation=_id(obs, "v1.temp"))


def test_anonymous_gets_401(obs):
    assert_anonymous_gets_401(f"Observation/{_id(obs, 'v1.temp')}")


def test_every_access_is_audited_per_patient(api, obs):
    api.get(f"Observation/{_id(obs, 'v1.temp')}")
    api.get(f"Observation/{_id(obs, 'r3')}")
    api.get("Observation", {"code": "8867-4"})
    api.get("Observation", {"code": "Z00"})
    api.get(f"Observation/{_id(obs, 've.temp')}")
    rows = client_audit_rows(api, "action", "target_type", "target_id", "patient_id")
    an, binh = obs["an"].pk, obs["binh"].pk
    assert rows == [
        ("fhir.observation.read", "patients.VitalSigns", str(obs["v1"].pk), an),
        ("fhir.observation.read", "patients.ResultValue", str(obs["r3"].pk), binh),
        ("fhir.observation.search", "patients.Patient", str(an), an),
        ("fhir.observation.search", "patients.Patient", str(binh), binh),
        ("fhir.observation.search", "", "", None),
        ("fhir.refused", "", "", None),
    ]
    assert_refusal_audited(api, "Observation")


def test_capability_statement_lists_observation():
    data = body(Api(None).get("metadata"))
    (obs_def,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Observation"]
    assert {i["code"] for i in obs_def["interaction"]} >= {"read", "vread", "search-type", "create"}
    params = {p["name"]: p["type"] for p in obs_def["searchParam"]}
    assert params["value-quantity"] == "quantity" and params["code"] == "token"
    assert set(params) >= {"_id", "patient", "subject", "encounter", "code", "category", "date"}


def _queries(api, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("Observation", params)
    return len(ctx.captured_queries), len(body(response)["entry"])


def test_search_page_runs_a_constant_number_of_queries(
    api, facility, obs, django_assert_max_num_queries
):
    api.get("Observation", {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, {"_count": 100})
    glucose = make_service(code="XN.URE", name="Định lượng Ure", group=CostGroup.LAB)
    for n in range(8):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        visit = make_encounter(facility=facility, patient=patient, started_at=_utc(2))
        _vitals(visit, _utc(2, 3), pulse=80, systolic=120, diastolic=80)
        _value(_order(visit, glucose), "Ure", "5", Decimal("5"), "mmol/L")
    with django_assert_max_num_queries(small):
        response = api.get("Observation", {"_count": 100})
    assert small_rows == 13 and len(body(response)["entry"]) == 13 + 8 * 3
    assert small <= 13  # token, client, permissions, vitals page, results page, extras, audit


# --- create (vital signs) ----------------------------------------------------------------------


def _as_nurse(api, facility):
    """The unit gives the client's service account the nurse role (record_vitals)."""
    user = api.registered.client.application.user
    StaffMembership.objects.create(user=user, facility=facility, role=Role.NURSE)
    staff_groups_sync(user)
    return api


@pytest.fixture
def open_visit(facility):
    patient = make_patient(facility, full_name="Phạm Thị Hoa")
    return make_encounter(
        facility=facility,
        patient=patient,
        status=EncounterStatus.IN_EXAMINATION,
        started_at=timezone.now() - timedelta(hours=2),
    )


def _temperature(encounter, value=38.2, **extra) -> dict:
    at = timezone.localtime(timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": systems.OBSERVATION_CATEGORY_CS, "code": "vital-signs"}]}
        ],
        "code": {"coding": [{"system": systems.LOINC, "code": "8310-5"}], "text": "Nhiệt độ"},
        "subject": {"reference": f"Patient/{encounter.patient_id}"},
        "encounter": {"reference": f"Encounter/{encounter.pk}"},
        "effectiveDateTime": at.isoformat(),
        "valueQuantity": {"value": value, "unit": "°C", "system": UCUM, "code": "Cel"},
        **extra,
    }


def _blood_pressure(encounter, systolic, diastolic) -> dict:
    data = _temperature(encounter)
    del data["valueQuantity"]
    data["code"] = {"coding": [{"system": systems.LOINC, "code": "85354-9"}]}
    data["component"] = [
        {
            "code": {"coding": [{"system": systems.LOINC, "code": code}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }
        for code, value in (("8480-6", systolic), ("8462-4", diastolic))
    ]
    return data


def _contains(whole, part) -> bool:
    """Every element of `part` is in `whole` (lists: each item of `part` in some item)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and _contains(whole[k], v) for k, v in part.items()
        )
    if isinstance(part, list):
        return isinstance(whole, list) and all(any(_contains(w, p) for w in whole) for p in part)
    return whole == part


def test_create_temperature_round_trip(api, facility, open_visit):
    _as_nurse(api, facility)
    sent = _temperature(
        open_visit,
        interpretation=[
            {"coding": [{"system": systems.OBSERVATION_INTERPRETATION_CS, "code": "H"}]}
        ],
        method={"text": "Nhiệt kế điện tử ở nách"},
        note=[{"text": "Sốt về chiều"}],
    )
    response = api.post("Observation", sent)
    assert response.status_code == 201, response.content
    row = VitalSigns.objects.get(encounter=open_visit)
    assert row.temperature == Decimal("38.2") and row.pulse is None and row.note == "Sốt về chiều"
    resource_id = f"vs-{row.pk}-temp"
    assert response["Location"].endswith(f"/Observation/{resource_id}/_history/1")
    assert response["ETag"] == 'W/"1"'
    created = body(response)
    read = body(api.get(f"Observation/{resource_id}"))
    assert created == read
    # every element sent comes back (the unmodelled method and interpretation too); the server
    # adds displays and its own elements (id, meta, the LOINC display)
    assert _contains(read, sent)
    assert read["code"]["text"] == "Nhiệt độ"
    assert AuditEvent.objects.filter(action="vitals.record", patient_id=open_visit.patient_id)


def test_create_blood_pressure_panel(api, facility, open_visit):
    _as_nurse(api, facility)
    response = api.post("Observation", _blood_pressure(open_visit, 140, 90))
    assert response.status_code == 201
    row = VitalSigns.objects.get(encounter=open_visit)
    assert (row.systolic, row.diastolic, row.temperature) == (140, 90, None)
    assert body(response)["id"] == f"vs-{row.pk}-bp"


def test_create_converts_fahrenheit_to_the_domains_celsius(api, facility, open_visit):
    _as_nurse(api, facility)
    sent = _temperature(
        open_visit, valueQuantity={"value": 100.4, "system": UCUM, "code": "[degF]"}
    )
    data = body(api.post("Observation", sent))
    assert data["valueQuantity"] == {"value": 38, "unit": "°C", "system": UCUM, "code": "Cel"}


@pytest.mark.parametrize(
    ("prefer", "has_body"), [("return=minimal", False), ("return=representation", True)]
)
def test_create_honours_prefer(api, facility, open_visit, prefer, has_body):
    _as_nurse(api, facility)
    response = api.post("Observation", _temperature(open_visit), Prefer=prefer)
    assert response.status_code == 201 and response["Location"] and response["ETag"]
    assert bool(response.content) == has_body


@pytest.mark.parametrize(
    ("make", "status", "expression"),
    [
        (lambda v: _temperature(v, 80), 422, "Observation.valueQuantity"),
        (lambda v: _blood_pressure(v, 90, 95), 422,
         "Observation.component.where(code.coding.code='8462-4').valueQuantity"),
        (lambda v: {**_temperature(v), "code": {"coding": [{"system": systems.LOINC, "code": "2345-7"}]}},
         422, "Observation.code"),
        (lambda v: {**_temperature(v), "subject": {"reference": "Patient/99999999"}}, 422,
         "Observation.subject"),
        (lambda v: {**_temperature(v), "encounter": {"reference": "Encounter/99999999"}}, 404,
         "Observation.encounter"),
        (lambda v: {**_temperature(v), "effectiveDateTime": "2099-01-01T08:00:00+07:00"}, 422,
         "Observation.effectiveDateTime"),
        (lambda v: {**_temperature(v), "effectiveDateTime": "2000-01-01T08:00:00+07:00"}, 422,
         "Observation.effectiveDateTime"),
        (lambda v: {**_temperature(v), "status": "preliminary"}, 422, "Observation.status"),
        (lambda v: {**_temperature(v), "valueQuantity": {"value": "hot"}}, 400,
         "Observation.valueQuantity.value"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_at_its_element_and_nothing_is_written(
    api, facility, open_visit, make, status, expression
):
    _as_nurse(api, facility)
    response = api.post("Observation", make(open_visit))
    assert response.status_code == status, response.content
    issues = body(response)["issue"]
    assert any(expression in i.get("expression", []) for i in issues), issues
    assert not VitalSigns.objects.filter(encounter=open_visit).exists()
    assert not ResourceExtra.objects.filter(resource_type="Observation").exists()


def test_create_on_a_stranger_encounter_is_404_like_an_unknown_one(api, facility, obs):
    _as_nurse(api, facility)
    response = api.post("Observation", _temperature(obs["E"]))
    assert response.status_code == 404
    assert body(response)["issue"][0]["expression"] == ["Observation.encounter"]


def test_create_on_a_shared_patients_encounter_of_another_unit_is_403(
    api_for, facility, other_facility, obs
):
    other = _as_nurse(api_for(other_facility), other_facility)
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=obs["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    assert other.post("Observation", _temperature(obs["A"])).status_code == 403


def test_create_on_a_concluded_visit_is_422_business_rule(api, facility, open_visit):
    _as_nurse(api, facility)
    open_visit.status = EncounterStatus.CONCLUDED
    open_visit.save(update_fields=["status"])
    response = api.post("Observation", _temperature(open_visit))
    assert response.status_code == 422
    assert body(response)["issue"][0]["code"] == "business-rule"


def test_create_without_the_units_vitals_permission_is_403(api, open_visit):
    # the client's service account is a receptionist only: no record_vitals at the unit
    response = api.post("Observation", _temperature(open_visit))
    assert response.status_code == 403
    assert not VitalSigns.objects.filter(encounter=open_visit).exists()


def test_create_needs_the_create_scope(api_for, facility, open_visit):
    caller = _as_nurse(api_for(facility, "system/Observation.rs"), facility)
    response = caller.post("Observation", _temperature(open_visit))
    assert response.status_code == 403
    assert "system/Observation.c" in body(response)["issue"][0]["diagnostics"]


def test_staff_session_cannot_create(client, facility, open_visit):
    client.force_login(make_staff(facility, Role.NURSE))
    response = client.post(
        f"{BASE}Observation",
        _temperature(open_visit),
        content_type="application/fhir+json",
    )
    assert response.status_code == 403


def test_vread_serves_the_current_version_only(api, obs):
    assert api.get(f"Observation/{_id(obs, 'v1.temp')}/_history/1").status_code == 200
    assert api.get(f"Observation/{_id(obs, 'v1.temp')}/_history/2").status_code == 404
    assert api.get(f"Observation/{_id(obs, 'vx.temp')}/_history/2").status_code == 200


def test_include_and_revinclude_follow_the_references(api, obs):
    data = body(api.get("Observation", {"code": "8867-4", "_include": "Observation:patient"}))
    included = [e["resource"]["id"] for e in data["entry"] if e["search"]["mode"] == "include"]
    assert sorted(included) == sorted([str(obs["an"].pk), str(obs["binh"].pk)])
    data = body(
        api.get("Patient", {"_id": str(obs["binh"].pk), "_revinclude": "Observation:patient"})
    )
    included = [e["resource"]["id"] for e in data["entry"] if e["search"]["mode"] == "include"]
    assert included == [_id(obs, k) for k in "vc.pulse vc.temp r3".split()]
