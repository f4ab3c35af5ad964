"""The benefit engine: the worked examples of the domain brief (section 7), then rule by rule.

Expected figures are written out from the brief, never computed by the engine. No database: the
parameters are the brief's defaults (`default_params`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal, localcontext

import pytest

from insurance.benefits import reasons as R
from insurance.benefits.defaults import BenefitParameterMissing, default_params
from insurance.benefits.engine import BenefitInputError, route_categories, split_lines
from insurance.benefits.types import (
    CardContext,
    ChargeLineInput,
    OtherSources,
    SplitResult,
    VisitContext,
)

D = Decimal


def card(group="DN", digit=4, **kw) -> CardContext:
    defaults = {"valid_from": date(2020, 1, 1), "valid_to": None}
    return CardContext(group_code=group, benefit_digit=digit, **{**defaults, **kw})


def visit(on, kind="outpatient", route="correct", level="provincial", **kw) -> VisitContext:
    return VisitContext(
        on=on,
        kind=kind,
        route=route,
        facility_level=level,
        facility_kind=kw.pop("facility_kind", "hospital"),
        facility_code=kw.pop("facility_code", "48001"),
        **kw,
    )


def line(amount, *, bhyt=None, ref="L1", group=13, quantity=1, **kw) -> ChargeLineInput:
    """One line at `amount` per unit; the BHYT price equals it unless given."""
    bhyt_price = D(amount) if bhyt is None else (None if bhyt == "none" else D(bhyt))
    return ChargeLineInput(
        ref=ref,
        cost_group=group,
        quantity=D(quantity),
        hospital_price=D(amount),
        bhyt_price=bhyt_price,
        **kw,
    )


def split(c, v, *lines) -> SplitResult:
    return split_lines(card=c, visit=v, lines=list(lines), params=default_params(on=v.on))


def amounts(result: SplitResult, index=0) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(fund, copay, self_pay, other) of one line."""
    s = result.lines[index]
    return s.fund, s.copay, s.self_pay, s.other


# --- Section 7, worked examples ---------------------------------------------------------------


def test_example_1_visit_under_15_percent_of_base_salary_is_paid_in_full():
    # given a DN4 card (80 %), correct route, outpatient, TT = BV = 300,000, base 2,340,000
    c, v = card("DN", 4), visit(date(2025, 3, 10))

    # when the visit is split
    result = split(c, v, line(300_000))

    # then 300,000 < 351,000 -> MUC_HUONG 100: insurer 300,000, patient 0
    assert result.small_visit_threshold == D("351000")
    assert result.benefit_rate == 100
    assert amounts(result) == (D("300000"), 0, 0, 0)
    assert R.SMALL_VISIT in result.reasons


def test_example_2_normal_visit_is_paid_at_80_percent():
    # given the same card and a visit of 1,000,000 (>= 351,000)
    c, v = card("DN", 4), visit(date(2025, 3, 10))

    # when
    result = split(c, v, line(1_000_000))

    # then insurer 800,000, co-payment 200,000
    assert result.benefit_rate == 80
    assert amounts(result) == (D("800000"), D("200000"), 0, 0)
    assert R.SMALL_VISIT not in result.reasons


@pytest.mark.parametrize(
    ("on", "rate", "fund", "copay"),
    [
        (date(2026, 7, 1), 100, D("360000"), D("0")),  # base 2,530,000: 379,500 > 360,000
        (date(2026, 6, 30), 80, D("288000"), D("72000")),  # base 2,340,000: 351,000 <= 360,000
    ],
)
def test_example_3_threshold_follows_the_base_salary_of_the_date(on, rate, fund, copay):
    # given the example-1 visit at 360,000, before and from 01/07/2026
    c, v = card("DN", 4), visit(on)

    # when
    result = split(c, v, line(360_000))

    # then the base salary of the date decides
    assert result.benefit_rate == rate
    assert amounts(result) == (fund, copay, 0, 0)


