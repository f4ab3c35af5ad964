"""The benefit engine: who pays what on each charge line of a visit. Pure: no ORM, no I/O.

`split_lines(card=, visit=, lines=, params=)` returns a `SplitResult`. The rules, each with its
source, are listed in `insurance/benefits/__init__.py`. In short:

1. The visit's rate (MUC_HUONG) is computed once: card rate (digit, or the group's digit in force
   when higher) × route rate (100 on the correct route, by referral and in emergency; the dated
   route table for self-referral), with the card rate raised to 100 at primary level, under the
   co-payment exemption, or when the visit's in-scope total is under 15 % of the base salary.
2. Per line: THANH_TIEN_BV = quantity × hospital price; THANH_TIEN_BH = quantity × BHYT price ×
   TYLE_TT_DV × TYLE_TT_BH (0 out of scope or without a BHYT price), after the facility-wide
   support and capped at T_TRANTT for supplies; T_BNTT = the rest; T_BHTT = THANH_TIEN_BH × rate;
   T_BNCCT = THANH_TIEN_BH − T_BHTT; then the patient's other sources are deducted from T_BNTT,
   T_BNCCT, T_BHTT in that order.

Rounding: only `ehealth.core.money.quantize_money` (2 decimal places, half up, as QĐ 130 writes
amounts), applied to THANH_TIEN_BV, THANH_TIEN_BH, T_BHTT and each other-source amount; every
other amount is a difference of rounded amounts, so each line and the totals add up exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from ehealth.core.money import quantize_money
from insurance.benefits import reasons as R
from insurance.benefits.types import (
    COMMUNE_STATION,
    FACILITY_LEVELS,
    HUNDRED,
    NO_OTHER_SOURCES,
    ROUTES,
    VISIT_KINDS,
    ZERO,
    BenefitParams,
    CardContext,
    ChargeLineInput,
    LineSplit,
    OtherSources,
    SplitResult,
    SplitTotals,
    VisitContext,
)

# MA_NHOM 10 = medical supplies (QĐ 5937/QĐ-BYT 2021 Appendix 3; domain brief 3.4).
SUPPLIES_COST_GROUP = 10
# Arithmetic context of the engine, whatever the caller's: amounts up to 10^15 VND with 3-decimal
# quantities and percentages stay exact well within 34 digits.
_CONTEXT = Context(prec=34, rounding=ROUND_HALF_UP)
_UPPER_LEVELS = ("central", "provincial")


class BenefitInputError(ValueError):
    """A line or context the engine cannot split (negative amount, ratio outside 0–100, unknown
    route...). The message names the line's ref, never the patient."""


def _clean_rate(value: Decimal) -> Decimal:
    """A percentage without trailing zeros: 80.0000 -> 80, 47.50 -> 47.5."""
    integral = value.to_integral_value()
    return integral.quantize(Decimal(1)) if value == integral else value.normalize()


def card_is_valid(card: CardContext, on: date, params: BenefitParams) -> bool:
    """Valid from `valid_from` to `valid_to` plus the grace days of a card expiring during
    treatment (NĐ 188 Art. 50 cl. 4). Whether the treatment began before expiry, and late
    presentation, are for the caller (`insurance.cards`) to decide."""
    if on < card.valid_from:
        return False
    if card.valid_to is None:
        return True
    return on <= card.valid_to + timedelta(days=params.card_expiry_grace_days)


def card_rate(card: CardContext, params: BenefitParams) -> tuple[Decimal, int, tuple[str, ...]]:
    """The card's rate: its digit's rate, or its group's digit in force when that is higher
    (a person in several groups gets the highest rate, Art. 22 cl. 2). Returns (rate, digit used,
    reasons)."""
    digit = card.benefit_digit
    if digit not in params.card_rates:
        raise BenefitInputError(f"Mã quyền lợi {digit} không có mức hưởng trong tham số.")
    rate = params.card_rates[digit]
    group_digit = params.group_digits.get(card.group_code.upper())
    if group_digit is not None and params.card_rates.get(group_digit, ZERO) > rate:
        return _clean_rate(params.card_rates[group_digit]), group_digit, (R.GROUP_RATE,)
    return _clean_rate(rate), digit, (R.CARD_RATE,)


