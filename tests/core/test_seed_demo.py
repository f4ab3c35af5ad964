"""seed_demo: units, staff of every role, patients with valid identifiers, once."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command

from ehealth.core.models import Bed, Department, Facility, Role, StaffMembership, User
from patients.choices import IdentifierSystem
from patients.identifiers import validate_bhyt_card, validate_cccd
from patients.models import Patient, PatientIdentifier, RecordNumberCounter


def _seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_every_role_units_and_patients_with_valid_identifiers():
    # when
    output = _seed("--patients", "50", "--seed", "7")

    # then every role has an account that logs in with the demo password
    roles = set(StaffMembership.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    for username in ["letan.bvdn", "bacsi.bvdn", "thungan.bvdn", "giamdinh.bvdn"]:
        assert User.objects.get(username=username).check_password(settings.DEMO_PASSWORD)
    assert User.objects.get(username="so.yte").memberships.get().facility.kind == (
        Facility.Kind.HEALTH_AUTHORITY
    )
    quantri = set(
        StaffMembership.objects.filter(role=Role.UNIT_ADMIN).values_list("facility", flat=True)
    )
    assert len(quantri) >= 2
    doctor = User.objects.get(username="bacsi.bvdn")
    assert doctor.groups.filter(name__startswith="facility:").exists()  # staff_groups_sync ran
    # departments everywhere but the authority, beds in hospitals
    assert Department.objects.filter(facility__name="Bệnh viện Đà Nẵng", code="K01").exists()
    assert Bed.objects.filter(ward__department__facility__name="Bệnh viện Đà Nẵng").count() > 10
    # output: a login per role, the URL, and the placeholder warning
    assert "http://127.0.0.1:8000" in output and "so.yte" in output
    assert settings.DEMO_PASSWORD in output and "GIẢ ĐỊNH" in output

    # and 50 patients with valid identifiers consistent with sex and birth year
    assert Patient.objects.count() == 50
    for patient in Patient.objects.prefetch_related("identifiers"):
        assert patient.full_name == patient.full_name.strip() and " " in patient.full_name
        by_system = {}
        for ident in patient.identifiers.all():
            by_system.setdefault(ident.system, []).append(ident)
        assert by_system[IdentifierSystem.MRN], "every patient is enrolled somewhere"
        assert all(i.facility_id for i in by_system[IdentifierSystem.MRN])
        for ident in by_system.get(IdentifierSystem.CCCD, []):
            validate_cccd(ident.value, sex=patient.sex, birth_year=patient.birth_year)
        for ident in by_system.get(IdentifierSystem.BHYT, []):
            validate_bhyt_card(ident.value)
    assert PatientIdentifier.objects.filter(system=IdentifierSystem.CCCD).count() > 10
    assert PatientIdentifier.objects.filter(system=IdentifierSystem.BHYT).count() > 25
    assert Patient.objects.filter(full_name__regex=r"[ăâđêôơưẠ-ỹ]").exists()  # diacritics kept


@pytest.mark.django_db
def test_seed_demo_runs_once_and_force_adds_patients_without_clashes():
    # given a seeded demo
    _seed("--patients", "30")

    # when it runs again
    output = _seed("--patients", "30")

    # then it says so and adds nothing
    assert "đã có" in output
    assert Patient.objects.count() == 30

    # and --force adds more, with unique identifiers and counters past every record number
    _seed("--patients", "40", "--force")
    assert Patient.objects.count() == 70
    values = list(
        PatientIdentifier.objects.exclude(system=IdentifierSystem.MRN).values_list(
            "system", "value"
        )
    )
    assert len(values) == len(set(values))
    for counter in RecordNumberCounter.objects.select_related("facility"):
        numbers = [
            int(v.rsplit("-", 1)[1])
            for v in PatientIdentifier.objects.filter(
                system=IdentifierSystem.MRN, facility=counter.facility
            ).values_list("value", flat=True)
        ]
        assert counter.last_number == max(numbers)
