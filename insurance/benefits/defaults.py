"""The benefit engine's dated parameters as the domain brief gives them, and their resolution.

`DEFAULT_PARAMETERS` are the rows `manage.py load_benefit_parameters` writes into
`insurance.BenefitParameter` (an admin may then edit them); `params_from_rows` turns the rows in
force on a date into a `BenefitParams`. Pure: no ORM (the ORM side is `parameters.py`).

Resolution, per (key, qualifier): among the rows in force on the date
(valid_from <= date <= valid_to, or valid_to empty), the one with the latest valid_from wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from insurance.benefits.types import HUNDRED, BenefitParams

BASE_SALARY = "base_salary"
SMALL_VISIT_RATIO = "small_visit_threshold_ratio"
SUPPLIES_CAP_MULTIPLIER = "supplies_cap_multiplier"
COPAY_EXEMPTION_MULTIPLIER = "copay_exemption_multiplier"
CARD_RATE = "card_rate"  # qualifier: benefit digit "1".."5"
GROUP_DIGIT = "group_digit"  # qualifier: group code, value: digit in force for the group
ROUTE_RATE = "route_rate"  # qualifier: "<category>:<kind>", see engine.route_categories
RATIO_LIMIT_WAIVED = "ratio_limit_waived"  # qualifier: digit; value 1 = on
OUT_OF_SCOPE_COVERED = "out_of_scope_covered"  # qualifier: digit; value 1 = on
PRIMARY_LEVEL_FULL_RATE = "primary_level_full_rate"  # value 1 = on
CARD_EXPIRY_GRACE_DAYS = "card_expiry_grace_days"

REQUIRED_KEYS = (BASE_SALARY, SMALL_VISIT_RATIO, SUPPLIES_CAP_MULTIPLIER)

# The first base salary the brief lists: the engine's parameters start here.
EPOCH = date(2019, 7, 1)
LAW_51 = date(2025, 1, 1)  # Law 51/2024/QH15 in force: "tuyến" becomes technical levels
OLD_LAW_END = date(2024, 12, 31)
ND188_OUTPATIENT_50 = date(2026, 7, 1)


class BenefitParameterMissing(LookupError):
    """No parameter row in force for a required rule on the date (message in Vietnamese)."""


@dataclass(frozen=True, slots=True)
class ParameterRow:
    """One dated parameter (the shape of `insurance.BenefitParameter`)."""

    key: str
    qualifier: str
    value: Decimal
    valid_from: date
    valid_to: date | None = None
    source: str = ""
    unconfirmed: bool = False


def _row(key, qualifier, value, valid_from, valid_to=None, *, source, unconfirmed=False):
    return ParameterRow(
        key=key,
        qualifier=qualifier,
        value=Decimal(value),
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
        unconfirmed=unconfirmed,
    )


_BRIEF = "domain brief vietnam-bhyt.md"

# fmt: off
DEFAULT_PARAMETERS: tuple[ParameterRow, ...] = (
    # 2.1 Base salary / reference level (lương cơ sở / mức tham chiếu), VND per month.
    _row(BASE_SALARY, "", "1490000", EPOCH, source=f"NĐ 38/2019/NĐ-CP [impl] ({_BRIEF} 2.1)"),
    _row(BASE_SALARY, "", "1800000", date(2023, 7, 1), source=f"NĐ 24/2023/NĐ-CP [impl] ({_BRIEF} 2.1)"),
    _row(BASE_SALARY, "", "2340000", date(2024, 7, 1), source=f"NĐ 73/2024/NĐ-CP Art. 3 cl. 2 [impl] ({_BRIEF} 2.1)"),
    _row(
        BASE_SALARY, "", "2530000", date(2026, 7, 1), unconfirmed=True,
        source=f"NĐ 161/2026/NĐ-CP, official text not read: UNCONFIRMED ({_BRIEF} 2.1)",
    ),
    # 2.2 A visit whose in-scope total is under 15 % of the base salary is paid at 100 %.
    _row(
        SMALL_VISIT_RATIO, "", "0.15", EPOCH,
        source=f"QĐ 130/QĐ-BYT Table 2 MUC_HUONG [text]; decree article UNCONFIRMED ({_BRIEF} 2.2)",
    ),
    # 2.4 Medical supplies: the fund's base amount is capped at 45 × base salary (T_TRANTT).
    _row(SUPPLIES_CAP_MULTIPLIER, "", "45", EPOCH, source=f"TT 04/2017/TT-BYT [impl] ({_BRIEF} 2.4)"),
    # 2.2 Co-payment exemption: 5 consecutive years and co-payment in the year > 6 × base salary.
    _row(
        COPAY_EXEMPTION_MULTIPLIER, "", "6", EPOCH,
        source=f"Luật BHYT Art. 22 cl. 1 d; NĐ 188/2025 Art. 18 cl. 2 [sec] ({_BRIEF} 2.2)",
    ),
    # 1.1 Benefit-level digit -> base rate [impl, sec].
    _row(CARD_RATE, "1", "100", EPOCH, source=f"QĐ 1351/QĐ-BHXH Art. 2 [sec] ({_BRIEF} 1.1)"),
    _row(CARD_RATE, "2", "100", EPOCH, source=f"QĐ 1351/QĐ-BHXH Art. 2 [sec] ({_BRIEF} 1.1)"),
    _row(CARD_RATE, "3", "95", EPOCH, source=f"QĐ 1351/QĐ-BHXH Art. 2 [sec] ({_BRIEF} 1.1)"),
    _row(CARD_RATE, "4", "80", EPOCH, source=f"QĐ 1351/QĐ-BHXH Art. 2 [sec] ({_BRIEF} 1.1)"),
    _row(CARD_RATE, "5", "100", EPOCH, source=f"QĐ 1351/QĐ-BHXH Art. 2 [sec] ({_BRIEF} 1.1)"),
    # 1.1 Digit 1: no cap on ratio-limited drugs/services; digit 5: out-of-scope costs covered.
    _row(
        RATIO_LIMIT_WAIVED, "1", "1", EPOCH, unconfirmed=True,
        source=f"digit 1 = 100%, no cap on ratio-limited drugs/services [impl, sec]; group->digit table UNCONFIRMED ({_BRIEF} 1.1)",
    ),
    _row(
        OUT_OF_SCOPE_COVERED, "5", "1", EPOCH, unconfirmed=True,
        source=f"digit 5 = 100% including costs outside the benefit scope [impl, sec]; UNCONFIRMED ({_BRIEF} 1.1)",
    ),
    # 1.1 From 01/01/2026 CN moves 3 -> 2 and LH 4 -> 2, whatever digit an older card shows.
    _row(
        GROUP_DIGIT, "CN", "2", date(2026, 1, 1), unconfirmed=True,
        source=f"NQ 261/2025/QH15; CV 38/BYT-BH 06/01/2026 [sec]; group->digit table UNCONFIRMED ({_BRIEF} 1.1)",
    ),
    _row(
        GROUP_DIGIT, "LH", "2", date(2026, 1, 1), unconfirmed=True,
        source=f"NQ 261/2025/QH15; CV 38/BYT-BH 06/01/2026 [sec]; group->digit table UNCONFIRMED ({_BRIEF} 1.1)",
    ),
    # 2.2 Primary-level facilities (commune stations and equivalents): 100 %.
    _row(PRIMARY_LEVEL_FULL_RATE, "", "1", EPOCH, source=f"Luật BHYT Art. 22 cl. 1 [sec]; QĐ 130 MUC_HUONG [text] ({_BRIEF} 2.2, 3.7)"),
    # 1.3 A card expiring during treatment is paid until discharge, at most 15 days after expiry.
    _row(CARD_EXPIRY_GRACE_DAYS, "", "15", EPOCH, source=f"NĐ 188/2025 Art. 50 cl. 4 [sec] ({_BRIEF} 1.3)"),
    # 2.3 Self-referral before 2025 (Law 46/2014 amending Art. 22 cl. 3-4) [impl], × card rate.
    _row(ROUTE_RATE, "central:inpatient", "40", EPOCH, OLD_LAW_END, source=f"Law 46/2014/QH13 [impl]; QĐ 130 example 80 × 40% = 32 [text] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "central:outpatient", "0", EPOCH, OLD_LAW_END, source=f"Law 46/2014/QH13 [impl] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "provincial:inpatient", "60", EPOCH, date(2020, 12, 31), source=f"Law 46/2014/QH13 [impl] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "provincial:inpatient", "100", date(2021, 1, 1), OLD_LAW_END, source=f"Law 46/2014/QH13: 100% from 01/01/2021 [impl] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "provincial:outpatient", "0", EPOCH, OLD_LAW_END, source=f"Law 46/2014/QH13 [impl] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "basic:inpatient", "100", EPOCH, OLD_LAW_END, source=f"Law 46/2014/QH13: district, from 01/01/2016 [impl] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "basic:outpatient", "100", EPOCH, OLD_LAW_END, source=f"Law 46/2014/QH13: district, from 01/01/2016 [impl] ({_BRIEF} 2.3)"),
    _row(ROUTE_RATE, "primary:inpatient", "100", EPOCH, source=f"Law 46/2014/QH13 commune; Law 51/2024 primary level [impl, sec] ({_BRIEF} 2.2, 2.3)"),
    _row(ROUTE_RATE, "primary:outpatient", "100", EPOCH, source=f"Law 46/2014/QH13 commune; Law 51/2024 primary level [impl, sec] ({_BRIEF} 2.2, 2.3)"),
    # 2.3 Since 01/01/2025, outpatient self-referral (NĐ 188/2025 Art. 19) [sec].
    _row(ROUTE_RATE, "basic_under_50:outpatient", "100", LAW_51, source=f"NĐ 188/2025 Art. 19: basic < 50 points or provisional, 100% from 01/01/2025 [sec] ({_BRIEF} 2.3)"),
    _row(
        ROUTE_RATE, "basic_50_to_70:outpatient", "0", LAW_51, date(2026, 6, 30), unconfirmed=True,
        source=f"not paid before the NĐ 188 Art. 19 50% rule: reading, UNCONFIRMED ({_BRIEF} 2.3)",
    ),
    _row(ROUTE_RATE, "basic_50_to_70:outpatient", "50", ND188_OUTPATIENT_50, source=f"NĐ 188/2025 Art. 19 cl. 2: basic scored 50 to < 70, 50% from 01/07/2026 [sec] ({_BRIEF} 2.3, 7 ex. 9)"),
    _row(
        ROUTE_RATE, "basic_70_plus:outpatient", "0", LAW_51, unconfirmed=True,
        source=f"not listed by NĐ 188 Art. 19: reading, UNCONFIRMED ({_BRIEF} 2.3)",
    ),
    _row(
        ROUTE_RATE, "basic_former_upper:outpatient", "0", LAW_51, date(2026, 6, 30), unconfirmed=True,
        source=f"not paid before the NĐ 188 Art. 19 50% rule: reading, UNCONFIRMED ({_BRIEF} 2.3)",
    ),
    _row(ROUTE_RATE, "basic_former_upper:outpatient", "50", ND188_OUTPATIENT_50, source=f"NĐ 188/2025 Art. 19: basic level that was provincial or central before 2025, 50% from 01/07/2026 [sec] ({_BRIEF} 2.3)"),
    _row(
        ROUTE_RATE, "specialised_former_provincial:outpatient", "0", LAW_51, date(2026, 6, 30), unconfirmed=True,
        source=f"not paid before the NĐ 188 Art. 19 50% rule: reading, UNCONFIRMED ({_BRIEF} 2.3)",
    ),
    _row(ROUTE_RATE, "specialised_former_provincial:outpatient", "50", ND188_OUTPATIENT_50, source=f"NĐ 188/2025 Art. 19: specialised level that was provincial before 2025, 50% from 01/07/2026 [sec] ({_BRIEF} 2.3)"),
    _row(
        ROUTE_RATE, "specialised:outpatient", "0", LAW_51, unconfirmed=True,
        source=f"not listed by NĐ 188 Art. 19: reading, UNCONFIRMED ({_BRIEF} 2.3)",
    ),
    # 2.3 Since 01/01/2025, inpatient self-referral under Law 51 (amended Art. 22 cl. 3-4 not read).
    _row(
        ROUTE_RATE, "specialised:inpatient", "40", LAW_51, unconfirmed=True,
        source=f"Law 51/2024/QH15 Art. 22 cl. 3-4 presumably: specialised 40%; UNCONFIRMED ({_BRIEF} 2.3, 7 ex. 5)",
    ),
    _row(
        ROUTE_RATE, "specialised_former_provincial:inpatient", "100", LAW_51, unconfirmed=True,
        source=f"Law 51/2024/QH15 Art. 22 cl. 3-4 presumably: former provincial 100%; UNCONFIRMED ({_BRIEF} 2.3)",
    ),
    _row(
        ROUTE_RATE, "basic:inpatient", "100", LAW_51, unconfirmed=True,
        source=f"Law 51/2024/QH15 Art. 22 cl. 3-4 presumably: basic level 100%; UNCONFIRMED ({_BRIEF} 2.3)",
    ),
)
# fmt: on


def rows_in_force(rows: Iterable[ParameterRow], *, on: date) -> dict[tuple[str, str], ParameterRow]:
    """Per (key, qualifier), the row in force on the date with the latest valid_from."""
    chosen: dict[tuple[str, str], ParameterRow] = {}
    for row in rows:
        if row.valid_from > on or (row.valid_to is not None and row.valid_to < on):
            continue
        slot = (row.key, row.qualifier)
        current = chosen.get(slot)
        if current is None or row.valid_from > current.valid_from:
            chosen[slot] = row
    return chosen


def _percent(value: Decimal, label: str) -> Decimal:
    if not (Decimal(0) <= value <= HUNDRED):
        raise ValueError(f"Tham số {label} phải từ 0 đến 100 (đang là {value}).")
    return value


def params_from_rows(rows: Iterable[ParameterRow], *, on: date) -> BenefitParams:
    """Resolve the rows in force on `on` into a `BenefitParams` (raises BenefitParameterMissing)."""
    chosen = rows_in_force(rows, on=on)
    plain = {key: row.value for (key, qualifier), row in chosen.items() if qualifier == ""}
    for key in REQUIRED_KEYS:
        if key not in plain:
            raise BenefitParameterMissing(
                f"Chưa có tham số quyền lợi BHYT '{key}' có hiệu lực ngày {on:%d/%m/%Y}."
            )
    by_key: dict[str, dict[str, Decimal]] = {}
    for (key, qualifier), row in chosen.items():
        if qualifier:
            by_key.setdefault(key, {})[qualifier] = row.value
    card_rates = {
        int(digit): _percent(value, f"{CARD_RATE}[{digit}]")
        for digit, value in by_key.get(CARD_RATE, {}).items()
    }
    if not card_rates:
        raise BenefitParameterMissing(
            f"Chưa có tham số quyền lợi BHYT '{CARD_RATE}' có hiệu lực ngày {on:%d/%m/%Y}."
        )
    grace = plain.get(CARD_EXPIRY_GRACE_DAYS)
    return BenefitParams(
        on=on,
        base_salary=plain[BASE_SALARY],
        small_visit_ratio=plain[SMALL_VISIT_RATIO],
        supplies_cap_multiplier=plain[SUPPLIES_CAP_MULTIPLIER],
        card_rates=card_rates,
        group_digits={
            group.upper(): int(value) for group, value in by_key.get(GROUP_DIGIT, {}).items()
        },
        route_rates={
            qualifier: _percent(value, f"{ROUTE_RATE}[{qualifier}]")
            for qualifier, value in by_key.get(ROUTE_RATE, {}).items()
        },
        ratio_waived_digits=frozenset(
            int(d) for d, v in by_key.get(RATIO_LIMIT_WAIVED, {}).items() if v
        ),
        out_of_scope_digits=frozenset(
            int(d) for d, v in by_key.get(OUT_OF_SCOPE_COVERED, {}).items() if v
        ),
        primary_level_full_rate=bool(plain.get(PRIMARY_LEVEL_FULL_RATE, 0)),
        card_expiry_grace_days=int(grace) if grace is not None else 0,
        copay_exemption_multiplier=plain.get(COPAY_EXEMPTION_MULTIPLIER),
        unconfirmed=frozenset(
            f"{key}[{qualifier}]" for (key, qualifier), row in chosen.items() if row.unconfirmed
        ),
    )


def default_params(*, on: date) -> BenefitParams:
    """The brief's values in force on `on`, without the database (tests, benchmarks)."""
    return params_from_rows(DEFAULT_PARAMETERS, on=on)