def route_categories(visit: VisitContext) -> tuple[str, ...]:
    """Facility categories for the self-referral table, most specific first.

    Before 2025 only the plain level rows (central / provincial / basic / primary) are in force;
    from 2025 the technical-level rows: a basic-level facility by its former level (provincial or
    central before 2025) and then by its score (< 50 or provisional, 50 to < 70, 70 and more); a
    central or provincial facility is specialised, by its former level. The first category with a
    row in force wins (`route_rate`)."""
    level = visit.facility_level
    former = visit.former_level or level
    found: list[str] = []
    if level == "basic":
        if former in _UPPER_LEVELS:
            found.append("basic_former_upper")
        score = visit.basic_level_score
        if score is None or score < 50:
            found.append("basic_under_50")
        elif score < 70:
            found.append("basic_50_to_70")
        else:
            found.append("basic_70_plus")
    elif level in _UPPER_LEVELS:
        found.append(f"specialised_former_{former}")
        found.append("specialised")
    found.append(level)
    return tuple(found)


def route_rate(visit: VisitContext, params: BenefitParams) -> tuple[Decimal, tuple[str, ...]]:
    """The route factor (percent) and its reason: 100 on the correct route, with a referral and in
    emergency (Art. 22 cl. 5); for self-referral the dated table by facility category and kind."""
    route = visit.route
    if route == "correct":
        return HUNDRED, (R.CORRECT_ROUTE,)
    if route == "referral":
        return HUNDRED, (R.REFERRAL,)
    if route == "emergency":
        return HUNDRED, (R.EMERGENCY,)
    for category in route_categories(visit):
        rate = params.route_rates.get(f"{category}:{visit.kind}")
        if rate is not None:
            return _clean_rate(rate), (R.SELF_REFERRED,)
    return ZERO, (R.SELF_REFERRED, R.ROUTE_RATE_MISSING)


def copay_exempt(card: CardContext, on: date) -> bool:
    """NGAY_MIEN_CCT on or before the date, in the same calendar year (the exemption lasts until
    31/12), and the five consecutive years reached (NAM_NAM_LIEN_TUC on or before the date)."""
    start = card.copay_exempt_from
    if start is None or card.five_years_date is None:
        return False
    return start <= on and on.year == start.year and card.five_years_date <= on


def _check_visit(visit: VisitContext) -> None:
    if visit.kind not in VISIT_KINDS:
        raise BenefitInputError(f"Loại lượt khám không hợp lệ: {visit.kind!r}.")
    if visit.route not in ROUTES:
        raise BenefitInputError(f"Tuyến không hợp lệ: {visit.route!r}.")
    if visit.facility_level not in FACILITY_LEVELS:
        raise BenefitInputError(f"Cấp cơ sở không hợp lệ: {visit.facility_level!r}.")


def _apply_sources(sources: OtherSources, limit: Decimal, ref: str) -> tuple[OtherSources, bool]:
    """Each source rounded, taken in order (NSNN, VTNN, VTTN, CL) up to `limit`; (applied, capped)."""
    parts = []
    left = limit
    capped = False
    for amount in (sources.nsnn, sources.vtnn, sources.vttn, sources.cl):
        if amount < ZERO:
            raise BenefitInputError(f"Dòng {ref}: nguồn chi trả khác không được âm.")
        amount = quantize_money(amount)
        if amount > left:
            amount, capped = left, True
        parts.append(amount)
        left -= amount
    return OtherSources(*parts), capped