def test_example_4_pensioner_card_is_paid_at_95_percent():
    # given an HT3 card, correct route, inpatient, TT = 10,000,000
    c, v = card("HT", 3), visit(date(2025, 5, 1), kind="inpatient")

    # when
    result = split(c, v, line(10_000_000, group=15))

    # then insurer 9,500,000, co-payment 500,000
    assert result.benefit_rate == 95
    assert amounts(result) == (D("9500000"), D("500000"), 0, 0)


def test_example_5_old_law_self_referral_inpatient_at_central_level_is_32():
    # given an 80 % card, self-referred inpatient at a central hospital, before 2025
    c = card("DN", 4)
    v = visit(date(2024, 6, 1), kind="inpatient", route="self_referred", level="central")

    # when TT = 10,000,000
    result = split(c, v, line(10_000_000, group=15))

    # then MUC_HUONG = 80 × 40 % = 32: insurer 3,200,000, co-payment 6,800,000
    assert result.benefit_rate == 32
    assert amounts(result) == (D("3200000"), D("6800000"), 0, 0)


def test_example_5_under_law_51_the_specialised_level_gives_the_same_32():
    # given the same case in 2025 (specialised level, 40 %: UNCONFIRMED reading)
    c = card("DN", 4)
    v = visit(date(2025, 6, 1), kind="inpatient", route="self_referred", level="central")

    # when
    result = split(c, v, line(10_000_000, group=15))

    # then
    assert result.benefit_rate == 32
    assert amounts(result) == (D("3200000"), D("6800000"), 0, 0)
    assert "route_rate[specialised:inpatient]" in default_params(on=v.on).unconfirmed


def test_example_6_price_difference_is_self_pay():
    # given an 80 % card, one service at hospital price 600,000 and BHYT price 500,000
    c, v = card("DN", 4), visit(date(2025, 5, 1))

    # when
    result = split(c, v, line(600_000, bhyt=500_000, group=18))

    # then T_BNTT 100,000, T_BHTT 400,000, T_BNCCT 100,000: the patient pays 200,000
    assert amounts(result) == (D("400000"), D("100000"), D("100000"), 0)
    assert result.lines[0].patient_amount == D("200000")
    assert R.PRICE_DIFFERENCE in result.lines[0].reasons


def test_example_7_ratio_drug_with_a_donation_to_the_facility():
    # given a 10,000,000 drug with TYLE_TT_BH 50, 3,000,000 given to the facility in general
    c, v = card("DN", 4), visit(date(2025, 5, 1), kind="inpatient")
    drug = line(
        10_000_000,
        group=4,
        bhyt_ratio=D(50),
        facility_support=OtherSources(vttn=D("3000000")),
    )

    # when
    result = split(c, v, drug)

    # then THANH_TIEN_BH 3,500,000; T_BHTT 2,800,000; T_BNCCT 700,000; T_BNTT 3,500,000;
    # T_NGUONKHAC 3,000,000
    s = result.lines[0]
    assert s.hospital_amount == D("10000000")
    assert s.bhyt_amount == D("3500000")
    assert amounts(result) == (D("2800000"), D("700000"), D("3500000"), D("3000000"))
    assert s.other_detail.vttn == D("3000000")


def test_example_8_emergency_at_a_non_registered_specialised_facility():
    # given an 80 % card, emergency inpatient at a central hospital it is not registered at
    c = card("DN", 4, registered_facility_code="48123")
    v = visit(date(2025, 9, 1), kind="inpatient", route="emergency", level="central")

    # when TT = 20,000,000
    result = split(c, v, line(20_000_000, group=15))

    # then insurer 16,000,000, co-payment 4,000,000
    assert result.benefit_rate == 80
    assert amounts(result) == (D("16000000"), D("4000000"), 0, 0)
    assert R.EMERGENCY in result.reasons


