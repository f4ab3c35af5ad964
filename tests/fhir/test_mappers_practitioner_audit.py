"""Practitioner, PractitionerRole and AuditEvent mappers: pure functions, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ehealth.core.models import AuditEvent, Department, Facility, Role, StaffMembership, User
from fhir_api import systems
from fhir_api.fhir import dump
from fhir_api.mappers.audit_event import (
    ACTION_RULES,
    INTERACTION_ACTION,
    REST_VERBS,
    action_code,
    audit_event_to_fhir,
)
from fhir_api.mappers.practitioner import practitioner_to_fhir
from fhir_api.mappers.practitioner_role import practitioner_role_to_fhir

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City


def _user(**fields) -> User:
    values = {
        "pk": 12,
        "username": "bs.an",
        "full_name": "Nguyễn Văn An",
        "practitioner_code": "000123/ĐNA-CCHN",
        "email": "an@example.org",
        "phone": "0905000111",
        "is_active": True,
    }
    values.update(fields)
    user = User(**values)
    user.set_unusable_password()
    return user


def _facility() -> Facility:
    return Facility(pk=3, code="48001", name="Bệnh viện Đà Nẵng")


def _membership(role=Role.DOCTOR, department=True, **fields) -> StaffMembership:
    facility = _facility()
    dept = Department(pk=8, facility=facility, code="K01", name="Khoa Nội") if department else None
    return StaffMembership(
        pk=40, user=_user(), facility=facility, role=role, department=dept, **fields
    )


# --- Practitioner ------------------------------------------------------------------------------


def test_practitioner_shows_the_directory_fields_only():
    data = dump(practitioner_to_fhir(_user()))
    assert data["id"] == "12" and data["active"] is True
    assert data["name"] == [
        {"use": "official", "text": "Nguyễn Văn An", "family": "Nguyễn", "given": ["Văn", "An"]}
    ]
    (identifier,) = data["identifier"]
    assert identifier["system"] == systems.PRACTISING_CERTIFICATE
    assert identifier["value"] == "000123/ĐNA-CCHN"
    assert identifier["type"]["coding"][0]["code"] == "LN"
    text = str(data)
    for private in ("bs.an", "an@example.org", "0905000111", "password", "telecom"):
        assert private not in text


def test_practitioner_without_certificate_or_name_has_neither():
    data = dump(practitioner_to_fhir(_user(practitioner_code="", full_name="  ")))
    assert "identifier" not in data and "name" not in data
    assert dump(practitioner_to_fhir(_user(is_active=False)))["active"] is False


# --- PractitionerRole --------------------------------------------------------------------------


def test_role_points_to_practitioner_organization_and_department():
    data = dump(practitioner_role_to_fhir(_membership()))
    assert data["id"] == "40" and data["active"] is True
    assert data["practitioner"] == {"reference": "Practitioner/12", "display": "Nguyễn Văn An"}
    assert data["organization"]["reference"] == "Organization/3"
    assert data["organization"]["identifier"] == {"system": systems.FACILITY, "value": "48001"}
    assert data["location"] == [{"reference": "Location/dept-8", "display": "Khoa Nội"}]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            Role.DOCTOR,
            {
                (systems.STAFF_ROLE_CS, "doctor"),
                (systems.PRACTITIONER_ROLE_CS, "doctor"),
                (systems.SNOMED_SCT, "158965000"),
            },
        ),
        (
            Role.NURSE,
            {
                (systems.STAFF_ROLE_CS, "nurse"),
                (systems.PRACTITIONER_ROLE_CS, "nurse"),
                (systems.SNOMED_SCT, "106292003"),
            },
        ),
        (
            Role.RECEPTIONIST,
            {(systems.STAFF_ROLE_CS, "receptionist"), (systems.SNOMED_SCT, "159561009")},
        ),
        (Role.CASHIER, {(systems.STAFF_ROLE_CS, "cashier")}),
        (Role.UNIT_ADMIN, {(systems.STAFF_ROLE_CS, "unit_admin")}),
    ],
)
def test_role_code_has_local_and_standard_codings(role, expected):
    data = dump(practitioner_role_to_fhir(_membership(role=role)))
    (concept,) = data["code"]
    assert {(c["system"], c["code"]) for c in concept["coding"]} == expected
    assert concept["coding"][0]["system"] == systems.STAFF_ROLE_CS  # the local code first
    assert concept["text"] == str(Role(role).label)


def test_role_without_department_has_no_location():
    data = dump(practitioner_role_to_fhir(_membership(department=False, is_active=False)))
    assert "location" not in data and data["active"] is False


# --- AuditEvent --------------------------------------------------------------------------------


def _event(**fields) -> AuditEvent:
    values = {
        "pk": 501,
        "at": T0,
        "actor_id": 77,
        "actor_username": "fhir-client-AbC123",
        "role": "fhir_client",
        "facility": _facility(),
        "action": "fhir.patient.read",
        "target_type": "patients.Patient",
        "target_id": "9",
        "patient_id": 9,
        "ip_address": "10.0.0.5",
        "channel": "fhir",
        "detail": {"client_id": "AbC123"},
    }
    values.update(fields)
    return AuditEvent(**values)


def _audit(**fields) -> dict:
    return dump(audit_event_to_fhir(_event(**fields)))


def test_client_read_of_a_patient():
    data = _audit()
    assert data["id"] == "501" and data["recorded"] == "2026-03-01T08:00:00+07:00"
    assert data["type"] == {
        "system": systems.AUDIT_EVENT_TYPE_CS,
        "code": "rest",
        "display": "RESTful Operation",
    }
    assert data["subtype"] == [
        {"system": systems.RESTFUL_INTERACTION_CS, "code": "read"},
        {"system": systems.AUDIT_ACTION_CS, "code": "fhir.patient.read"},
    ]
    assert data["action"] == "R" and data["outcome"] == "0"
    (agent,) = data["agent"]
    assert agent["who"]["identifier"] == {"system": systems.FHIR_CLIENT_ID, "value": "AbC123"}
    assert agent["altId"] == "AbC123" and agent["requestor"] is True
    assert agent["role"][0]["coding"][0] == {
        "system": systems.STAFF_ROLE_CS,
        "code": "fhir_client",
        "display": "fhir_client",
    }
    assert agent["network"] == {"address": "10.0.0.5", "type": "2"}
    assert data["source"]["site"] == "48001"
    (entity,) = data["entity"]  # the patient once, not twice
    assert entity["what"] == {"reference": "Patient/9"}
    assert entity["role"]["code"] == "1" and entity["type"]["code"] == "1"


def test_staff_web_view_is_not_rest():
    data = _audit(
        actor_username="bs.an",
        role="doctor",
        action="encounter.view",
        target_type="patients.Encounter",
        target_id="5",
        channel="web",
        detail={},
    )
    assert data["type"] == {"system": systems.AUDIT_CHANNEL_CS, "code": "web"}
    assert data["subtype"] == [{"system": systems.AUDIT_ACTION_CS, "code": "encounter.view"}]
    (agent,) = data["agent"]
    assert agent["who"] == {"reference": "Practitioner/77"} and agent["altId"] == "bs.an"
    assert agent["role"][0]["coding"][0]["code"] == "doctor"
    assert [e["what"]["reference"] for e in data["entity"]] == ["Encounter/5", "Patient/9"]


def test_search_row_shows_parameter_names_and_count():
    data = _audit(
        action="fhir.patient.search", detail={"params": ["name", "birthdate"], "count": 3}
    )
    assert data["action"] == "E"
    assert data["subtype"][0]["code"] == "search-type"
    query = data["entity"][-1]
    assert query["role"]["code"] == "24"
    assert query["detail"] == [
        {"type": "params", "valueString": "name,birthdate"},
        {"type": "count", "valueString": "3"},
    ]


def test_refused_request_outcome_and_interaction():
    data = _audit(
        action="fhir.refused",
        target_type="",
        target_id="",
        patient_id=None,
        detail={"status": 403, "interaction": "update", "type": "Patient", "id": "9"},
    )
    assert data["outcome"] == "4" and data["outcomeDesc"] == "HTTP 403"
    assert data["action"] == "U"
    assert data["subtype"][0] == {"system": systems.RESTFUL_INTERACTION_CS, "code": "update"}
    (entity,) = data["entity"]
    assert entity["what"] == {"reference": "Patient/9"}


def test_anonymous_refusal_and_system_task():
    anonymous = _audit(
        action="fhir.refused",
        actor_id=None,
        actor_username="",
        role="",
        target_type="",
        target_id="",
        patient_id=None,
        facility=None,
        detail={"status": 401, "interaction": "read", "type": "Patient", "id": "../x"},
    )
    assert anonymous["agent"][0]["who"] == {"display": "unauthenticated caller"}
    assert "site" not in anonymous["source"]
    assert "what" not in anonymous["entity"][0]  # not a valid id: not made a reference
    task = _audit(
        actor_id=None,
        actor_username="",
        role="",
        action="claims.batch_submit",
        channel="task",
        target_type="insurance.ClaimBatch",
        target_id="4",
        patient_id=None,
        ip_address=None,
        detail={},
    )
    assert task["agent"][0]["requestor"] is False and "network" not in task["agent"][0]
    assert task["type"]["code"] == "task" and task["action"] == "E"
    assert task["entity"][0]["what"] == {
        "identifier": {"system": f"{systems.RECORD_PREFIX}insurance.ClaimBatch", "value": "4"}
    }


@pytest.mark.parametrize(
    ("action", "letter"),
    [
        ("patient.view", "R"),
        ("patient.record_view", "R"),
        ("receipt.print", "R"),
        ("patient.search", "E"),
        ("patient.create", "C"),
        ("fhir.patient.create_matched", "C"),
        ("prescription.add_item", "C"),
        ("claims.batch_add_dossier", "C"),
        ("encounter.check_in", "C"),
        ("patient.update", "U"),
        ("patient.merge_reverse", "U"),
        ("patient.share", "U"),
        ("patient.unshare", "D"),
        ("claims.batch_submit", "E"),
        ("insurance_card.check", "E"),
    ],
)
def test_action_letter_from_the_verb(action, letter):
    assert action_code(_event(action=action, channel="web", detail={})) == letter


def test_rest_verbs_get_the_letter_of_their_interaction():
    for verb, interaction in REST_VERBS.items():
        expected = INTERACTION_ACTION.get(interaction, "E")
        assert action_code(_event(action=f"fhir.patient.{verb}")) == expected, verb


def test_action_rules_are_plain_regexes_postgres_reads_alike():
    # The search filters with the same patterns in SQL (`~`): only the common subset is used.
    for _, rx in ACTION_RULES:
        assert not re.search(r"\\[dswb]|\(\?|\\[AZz]", rx), rx
