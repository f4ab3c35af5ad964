"""Bulk Data `$export`: kick-off validation, scopes, status, cancellation, files, audit, streaming,
and one export through a real Celery worker on Redis."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from fhir_api import registry
from fhir_api.export import NdjsonWriter, export_cleanup, export_run
from fhir_api.fhir import validate
from fhir_api.models import ExportJob
from fhir_api.tasks import export_task
from patients.models import Patient
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter
from tests.core.factories import make_staff
from tests.fhir.conftest import BASE, FHIR_JSON, Api, body
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

ASYNC = {"Accept": FHIR_JSON, "Prefer": "respond-async"}


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.FHIR_EXPORT_DIR = tmp_path / "export"
    return settings.FHIR_EXPORT_DIR


@pytest.fixture
def people(facility, other_facility):
    """An (2 visits) and Bình (1 visit) registered here; Cường registered at the other unit and
    shared with this one (1 visit there); a stranger at the other unit, not shared."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    cuong = make_patient(other_facility, full_name="Phạm Văn Cường")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    for patient, unit in (
        (an, facility),
        (an, facility),
        (binh, facility),
        (cuong, other_facility),
    ):
        make_encounter(facility=unit, patient=patient)
    make_encounter(facility=other_facility, patient=stranger)
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=cuong,
        target_facility=facility,
        reason="Chuyển tuyến",
    )
    return {"an": an, "binh": binh, "cuong": cuong, "stranger": stranger}


def kickoff(api: Api, path: str = "$export", params=None, **headers):
    return api.get(path, params or {}, **{**ASYNC, **headers})


def status_path(response) -> str:
    assert response.status_code == 202, response.content
    url = response["Content-Location"]
    assert url.startswith("http://testserver" + BASE + "$export-status/")
    return url.removeprefix("http://testserver" + BASE)


def job_of(path: str) -> ExportJob:
    return ExportJob.objects.get(pk=path.rsplit("/", 1)[1])


def start(api: Api, django_capture_on_commit_callbacks, path="$export", params=None, run=True):
    """Kick off; run the task in-process (eager) unless `run` is False; the status path."""
    with django_capture_on_commit_callbacks(execute=run):
        response = kickoff(api, path, params)
    body(response)
    return status_path(response)


def manifest(api: Api, path: str) -> dict:
    response = api.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def download(api: Api, url: str):
    response = api.get(url.removeprefix("http://testserver" + BASE))
    assert response.status_code == 200, getattr(response, "content", b"")
    assert response["Content-Type"] == "application/fhir+ndjson"
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def exported(api: Api, path: str) -> dict[str, list[dict]]:
    """type -> resources of a completed export, each line checked against its manifest entry."""
    out: dict[str, list[dict]] = {}
    for item in manifest(api, path)["output"]:
        lines = download(api, item["url"])
        assert len(lines) == item["count"]
        for resource in lines:
            assert resource["resourceType"] == item["type"]
            validate(resource)
        out.setdefault(item["type"], []).extend(lines)
    return out


def outcome(response, status: int, expression: str | None = None) -> str:
    assert response.status_code == status, response.content
    data = body(response)
    assert data["resourceType"] == "OperationOutcome"
    if expression is not None:
        assert data["issue"][0]["expression"] == [expression]
    return data["issue"][0]["diagnostics"]


# --- kick-off --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "headers", "expression", "words"),
    [
        ({}, {"Prefer": ""}, "Prefer", "respond-async"),
        ({}, {"Accept": "application/json"}, "Accept", "application/fhir+json"),
        ({"_type": "Patient,Spaceship"}, {}, "_type", "Spaceship"),
        ({"_type": ","}, {}, "_type", "empty"),
        ({"_outputFormat": "text/csv"}, {}, "_outputFormat", "text/csv"),
        ({"_since": "2026-03-01"}, {}, "_since", "instant"),
        ({"_since": "2026-03-01T10:00:00"}, {}, "_since", "offset"),
        ({"_elements": "id"}, {}, "_elements", "not supported"),
        ({"patient": "Patient/1"}, {}, "patient", "not supported"),
    ],
)
def test_kickoff_refuses_what_it_does_not_support(api, params, headers, expression, words):
    message = outcome(kickoff(api, params=params, **headers), 400, expression)
    assert words in message
    assert not ExportJob.objects.exists()


def test_kickoff_refuses_a_repeated_parameter_and_other_methods(api):
    assert "once" in outcome(api.get("$export?_type=Patient&_type=Encounter", **ASYNC), 400)
    response = api.post("$export", {"resourceType": "Parameters"}, **ASYNC)
    outcome(response, 405)
    assert response["Allow"] == "GET"