def test_example_9_outpatient_self_referral_from_july_2026_is_half_the_rate():
    # given an 80 % card, self-referred outpatient at a basic-level facility scored 60
    c = card("DN", 4)
    v = visit(date(2026, 7, 15), route="self_referred", level="basic", basic_level_score=60)

    # when TT = 1,000,000 (>= 379,500)
    result = split(c, v, line(1_000_000))

    # then MUC_HUONG = 80 × 50 % = 40: insurer 400,000, co-payment 600,000
    assert result.benefit_rate == 40
    assert amounts(result) == (D("400000"), D("600000"), 0, 0)


def test_example_10_copay_exemption_lasts_until_the_end_of_the_year():
    # given a DN4 card with 5 years reached and NGAY_MIEN_CCT set in 2025
    c = card("DN", 4, five_years_date=date(2020, 5, 1), copay_exempt_from=date(2025, 9, 20))

    # when a visit of 2,000,000 later in 2025, and the same visit on 05/01/2026
    in_2025 = split(c, visit(date(2025, 11, 3)), line(2_000_000))
    in_2026 = split(c, visit(date(2026, 1, 5)), line(2_000_000))

    # then 2025: insurer 2,000,000, patient 0; 2026: back to 80 %
    assert in_2025.benefit_rate == 100
    assert amounts(in_2025) == (D("2000000"), 0, 0, 0)
    assert R.COPAY_EXEMPT in in_2025.reasons
    assert in_2026.benefit_rate == 80
    assert amounts(in_2026) == (D("1600000"), D("400000"), 0, 0)


# --- Card --------------------------------------------------------------------------------------


def test_no_card_makes_every_line_self_pay():
    # given no card
    v = visit(date(2025, 5, 1))

    # when
    result = split(None, v, line(200_000), line(50_000, ref="L2"))

    # then the patient pays everything at the hospital price
    assert result.benefit_rate == 0
    assert result.reasons == (R.NO_CARD,)
    assert result.totals.self_pay == D("250000")
    assert result.totals.fund == result.totals.copay == result.totals.bhyt_amount == 0


@pytest.mark.parametrize(
    ("on", "covered"),
    [
        (date(2025, 1, 31), True),  # last valid day
        (date(2025, 2, 15), True),  # 15 days after expiry (NĐ 188 Art. 50 cl. 4)
        (date(2025, 2, 16), False),  # beyond the grace
        (date(2019, 12, 31), False),  # not yet valid
    ],
)
def test_card_validity_with_the_15_day_grace(on, covered):
    # given a card valid from 01/01/2020 to 31/01/2025
    c = card("DN", 4, valid_to=date(2025, 1, 31))

    # when
    result = split(c, visit(on), line(1_000_000))

    # then
    if covered:
        assert result.benefit_rate == 80
    else:
        assert result.reasons == (R.CARD_NOT_VALID,)
        assert amounts(result) == (0, 0, D("1000000"), 0)


@pytest.mark.parametrize(
    ("group", "digit", "on", "rate", "reason"),
    [
        ("CN", 3, date(2025, 12, 31), 95, R.CARD_RATE),
        ("CN", 3, date(2026, 1, 1), 100, R.GROUP_RATE),  # CN 3 -> 2 from 01/01/2026
        ("LH", 4, date(2025, 12, 31), 80, R.CARD_RATE),
        ("LH", 4, date(2026, 1, 1), 100, R.GROUP_RATE),  # LH 4 -> 2 from 01/01/2026
        ("CN", 2, date(2026, 3, 1), 100, R.CARD_RATE),  # a new card already shows 2
        ("CB", 2, date(2025, 3, 1), 100, R.CARD_RATE),
        ("TE", 1, date(2025, 3, 1), 100, R.CARD_RATE),
        ("QN", 5, date(2025, 3, 1), 100, R.CARD_RATE),
    ],
)
def test_card_rate_comes_from_the_digit_and_the_group_by_date(group, digit, on, rate, reason):
    # given a card of the group, a correct-route visit of 1,000,000
    c = card(group, digit)

    # when
    result = split(c, visit(on), line(1_000_000))

    # then
    assert result.card_rate == rate
    assert result.benefit_rate == rate
    assert result.reasons[0] == reason


