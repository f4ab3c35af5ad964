"""The Patient resource over HTTP: interactions, headers, errors, search, scopes, audit."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest

from ehealth.core.models import AuditEvent, Role
from fhir_api import systems
from fhir_api.models import ResourceExtra
from patients.choices import IdentifierSystem, Sex
from patients.models import Patient
from patients.services import patient_share_with_facility
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import client_audit_rows
from tests.patients.factories import make_patient, unique_cccd

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


def new_patient(**overrides) -> dict:
    """A FHIR Patient a partner would send: fresh CCCD, family-first name."""
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.CCCD, "value": unique_cccd()}],
        "name": [{"family": "Nguyễn", "given": ["Văn", "An"]}],
        "gender": "male",
        "birthDate": "1985-05-12",
        "telecom": [{"system": "phone", "value": "0905123456"}],
    }
    resource.update(overrides)
    return resource


def issue(response) -> dict:
    data = body(response)
    assert data["resourceType"] == "OperationOutcome"
    return data["issue"][0]


# --- read / vread ------------------------------------------------------------------------------


def test_read_returns_the_patient_with_version_headers(api, facility):
    patient = make_patient(facility)
    response = api.get(f"Patient/{patient.pk}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["ETag"] == 'W/"1"'
    assert response["Last-Modified"]
    data = body(response)
    assert data["id"] == str(patient.pk) and data["meta"]["versionId"] == "1"


def test_read_of_a_missing_patient_is_404_outcome(api):
    response = api.get("Patient/999999")
    assert response.status_code == 404
    assert issue(response)["code"] == "not-found"


def test_client_of_another_unit_gets_404_unless_shared(api_for, facility, other_facility):
    # given a patient of one unit and a client of another unit
    patient = make_patient(facility)
    other = api_for(other_facility)
    # then the other unit's client does not see it
    assert other.get(f"Patient/{patient.pk}").status_code == 404
    assert "entry" not in body(other.get("Patient", {"_id": patient.pk}))
    # when the patient's unit shares the record with the other unit
    doctor = make_staff(facility, Role.DOCTOR)
    patient_share_with_facility(
        actor=doctor,
        facility=facility,
        patient=patient,
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    # then the other unit's client reads it
    assert other.get(f"Patient/{patient.pk}").status_code == 200


def test_vread_of_the_current_and_an_unknown_version(api, facility):
    # (old versions: tests/fhir/test_history_api.py)
    patient = make_patient(facility)
    assert api.get(f"Patient/{patient.pk}/_history/1").status_code == 200
    response = api.get(f"Patient/{patient.pk}/_history/0")
    assert response.status_code == 404
    assert issue(response)["expression"] == ["meta.versionId"]


# --- create ------------------------------------------------------------------------------------


def test_create_registers_through_the_registry(api, facility):
    # when a partner creates a patient
    response = api.post("Patient", new_patient())
    # then 201 with Location, ETag and the stored representation
    assert response.status_code == 201, response.content
    data = body(response)
    assert response["Location"].endswith(f"/fhir/R4/Patient/{data['id']}/_history/1")
    assert response["ETag"] == 'W/"1"'
    patient = Patient.objects.get(pk=data["id"])
    assert patient.full_name == "Nguyễn Văn An" and patient.sex == Sex.MALE
    # and the registry's service did it: record number at the client's unit, audited as the client
    assert patient.identifiers.filter(system=IdentifierSystem.MRN, facility=facility).exists()
    event = AuditEvent.objects.get(action="patient.create", patient_id=patient.pk)
    assert event.channel == "fhir" and event.role == "fhir_client"
    assert event.actor == api.registered.client.application.user
    assert event.facility_id == facility.pk


def test_create_with_prefer_minimal_has_no_body(api):
    response = api.post("Patient", new_patient(), prefer="return=minimal")
    assert response.status_code == 201 and response.content == b""
    assert response["Location"]


def test_create_keeps_elements_the_registry_does_not_model(api):
    # given a partner resource with elements the registry has no field for
    sent = new_patient(
        maritalStatus={"coding": [{"system": "http://his.example/ms", "code": "M"}]},
        communication=[{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "vi"}]}}],
    )
    sent["identifier"].append({"system": "http://his.example/mrn", "value": "H-1"})
    sent["name"][0]["use"] = "official"
    sent["telecom"].append({"system": "email", "value": "an@example.org"})
    # when it is created and read back
    created = body(api.post("Patient", sent))
    read = body(api.get(f"Patient/{created['id']}"))
    # then every element sent comes back
    assert read["maritalStatus"] == sent["maritalStatus"]
    assert read["communication"] == sent["communication"]
    assert {"system": "http://his.example/mrn", "value": "H-1"} in read["identifier"]
    assert {"system": "email", "value": "an@example.org"} in read["telecom"]
    assert read["name"][0]["use"] == "official"


@pytest.mark.parametrize(
    ("payload", "status", "where"),
    [
        ("{not json", 400, None),
        (json.dumps({"resourceType": "Observation"}), 400, ["resourceType"]),
        (
            json.dumps({"resourceType": "Patient", "birthDate": "1990-13-01"}),
            400,
            ["Patient.birthDate"],
        ),
        (
            json.dumps(
                {
                    "resourceType": "Patient",
                    "gender": "other",
                    "name": [{"text": "A B"}],
                    "birthDate": "1990",
                }
            ),
            422,
            ["Patient.gender"],
        ),
    ],
)
def test_create_refuses_bad_input_saying_where(api, payload, status, where):
    response = api.http.post(
        "/fhir/R4/Patient",
        payload,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == status
    if where:
        assert issue(response)["expression"] == where
    assert Patient.objects.count() == 0


def test_create_runs_the_registry_validation_with_paths(api):
    resource = new_patient(identifier=[{"system": systems.CCCD, "value": "123"}])
    response = api.post("Patient", resource)
    assert response.status_code == 422
    assert issue(response)["expression"] == [f"Patient.identifier.where(system='{systems.CCCD}')"]


def test_create_of_a_registered_identifier_is_a_conflict(api):
    resource = new_patient()
    assert api.post("Patient", resource).status_code == 201
    response = api.post("Patient", resource)
    assert response.status_code == 409
    assert Patient.objects.count() == 1


def test_create_needs_json(api):
    response = api.http.post(
        "/fhir/R4/Patient",
        "<Patient/>",
        content_type="application/fhir+xml",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 415


def test_conditional_create_returns_the_existing_patient(api):
    resource = new_patient()
    cccd = resource["identifier"][0]["value"]
    condition = f"identifier={systems.CCCD}|{cccd}"
    first = api.post("Patient", resource, if_none_exist=condition)
    second = api.post("Patient", resource, if_none_exist=condition)
    assert (first.status_code, second.status_code) == (201, 200)
    assert body(first)["id"] == body(second)["id"]
    assert Patient.objects.count() == 1


def test_conditional_create_enrols_a_patient_of_another_unit(api, other_facility):
    # given a patient registered at another unit only
    cccd = unique_cccd()
    existing = make_patient(other_facility, identifiers={IdentifierSystem.CCCD: cccd})
    # when this unit's client creates with If-None-Exist on the CCCD
    response = api.post("Patient", new_patient(), if_none_exist=f"identifier={systems.CCCD}|{cccd}")
    # then the existing patient gets a record number here instead of a second record
    assert response.status_code == 200
    assert body(response)["id"] == str(existing.pk)
    assert Patient.objects.count() == 1
    assert existing.identifiers.filter(system=IdentifierSystem.MRN).count() == 2


def test_conditional_create_with_several_matches_is_412(api, facility):
    make_patient(facility, full_name="Hồ Văn Nam")
    make_patient(facility, full_name="Hồ Văn Nam")
    response = api.post("Patient", new_patient(), if_none_exist="family=ho")
    assert response.status_code == 412


# --- update ------------------------------------------------------------------------------------


def _created(api) -> dict:
    return body(api.post("Patient", new_patient()))


def test_update_with_the_current_etag_changes_the_record(api):
    data = _created(api)
    data["name"] = [{"family": "Nguyễn", "given": ["Văn", "Bình"]}]
    response = api.put(f"Patient/{data['id']}", data, if_match='W/"1"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == 'W/"2"'
    assert Patient.objects.get(pk=data["id"]).full_name == "Nguyễn Văn Bình"
    assert AuditEvent.objects.filter(action="patient.update", patient_id=data["id"]).exists()


def test_update_with_a_stale_etag_is_412_and_changes_nothing(api):
    data = _created(api)
    data["name"] = [{"family": "Nguyễn", "given": ["Văn", "Bình"]}]
    assert api.put(f"Patient/{data['id']}", data, if_match='W/"1"').status_code == 200
    data["name"] = [{"family": "Nguyễn", "given": ["Văn", "Cường"]}]
    response = api.put(f"Patient/{data['id']}", data, if_match='W/"1"')
    assert response.status_code == 412
    assert issue(response)["expression"] == ["If-Match"]
    assert Patient.objects.get(pk=data["id"]).full_name == "Nguyễn Văn Bình"


def test_update_after_a_web_edit_is_412(api, facility):
    # given a partner read version 1, then reception edited the patient on the web pages
    data = _created(api)
    Patient.objects.filter(pk=data["id"]).update(version=2)
    # when the partner writes with its old ETag
    response = api.put(f"Patient/{data['id']}", data, if_match='W/"1"')
    # then the stale write is refused
    assert response.status_code == 412


def test_update_without_if_match_is_412(api):
    data = _created(api)
    assert api.put(f"Patient/{data['id']}", data).status_code == 412


def test_update_with_another_id_in_the_body_is_400(api):
    data = _created(api)
    response = api.put(f"Patient/{data['id']}", {**data, "id": "1234567"}, if_match='W/"1"')
    assert response.status_code == 400
    assert issue(response)["expression"] == ["id"]


def test_update_of_only_kept_elements_bumps_the_version(api):
    data = _created(api)
    data["maritalStatus"] = {"text": "Đã kết hôn"}
    response = api.put(f"Patient/{data['id']}", data, if_match='W/"1"')
    assert response.status_code == 200
    assert response["ETag"] == 'W/"2"'
    assert body(api.get(f"Patient/{data['id']}"))["maritalStatus"] == {"text": "Đã kết hôn"}
    assert ResourceExtra.objects.get(resource_id=data["id"]).revision == 1


def test_update_of_a_shared_patient_is_forbidden(api_for, facility, other_facility):
    patient = make_patient(facility)
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=patient,
        target_facility=other_facility,
        reason="Hội chẩn",
    )
    other = api_for(other_facility)
    data = body(other.get(f"Patient/{patient.pk}"))
    response = other.put(f"Patient/{patient.pk}", data, if_match='W/"1"')
    assert response.status_code == 403


# --- other statuses ----------------------------------------------------------------------------


def test_patch_is_not_allowed(api, facility):
    # (DELETE is a void: tests/fhir/test_delete_api.py)
    patient = make_patient(facility)
    response = api.http.patch(
        f"/fhir/R4/Patient/{patient.pk}", HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    assert response.status_code == 405
    assert response["Allow"] == "DELETE, GET, PUT"
    assert Patient.objects.get(pk=patient.pk).version == 1


def test_unknown_resource_type_is_404(api):
    assert api.get("Spaceship/1").status_code == 404


def test_no_token_is_401_with_a_challenge(facility):
    response = Api(None).get("Patient")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert issue(response)["code"] == "login"


def test_a_bad_token_is_401():
    assert Api("not-a-token").get("Patient").status_code == 401


def test_xml_is_not_acceptable(api):
    assert api.get("Patient", {"_format": "xml"}).status_code == 406
    assert api.get("Patient", {"_format": "json"}).status_code == 200
    assert api.get("Patient", accept="application/json").status_code == 200


# --- scopes and staff sessions -----------------------------------------------------------------


def test_client_without_patient_read_scope_is_403(api_for, facility):
    patient = make_patient(facility)
    searcher = api_for(facility, "system/Patient.s")
    response = searcher.get(f"Patient/{patient.pk}")
    assert response.status_code == 403
    assert "system/Patient.r" in issue(response)["diagnostics"]
    assert searcher.get("Patient").status_code == 200


def test_read_only_client_cannot_create(api_for, facility):
    reader = api_for(facility, "system/Patient.rs")
    assert reader.post("Patient", new_patient()).status_code == 403
    assert Patient.objects.count() == 0


def test_token_request_beyond_the_client_scopes_is_refused(register_client, facility):
    from tests.fhir.conftest import token_for

    registered = register_client(facility, "system/Patient.rs")
    assert (
        token_for(registered.client_id, registered.client_secret, "system/*.cruds")["status"] == 400
    )
    narrowed = token_for(registered.client_id, registered.client_secret, "system/Patient.r")
    assert narrowed["status"] == 200 and narrowed["scope"] == "system/Patient.r"
    api = Api(narrowed["access_token"])
    assert api.get("Patient").status_code == 403


def test_staff_session_reads_within_its_permissions_and_cannot_write(client, facility):
    patient = make_patient(facility)
    client.force_login(make_staff(facility, Role.RECEPTIONIST))
    assert client.get(f"/fhir/R4/Patient/{patient.pk}").status_code == 200
    response = client.post(
        "/fhir/R4/Patient", json.dumps(new_patient()), content_type="application/fhir+json"
    )
    assert response.status_code == 403


def test_staff_of_another_unit_gets_404(client, facility, other_facility):
    patient = make_patient(facility)
    client.force_login(make_staff(other_facility, Role.DOCTOR))
    assert client.get(f"/fhir/R4/Patient/{patient.pk}").status_code == 404


# --- audit -------------------------------------------------------------------------------------


def test_every_access_is_audited(api, facility):
    patient = make_patient(facility)
    api.get(f"Patient/{patient.pk}")
    api.get("Patient", {"family": "tran"})
    api.get("Patient", {"family": "nobody"})
    api.get("Patient/999999")
    actions = client_audit_rows(api, "action", "patient_id")
    assert actions == [
        ("fhir.patient.read", patient.pk),
        ("fhir.patient.search", patient.pk),
        ("fhir.patient.search", None),
        ("fhir.refused", None),
    ]
    refused = AuditEvent.objects.get(action="fhir.refused")
    assert refused.detail["status"] == 404 and refused.detail["id"] == "999999"
    assert refused.detail["client_id"] == api.registered.client_id


def test_refused_scope_is_audited(api_for, facility):
    searcher = api_for(facility, "system/Patient.s")
    searcher.get("Patient/1")
    event = AuditEvent.objects.get(action="fhir.refused")
    assert event.detail["status"] == 403 and event.detail["interaction"] == "read"


# --- search ------------------------------------------------------------------------------------


def _ids(response) -> list[int]:
    data = body(response)
    assert data["type"] == "searchset"
    return [int(e["resource"]["id"]) for e in data.get("entry", [])]


@pytest.fixture
def people(facility):
    return {
        "an": make_patient(
            facility,
            full_name="Nguyễn Văn An",
            sex=Sex.MALE,
            birth_date=date(1985, 5, 12),
            identifiers={IdentifierSystem.CCCD: unique_cccd()},
        ),
        "binh": make_patient(
            facility, full_name="Trần Thị Bình", sex=Sex.FEMALE, birth_date=date(1990, 3, 4)
        ),
        "dat": make_patient(
            facility, full_name="Lê Văn Đạt", sex=Sex.MALE, birth_date=None, birth_year=1985
        ),
    }


def test_search_by_identifier_token(api, people):
    cccd = people["an"].identifiers.get(system=IdentifierSystem.CCCD).value
    assert _ids(api.get("Patient", {"identifier": f"{systems.CCCD}|{cccd}"})) == [people["an"].pk]
    assert _ids(api.get("Patient", {"identifier": cccd})) == [people["an"].pk]
    assert _ids(api.get("Patient", {"identifier": f"{systems.BHYT}|{cccd}"})) == []


def test_search_by_record_number(api, people, facility):
    mrn = people["binh"].identifiers.get(system=IdentifierSystem.MRN).value
    query = {"identifier": f"{systems.mrn_system(facility.code)}|{mrn}"}
    assert _ids(api.get("Patient", query)) == [people["binh"].pk]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "nguyen van"}, ["an"]),
        ({"name": "van"}, ["an", "dat"]),
        ({"name": "dat"}, ["dat"]),
        ({"family": "tran"}, ["binh"]),
        ({"family": "van"}, []),
        ({"given": "an"}, ["an"]),
        ({"given": "van"}, ["an", "dat"]),
        ({"name:exact": "Lê Văn Đạt"}, ["dat"]),
        ({"name:exact": "le van dat"}, []),
        ({"family:exact": "Trần"}, ["binh"]),
        ({"name:contains": "hi bi"}, ["binh"]),
        ({"name": "an,binh"}, ["an", "binh"]),
        ({"gender": "female"}, ["binh"]),
        ({"gender": "male", "name": "van"}, ["an", "dat"]),
        ({"birthdate": "1985"}, ["an", "dat"]),
        ({"birthdate": "1985-05"}, ["an"]),
        ({"birthdate": "1985-05-12"}, ["an"]),
        ({"birthdate": "gt1986"}, ["binh"]),
        ({"birthdate": "lt1985-06"}, ["an", "dat"]),
        ({"birthdate": "ge1985-05-12"}, ["an", "binh", "dat"]),
        ({"birthdate": "le1985-05-12"}, ["an", "dat"]),
        ({"birthdate": "sa1985"}, ["binh"]),
        ({"birthdate": "eb1990"}, ["an", "dat"]),
        ({"birthdate": "ne1985"}, ["binh"]),
    ],
)
def test_search_parameters(api, people, params, expected):
    assert _ids(api.get("Patient", params)) == sorted(people[k].pk for k in expected)


def test_repeated_parameters_are_anded(api, people):
    query = [("birthdate", "ge1985-01-01"), ("birthdate", "lt1986-01-01")]
    response = api.http.get(
        "/fhir/R4/Patient?" + "&".join(f"{k}={v}" for k, v in query),
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert _ids(response) == sorted([people["an"].pk, people["dat"].pk])


def test_post_search_is_the_same_search(api, people):
    response = api.search_post("Patient/_search", {"family": "tran"})
    assert _ids(response) == [people["binh"].pk]


def test_unknown_parameter_is_400_unless_lenient(api, people):
    response = api.get("Patient", {"colour": "blue"})
    assert response.status_code == 400
    assert issue(response)["expression"] == ["colour"]
    assert api.get("Patient", {"name:sounds": "an"}).status_code == 400
    lenient = api.get("Patient", {"colour": "blue", "family": "tran"}, prefer="handling=lenient")
    assert _ids(lenient) == [people["binh"].pk]
    assert "colour" not in body(lenient)["link"][0]["url"]


def test_bad_date_is_400(api):
    response = api.get("Patient", {"birthdate": "yesterday"})
    assert response.status_code == 400
    assert issue(response)["expression"] == ["birthdate"]


def test_summary_count_gives_the_total_only(api, people):
    data = body(api.get("Patient", {"_summary": "count", "name": "van"}))
    assert data["total"] == 2 and "entry" not in data


def test_count_is_capped(api, people):
    data = body(api.get("Patient", {"_count": "100000"}))
    assert "_count=100" in data["link"][0]["url"]


def _follow(api, url: str):
    parts = urlsplit(url)
    return api.http.get(
        parts.path, dict(parse_qsl(parts.query)), HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )


def test_paging_while_inserting_has_no_gaps_or_duplicates(api, facility):
    # given 5 matching patients and pages of 2
    for n in range(5):
        make_patient(facility, full_name=f"Phan Văn Số {'abcde'[n]}")
    seen: list[int] = []
    response = api.get("Patient", {"family": "phan", "_count": 2})
    inserted = 0
    # when patients keep being registered while the partner pages through
    while True:
        data = body(response)
        seen += [int(e["resource"]["id"]) for e in data.get("entry", [])]
        if inserted < 2:
            make_patient(facility, full_name=f"Phan Thị Mới {'xy'[inserted]}")
            inserted += 1
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = _follow(api, nxt)
    # then every patient is seen once, the ones added during paging included
    expected = sorted(
        Patient.objects.filter(full_name__startswith="Phan").values_list("pk", flat=True)
    )
    assert seen == expected and len(seen) == 7


def test_tampered_cursor_is_400(api, people):
    assert api.get("Patient", {"_cursor": "forged"}).status_code == 400


def test_search_page_runs_a_constant_number_of_queries(
    api, facility, django_assert_max_num_queries
):
    for n in range(30):
        make_patient(facility, full_name=f"Đỗ Văn {n}")
    api.get("Patient", {"_count": 1})  # warm the caller's permission caches
    with django_assert_max_num_queries(12):
        response = api.get("Patient", {"family": "do", "_count": 30})
    assert len(body(response)["entry"]) == 30


# --- metadata ----------------------------------------------------------------------------------


def test_capability_statement_lists_only_what_is_implemented():
    response = Api(None).get("metadata")
    assert response.status_code == 200
    data = body(response)
    assert data["fhirVersion"] == "4.0.1"
    (patient,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Patient"]
    assert {i["code"] for i in patient["interaction"]} == {
        "read",
        "vread",
        "history-instance",
        "history-type",
        "search-type",
        "create",
        "update",
        "delete",
    }
    assert {p["name"] for p in patient["searchParam"]} == {
        "_id",
        "identifier",
        "name",
        "family",
        "given",
        "birthdate",
        "gender",
        "phone",
        "address",
        "address-city",
        "address-state",
        "_lastUpdated",
    }
    assert patient["conditionalCreate"] is True
