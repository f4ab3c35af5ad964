"""Dated benefit parameters: defaults, loading, the base-salary change of 01/07/2026, admin edits."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from ehealth.core.models import AuditEvent
from insurance.benefits.defaults import DEFAULT_PARAMETERS, BenefitParameterMissing
from insurance.benefits.engine import split_lines
from insurance.benefits.parameters import (
    benefit_parameters_load,
    benefit_params,
    benefit_params_cache_clear,
)
from insurance.benefits.types import CardContext, ChargeLineInput, VisitContext
from insurance.models import BenefitParameter

pytestmark = pytest.mark.django_db

DN4 = CardContext(group_code="DN", benefit_digit=4, valid_from=date(2020, 1, 1), valid_to=None)


@pytest.fixture(autouse=True)
def _fresh_cache():
    benefit_params_cache_clear()
    yield
    benefit_params_cache_clear()


def example_3(on: date):
    """The brief's example 3: DN4, correct route, outpatient, TT = BV = 360,000."""
    visit = VisitContext(
        on=on,
        kind="outpatient",
        route="correct",
        facility_level="provincial",
        facility_kind="hospital",
        facility_code="48001",
    )
    line = ChargeLineInput(
        ref="exam",
        cost_group=13,
        quantity=Decimal(1),
        hospital_price=Decimal(360_000),
        bhyt_price=Decimal(360_000),
    )
    result = split_lines(card=DN4, visit=visit, lines=[line], params=benefit_params(on=on))
    return result.benefit_rate, result.lines[0].fund, result.lines[0].copay


def base_salary_row(valid_from: date) -> BenefitParameter:
    return BenefitParameter.objects.get(key="base_salary", qualifier="", valid_from=valid_from)


def test_without_rows_the_briefs_defaults_apply():
    # given an empty parameter table
    assert not BenefitParameter.objects.exists()

    # when / then the defaults of the brief are in force by date
    assert benefit_params(on=date(2024, 6, 30)).base_salary == Decimal("1800000")
    assert benefit_params(on=date(2025, 5, 1)).base_salary == Decimal("2340000")
    assert benefit_params(on=date(2025, 5, 1)).small_visit_threshold == Decimal("351000")
    assert benefit_params(on=date(2025, 5, 1)).supplies_cap == Decimal("105300000")


def test_loading_writes_every_default_once_with_unconfirmed_flags():
    # given an empty table
    # when loaded twice
    first = benefit_parameters_load()
    second = benefit_parameters_load()

    # then every default row is there once, UNCONFIRMED ones flagged
    assert (first.created, first.kept) == (len(DEFAULT_PARAMETERS), 0)
    assert (second.created, second.kept) == (0, len(DEFAULT_PARAMETERS))
    assert BenefitParameter.objects.count() == len(DEFAULT_PARAMETERS)
    assert base_salary_row(date(2026, 7, 1)).unconfirmed is True
    assert base_salary_row(date(2026, 7, 1)).value == Decimal("2530000")
    assert base_salary_row(date(2024, 7, 1)).unconfirmed is False
    assert BenefitParameter.objects.get(
        key="route_rate", qualifier="specialised:inpatient"
    ).unconfirmed


def test_the_base_salary_change_of_1_july_2026_flips_example_3():
    # given the loaded parameters (2,340,000 -> 2,530,000 on 01/07/2026)
    benefit_parameters_load()

    # when example 3 is split on the day before and on the day of the change
    before = example_3(date(2026, 6, 30))
    after = example_3(date(2026, 7, 1))

    # then 360,000 >= 351,000 before (80 %), 360,000 < 379,500 after (100 %)
    assert before == (80, Decimal("288000.00"), Decimal("72000.00"))
    assert after == (100, Decimal("360000.00"), Decimal("0.00"))


