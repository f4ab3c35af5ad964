"""Inputs and outputs of the benefit engine: frozen dataclasses, no Django, no ORM.

Field names follow the QĐ 130 columns they feed (domain brief 3.4, 3.5, 3.7):
`hospital_amount` = THANH_TIEN_BV, `bhyt_amount` = THANH_TIEN_BH, `benefit_rate` = MUC_HUONG,
`fund` = T_BHTT, `copay` = T_BNCCT, `self_pay` = T_BNTT, `other` = T_NGUONKHAC,
`supplies_cap` = T_TRANTT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)

VISIT_KINDS = ("outpatient", "inpatient")
ROUTES = ("correct", "referral", "emergency", "self_referred")
# core Facility.Level values (ehealth/core/models/facilities.py); kept as plain strings here so the
# engine stays importable without Django.
FACILITY_LEVELS = ("central", "provincial", "basic", "primary")
COMMUNE_STATION = "commune_station"  # core Facility.Kind.COMMUNE_STATION


@dataclass(frozen=True, slots=True)
class CardContext:
    """What the engine needs of a BHYT card (domain brief 1.1, 1.3, 2.2).

    `benefit_digit` is the 3rd character of the code; `five_years_date` is NAM_NAM_LIEN_TUC and
    `copay_exempt_from` NGAY_MIEN_CCT.
    """

    group_code: str
    benefit_digit: int
    valid_from: date
    valid_to: date | None
    five_years_date: date | None = None
    copay_exempt_from: date | None = None
    registered_facility_code: str = ""


@dataclass(frozen=True, slots=True)
class VisitContext:
    """The encounter as the engine sees it.

    `on` is the date the rates and parameters are taken for (the caller chooses it: for a stay,
    the start of the episode). `facility_level` is a core `Facility.Level` value; `former_level`
    the facility's level before 01/01/2025 when it differs (empty = same as now);
    `basic_level_score` the grading score of a basic-level facility (None = provisionally graded).
    """

    on: date
    kind: str  # 'outpatient' | 'inpatient'
    route: str  # 'correct' | 'referral' | 'emergency' | 'self_referred'
    facility_level: str
    facility_kind: str
    facility_code: str
    basic_level_score: int | None = None
    former_level: str = ""


@dataclass(frozen=True, slots=True)
class OtherSources:
    """Other payment sources (T_NGUONKHAC_NSNN, _VTNN, _VTTN, _CL) of one line, in VND."""

    nsnn: Decimal = ZERO
    vtnn: Decimal = ZERO
    vttn: Decimal = ZERO
    cl: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.nsnn + self.vtnn + self.vttn + self.cl

    def __bool__(self) -> bool:
        return bool(self.nsnn or self.vtnn or self.vttn or self.cl)


NO_OTHER_SOURCES = OtherSources()


@dataclass(frozen=True, slots=True)
class ChargeLineInput:
    """One charge line (an XML2 drug or XML3 service/supply row before the split).

    `service_ratio` = TYLE_TT_DV, `bhyt_ratio` = TYLE_TT_BH (percent, 0–100); `bhyt_price` None =
    no BHYT price (the fund pays nothing for it). `other_sources` is support given to this patient
    (deducted after the split); `facility_support` is support given to the facility as a whole for
    this item (deducted from the line's total before the split); `arv` marks an ARV drug, whose
    co-payment is paid by another source (domain brief 3.7). `payment_method` = MA_PTTT
    (1 fee-for-service, 2 capitation, 3 DRG).
    """

    ref: str
    cost_group: int
    quantity: Decimal
    hospital_price: Decimal
    bhyt_price: Decimal | None
    in_scope: bool = True
    service_ratio: Decimal = HUNDRED
    bhyt_ratio: Decimal = HUNDRED
    other_sources: OtherSources = NO_OTHER_SOURCES
    payment_method: int = 1
    facility_support: OtherSources = NO_OTHER_SOURCES
    arv: bool = False


@dataclass(frozen=True, slots=True)
class LineSplit:
    """The split of one line: hospital_amount = fund + copay + self_pay + other, nothing negative.

    `other_detail` gives `other` per source as applied (after any cap); `supplies_cap` is T_TRANTT
    for supply lines (None for other lines). `reasons` are stable codes (see `reasons.REASONS`):
    first the visit's rate reasons, then the line's own.
    """

    ref: str
    hospital_amount: Decimal  # THANH_TIEN_BV
    bhyt_amount: Decimal  # THANH_TIEN_BH
    benefit_rate: Decimal  # MUC_HUONG
    fund: Decimal  # T_BHTT
    copay: Decimal  # T_BNCCT
    self_pay: Decimal  # T_BNTT
    other: Decimal  # T_NGUONKHAC
    reasons: tuple[str, ...]
    other_detail: OtherSources = NO_OTHER_SOURCES
    supplies_cap: Decimal | None = None

    @property
    def patient_amount(self) -> Decimal:
        """What the patient pays for this line: co-payment plus self-pay."""
        return self.copay + self.self_pay


@dataclass(frozen=True, slots=True)
class SplitTotals:
    """Sums over the lines (XML1 T_TONGCHI_BV, T_TONGCHI_BH, T_BHTT, T_BNCCT, T_BNTT,
    T_NGUONKHAC; `fund_fee_for_service` = T_BHTT_GDV, Σ T_BHTT of lines with MA_PTTT = 1)."""

    hospital_amount: Decimal = ZERO
    bhyt_amount: Decimal = ZERO
    fund: Decimal = ZERO
    copay: Decimal = ZERO
    self_pay: Decimal = ZERO
    other: Decimal = ZERO
    fund_fee_for_service: Decimal = ZERO
    other_detail: OtherSources = NO_OTHER_SOURCES

    @property
    def patient_amount(self) -> Decimal:
        return self.copay + self.self_pay


@dataclass(frozen=True, slots=True)
class SplitResult:
    """The split of a visit: its lines in input order, their totals and the visit's rate.

    `reasons` explain `benefit_rate`; `card_rate` and `route_rate` are the two factors before the
    100 % rules; `small_visit_threshold` is 15 % of the base salary in force (domain brief 2.2)
    and `in_scope_total` the Σ THANH_TIEN_BH it was compared with.
    """

    lines: tuple[LineSplit, ...]
    totals: SplitTotals
    benefit_rate: Decimal
    reasons: tuple[str, ...]
    card_rate: Decimal = ZERO
    route_rate: Decimal = ZERO
    small_visit_threshold: Decimal = ZERO
    in_scope_total: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class BenefitParams:
    """All dated parameters resolved for one date (built by `insurance.benefits.parameters`).

    `card_rates`: benefit digit -> percent; `group_digits`: group code -> digit in force for that
    group (overrides that raise the card's rate, e.g. CN and LH from 01/01/2026);
    `route_rates`: "<category>:<kind>" -> percent for self-referral; `ratio_waived_digits`: digits
    whose cards are not limited by TYLE_TT_BH; `out_of_scope_digits`: digits whose cards also cover
    out-of-scope items; `unconfirmed`: "key[qualifier]" of the rows in force that the domain brief
    marks UNCONFIRMED.
    """

    on: date
    base_salary: Decimal
    small_visit_ratio: Decimal
    supplies_cap_multiplier: Decimal
    card_rates: Mapping[int, Decimal]
    group_digits: Mapping[str, int] = field(default_factory=dict)
    route_rates: Mapping[str, Decimal] = field(default_factory=dict)
    ratio_waived_digits: frozenset[int] = frozenset()
    out_of_scope_digits: frozenset[int] = frozenset()
    primary_level_full_rate: bool = True
    card_expiry_grace_days: int = 0
    copay_exemption_multiplier: Decimal | None = None
    unconfirmed: frozenset[str] = frozenset()

    @property
    def small_visit_threshold(self) -> Decimal:
        """15 % of the base salary: a visit whose in-scope total is under it is paid at 100 %."""
        return self.base_salary * self.small_visit_ratio

    @property
    def supplies_cap(self) -> Decimal:
        """T_TRANTT: 45 × base salary, the most the fund's base amount of one supply line can be."""
        return self.base_salary * self.supplies_cap_multiplier

    @property
    def copay_exemption_threshold(self) -> Decimal | None:
        """6 × base salary: co-payment in a calendar year above it earns the exemption."""
        if self.copay_exemption_multiplier is None:
            return None
        return self.base_salary * self.copay_exemption_multiplier
