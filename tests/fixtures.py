"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

from ehealth.core.models import Role
from tests.core.factories import FacilityFactory, make_staff


@pytest.fixture
def facility(db):
    return FacilityFactory()


@pytest.fixture
def other_facility(db):
    return FacilityFactory()


@pytest.fixture
def staff_factory(db):
    return make_staff


@pytest.fixture
def receptionist(facility):
    return make_staff(facility, Role.RECEPTIONIST)


@pytest.fixture
def doctor(facility):
    return make_staff(facility, Role.DOCTOR)


@pytest.fixture
def unit_admin(facility):
    return make_staff(facility, Role.UNIT_ADMIN)