def test_an_admin_edited_row_overrides_the_default_at_once():
    # given loaded parameters, and example 3 already split (parameters cached) after 01/07/2026
    benefit_parameters_load()
    assert example_3(date(2026, 7, 15))[0] == 100

    # when an admin sets the 01/07/2026 base salary back to 2,340,000 (decree not confirmed)
    row = base_salary_row(date(2026, 7, 1))
    row.value = Decimal("2340000")
    row.source = "chờ NĐ 161/2026"
    row.save()

    # then the edit applies to the next split, and a reload keeps it
    assert benefit_params(on=date(2026, 7, 15)).base_salary == Decimal("2340000")
    assert example_3(date(2026, 7, 15)) == (80, Decimal("288000.00"), Decimal("72000.00"))
    benefit_parameters_load()
    assert base_salary_row(date(2026, 7, 1)).value == Decimal("2340000")


def test_a_new_dated_row_applies_from_its_start_date():
    # given the loaded parameters and a new base salary from 01/01/2027
    benefit_parameters_load()
    BenefitParameter.objects.create(
        key="base_salary", qualifier="", value=Decimal("3000000"), valid_from=date(2027, 1, 1)
    )

    # when / then
    assert benefit_params(on=date(2026, 12, 31)).base_salary == Decimal("2530000")
    assert benefit_params(on=date(2027, 1, 1)).base_salary == Decimal("3000000")
    assert benefit_params(on=date(2027, 1, 1)).small_visit_threshold == Decimal("450000")


def test_a_database_row_replaces_the_defaults_of_its_key_and_qualifier():
    # given only one admin row for the small-visit ratio (nothing loaded)
    BenefitParameter.objects.create(
        key="small_visit_threshold_ratio",
        qualifier="",
        value=Decimal("0.20"),
        valid_from=date(2025, 1, 1),
    )

    # when / then that row decides for its key from its date; other keys keep their defaults
    assert benefit_params(on=date(2025, 5, 1)).small_visit_ratio == Decimal("0.20")
    assert benefit_params(on=date(2025, 5, 1)).base_salary == Decimal("2340000")
    with pytest.raises(BenefitParameterMissing):
        benefit_params(on=date(2024, 12, 31))


def test_an_ended_route_rate_row_is_not_in_force_after_its_end():
    # given an admin row ending the 50 % outpatient rate at basic 50-70 on 31/12/2026
    benefit_parameters_load()
    row = BenefitParameter.objects.get(
        key="route_rate", qualifier="basic_50_to_70:outpatient", valid_from=date(2026, 7, 1)
    )
    row.valid_to = date(2026, 12, 31)
    row.save()

    # when / then
    assert benefit_params(on=date(2026, 12, 31)).route_rates["basic_50_to_70:outpatient"] == 50
    assert "basic_50_to_70:outpatient" not in benefit_params(on=date(2027, 1, 1)).route_rates


def test_params_are_cached_per_date_and_checked_with_one_query(django_assert_num_queries):
    # given loaded parameters, read once
    benefit_parameters_load()
    benefit_params(on=date(2025, 5, 1))

    # when read again for the same date
    with django_assert_num_queries(1):
        params = benefit_params(on=date(2025, 5, 1))

    # then the same object
    assert params is benefit_params(on=date(2025, 5, 1))


def test_load_with_an_actor_is_audited(staff_factory, facility):
    # given a city admin
    from ehealth.core.models import Role

    admin = staff_factory(facility, Role.UNIT_ADMIN)

    # when
    benefit_parameters_load(actor=admin)

    # then one audit entry, with counts and keys only
    event = AuditEvent.objects.get(action="benefit_parameter.load")
    assert event.actor == admin
    assert event.detail["created"] == len(DEFAULT_PARAMETERS)
    assert "base_salary" in event.detail["keys"]


def test_the_command_loads_and_names_the_unconfirmed_rows():
    # given an empty table
    out = io.StringIO()

    # when
    call_command("load_benefit_parameters", stdout=out)
    call_command("load_benefit_parameters", stdout=out)

    # then
    text = out.getvalue()
    assert f"thêm mới {len(DEFAULT_PARAMETERS)}" in text
    assert f"thêm mới 0, giữ nguyên {len(DEFAULT_PARAMETERS)}" in text
    assert "base_salary[]" in text and "CHƯA XÁC NHẬN" in text
    assert BenefitParameter.objects.count() == len(DEFAULT_PARAMETERS)
