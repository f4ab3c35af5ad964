"""`rundemo` (make run): the login banner and the seed-once rule, in process.

Serving and stopping the embedded server through signals is tested in tests/test_embedded.py.
"""

from __future__ import annotations

import io

import pytest

from ehealth.core.management.commands.rundemo import Command, demo_is_seeded, demo_logins
from ehealth.core.models import Role, StaffMembership


@pytest.mark.django_db
def test_demo_logins_give_one_active_account_per_role(facility, other_facility, staff_factory):
    # given: two doctors, an inactive cashier membership, a receptionist elsewhere
    staff_factory(other_facility, Role.DOCTOR, username="bs-a")
    staff_factory(facility, Role.DOCTOR, username="bs-0")
    cashier = staff_factory(facility, Role.CASHIER, username="tn-old")
    StaffMembership.objects.filter(user=cashier).update(is_active=False)
    staff_factory(other_facility, Role.RECEPTIONIST, username="lt-1")

    # when
    logins = demo_logins()

    # then: the first doctor created (the one seed_demo printed); no inactive cashier
    by_user = {login.username: login for login in logins}
    assert sorted(by_user) == ["bs-a", "lt-1"]
    assert by_user["bs-a"].role_label == str(Role.DOCTOR.label)
    assert by_user["bs-a"].facility_code == other_facility.code
    assert by_user["lt-1"].role_label == str(Role.RECEPTIONIST.label)


@pytest.mark.django_db
def test_banner_prints_usernames_with_the_demo_password(settings, facility, staff_factory):
    # given
    settings.DEMO_PASSWORD = "mat-khau-demo"
    staff_factory(facility, Role.NURSE, username="dd-01")
    out = io.StringIO()
    command = Command(stdout=out)

    # when
    command.print_logins()

    # then
    text = out.getvalue()
    assert "mat-khau-demo" in text
    assert "dd-01" in text and f"{facility.name} ({facility.code})" in text
    assert str(Role.NURSE.label) in text


@pytest.mark.django_db
def test_seeding_is_skipped_once_staff_exist(facility, staff_factory):
    # given
    assert demo_is_seeded() is False

    # when
    staff_factory(facility, Role.UNIT_ADMIN)

    # then
    assert demo_is_seeded() is True