def _merge(a: OtherSources, b: OtherSources) -> OtherSources:
    if a is NO_OTHER_SOURCES:
        return b
    if b is NO_OTHER_SOURCES:
        return a
    return OtherSources(a.nsnn + b.nsnn, a.vtnn + b.vtnn, a.vttn + b.vttn, a.cl + b.cl)


def split_lines(
    *,
    card: CardContext | None,
    visit: VisitContext,
    lines: Sequence[ChargeLineInput],
    params: BenefitParams,
) -> SplitResult:
    """Split every line of one visit into fund share, co-payment, self-pay and other sources.

    No card (or a card not valid on `visit.on`): everything is self-pay. Lines come back in input
    order; `totals` are their sums. Raises BenefitInputError on a line it cannot split.
    """
    _check_visit(visit)
    with localcontext(_CONTEXT):
        return _split(card, visit, lines, params)


def _split(card, visit, lines, params) -> SplitResult:
    quantize = quantize_money
    on = visit.on
    covered = card is not None and card_is_valid(card, on, params)
    if covered:
        c_rate, digit, card_reasons = card_rate(card, params)
        covers_out_of_scope = digit in params.out_of_scope_digits
        waives_ratio = digit in params.ratio_waived_digits
    else:
        c_rate, digit, card_reasons = ZERO, 0, ()
        covers_out_of_scope = waives_ratio = False
    cap = quantize(params.supplies_cap)

    # Pass 1: amounts at hospital and BHYT prices, facility-wide support, the supplies cap.
    prepared = []
    in_scope_total = ZERO
    for line in lines:
        q = line.quantity
        hp = line.hospital_price
        bp = line.bhyt_price
        sr = line.service_ratio
        br = line.bhyt_ratio
        if q < ZERO or hp < ZERO or (bp is not None and bp < ZERO):
            raise BenefitInputError(f"Dòng {line.ref}: số lượng và đơn giá không được âm.")
        if not (ZERO <= sr <= HUNDRED and ZERO <= br <= HUNDRED):
            raise BenefitInputError(f"Dòng {line.ref}: tỷ lệ thanh toán phải từ 0 đến 100.")
        hospital = quantize(q * hp)
        why: list[str] = []
        price = None
        if not covered:
            pass
        elif line.in_scope:
            if bp is None:
                why.append(R.NO_BHYT_PRICE)
            else:
                price = bp
        elif covers_out_of_scope:
            price = hp if bp is None else bp
            why.append(R.OUT_OF_SCOPE_COVERED)
        else:
            why.append(R.OUT_OF_SCOPE)
        if price is None:
            bhyt = ZERO
        else:
            raw = q * price
            if sr != HUNDRED:
                raw = raw * sr / HUNDRED
                why.append(R.RATIO_REDUCED)
            if br != HUNDRED:
                if waives_ratio:
                    why.append(R.RATIO_WAIVED)
                else:
                    raw = raw * br / HUNDRED
                    if sr == HUNDRED:
                        why.append(R.RATIO_REDUCED)
            bhyt = quantize(raw)
            if bp is not None and bp < hp:
                why.append(R.PRICE_DIFFERENCE)
            if bhyt > hospital:
                bhyt = hospital
                why.append(R.BHYT_ABOVE_HOSPITAL)
        base = hospital
        facility = NO_OTHER_SOURCES
        support = line.facility_support
        if support is not NO_OTHER_SOURCES and support:
            # Support to the facility as a whole comes off the line's total first (QĐ 130);
            # the BHYT amount shrinks in the same proportion (prices may differ: UNCONFIRMED).
            facility, _ = _apply_sources(support, hospital, line.ref)
            taken = facility.total
            if taken:
                base = hospital - taken
                if bhyt:
                    bhyt = quantize(bhyt * base / hospital)
                why.append(R.FACILITY_SUPPORT)
        line_cap = None
        if covered and line.cost_group == SUPPLIES_COST_GROUP:
            line_cap = cap
            if bhyt > cap:
                bhyt = cap
                why.append(R.SUPPLIES_CAP)
        in_scope_total += bhyt
        prepared.append((line, hospital, base, bhyt, facility, why, line_cap))

    # The visit's rate, once.
    if card is None:
        rate, r_rate, rate_reasons = ZERO, ZERO, (R.NO_CARD,)
    elif not covered:
        rate, r_rate, rate_reasons = ZERO, ZERO, (R.CARD_NOT_VALID,)
    else:
        r_rate, route_reasons = route_rate(visit, params)
        base_rate = c_rate
        full: list[str] = []
        if c_rate < HUNDRED or r_rate < HUNDRED:
            if params.primary_level_full_rate and (
                visit.facility_level == "primary" or visit.facility_kind == COMMUNE_STATION
            ):
                full.append(R.PRIMARY_LEVEL)
                r_rate, route_reasons = HUNDRED, ()
            if c_rate < HUNDRED:
                if copay_exempt(card, on):
                    full.append(R.COPAY_EXEMPT)
                if in_scope_total < params.small_visit_threshold:
                    full.append(R.SMALL_VISIT)
        if full:
            base_rate = HUNDRED
        rate = _clean_rate(base_rate * r_rate / HUNDRED)
        rate_reasons = (*card_reasons, *route_reasons, *full)

    # Pass 2: the split of each line, then other sources per patient.
    out = []
    t_hospital = t_bhyt = t_fund = t_copay = t_self = t_other = t_ffs = ZERO
    t_detail = NO_OTHER_SOURCES
    full_rate = rate == HUNDRED
    for line, hospital, base, bhyt, detail, why, line_cap in prepared:
        if full_rate:
            fund = bhyt
        elif rate:
            fund = quantize(bhyt * rate / HUNDRED)
        else:
            fund = ZERO
        copay = bhyt - fund
        self_pay = base - bhyt
        other = hospital - base
        if line.arv and copay:
            # ARV drugs: another source pays the co-payment (QĐ 130); booked as NSNN (UNCONFIRMED).
            detail = _merge(detail, OtherSources(nsnn=copay))
            other += copay
            copay = ZERO
            why.append(R.ARV_COPAY)
        sources = line.other_sources
        if sources is not NO_OTHER_SOURCES and sources:
            applied, capped = _apply_sources(sources, self_pay + copay + fund, line.ref)
            given = applied.total
            if given:
                # Support to this patient: first T_BNTT, then T_BNCCT, then T_BHTT (QĐ 130).
                rest = given
                take = min(rest, self_pay)
                self_pay -= take
                rest -= take
                take = min(rest, copay)
                copay -= take
                rest -= take
                fund -= rest
                other += given
                detail = _merge(detail, applied)
                why.append(R.PATIENT_SUPPORT)
            if capped:
                why.append(R.SUPPORT_CAPPED)
        out.append(
            LineSplit(
                line.ref,
                hospital,
                bhyt,
                rate,
                fund,
                copay,
                self_pay,
                other,
                (*rate_reasons, *why) if why else rate_reasons,
                detail,
                line_cap,
            )
        )
        t_hospital += hospital
        t_bhyt += bhyt
        t_fund += fund
        t_copay += copay
        t_self += self_pay
        t_other += other
        if line.payment_method == 1:
            t_ffs += fund
        if detail is not NO_OTHER_SOURCES:
            t_detail = _merge(t_detail, detail)

    totals = SplitTotals(
        hospital_amount=t_hospital,
        bhyt_amount=t_bhyt,
        fund=t_fund,
        copay=t_copay,
        self_pay=t_self,
        other=t_other,
        fund_fee_for_service=t_ffs,
        other_detail=t_detail,
    )
    return SplitResult(
        lines=tuple(out),
        totals=totals,
        benefit_rate=rate,
        reasons=rate_reasons,
        card_rate=c_rate,
        route_rate=r_rate,
        small_visit_threshold=params.small_visit_threshold if covered else ZERO,
        in_scope_total=in_scope_total,
    )