def test_digit_1_card_is_not_limited_by_the_bhyt_ratio():
    # given a TE1 card and a drug paid at 50 % by TYLE_TT_BH
    drug = line(1_000_000, group=4, bhyt_ratio=D(50))

    # when
    te1 = split(card("TE", 1), visit(date(2025, 5, 1)), drug)
    cb2 = split(card("CB", 2), visit(date(2025, 5, 1)), drug)

    # then TE1: the fund pays all 1,000,000; CB2: 100 % within the ratio, 500,000
    assert amounts(te1) == (D("1000000"), 0, 0, 0)
    assert R.RATIO_WAIVED in te1.lines[0].reasons
    assert amounts(cb2) == (D("500000"), 0, D("500000"), 0)


def test_digit_5_card_also_covers_out_of_scope_items():
    # given an out-of-scope item of 400,000 (no BHYT price)
    item = line(400_000, bhyt="none", in_scope=False, group=18)

    # when
    qn5 = split(card("QN", 5), visit(date(2025, 5, 1)), item)
    dn4 = split(card("DN", 4), visit(date(2025, 5, 1)), item)

    # then QN5: the fund pays it; DN4: self-pay
    assert amounts(qn5) == (D("400000"), 0, 0, 0)
    assert amounts(dn4) == (0, 0, D("400000"), 0)
    assert R.OUT_OF_SCOPE in dn4.lines[0].reasons


# --- Route and facility level ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "kind", "level", "extra", "rate"),
    [
        (date(2020, 6, 1), "inpatient", "provincial", {}, 48),  # 80 × 60 %
        (date(2021, 1, 1), "inpatient", "provincial", {}, 80),  # 100 % from 01/01/2021
        (date(2024, 6, 1), "outpatient", "central", {}, 0),
        (date(2024, 6, 1), "outpatient", "provincial", {}, 0),
        (date(2024, 6, 1), "outpatient", "basic", {}, 80),  # thông tuyến huyện
        (date(2024, 6, 1), "inpatient", "basic", {}, 80),
        (date(2025, 2, 1), "outpatient", "basic", {"basic_level_score": 45}, 80),
        (date(2025, 2, 1), "outpatient", "basic", {"basic_level_score": None}, 80),
        (date(2026, 6, 30), "outpatient", "basic", {"basic_level_score": 60}, 0),
        (date(2026, 7, 1), "outpatient", "basic", {"basic_level_score": 60}, 40),
        (date(2026, 7, 1), "outpatient", "basic", {"basic_level_score": 75}, 0),
        (date(2026, 7, 1), "outpatient", "basic", {"former_level": "provincial"}, 40),
        (date(2026, 7, 1), "outpatient", "provincial", {}, 40),  # former provincial
        (date(2026, 7, 1), "outpatient", "central", {}, 0),
        (date(2025, 2, 1), "inpatient", "provincial", {}, 80),  # former provincial: 100 %
        (date(2025, 2, 1), "inpatient", "central", {}, 32),  # specialised: 40 %
        (date(2025, 2, 1), "inpatient", "basic", {"basic_level_score": 80}, 80),
    ],
)
def test_self_referral_rate_by_facility_level_and_period(on, kind, level, extra, rate):
    # given an 80 % card, self-referred, 1,000,000 (above every threshold)
    v = visit(on, kind=kind, route="self_referred", level=level, **extra)

    # when
    result = split(card("DN", 4), v, line(1_000_000))

    # then MUC_HUONG = 80 × the route rate of the level and period
    assert result.benefit_rate == rate
    assert result.lines[0].fund == D(10_000) * rate
    assert R.SELF_REFERRED in result.reasons