def test_kickoff_accepts_every_ndjson_name_and_an_instant_with_its_plus_unencoded(
    api, django_capture_on_commit_callbacks
):
    for fmt in ("application/fhir+ndjson", "application/ndjson", "ndjson"):
        start(api, django_capture_on_commit_callbacks, params={"_outputFormat": fmt}, run=False)
        ExportJob.objects.update(status=ExportJob.Status.COMPLETED)
    # "+07:00" sent without encoding arrives as " 07:00"
    path = api.http.get(
        BASE + "$export?_type=Patient&_since=2026-03-01T10:00:00+07:00",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
        HTTP_ACCEPT=FHIR_JSON,
        HTTP_PREFER="respond-async",
    )
    job = job_of(status_path(path))
    assert job.since == datetime(2026, 3, 1, 3, tzinfo=UTC)
    assert job.types == ["Patient"]


def test_lenient_handling_ignores_unknown_parameters(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = kickoff(
            api, params={"_elements": "id"}, Prefer="respond-async, handling=lenient"
        )
    assert response.status_code == 202


def test_group_is_the_clients_own_unit_only(api, facility, other_facility):
    assert "Group/" in outcome(kickoff(api, f"Group/{other_facility.pk}/$export"), 404)
    assert kickoff(api, "Group/abc/$export").status_code == 404
    response = kickoff(api, f"Group/{facility.pk}/$export", {"_type": "Organization"})
    assert "patient compartment" in outcome(response, 400, "_type")


def test_patient_level_exports_the_patient_compartment_types_only(
    api, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, "Patient/$export", run=False)
    types = job_of(path).types
    assert {"Patient", "Encounter", "Condition", "Coverage"} <= set(types)
    assert not {"Organization", "Location"} & set(types)
    response = kickoff(api, "Patient/$export", {"_type": "Location"})
    outcome(response, 400, "_type")


# --- scopes and callers ----------------------------------------------------------------------


def test_the_client_needs_read_on_every_type_it_asks_for(api_for, facility):
    api = api_for(facility, "system/Patient.rs system/Encounter.c")
    message = outcome(kickoff(api, params={"_type": "Patient,Encounter"}), 403, "_type")
    assert "system/Encounter.r" in message
    assert not ExportJob.objects.exists()


def test_without_type_the_export_holds_the_types_the_scopes_allow(
    api_for, facility, django_capture_on_commit_callbacks
):
    api = api_for(facility, "system/Patient.r system/Encounter.s system/Condition.cud")
    path = start(api, django_capture_on_commit_callbacks, run=False)
    assert job_of(path).types == ["Encounter", "Patient"]
    assert job_of(path).scopes == "system/Patient.r system/Encounter.s system/Condition.cud"
    nothing = api_for(facility, "system/Patient.c")
    assert "no exportable type" in outcome(kickoff(nothing), 403)


def test_no_token_is_401_and_a_staff_session_is_403(client, facility):
    assert Api(None).get("$export", **ASYNC).status_code == 401
    client.force_login(make_staff(facility, Role.DOCTOR))
    response = client.get(BASE + "$export", HTTP_ACCEPT=FHIR_JSON, HTTP_PREFER="respond-async")
    assert "registered clients" in outcome(response, 403)


def test_a_client_has_at_most_max_active_exports(api, settings, django_capture_on_commit_callbacks):
    settings.FHIR_EXPORT_MAX_ACTIVE = 1
    start(api, django_capture_on_commit_callbacks, run=False)
    response = kickoff(api)
    outcome(response, 429)
    assert int(response["Retry-After"]) > 0


# --- status, manifest, files -----------------------------------------------------------------


def test_status_flow_from_queued_to_the_manifest(api, people, django_capture_on_commit_callbacks):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"}, run=False)
    job = job_of(path)
    # queued: 202 with progress and when to ask again
    response = api.get(path)
    assert response.status_code == 202 and response.content == b""
    assert response["X-Progress"].startswith("queued")
    assert response["Retry-After"] == "5"
    # the task runs (as a worker would)
    assert export_task.run(str(job.pk)) == "completed"
    data = manifest(api, path)
    assert data["requiresAccessToken"] is True
    assert data["request"] == "http://testserver/fhir/R4/$export?_type=Patient"
    assert datetime.fromisoformat(data["transactionTime"]) == job.created_at
    assert data["error"] == []
    [item] = data["output"]
    assert item["type"] == "Patient" and item["count"] == 3
    assert item["url"] == f"http://testserver{BASE}$export-file/{job.pk}/Patient-1.ndjson"
    assert api.get(path)["Expires"]
    # a second run of the same task leaves the finished job alone
    assert export_task.run(str(job.pk)) == "completed"


def test_ndjson_holds_what_the_client_may_see_each_line_a_valid_resource(
    api, people, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient,Encounter"})
    out = exported(api, path)
    ids = {p: str(people[p].pk) for p in people}
    assert sorted(r["id"] for r in out["Patient"]) == sorted([ids["an"], ids["binh"], ids["cuong"]])
    subjects = sorted(r["subject"]["reference"] for r in out["Encounter"])
    assert subjects == sorted(f"Patient/{ids[p]}" for p in ("an", "an", "binh", "cuong"))
    # the same as the search answers, element for element
    search = body(api.get("Patient", {"_id": ids["an"]}))["entry"][0]["resource"]
    assert next(r for r in out["Patient"] if r["id"] == ids["an"]) == search


def test_patient_and_group_level(api, people, facility, django_capture_on_commit_callbacks):
    params = {"_type": "Patient,Encounter"}
    patient_level = exported(
        api, start(api, django_capture_on_commit_callbacks, "Patient/$export", params)
    )
    group_level = exported(
        api, start(api, django_capture_on_commit_callbacks, f"Group/{facility.pk}/$export", params)
    )
    ids = {p: str(people[p].pk) for p in people}
    assert {r["id"] for r in patient_level["Patient"]} == {ids["an"], ids["binh"], ids["cuong"]}
    assert len(patient_level["Encounter"]) == 4
    # the Group is the patients registered here: Cường is only shared with the unit
    assert {r["id"] for r in group_level["Patient"]} == {ids["an"], ids["binh"]}
    refs = {r["subject"]["reference"] for r in group_level["Encounter"]}
    assert len(group_level["Encounter"]) == 3 and refs == {
        f"Patient/{ids['an']}",
        f"Patient/{ids['binh']}",
    }


def test_since_keeps_what_changed_at_or_after_it(api, people, django_capture_on_commit_callbacks):
    long_ago = timezone.now() - timedelta(days=30)
    Patient.objects.filter(pk=people["an"].pk).update(updated_at=long_ago)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    path = start(
        api, django_capture_on_commit_callbacks, params={"_type": "Patient", "_since": since}
    )
    ids = {r["id"] for r in exported(api, path)["Patient"]}
    assert ids == {str(people["binh"].pk), str(people["cuong"].pk)}


def test_files_split_and_pages_stay_small(
    api, facility, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The design that keeps memory flat: searches of FHIR_EXPORT_PAGE_SIZE resources, each page
    appended to the file at once, a new file every FHIR_EXPORT_FILE_MAX_RESOURCES lines."""
    settings.FHIR_EXPORT_PAGE_SIZE = 2
    settings.FHIR_EXPORT_FILE_MAX_RESOURCES = 3
    for i in range(7):
        make_patient(facility, full_name=f"Người Bệnh {i}")
    provider = registry.get("Patient").provider
    original, pages = provider.search_type, []

    def spy(call, items):
        result = original(call, items)
        pages.append((dict(items)["_count"], len(result.body.get("entry", []))))
        return result

    monkeypatch.setattr(provider, "search_type", spy)
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"})
    data = manifest(api, path)
    assert [(o["url"].rsplit("/", 1)[1], o["count"]) for o in data["output"]] == [
        ("Patient-1.ndjson", 3),
        ("Patient-2.ndjson", 3),
        ("Patient-3.ndjson", 1),
    ]
    assert pages == [("2", 2), ("2", 2), ("2", 2), ("2", 1)]
    assert len({r["id"] for r in exported(api, path)["Patient"]}) == 7


def test_queries_are_constant_per_page(api, facility, settings, django_capture_on_commit_callbacks):
    settings.FHIR_EXPORT_PAGE_SIZE = 2

    def queries_of_a_run() -> int:
        with django_capture_on_commit_callbacks(execute=False):
            path = status_path(kickoff(api, params={"_type": "Patient,Encounter"}))
        with CaptureQueriesContext(connection) as ctx:
            assert export_run(str(job_of(path).pk)) == "completed"
        return len(ctx.captured_queries)

    counts = []
    for _ in range(3):
        for _ in range(2):  # one more page of each type
            make_encounter(facility=facility, patient=make_patient(facility))
        counts.append(queries_of_a_run())
    assert counts[1] - counts[0] == counts[2] - counts[1]


def test_writer_streams_line_by_line(tmp_path):
    writer = NdjsonWriter(tmp_path, "Patient", limit=2)
    writer.write({"resourceType": "Patient", "id": "1", "name": [{"text": "Nguyễn Văn An"}]})
    assert (tmp_path / "Patient-1.ndjson").read_bytes().count(b"\n") in (0, 1)  # buffered
    for i in range(2, 4):
        writer.write({"resourceType": "Patient", "id": str(i)})
    writer.close()
    assert [f["count"] for f in writer.files] == [2, 1]
    first = (tmp_path / "Patient-1.ndjson").read_text(encoding="utf-8").splitlines()
    assert json.loads(first[0])["name"][0]["text"] == "Nguyễn Văn An"  # UTF-8, not escaped
    assert NdjsonWriter(tmp_path, "Encounter", 5).files == []  # nothing written, no file


# --- who may see a job ----------------------------------------------------------------------


def test_only_the_client_that_started_it_sees_the_job_and_its_files(
    api, api_for, facility, people, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"})
    url = manifest(api, path)["output"][0]["url"]
    file_path = url.removeprefix("http://testserver" + BASE)
    other = api_for(facility)  # another client of the same unit
    outcome(other.get(path), 404)
    outcome(other.get(file_path), 404)
    outcome(other.http.delete(BASE + path, HTTP_AUTHORIZATION=f"Bearer {other.token}"), 404)
    assert Api(None).get(file_path).status_code == 401
    assert Api("not-a-token").get(file_path).status_code == 401
    outcome(api.get(path.replace("export-status", "export-file") + "/.."), 404)  # only listed
    outcome(api.get(file_path.replace("Patient-1", "Patient-2")), 404)
    assert len(download(api, url)) == 3


def test_download_needs_the_scope_still(api, people, django_capture_on_commit_callbacks):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"})
    url = manifest(api, path)["output"][0]["url"]
    client = api.registered.client
    client.scopes = "system/Encounter.rs"
    client.save()
    message = outcome(api.get(url.removeprefix("http://testserver" + BASE)), 403)
    assert "Patient" in message


# --- cancellation and failures ---------------------------------------------------------------


def _delete(api: Api, path: str):
    return api.http.delete(BASE + path, HTTP_AUTHORIZATION=f"Bearer {api.token}")


def test_delete_cancels_a_queued_job_which_then_never_runs(
    api, people, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, run=False)
    response = _delete(api, path)
    assert response.status_code == 202
    assert body(response)["issue"][0]["severity"] == "information"
    job = job_of(path)
    assert job.status == "cancelled"
    outcome(api.get(path), 404)
    outcome(_delete(api, path), 404)
    assert export_run(str(job.pk)) == "cancelled"
    assert not Path(job.directory).exists()


def test_delete_of_a_completed_job_removes_its_files(
    api, people, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"})
    url = manifest(api, path)["output"][0]["url"]
    directory = Path(job_of(path).directory)
    assert (directory / "Patient-1.ndjson").is_file()
    assert _delete(api, path).status_code == 202
    assert not directory.exists()
    outcome(api.get(url.removeprefix("http://testserver" + BASE)), 404)


def test_a_running_job_stops_at_the_next_page_once_cancelled(
    api, facility, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.FHIR_EXPORT_PAGE_SIZE = 2
    for i in range(6):
        make_patient(facility, full_name=f"Người Bệnh {i}")
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"}, run=False)
    job = job_of(path)
    provider = registry.get("Patient").provider
    original, calls = provider.search_type, []

    def cancel_after_first_page(call, items):
        calls.append(items)
        result = original(call, items)
        if len(calls) == 1:  # the partner's DELETE arrives while the task works
            assert _delete(api, path).status_code == 202
        return result

    monkeypatch.setattr(provider, "search_type", cancel_after_first_page)
    assert export_run(str(job.pk)) == "cancelled"
    assert len(calls) == 1
    assert not Path(job.directory).exists()
    assert ExportJob.objects.get(pk=job.pk).status == "cancelled"


def test_a_disabled_client_fails_the_job_with_an_operation_outcome(
    api, people, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, run=False)
    client = api.registered.client
    client.is_active = False
    client.save()
    assert export_run(str(job_of(path).pk)) == "failed"
    client.is_active = True
    client.save()
    assert "disabled" in outcome(api.get(path), 500)


def test_a_type_refused_while_running_goes_to_the_error_file(
    api_for, facility, people, django_capture_on_commit_callbacks
):
    api = api_for(facility, "system/Patient.rs system/Encounter.rs")
    path = start(
        api, django_capture_on_commit_callbacks, params={"_type": "Patient,Encounter"}, run=False
    )
    client = api.registered.client
    client.scopes = "system/Encounter.rs"  # Patient withdrawn before the task runs
    client.save()
    assert export_run(str(job_of(path).pk)) == "completed"
    data = manifest(api, path)
    assert [o["type"] for o in data["output"]] == ["Encounter"]
    [error] = data["error"]
    assert error["type"] == "OperationOutcome" and error["count"] == 1
    [line] = download(api, error["url"])
    validate(line)
    assert line["issue"][0]["code"] == "forbidden"
    assert line["issue"][0]["expression"] == ["Patient"]


def test_an_unexpected_error_fails_the_job_without_details(
    api, people, monkeypatch, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"}, run=False)

    def broken(call, items):
        raise RuntimeError("database on fire, patient 12")

    monkeypatch.setattr(registry.get("Patient").provider, "search_type", broken)
    assert export_run(str(job_of(path).pk)) == "failed"
    message = outcome(api.get(path), 500)
    assert message == "Internal error while exporting." and "12" not in message
    assert not Path(job_of(path).directory).exists()


def test_cleanup_deletes_old_jobs_and_their_files(
    api, people, settings, django_capture_on_commit_callbacks
):
    old = job_of(start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"}))
    new = job_of(start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"}))
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(hours=25))
    assert export_cleanup() == 1
    assert not Path(old.directory).exists() and Path(new.directory).is_dir()
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [new.pk]


# --- audit and capability --------------------------------------------------------------------


def test_every_step_is_audited_and_each_exported_patient_too(
    api, people, django_capture_on_commit_callbacks
):
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient,Encounter"})
    job = job_of(path)
    download(api, manifest(api, path)["output"][0]["url"])
    rows = AuditEvent.objects.filter(target_id=str(job.pk))
    assert sorted(rows.values_list("action", flat=True)) == [
        "fhir.export.complete",
        "fhir.export.download",
        "fhir.export.kickoff",
        "fhir.export.status",
    ]
    client_id = api.registered.client_id
    assert all(r.detail["client_id"] == client_id for r in rows)
    searched = AuditEvent.objects.filter(detail__export=str(job.pk))
    patients = set(
        searched.filter(action="fhir.patient.search").values_list("patient_id", flat=True)
    )
    assert patients == {people[p].pk for p in ("an", "binh", "cuong")}
    assert set(searched.values_list("channel", flat=True)) == {"fhir-export"}
    assert not searched.filter(patient_id=people["stranger"].pk).exists()
    refused = _delete(Api(None), path)
    assert refused.status_code == 401


def test_capability_statement_declares_export(api):
    data = body(api.get("metadata"))
    rest = data["rest"][0]
    assert {
        "name": "export",
        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
    } in rest["operation"]
    resources = {r["type"]: r for r in rest["resource"]}
    assert any(
        o["definition"].endswith("/patient-export") for o in resources["Patient"]["operation"]
    )
    assert resources["Group"]["operation"][0]["definition"].endswith("/group-export")
    assert "interaction" not in resources["Group"]
    assert data["instantiates"] == ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]


# --- through a real Celery worker on Redis ---------------------------------------------------


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_export_through_a_real_celery_worker(celery_worker, api, people):
    from ehealth.celery import app

    assert app.conf.task_always_eager is False
    response = kickoff(api, params={"_type": "Patient,Encounter"})
    path = status_path(response)
    deadline = time.monotonic() + 60
    while True:
        response = api.get(path)
        if response.status_code != 202 or time.monotonic() > deadline:
            break
        assert response["X-Progress"]
        time.sleep(0.2)
    assert response.status_code == 200, response.content
    out = exported(api, path)
    assert len(out["Patient"]) == 3 and len(out["Encounter"]) == 4
    log = celery_worker.read_text(errors="replace")
    assert "fhir_api.tasks.export_task" in log and "succeeded" in log


def test_a_broker_that_cannot_take_the_job_fails_it(
    api, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args, **kwargs):
        raise ConnectionError("redis unreachable")

    monkeypatch.setattr(export_task, "delay", down)
    path = start(api, django_capture_on_commit_callbacks, params={"_type": "Patient"})
    assert "could not be queued" in outcome(api.get(path), 500)


def test_since_on_a_type_without_change_time_exports_it_whole(
    api, people, facility, django_capture_on_commit_callbacks
):
    """Organization's search refuses `_lastUpdated` (facilities carry no change time)."""
    since = (timezone.now() - timedelta(days=1)).isoformat()
    params = {"_type": "Organization,Patient", "_since": since}
    path = start(api, django_capture_on_commit_callbacks, params=params)
    data = manifest(api, path)
    assert data["error"] == []
    out = exported(api, path)
    assert str(facility.pk) in {r["id"] for r in out["Organization"]}
    assert len(out["Patient"]) == 3
