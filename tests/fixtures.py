"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest
import time_machine
from django.utils import timezone

from ehealth.core.models import Role
from tests.core.factories import FacilityFactory, make_staff


@pytest.fixture
def midday():
    """The clock at 12:00 local time of today, ticking on: for tests of a day's lists (queues,
    the cashier's desk) whose visits came minutes before "now". Run in the first hour after
    local midnight, those minutes would fall on yesterday and the lists would rightly be empty.
    PostgreSQL's own clock is not moved; it stays on the same local day."""
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    with time_machine.travel(noon, tick=True):
        yield noon


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