def test_route_categories_go_from_specific_to_plain_level():
    # given a basic facility that was provincial, scored 55
    v = visit(date(2026, 7, 1), level="basic", basic_level_score=55, former_level="provincial")

    # when / then
    assert route_categories(v) == ("basic_former_upper", "basic_50_to_70", "basic")
    assert route_categories(visit(date(2026, 7, 1), level="central")) == (
        "specialised_former_central",
        "specialised",
        "central",
    )


@pytest.mark.parametrize("route", ["correct", "referral", "emergency"])
def test_correct_route_referral_and_emergency_keep_the_card_rate(route):
    # given an HT3 card at a central hospital, 2,000,000
    v = visit(date(2025, 4, 1), route=route, level="central", kind="inpatient")

    # when
    result = split(card("HT", 3), v, line(2_000_000))

    # then 95 %
    assert result.benefit_rate == 95
    assert amounts(result) == (D("1900000"), D("100000"), 0, 0)


@pytest.mark.parametrize(
    ("level", "facility_kind"), [("primary", "clinic"), ("basic", "commune_station")]
)
def test_primary_level_and_commune_station_pay_100_percent(level, facility_kind):
    # given a DN4 card, a 1,000,000 visit (above the threshold), even self-referred
    v = visit(date(2025, 4, 1), route="self_referred", level=level, facility_kind=facility_kind)

    # when
    result = split(card("DN", 4), v, line(1_000_000))

    # then
    assert result.benefit_rate == 100
    assert R.PRIMARY_LEVEL in result.reasons
    assert amounts(result) == (D("1000000"), 0, 0, 0)


def test_small_visit_when_self_referred_gives_100_times_the_route_rate():
    # given an 80 % card self-referred at a basic facility scored 60 after 01/07/2026, 300,000
    v = visit(date(2026, 8, 1), route="self_referred", level="basic", basic_level_score=60)

    # when
    result = split(card("DN", 4), v, line(300_000))

    # then the UNCONFIRMED reading: 100 × 50 % = 50
    assert result.benefit_rate == 50
    assert amounts(result) == (D("150000"), D("150000"), 0, 0)


def test_rate_may_have_a_decimal_and_amounts_round_half_up():
    # given an HT3 card (95 %) self-referred where the route rate is 50 %, 1,000,000.01 VND
    v = visit(date(2026, 8, 1), route="self_referred", level="basic", basic_level_score=60)

    # when
    result = split(card("HT", 3), v, line("1000000.01"))

    # then MUC_HUONG 47.5; 1,000,000.01 × 47.5 % = 475,000.00475 -> 475,000.00
    assert result.benefit_rate == D("47.5")
    assert amounts(result) == (D("475000.00"), D("525000.01"), 0, 0)


def test_small_visit_threshold_counts_the_in_scope_total_of_the_whole_visit():
    # given two lines of 200,000 in scope (400,000 >= 351,000) and one out of scope
    c, v = card("DN", 4), visit(date(2025, 5, 1))
    lines = [
        line(200_000, ref="a"),
        line(200_000, ref="b"),
        line(9_000_000, ref="c", in_scope=False),
    ]

    # when
    result = split(c, v, *lines)

    # then the visit is not small: 80 % on the in-scope lines, the out-of-scope line self-pay
    assert result.in_scope_total == D("400000")
    assert result.benefit_rate == 80
    assert [s.fund for s in result.lines] == [D("160000"), D("160000"), 0]
    assert result.lines[2].self_pay == D("9000000")


# --- Lines -------------------------------------------------------------------------------------


def test_no_bhyt_price_is_self_pay():
    # given a line with no BHYT price
    result = split(card(), visit(date(2025, 5, 1)), line(800_000, bhyt="none"))

    # then
    assert amounts(result) == (0, 0, D("800000"), 0)
    assert R.NO_BHYT_PRICE in result.lines[0].reasons


