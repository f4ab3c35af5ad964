"""Property tests (hypothesis) of the benefit engine's invariants over random cards and lines.

On every line and every total: THANH_TIEN_BV = T_BHTT + T_BNCCT + T_BNTT + T_NGUONKHAC, no amount
negative, T_BHTT <= THANH_TIEN_BH <= THANH_TIEN_BV, totals = sums of lines; the price difference
is never paid by the fund; a higher card rate never lowers the fund share.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehealth.core.money import quantize_money
from insurance.benefits.defaults import default_params
from insurance.benefits.engine import split_lines
from insurance.benefits.types import (
    HUNDRED,
    CardContext,
    ChargeLineInput,
    OtherSources,
    VisitContext,
)

FIRST, LAST = date(2019, 7, 1), date(2028, 12, 31)
GROUPS = ["DN", "HT", "TE", "CN", "LH", "CC", "QN", "HS", "CB", "GD"]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def params_on(on: date):
    return default_params(on=on)


dates = st.dates(min_value=FIRST, max_value=LAST)
money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
small_money = st.decimals(
    min_value=0, max_value=2 * 10**6, places=2, allow_nan=False, allow_infinity=False
)
ratios = st.one_of(
    st.just(HUNDRED),
    st.integers(min_value=0, max_value=100).map(Decimal),
    st.decimals(min_value=0, max_value=100, places=1, allow_nan=False, allow_infinity=False),
)
sources = st.one_of(
    st.just(OtherSources()),
    st.builds(OtherSources, nsnn=small_money, vtnn=small_money, vttn=small_money, cl=small_money),
)


@st.composite
def cards(draw):
    if draw(st.integers(0, 9)) == 0:
        return None
    valid_from = draw(st.dates(min_value=date(2018, 1, 1), max_value=LAST))
    valid_to = draw(
        st.one_of(st.none(), st.dates(min_value=valid_from, max_value=date(2030, 1, 1)))
    )
    exempt = draw(st.one_of(st.none(), dates))
    return CardContext(
        group_code=draw(st.sampled_from(GROUPS)),
        benefit_digit=draw(st.integers(1, 5)),
        valid_from=valid_from,
        valid_to=valid_to,
        five_years_date=draw(st.one_of(st.none(), dates)) if exempt else None,
        copay_exempt_from=exempt,
    )


@st.composite
def visits(draw):
    level = draw(st.sampled_from(["central", "provincial", "basic", "primary"]))
    return VisitContext(
        on=draw(dates),
        kind=draw(st.sampled_from(["outpatient", "inpatient"])),
        route=draw(st.sampled_from(["correct", "referral", "emergency", "self_referred"])),
        facility_level=level,
        facility_kind=draw(st.sampled_from(["hospital", "clinic", "commune_station"])),
        facility_code="48001",
        basic_level_score=draw(st.one_of(st.none(), st.integers(0, 100))),
        former_level=draw(st.sampled_from(["", "central", "provincial", "basic"])),
    )


@st.composite
def charge_lines(draw, ref):
    hospital = draw(money)
    bhyt = draw(
        st.one_of(
            st.none(),
            st.just(hospital),
            money,  # any BHYT price, above or below the hospital price
        )
    )
    return ChargeLineInput(
        ref=ref,
        cost_group=draw(st.sampled_from([1, 2, 3, 4, 7, 8, 10, 13, 15, 18])),
        quantity=draw(
            st.decimals(min_value=0, max_value=50, places=3, allow_nan=False, allow_infinity=False)
        ),
        hospital_price=hospital,
        bhyt_price=bhyt,
        in_scope=draw(st.booleans()),
        service_ratio=draw(ratios),
        bhyt_ratio=draw(ratios),
        other_sources=draw(sources),
        payment_method=draw(st.integers(1, 3)),
        facility_support=draw(sources),
        arv=draw(st.booleans()),
    )


@st.composite
def visit_lines(draw):
    count = draw(st.integers(0, 8))
    return [draw(charge_lines(f"L{i}")) for i in range(count)]


def price_difference(line: ChargeLineInput) -> Decimal:
    """What the fund never pays: the hospital amount above the amount at the BHYT price."""
    if line.bhyt_price is None:
        return Decimal(0)
    hospital = quantize_money(line.quantity * line.hospital_price)
    at_bhyt = quantize_money(line.quantity * line.bhyt_price)
    return max(Decimal(0), hospital - at_bhyt)


@SETTINGS
@given(card=cards(), visit=visits(), lines=visit_lines())
def test_every_line_and_total_adds_up_and_nothing_is_negative(card, visit, lines):
    # given random card, visit and lines
    params = params_on(visit.on)

    # when
    result = split_lines(card=card, visit=visit, lines=lines, params=params)

    # then each line adds up, nothing is negative, the fund stays within THANH_TIEN_BH
    assert len(result.lines) == len(lines)
    assert Decimal(0) <= result.benefit_rate <= HUNDRED
    for line, s in zip(lines, result.lines, strict=True):
        assert s.ref == line.ref
        assert s.hospital_amount == quantize_money(line.quantity * line.hospital_price)
        assert s.hospital_amount == s.fund + s.copay + s.self_pay + s.other
        for amount in (s.bhyt_amount, s.fund, s.copay, s.self_pay, s.other):
            assert amount >= 0
        assert s.fund <= s.bhyt_amount <= s.hospital_amount
        assert s.other == s.other_detail.total
        # the price difference is paid by the patient or another source, never by the fund
        assert s.self_pay + s.other >= price_difference(line)
        if not (line.other_sources or line.facility_support):
            assert s.self_pay >= price_difference(line)
        if card is None:
            assert s.fund == s.copay == 0
    # and the totals are the sums of the lines
    t = result.totals
    assert t.hospital_amount == sum((s.hospital_amount for s in result.lines), Decimal(0))
    assert t.bhyt_amount == sum((s.bhyt_amount for s in result.lines), Decimal(0))
    assert t.fund == sum((s.fund for s in result.lines), Decimal(0))
    assert t.copay == sum((s.copay for s in result.lines), Decimal(0))
    assert t.self_pay == sum((s.self_pay for s in result.lines), Decimal(0))
    assert t.other == sum((s.other for s in result.lines), Decimal(0))
    assert t.hospital_amount == t.fund + t.copay + t.self_pay + t.other
    assert t.fund_fee_for_service == sum(
        (s.fund for line, s in zip(lines, result.lines, strict=True) if line.payment_method == 1),
        Decimal(0),
    )


@SETTINGS
@given(
    card=cards().filter(lambda c: c is not None),
    visit=visits(),
    lines=visit_lines(),
    low=st.integers(0, 100),
    high=st.integers(0, 100),
)
def test_a_higher_card_rate_never_lowers_the_fund_share(card, visit, lines, low, high):
    # given the same visit under two card rates for the card's digit, low <= high
    low, high = sorted((low, high))
    params = params_on(visit.on)
    rates_low = {**params.card_rates, card.benefit_digit: Decimal(low)}
    rates_high = {**params.card_rates, card.benefit_digit: Decimal(high)}

    # when
    lower = split_lines(
        card=card, visit=visit, lines=lines, params=replace(params, card_rates=rates_low)
    )
    higher = split_lines(
        card=card, visit=visit, lines=lines, params=replace(params, card_rates=rates_high)
    )

    # then no line's fund share, nor the total, goes down
    assert higher.benefit_rate >= lower.benefit_rate
    for a, b in zip(lower.lines, higher.lines, strict=True):
        assert b.fund >= a.fund
        assert b.copay + b.fund + b.self_pay + b.other == a.copay + a.fund + a.self_pay + a.other
    assert higher.totals.fund >= lower.totals.fund


@SETTINGS
@given(visit=visits(), lines=visit_lines())
def test_without_a_card_the_patient_and_other_sources_pay_everything(visit, lines):
    # given no card
    # when
    result = split_lines(card=None, visit=visit, lines=lines, params=params_on(visit.on))

    # then
    assert result.totals.fund == result.totals.copay == result.totals.bhyt_amount == 0
    assert result.totals.self_pay + result.totals.other == result.totals.hospital_amount


@SETTINGS
@given(
    card=cards().filter(lambda c: c is not None),
    visit=visits(),
    lines=visit_lines(),
    days=st.integers(-400, 400),
)
def test_the_split_depends_only_on_its_inputs(card, visit, lines, days):
    # given a visit split twice, with a call for another date in between (parameters by date)
    params = params_on(visit.on)
    other_day = min(max(visit.on + timedelta(days=days), FIRST), LAST)

    # when
    first = split_lines(card=card, visit=visit, lines=lines, params=params)
    split_lines(
        card=card, visit=replace(visit, on=other_day), lines=lines, params=params_on(other_day)
    )
    second = split_lines(card=card, visit=visit, lines=lines, params=params)

    # then the same answer
    assert first == second
