"""Patient versions over HTTP: vread of old versions, instance and type history, paging, scopes,
audit, query counts. Edits come from FHIR and from the web pages' service alike."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from fhir_api.models import ResourceExtra
from patients import services
from patients.models import Patient
from tests.core.factories import make_staff
from tests.fhir.conftest import body
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient, unique_cccd

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


def _web_edit(patient_id: int, facility, **changes) -> Patient:
    """An edit made on the web pages (the registry's service), not through FHIR."""
    patient = Patient.objects.get(pk=patient_id)
    data = services.PatientInput.from_patient(patient)
    for name, value in changes.items():
        setattr(data, name, value)
    return services.patient_update(
        actor=make_staff(facility, Role.RECEPTIONIST),
        facility=facility,
        patient=patient,
        data=data,
        expected_version=patient.version,
    )


def _put(api, data: dict, version: int, **changes):
    response = api.put(f"Patient/{data['id']}", {**data, **changes}, if_match=f'W/"{version}"')
    assert response.status_code == 200, response.content
    return body(response)


def _next(bundle: dict) -> dict | None:
    link = next((x for x in bundle["link"] if x["relation"] == "next"), None)
    if link is None:
        return None
    return dict(parse_qsl(urlsplit(link["url"]).query))


@pytest.fixture
def edited(api, facility):
    """A patient created by FHIR (v1, with a kept element), its kept element changed alone (v2),
    then renamed on the web pages with a new CCCD (v3)."""
    created = body(api.post("Patient", new_patient(maritalStatus={"text": "Độc thân"})))
    first_cccd = created["identifier"][0]["value"]
    _put(api, created, 1, maritalStatus={"text": "Đã kết hôn"})
    _web_edit(int(created["id"]), facility, full_name="Nguyễn Văn Bình", cccd=unique_cccd())
    return {"id": created["id"], "cccd": first_cccd}


# --- vread -------------------------------------------------------------------------------------


def test_vread_serves_every_version_as_it_was(api, edited):
    pid = edited["id"]
    v1 = api.get(f"Patient/{pid}/_history/1")
    assert v1.status_code == 200 and v1["ETag"] == 'W/"1"' and v1["Last-Modified"]
    v1 = body(v1)
    assert v1["meta"]["versionId"] == "1"
    assert v1["name"][0]["text"] == "Nguyễn Văn An"
    assert v1["maritalStatus"] == {"text": "Độc thân"}
    assert edited["cccd"] in {i["value"] for i in v1["identifier"]}
    v2 = body(api.get(f"Patient/{pid}/_history/2"))
    assert (v2["name"][0]["text"], v2["maritalStatus"]) == ("Nguyễn Văn An", {"text": "Đã kết hôn"})
    v3 = body(api.get(f"Patient/{pid}/_history/3"))
    assert v3 == body(api.get(f"Patient/{pid}"))
    assert v3["name"][0]["text"] == "Nguyễn Văn Bình"
    assert edited["cccd"] not in {i["value"] for i in v3["identifier"]}
    assert v3["maritalStatus"] == {"text": "Đã kết hôn"}


@pytest.mark.parametrize("version", ["0", "4", "x"])
def test_vread_of_an_unknown_version_is_404(api, edited, version):
    response = api.get(f"Patient/{edited['id']}/_history/{version}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["expression"] == ["meta.versionId"]


def test_vread_of_a_patient_of_another_unit_is_404(api_for, other_facility, edited):
    assert api_for(other_facility).get(f"Patient/{edited['id']}/_history/1").status_code == 404


def test_versions_kept_before_the_history_existed_are_not_invented(api, facility):
    # given a patient whose kept elements changed before their versions were recorded
    patient = make_patient(facility)
    ResourceExtra.objects.create(
        resource_type="Patient", resource_id=str(patient.pk), content={}, revision=2
    )
    # then only the current version (3) is served
    assert api.get(f"Patient/{patient.pk}/_history/3").status_code == 200
    assert api.get(f"Patient/{patient.pk}/_history/1").status_code == 404
    entries = body(api.get(f"Patient/{patient.pk}/_history"))["entry"]
    assert [e["response"]["etag"] for e in entries] == ['W/"3"']


# --- instance history --------------------------------------------------------------------------


def test_the_current_version_reads_the_same_by_read_vread_and_history(api):
    created = body(api.post("Patient", new_patient(maritalStatus={"text": "Độc thân"})))
    current = _put(api, created, 1, name=[{"family": "Lê", "given": ["Văn", "Cường"]}])
    assert current["meta"]["versionId"] == "2"
    assert body(api.get(f"Patient/{created['id']}")) == current
    assert body(api.get(f"Patient/{created['id']}/_history/2")) == current
    entries = body(api.get(f"Patient/{created['id']}/_history"))["entry"]
    assert entries[0]["resource"] == current
    assert entries[0]["response"]["lastModified"] == current["meta"]["lastUpdated"]


def test_instance_history_lists_every_version_newest_first(api, edited):
    response = api.get(f"Patient/{edited['id']}/_history")
    assert response.status_code == 200
    bundle = body(response)
    assert bundle["type"] == "history"
    entries = bundle["entry"]
    assert [e["resource"]["meta"]["versionId"] for e in entries] == ["3", "2", "1"]
    assert [e["request"]["method"] for e in entries] == ["PUT", "PUT", "POST"]
    assert entries[2]["request"]["url"] == "Patient"
    assert entries[0]["request"]["url"] == f"Patient/{edited['id']}"
    assert [e["response"]["status"] for e in entries] == ["200 OK", "200 OK", "201 Created"]
    assert [e["response"]["etag"] for e in entries] == ['W/"3"', 'W/"2"', 'W/"1"']
    times = [e["response"]["lastModified"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert all(e["fullUrl"].endswith(f"/Patient/{edited['id']}") for e in entries)


def test_instance_history_pages_with_count_and_next(api, edited):
    seen = []
    params = {"_count": "2"}
    while params is not None:
        bundle = body(api.get(f"Patient/{edited['id']}/_history", params))
        seen += [e["response"]["etag"] for e in bundle["entry"]]
        params = _next(bundle)
    assert seen == ['W/"3"', 'W/"2"', 'W/"1"']


def test_a_cursor_of_one_history_is_refused_by_the_other(api, edited):
    body(api.post("Patient", new_patient()))
    type_cursor = _next(body(api.get("Patient/_history", {"_count": "1"})))["_cursor"]
    instance = _next(body(api.get(f"Patient/{edited['id']}/_history", {"_count": "1"})))
    response = api.get(f"Patient/{edited['id']}/_history", {"_cursor": type_cursor})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["_cursor"]
    assert api.get("Patient/_history", {"_cursor": instance["_cursor"]}).status_code == 400


def test_instance_history_since(api, edited):
    entries = body(api.get(f"Patient/{edited['id']}/_history"))["entry"]
    since = entries[1]["response"]["lastModified"]
    recent = body(api.get(f"Patient/{edited['id']}/_history", {"_since": since}))["entry"]
    assert [e["response"]["etag"] for e in recent] == ['W/"3"', 'W/"2"']
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert "entry" not in body(api.get(f"Patient/{edited['id']}/_history", {"_since": future}))


@pytest.mark.parametrize(
    ("params", "where"),
    [({"name": "x"}, "name"), ({"_since": "yesterday"}, "_since"), ({"_count": "0"}, "_count")],
)
def test_history_refuses_unknown_or_bad_parameters(api, edited, params, where):
    response = api.get(f"Patient/{edited['id']}/_history", params)
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == [where]
    assert api.get("Patient/_history", {"_cursor": "forged"}).status_code == 400


def test_instance_history_is_audited(api, edited):
    body(api.get(f"Patient/{edited['id']}/_history"))
    event = AuditEvent.objects.get(action="fhir.patient.history")
    assert event.patient_id == int(edited["id"])
    assert event.detail["client_id"] == api.registered.client_id
    body(api.get(f"Patient/{edited['id']}/_history/1"))
    assert AuditEvent.objects.filter(
        action="fhir.patient.vread", patient_id=edited["id"], detail__version=1
    ).exists()


# --- type history ------------------------------------------------------------------------------


def test_type_history_lists_the_versions_of_visible_patients_only(
    api, api_for, facility, other_facility, edited
):
    hidden = make_patient(other_facility)
    second = body(api.post("Patient", new_patient()))
    bundle = body(api.get("Patient/_history"))
    pairs = [(e["fullUrl"].rsplit("/", 1)[1], e["response"]["etag"]) for e in bundle["entry"]]
    assert pairs == [
        (second["id"], 'W/"1"'),
        (edited["id"], 'W/"3"'),
        (edited["id"], 'W/"2"'),
        (edited["id"], 'W/"1"'),
    ]
    assert str(hidden.pk) not in {p for p, _ in pairs}
    audited = AuditEvent.objects.filter(action="fhir.patient.history")
    assert set(audited.values_list("patient_id", flat=True)) == {
        int(second["id"]),
        int(edited["id"]),
    }


def test_type_history_pages_without_gaps_or_duplicates(api, facility, edited):
    for _ in range(3):
        body(api.post("Patient", new_patient()))
    everything = [
        (e["fullUrl"], e["response"]["etag"]) for e in body(api.get("Patient/_history"))["entry"]
    ]
    seen = []
    params = {"_count": "2"}
    while params is not None:
        bundle = body(api.get("Patient/_history", params))
        seen += [(e["fullUrl"], e["response"]["etag"]) for e in bundle.get("entry", [])]
        params = _next(bundle)
    assert seen == everything and len(seen) == 6


def test_type_history_since(api, facility, edited):
    cut = timezone.now()
    late = body(api.post("Patient", new_patient()))
    bundle = body(api.get("Patient/_history", {"_since": cut.isoformat()}))
    assert [e["fullUrl"].rsplit("/", 1)[1] for e in bundle["entry"]] == [late["id"]]


def test_type_history_needs_the_search_scope_and_instance_history_the_read_scope(
    api_for, facility, edited
):
    reader = api_for(facility, "system/Patient.r")
    assert reader.get(f"Patient/{edited['id']}/_history").status_code == 200
    response = reader.get("Patient/_history")
    assert response.status_code == 403
    assert "system/Patient.s" in body(response)["issue"][0]["diagnostics"]
    searcher = api_for(facility, "system/Patient.s")
    assert searcher.get("Patient/_history").status_code == 200
    assert searcher.get(f"Patient/{edited['id']}/_history").status_code == 403


def test_staff_session_reads_history(client, facility, edited):
    client.force_login(make_staff(facility, Role.RECEPTIONIST))
    assert client.get(f"/fhir/R4/Patient/{edited['id']}/_history").status_code == 200
    assert client.get("/fhir/R4/Patient/_history").status_code == 200


def test_history_is_read_only(api, edited):
    assert api.post("Patient/_history", {}).status_code == 405
    assert api.delete(f"Patient/{edited['id']}/_history").status_code == 405


def test_capability_statement_lists_history_and_delete(api):
    patient = next(
        r for r in body(api.get("metadata"))["rest"][0]["resource"] if r["type"] == "Patient"
    )
    codes = {i["code"] for i in patient["interaction"]}
    assert {"vread", "history-instance", "history-type", "delete"} <= codes


def _history_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get("Patient/_history", {"_count": "50"}).status_code == 200
    return len(queries)


def test_type_history_query_count_does_not_grow_with_the_page(api, facility):
    def populate(n):
        for _ in range(n):
            data = body(api.post("Patient", new_patient(maritalStatus={"text": "Độc thân"})))
            _put(api, data, 1, maritalStatus={"text": "Đã kết hôn"})
            _web_edit(int(data["id"]), facility, phone="0912000111")

    populate(1)
    few = _history_queries(api)
    populate(4)
    assert _history_queries(api) == few


def test_instance_history_query_count_does_not_grow_with_versions(api, facility):
    data = body(api.post("Patient", new_patient()))
    _web_edit(int(data["id"]), facility, phone="0912000111")
    with CaptureQueriesContext(connection) as few:
        assert len(body(api.get(f"Patient/{data['id']}/_history"))["entry"]) == 2
    for phone in ("0912000222", "0912000333", "0912000444"):
        _web_edit(int(data["id"]), facility, phone=phone)
    with CaptureQueriesContext(connection) as many:
        assert len(body(api.get(f"Patient/{data['id']}/_history"))["entry"]) == 5
    assert len(many) == len(few)