def test_service_ratio_and_bhyt_ratio_reduce_the_bhyt_amount():
    # given a second examination (TYLE_TT_DV 30) and a drug with TYLE_TT_BH 70, 80 % card
    c, v = card("DN", 4), visit(date(2025, 5, 1))
    exam = line(100_000, ref="exam", service_ratio=D(30))
    drug = line(1_000_000, ref="drug", group=4, bhyt_ratio=D(70))

    # when
    result = split(c, v, exam, drug)

    # then THANH_TIEN_BH = 30,000 and 700,000; the rest is self-pay
    assert [s.bhyt_amount for s in result.lines] == [D("30000"), D("700000")]
    assert amounts(result, 0) == (D("24000"), D("6000"), D("70000"), 0)
    assert amounts(result, 1) == (D("560000"), D("140000"), D("300000"), 0)


def test_supplies_are_capped_at_45_base_salaries():
    # given an implant of 120,000,000 (cost group 10), base 2,340,000 -> cap 105,300,000
    result = split(
        card("DN", 4), visit(date(2025, 5, 1), kind="inpatient"), line(120_000_000, group=10)
    )

    # then THANH_TIEN_BH = T_TRANTT = 105,300,000; the rest is self-pay
    s = result.lines[0]
    assert s.supplies_cap == D("105300000")
    assert s.bhyt_amount == D("105300000")
    assert amounts(result) == (D("84240000"), D("21060000"), D("14700000"), 0)
    assert R.SUPPLIES_CAP in s.reasons


def test_supplies_below_the_cap_are_not_changed():
    # given a supply of 1,000,000
    result = split(card("DN", 4), visit(date(2025, 5, 1)), line(1_000_000, group=10))

    # then
    assert result.lines[0].supplies_cap == D("105300000")
    assert amounts(result) == (D("800000"), D("200000"), 0, 0)


def test_bhyt_price_above_the_hospital_price_is_paid_at_the_hospital_price():
    # given a BHYT price above the hospital price
    result = split(card("DN", 4), visit(date(2025, 5, 1)), line(500_000, bhyt=600_000))

    # then THANH_TIEN_BH = THANH_TIEN_BV
    assert result.lines[0].bhyt_amount == D("500000")
    assert amounts(result) == (D("400000"), D("100000"), 0, 0)


def test_patient_support_is_taken_from_self_pay_then_copay_then_fund():
    # given the example-6 line (fund 400,000, co-pay 100,000, self-pay 100,000)
    c, v = card("DN", 4), visit(date(2025, 5, 1))

    def with_support(amount):
        item = line(600_000, bhyt=500_000, other_sources=OtherSources(nsnn=D(amount)))
        return amounts(split(c, v, item))

    # when support is 50,000, 150,000, 250,000 and 900,000
    # then it comes off T_BNTT first, then T_BNCCT, then T_BHTT, and never beyond the line
    assert with_support(50_000) == (D("400000"), D("100000"), D("50000"), D("50000"))
    assert with_support(150_000) == (D("400000"), D("50000"), 0, D("150000"))
    assert with_support(250_000) == (D("350000"), 0, 0, D("250000"))
    assert with_support(900_000) == (0, 0, 0, D("600000"))


def test_support_beyond_the_line_is_capped_and_said_so():
    # given support of 900,000 on a 600,000 line split over two sources
    item = line(600_000, other_sources=OtherSources(nsnn=D(400_000), cl=D(500_000)))

    # when
    result = split(card("DN", 4), visit(date(2025, 5, 1)), item)

    # then NSNN 400,000 then CL 200,000 are applied
    s = result.lines[0]
    assert s.other == D("600000")
    assert (s.other_detail.nsnn, s.other_detail.cl) == (D("400000"), D("200000"))
    assert R.SUPPORT_CAPPED in s.reasons


def test_arv_drug_copay_is_paid_by_another_source():
    # given an ARV drug of 1,000,000, 80 % card
    result = split(card("DN", 4), visit(date(2025, 5, 1)), line(1_000_000, group=4, arv=True))

    # then T_NGUONKHAC = provisional T_BNCCT = 200,000, T_BNCCT = 0
    assert amounts(result) == (D("800000"), 0, 0, D("200000"))
    assert R.ARV_COPAY in result.lines[0].reasons


