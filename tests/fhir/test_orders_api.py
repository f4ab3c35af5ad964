"""ServiceRequest and DiagnosticReport over HTTP: read, search parameters, visibility (404),
scopes, audit, query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import Role
from ehealth.core.models.catalogs import CostGroup
from fhir_api import registry, systems
from patients.clinical_choices import EncounterKind, EncounterStatus, OrderStatus
from patients.models import ResultValue, ServiceOrder
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter, make_service
from tests.core.factories import DepartmentFactory, make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_scope_statuses,
    client_audit_events,
    client_audit_rows,
    scope_cases,
)
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _utc(day: int, hour: int = 2, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _order(encounter, service, doctor, *, at=None, status=OrderStatus.ORDERED, **fields):
    at = at or encounter.started_at + timedelta(minutes=20)
    return ServiceOrder.objects.create(
        encounter=encounter,
        service=service,
        ordered_by=doctor,
        ordered_at=at,
        status=status,
        **fields,
    )


def _result(order, doctor, *values, conclusion="", at=None):
    """Enter a result as the service does: values, conclusion, RESULTED, version bumped."""
    at = at or order.ordered_at + timedelta(hours=1)
    for code, name, value in values:
        ResultValue.objects.create(
            order=order, code=code, name=name, value=value, entered_by=doctor, entered_at=at
        )
    order.status, order.resulted_at, order.result_conclusion = OrderStatus.RESULTED, at, conclusion
    order.performed_at, order.performed_by = at - timedelta(minutes=30), doctor
    order.version += 2
    order.save()
    return order


@pytest.fixture
def od(facility, other_facility):
    """An: visit A on 1 March (concluded): cbc = a resulted blood count (2 values), xray = an
    imaging study with a conclusion only, cx = a cancelled glucose test; stay B since 5 March:
    gl = a glucose test ordered for 5 March at a department. Bình: visit C on 20 Feb: ecg = an
    ECG in progress. A stranger at another unit: e (resulted). A voided visit of An: f."""
    doctor = make_staff(facility, Role.DOCTOR)
    cbc = make_service(code="XN-CBC", name="Tổng phân tích tế bào máu", moh_code="22.0120.1370")
    glucose = make_service(code="XN-GLU", name="Định lượng Glucose", moh_code="23.0075.1494")
    xray = make_service(code="CD-XQ", name="Chụp X-quang ngực thẳng", group=CostGroup.IMAGING)
    ecg = make_service(code="TD-ECG", name="Điện tim thường", group=CostGroup.FUNCTIONAL)
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    visit_a = make_encounter(
        facility=facility,
        patient=an,
        status=EncounterStatus.CONCLUDED,
        started_at=_utc(1),
        ended_at=_utc(1, 6),
    )
    stay_b = make_encounter(
        facility=facility, patient=an, kind=EncounterKind.INPATIENT, started_at=_utc(5)
    )
    visit_c = make_encounter(facility=facility, patient=binh, started_at=_utc(20, month=2))
    visit_e = make_encounter(facility=other_facility, patient=stranger, started_at=_utc(1))
    visit_f = make_encounter(facility=facility, patient=an, started_at=_utc(1), voided_at=_utc(2))
    lab = DepartmentFactory(facility=facility, name="Khoa Xét nghiệm")
    other_doctor = make_staff(other_facility, Role.DOCTOR)
    data = {
        "cbc": _result(
            _order(visit_a, cbc, doctor),
            doctor,
            ("WBC", "Số lượng bạch cầu", "7.2"),
            ("HGB", "Huyết sắc tố", "140"),
            conclusion="Trong giới hạn bình thường",
        ),
        "xray": _result(
            _order(visit_a, xray, doctor), doctor, conclusion="Không thấy tổn thương"
        ),
        "cx": _order(
            visit_a,
            glucose,
            doctor,
            status=OrderStatus.CANCELLED,
            cancelled_at=_utc(1, 3),
            cancelled_by=doctor,
            cancel_reason="Trùng chỉ định",
            version=2,
        ),
        "gl": _order(
            stay_b,
            glucose,
            doctor,
            for_day=_utc(5).date(),
            performing_department=lab,
            quantity=Decimal("2"),
        ),
        "ecg": _order(visit_c, ecg, doctor, status=OrderStatus.IN_PROGRESS),
        "e": _result(
            _order(visit_e, cbc, other_doctor), other_doctor, ("WBC", "Bạch cầu", "9")
        ),
        "f": _result(_order(visit_f, cbc, doctor), doctor, ("WBC", "Bạch cầu", "5")),
        "an": an, "binh": binh, "stranger": stranger, "A": visit_a, "B": stay_b,
        "doctor": doctor, "lab": lab,
    }  # fmt: skip
    return data


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset", data
    return [e["resource"]["id"] for e in data.get("entry", [])]


def _values(od) -> dict:
    return {
        "an": od["an"].pk,
        "binh": od["binh"].pk,
        "stranger": od["stranger"].pk,
        "A": od["A"].pk,
        "B": od["B"].pk,
        "doctor": od["doctor"].pk,
        **{k: od[k].pk for k in ("cbc", "xray", "cx", "gl", "ecg", "e", "f")},
    }


# --- ServiceRequest: read ------------------------------------------------------------------


def test_read_service_request(api, od):
    response = api.get(f"ServiceRequest/{od['gl'].pk}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"]
    data = body(response)
    assert data["status"] == "active" and data["intent"] == "order"
    assert data["code"]["coding"] == [
        {"system": systems.SERVICE_CATALOG_CS, "code": "XN-GLU", "display": "Định lượng Glucose"},
        {"system": systems.MOH_SERVICE_CS, "code": "23.0075.1494", "display": "Định lượng Glucose"},
    ]
    assert data["subject"] == {"reference": f"Patient/{od['an'].pk}"}
    assert data["encounter"] == {"reference": f"Encounter/{od['B'].pk}"}
    assert data["requester"] == {"reference": f"Practitioner/{od['doctor'].pk}"}
    assert data["occurrenceDateTime"] == "2026-03-05"
    assert data["quantityQuantity"]["value"] == 2
    assert data["locationReference"] == [{"reference": f"Location/dept-{od['lab'].pk}"}]


def test_service_request_references_resolve(api, od):
    data = body(api.get(f"ServiceRequest/{od['gl'].pk}"))
    refs = [data["subject"], data["encounter"], *data["locationReference"]]
    for ref in refs:
        assert api.get(ref["reference"]).status_code == 200, ref


@pytest.mark.parametrize(
    ("key", "status"), [("cbc", "completed"), ("cx", "revoked"), ("ecg", "active")]
)
def test_service_request_status_on_read(api, od, key, status):
    response = api.get(f"ServiceRequest/{od[key].pk}")
    assert body(response)["status"] == status
    assert response["ETag"] == f'W/"{od[key].version}"'


@pytest.mark.parametrize("key", ["e", "f"])
def test_service_request_not_visible_is_404(api, od, key):
    response = api.get(f"ServiceRequest/{od[key].pk}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"
    assert api.get("ServiceRequest/99999999").status_code == 404
    assert api.get("ServiceRequest/abc").status_code == 404


def test_shared_patient_orders_become_visible(api_for, od, facility, other_facility):
    other = api_for(other_facility)
    assert other.get(f"ServiceRequest/{od['cbc'].pk}").status_code == 404
    assert other.get(f"DiagnosticReport/{od['cbc'].pk}").status_code == 404
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=od["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    assert other.get(f"ServiceRequest/{od['cbc'].pk}").status_code == 200
    assert other.get(f"DiagnosticReport/{od['cbc'].pk}").status_code == 200


def test_staff_session_sees_what_the_clinical_pages_show(client, od, facility):
    client.force_login(make_staff(facility, Role.DOCTOR))
    assert client.get(f"/fhir/R4/ServiceRequest/{od['cbc'].pk}").status_code == 200
    assert client.get(f"/fhir/R4/DiagnosticReport/{od['cbc'].pk}").status_code == 200
    assert client.get(f"/fhir/R4/ServiceRequest/{od['e'].pk}").status_code == 404
    client.force_login(make_staff(facility, Role.RECEPTIONIST))  # no view_encounter
    assert client.get(f"/fhir/R4/ServiceRequest/{od['cbc'].pk}").status_code == 404


# --- ServiceRequest: search ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["cbc", "xray", "cx", "gl", "ecg"]),
        ({"patient": "{an}"}, ["cbc", "xray", "cx", "gl"]),
        ({"patient": "Patient/{binh}"}, ["ecg"]),
        ({"subject": "Patient/{an}"}, ["cbc", "xray", "cx", "gl"]),
        ({"subject": "Group/{an}"}, []),
        ({"patient": "{stranger}"}, []),
        ({"encounter": "Encounter/{A}"}, ["cbc", "xray", "cx"]),
        ({"encounter": "{B}"}, ["gl"]),
        ({"code": "XN-GLU"}, ["cx", "gl"]),
        ({"code": "22.0120.1370"}, ["cbc"]),
        ({"code": f"{systems.SERVICE_CATALOG_CS}|XN-CBC"}, ["cbc"]),
        ({"code": f"{systems.MOH_SERVICE_CS}|XN-CBC"}, []),
        ({"code": f"{systems.MOH_SERVICE_CS}|"}, ["cbc", "cx", "gl"]),
        ({"code": "http://loinc.org|XN-CBC"}, []),
        ({"code": "CD-XQ,TD-ECG"}, ["xray", "ecg"]),
        ({"status": "active"}, ["gl", "ecg"]),
        ({"status": "completed"}, ["cbc", "xray"]),
        ({"status": "http://hl7.org/fhir/request-status|revoked"}, ["cx"]),
        ({"status": "draft"}, []),
        ({"status": "active,revoked"}, ["cx", "gl", "ecg"]),
        ({"intent": "order"}, ["cbc", "xray", "cx", "gl", "ecg"]),
        ({"intent": "plan"}, []),
        ({"authored": "2026-03-01"}, ["cbc", "xray", "cx"]),
        ({"authored": "2026-03"}, ["cbc", "xray", "cx", "gl"]),
        ({"authored": "ge2026-03-05"}, ["gl"]),
        ({"authored": "lt2026-03-01"}, ["ecg"]),
        ({"authored": "ne2026-03-01"}, ["gl", "ecg"]),
        ({"category": "2"}, ["xray"]),
        ({"category": f"{systems.COST_GROUP_CS}|1"}, ["cbc", "cx", "gl"]),
        ({"category": "http://snomed.info/sct|363679005"}, ["xray"]),
        ({"category": "108252007,103693007"}, ["cbc", "cx", "gl", "ecg"]),
        ({"category": "http://snomed.info/sct|1"}, []),
        ({"requester": "Practitioner/{doctor}"}, ["cbc", "xray", "cx", "gl", "ecg"]),
        ({"requester": "Practitioner/999999"}, []),
        ({"_id": "{gl},{e},{f}"}, ["gl"]),
        ({"_lastUpdated": "ge2026-03-02"}, ["gl"]),
        ({"_lastUpdated": "2026-03-01"}, ["cbc", "xray", "cx"]),
        ({"_lastUpdated": "lt2026-03-01"}, ["ecg"]),
        ({"status:not": "completed"}, ["cx", "gl", "ecg"]),
        ({"code:not": "XN-GLU,XN-CBC"}, ["xray", "ecg"]),
        ({"_sort": "-authored"}, ["gl", "cbc", "xray", "cx", "ecg"]),
        ({"_sort": "-_lastUpdated", "patient": "{an}"}, ["gl", "cbc", "xray", "cx"]),
        ({"patient": "{an}", "status": "completed", "code": "CD-XQ"}, ["xray"]),
    ],
)
def test_search_service_requests(api, od, params, expected):
    query = {k: v.format(**_values(od)) for k, v in params.items()}
    assert _ids(api.get("ServiceRequest", query)) == [str(od[k].pk) for k in expected]


def test_unknown_parameter_bad_date_are_400(api):
    response = api.get("ServiceRequest", {"priority": "stat"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["priority"]
    assert api.get("ServiceRequest", {"authored": "yesterday"}).status_code == 400
    assert api.get("DiagnosticReport", {"date": "2026-13"}).status_code == 400
    assert api.get("DiagnosticReport", {"conclusion": "x"}).status_code == 400


def test_service_request_paging_follows_the_cursor(api, od):
    seen: list[str] = []
    response = api.get("ServiceRequest", {"_count": 2})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(od[k].pk) for k in ("cbc", "xray", "cx", "gl", "ecg")]


def test_total_on_request_and_sorted_paging(api, od):
    data = body(api.get("ServiceRequest", {"_total": "accurate", "_count": 2}))
    assert data["total"] == 5 and len(data["entry"]) == 2
    assert "total" not in body(api.get("ServiceRequest", {"_count": 2}))
    seen: list[str] = []
    response = api.get("ServiceRequest", {"_sort": "-authored", "_count": 2})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(od[k].pk) for k in ("gl", "cbc", "xray", "cx", "ecg")]
    response = api.get("DiagnosticReport", {"_sort": "priority"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["_sort"]


def test_summary_count_and_post_search(api, od):
    data = body(api.get("ServiceRequest", {"_summary": "count", "patient": str(od["an"].pk)}))
    assert data["total"] == 4 and "entry" not in data
    response = api.search_post("ServiceRequest/_search", {"patient": str(od["binh"].pk)})
    assert _ids(response) == [str(od["ecg"].pk)]


# --- DiagnosticReport ----------------------------------------------------------------------


def test_read_diagnostic_report(api, od):
    cbc = od["cbc"]
    response = api.get(f"DiagnosticReport/{cbc.pk}")
    assert response.status_code == 200 and response["ETag"] == f'W/"{cbc.version}"'
    data = body(response)
    assert data["status"] == "final"
    assert data["basedOn"] == [{"reference": f"ServiceRequest/{cbc.pk}"}]
    value_ids = list(cbc.values.order_by("id").values_list("id", flat=True))
    assert data["result"] == [{"reference": f"Observation/res-{pk}"} for pk in value_ids]
    assert data["conclusion"] == "Trong giới hạn bình thường"
    assert data["category"][0]["coding"][0]["code"] == "LAB"
    assert data["performer"] == [{"reference": f"Practitioner/{od['doctor'].pk}"}]
    assert data["issued"] == "2026-03-01T10:20:00+07:00"
    assert data["effectiveDateTime"] == "2026-03-01T09:50:00+07:00"
    assert api.get(data["basedOn"][0]["reference"]).status_code == 200


def test_report_results_resolve_to_observations(api, od):
    if registry.get("Observation") is None:
        pytest.skip("the Observation resource is not registered yet")
    data = body(api.get(f"DiagnosticReport/{od['cbc'].pk}"))
    for ref in data["result"]:
        assert api.get(ref["reference"]).status_code == 200, ref


def test_imaging_report_has_a_conclusion_and_no_result(api, od):
    data = body(api.get(f"DiagnosticReport/{od['xray'].pk}"))
    assert data["conclusion"] == "Không thấy tổn thương" and "result" not in data
    assert data["category"][0]["coding"][0]["code"] == "RAD"


@pytest.mark.parametrize("key", ["cx", "gl", "ecg", "e", "f"])
def test_order_without_result_or_not_visible_has_no_report(api, od, key):
    assert api.get(f"DiagnosticReport/{od[key].pk}").status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["cbc", "xray"]),
        ({"patient": "{an}"}, ["cbc", "xray"]),
        ({"subject": "Patient/{binh}"}, []),
        ({"encounter": "Encounter/{A}"}, ["cbc", "xray"]),
        ({"encounter": "{B}"}, []),
        ({"code": "XN-CBC"}, ["cbc"]),
        ({"code": f"{systems.MOH_SERVICE_CS}|22.0120.1370"}, ["cbc"]),
        ({"code": f"{systems.SERVICE_CATALOG_CS}|CD-XQ"}, ["xray"]),
        ({"status": "final"}, ["cbc", "xray"]),
        ({"status": "http://hl7.org/fhir/diagnostic-report-status|final"}, ["cbc", "xray"]),
        ({"status": "preliminary"}, []),
        ({"status": "amended"}, []),
        ({"date": "2026-03-01"}, ["cbc", "xray"]),
        ({"date": "gt2026-03-01"}, []),
        ({"date": "lt2026-03-02"}, ["cbc", "xray"]),
        ({"based-on": "ServiceRequest/{cbc}"}, ["cbc"]),
        ({"based-on": "{xray},{gl},{e}"}, ["xray"]),
        ({"based-on": "CarePlan/{cbc}"}, []),
        ({"category": "LAB"}, ["cbc"]),
        ({"category": f"{systems.DIAGNOSTIC_SECTION_CS}|RAD"}, ["xray"]),
        ({"category": "OTH"}, []),
        ({"_id": "{cbc},{e},{gl}"}, ["cbc"]),
        ({"_lastUpdated": "2026-03-01"}, ["cbc", "xray"]),
        ({"_lastUpdated": "gt2026-03-01"}, []),
        ({"category:not": "LAB"}, ["xray"]),
        ({"_sort": "-date"}, ["cbc", "xray"]),
    ],
)
def test_search_diagnostic_reports(api, od, params, expected):
    query = {k: v.format(**_values(od)) for k, v in params.items()}
    assert _ids(api.get("DiagnosticReport", query)) == [str(od[k].pk) for k in expected]


def test_report_of_a_newly_resulted_order_appears(api, od):
    _result(od["ecg"], od["doctor"], conclusion="Nhịp xoang đều")
    ids = _ids(api.get("DiagnosticReport", {"category": "OTH"}))
    assert ids == [str(od["ecg"].pk)]


# --- scopes, audit, capability, query counts -----------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "search", "read"), scope_cases("ServiceRequest", other="Condition")
)
def test_service_request_scopes(api_for, od, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, ServiceRequest=od["cbc"].pk)
    assert caller.get(f"DiagnosticReport/{od['cbc'].pk}").status_code == 403


@pytest.mark.parametrize(
    ("scopes", "status"),
    [("system/ServiceRequest.rs", 403), ("system/DiagnosticReport.rs", 200)],
)
def test_diagnostic_report_scopes(api_for, od, facility, scopes, status):
    caller = api_for(facility, scopes)
    assert caller.get("DiagnosticReport").status_code == status
    assert caller.get(f"DiagnosticReport/{od['cbc'].pk}").status_code == status


def test_anonymous_gets_401(od):
    assert_anonymous_gets_401(f"ServiceRequest/{od['cbc'].pk}", "DiagnosticReport")


def test_every_access_is_audited_per_patient(api, od):
    api.get(f"ServiceRequest/{od['cbc'].pk}")
    api.get("ServiceRequest", {"code": "XN-GLU,TD-ECG"})
    api.get("ServiceRequest", {"code": "NONE"})
    api.get(f"DiagnosticReport/{od['xray'].pk}")
    api.get("DiagnosticReport", {"status": "final"})
    api.get(f"ServiceRequest/{od['e'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "target_id", "patient_id")
    an, binh = od["an"].pk, od["binh"].pk
    assert rows == [
        ("fhir.service_request.read", "patients.ServiceOrder", str(od["cbc"].pk), an),
        ("fhir.service_request.search", "patients.Patient", str(an), an),
        ("fhir.service_request.search", "patients.Patient", str(binh), binh),
        ("fhir.service_request.search", "", "", None),
        ("fhir.diagnostic_report.read", "patients.ServiceOrder", str(od["xray"].pk), an),
        ("fhir.diagnostic_report.search", "patients.Patient", str(an), an),
        ("fhir.refused", "", "", None),
    ]
    search = client_audit_events(api, action="fhir.service_request.search").first()
    assert search.detail["params"] == ["code"] and search.detail["count"] == 3
    assert search.channel == "fhir"


def test_capability_statement_lists_the_order_resources():
    data = body(Api(None).get("metadata"))
    resources = {r["type"]: r for r in data["rest"][0]["resource"]}
    expected = {
        "ServiceRequest": {
            "_id", "patient", "subject", "encounter", "code", "status", "intent", "authored",
            "category", "requester", "_lastUpdated",
        },
        "DiagnosticReport": {
            "_id", "patient", "subject", "encounter", "code", "status", "date", "based-on",
            "category", "_lastUpdated",
        },
    }  # fmt: skip
    for type_, params in expected.items():
        assert {i["code"] for i in resources[type_]["interaction"]} == {"read", "search-type"}
        assert {p["name"] for p in resources[type_]["searchParam"]} == params


def _queries(api, path, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, params)
    return len(ctx.captured_queries), len(body(response)["entry"])


@pytest.mark.parametrize(("path", "rows_before"), [("ServiceRequest", 5), ("DiagnosticReport", 2)])
def test_search_page_runs_a_constant_number_of_queries(
    api, facility, od, django_assert_max_num_queries, path, rows_before
):
    api.get(path, {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, path, {"_count": 100})
    # when many more patients with visits, orders and results are added
    doctor, service = od["doctor"], od["cbc"].service
    for n in range(8):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        visit = make_encounter(facility=facility, patient=patient, started_at=_utc(2))
        _result(
            _order(visit, service, doctor), doctor, ("WBC", "Bạch cầu", str(n)), ("HGB", "Hb", "1")
        )
        _result(_order(visit, service, doctor), doctor, conclusion="Bình thường")
    # then a page of every record runs no more queries than the first, smaller page
    with django_assert_max_num_queries(small):
        response = api.get(path, {"_count": 100})
    assert small_rows == rows_before and len(body(response)["entry"]) == rows_before + 16
    assert small <= 11  # token, client, permissions, page (+ value ids), audit


def test_include_the_order_and_revinclude_the_reports(api, od):
    cbc = od["cbc"].pk
    data = body(
        api.get("DiagnosticReport", {"_id": str(cbc), "_include": "DiagnosticReport:based-on"})
    )
    assert [(e["resource"]["resourceType"], e["search"]["mode"]) for e in data["entry"]] == [
        ("DiagnosticReport", "match"),
        ("ServiceRequest", "include"),
    ]
    data = body(
        api.get(
            "ServiceRequest",
            {"encounter": str(od["A"].pk), "_revinclude": "DiagnosticReport:based-on"},
        )
    )
    included = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "include"]
    assert [(r["resourceType"], r["id"]) for r in included] == [
        ("DiagnosticReport", str(cbc)),
        ("DiagnosticReport", str(od["xray"].pk)),
    ]
