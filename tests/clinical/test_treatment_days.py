"""SO_NGAY_DTRI: 0 for 01/07/09, out − in + 1 local calendar days for 02/03/04/06 (domain brief 3.3)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from patients.clinical.treatment_days import treatment_days, visit_type_at_discharge

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


@pytest.mark.parametrize("visit_type", ["01", "07", "09"])
def test_examination_drug_pickup_and_short_stay_count_zero_days(visit_type):
    # given an episode spanning three local days
    start, end = vn(2026, 3, 1, 8, 0), vn(2026, 3, 3, 17, 0)
    # when its treatment days are computed
    days = treatment_days(visit_type=visit_type, started_at=start, ended_at=end)
    # then the brief's rule gives 0 whatever the dates
    assert days == 0


@pytest.mark.parametrize("visit_type", ["02", "03", "04", "06"])
def test_treatment_visit_types_count_out_minus_in_plus_one(visit_type):
    # given a stay admitted on 1 March and discharged on 5 March (local time)
    start, end = vn(2026, 3, 1, 10, 15), vn(2026, 3, 5, 9, 0)
    # when
    days = treatment_days(visit_type=visit_type, started_at=start, ended_at=end)
    # then 5 − 1 + 1, although fewer than 4 × 24 hours passed
    assert days == 5


def test_a_stay_within_one_local_day_counts_one_day():
    # given an admission at 06:30 and a discharge at 23:59 the same day
    start, end = vn(2026, 3, 1, 6, 30), vn(2026, 3, 1, 23, 59)
    # when / then
    assert treatment_days(visit_type="03", started_at=start, ended_at=end) == 1


def test_crossing_midnight_in_vietnam_but_not_in_utc_counts_two_days():
    # given 23:30 on 1 March and 01:30 on 2 March in Vietnam: 16:30 and 18:30 UTC on 1 March
    start = vn(2026, 3, 1, 23, 30)
    end = vn(2026, 3, 2, 1, 30)
    assert start.astimezone(UTC).date() == end.astimezone(UTC).date()
    # when computed from the UTC instants the database returns
    days = treatment_days(
        visit_type="03", started_at=start.astimezone(UTC), ended_at=end.astimezone(UTC)
    )
    # then the local calendar days count: 2
    assert days == 2


def test_crossing_midnight_in_utc_but_not_in_vietnam_counts_one_day():
    # given 06:00 and 08:00 on 2 March in Vietnam: 23:00 on 1 March and 01:00 on 2 March UTC
    start = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    end = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    # when / then one local day
    assert treatment_days(visit_type="03", started_at=start, ended_at=end) == 1


def test_chronic_outpatient_types_take_drug_days_and_service_days_from_the_caller():
    # given a chronic visit on one day with 28 days of drugs, and one with 3 service days
    start, end = vn(2026, 3, 1, 8, 0), vn(2026, 3, 1, 9, 0)
    # when / then
    assert treatment_days(visit_type="05", started_at=start, ended_at=end, drug_days=28) == 28
    assert treatment_days(visit_type="08", started_at=start, ended_at=end, service_days=3) == 3
    with pytest.raises(ValueError):
        treatment_days(visit_type="05", started_at=start, ended_at=end)


def test_no_rule_is_invented_for_other_visit_types():
    # given visit type 10, for which the brief gives no rule
    start, end = vn(2026, 3, 1, 8, 0), vn(2026, 3, 2, 9, 0)
    # when / then
    with pytest.raises(ValueError):
        treatment_days(visit_type="10", started_at=start, ended_at=end)


def test_an_end_before_the_start_or_a_naive_datetime_is_refused():
    # given
    start = vn(2026, 3, 2, 8, 0)
    # when / then
    with pytest.raises(ValueError):
        treatment_days(visit_type="03", started_at=start, ended_at=start - timedelta(minutes=1))
    with pytest.raises(ValueError):
        treatment_days(
            visit_type="03",
            started_at=datetime(2026, 3, 2, 8, 0),  # noqa: DTZ001 - the naive input under test
            ended_at=start,
        )


def test_an_inpatient_stay_under_four_hours_is_claimed_as_visit_type_09():
    # given admissions of 3 h 59 min and of exactly 4 h
    admitted = vn(2026, 3, 1, 8, 0)
    # when / then
    assert (
        visit_type_at_discharge(
            visit_type="03", admitted_at=admitted, ended_at=admitted + timedelta(minutes=239)
        )
        == "09"
    )
    assert (
        visit_type_at_discharge(
            visit_type="03", admitted_at=admitted, ended_at=admitted + timedelta(hours=4)
        )
        == "03"
    )
    assert (
        visit_type_at_discharge(
            visit_type="04", admitted_at=admitted, ended_at=admitted + timedelta(hours=1)
        )
        == "04"
    )
