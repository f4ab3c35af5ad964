"""Registering a partner system: the management command and the token it leads to."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from ehealth.core.models import AuditEvent
from fhir_api.models import FhirClient
from tests.fhir.conftest import Api, token_for

pytestmark = pytest.mark.django_db


def test_command_prints_credentials_that_get_a_token(facility):
    # when an administrator registers a partner for the unit
    out = io.StringIO()
    call_command(
        "fhir_client_create", facility=facility.code, scopes="system/Patient.rs", stdout=out
    )
    values = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
    # then the printed credentials get a token with the client's scopes, usable on the API
    answer = token_for(values["client_id"], values["client_secret"])
    assert answer["status"] == 200 and answer["scope"] == "system/Patient.rs"
    assert Api(answer["access_token"]).get("Patient").status_code == 200
    client = FhirClient.objects.get(application__client_id=values["client_id"])
    assert client.facility == facility
    assert not client.application.user.has_usable_password()
    assert AuditEvent.objects.filter(action="fhir.client.register").count() == 1


def test_command_refuses_bad_scopes_and_unknown_units(facility):
    with pytest.raises(CommandError):
        call_command("fhir_client_create", facility=facility.code, scopes="patient/*.read")
    with pytest.raises(CommandError):
        call_command("fhir_client_create", facility="ZZZZZ", scopes="system/Patient.rs")
    assert FhirClient.objects.count() == 0


def test_wrong_secret_gets_no_token(register_client, facility):
    registered = register_client(facility)
    assert token_for(registered.client_id, "wrong")["status"] == 401


def test_disabled_client_is_refused(api):
    api.registered.client.is_active = False
    api.registered.client.save()
    assert api.get("Patient").status_code == 403


def test_command_gives_the_client_the_roles_asked(facility):
    out = io.StringIO()
    call_command(
        "fhir_client_create",
        facility=facility.code,
        scopes="system/*.cruds",
        roles="receptionist,doctor,nurse",
        stdout=out,
    )
    values = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
    user = FhirClient.objects.get(application__client_id=values["client_id"]).application.user
    roles = set(user.memberships.filter(facility=facility).values_list("role", flat=True))
    assert roles == {"receptionist", "doctor", "nurse"}
    # the doctor role is what lets the client examine and record diagnoses
    from ehealth.core import permissions

    assert permissions.has_perm_anywhere(user, "patients.examine_encounter")


def test_a_client_is_never_given_an_administrative_role(facility):
    with pytest.raises(CommandError):
        call_command(
            "fhir_client_create", facility=facility.code, scopes="system/*.rs", roles="unit_admin"
        )
    assert FhirClient.objects.count() == 0


def test_by_default_a_client_is_a_receptionist(register_client, facility):
    from ehealth.core import permissions

    user = register_client(facility).client.application.user
    assert list(user.memberships.values_list("role", flat=True)) == ["receptionist"]
    assert not permissions.has_perm_anywhere(user, "patients.examine_encounter")