def test_fractional_quantities_round_once_and_still_add_up():
    # given 1.5 units at 333,333.33 with an 80 % card
    result = split(card("DN", 4), visit(date(2025, 5, 1)), line("333333.33", quantity="1.5"))

    # then THANH_TIEN_BV = 499,999.995 -> 500,000.00; T_BHTT 400,000.00
    s = result.lines[0]
    assert s.hospital_amount == D("500000.00")
    assert (s.fund, s.copay) == (D("400000.00"), D("100000.00"))
    assert s.hospital_amount == s.fund + s.copay + s.self_pay + s.other


def test_totals_are_the_sums_of_the_lines_and_t_bhtt_gdv_counts_fee_for_service_only():
    # given three lines, one paid by DRG (MA_PTTT 3)
    c, v = card("DN", 4), visit(date(2025, 5, 1), kind="inpatient")
    lines = [
        line(1_000_000, ref="a"),
        line(600_000, bhyt=500_000, ref="b"),
        line(2_000_000, ref="c", payment_method=3),
    ]

    # when
    result = split(c, v, *lines)

    # then
    t = result.totals
    assert t.hospital_amount == D("3600000")
    assert t.bhyt_amount == D("3500000")
    assert (t.fund, t.copay, t.self_pay, t.other) == (
        D("2800000"),
        D("700000"),
        D("100000"),
        D("0"),
    )
    assert t.fund_fee_for_service == D("1200000")
    assert t.patient_amount == D("800000")
    assert [s.ref for s in result.lines] == ["a", "b", "c"]


def test_engine_uses_its_own_decimal_context():
    # given a caller whose decimal context keeps only 5 digits
    c, v = card("HT", 3), visit(date(2025, 5, 1))

    # when
    with localcontext() as ctx:
        ctx.prec = 5
        result = split(c, v, line("12345678.91"))

    # then the amounts are exact all the same
    assert result.lines[0].fund == D("11728394.96")  # 12,345,678.91 × 95 % = 11,728,394.9645
    assert result.lines[0].copay == D("617283.95")


def test_an_empty_visit_has_zero_totals():
    result = split(card(), visit(date(2025, 5, 1)))
    assert result.lines == ()
    assert result.totals.hospital_amount == 0


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": -1},
        {"amount": -5},
        {"bhyt": -1},
        {"service_ratio": D(101)},
        {"bhyt_ratio": D(-1)},
        {"other_sources": OtherSources(nsnn=D(-1))},
    ],
)
def test_negative_amounts_and_ratios_out_of_range_are_refused(bad):
    # given a line with one bad field
    amount = bad.pop("amount", 100_000)
    item = line(amount, ref="X-7", **bad)

    # when / then the message names the line
    with pytest.raises(BenefitInputError, match="X-7"):
        split(card(), visit(date(2025, 5, 1)), item)


@pytest.mark.parametrize(
    "field", [{"kind": "day"}, {"route": "wrong"}, {"facility_level": "district"}]
)
def test_unknown_visit_context_is_refused(field):
    v = replace(visit(date(2025, 5, 1)), **field)
    with pytest.raises(BenefitInputError):
        split(card(), v, line(1000))


def test_dates_before_the_first_base_salary_have_no_parameters():
    with pytest.raises(BenefitParameterMissing, match="30/06/2019"):
        default_params(on=date(2019, 6, 30))


def test_every_reason_code_has_a_vietnamese_label():
    # given every code the engine can return
    codes = [value for name, value in vars(R).items() if name.isupper() and isinstance(value, str)]

    # then each has a label in Vietnamese
    assert set(codes) == set(R.REASONS)
    assert R.reason_label(R.SMALL_VISIT).startswith("Tổng chi phí")
    assert R.reason_label("unknown") == "unknown"
