"""Pieces shared by the fee and claim mappers (ChargeItem, Invoice, Claim, ClaimResponse).

Money is Decimal in the domain and a JSON number on the wire: `number` gives the int when the
amount is whole (VND almost always is) and otherwise the float whose shortest repr is the same
decimal, so the value on the wire is exactly the Decimal (amounts have at most 15 significant
digits, which a double holds without loss). Pure functions, no database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.mappers import datatypes as dt

CURRENCY = "VND"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The parts of a charge under the BHYT split (PRICE_COMPONENT_CS): code -> (QĐ 130 name, display).
HOSPITAL = "hospital"
BHYT_SCOPE = "bhyt-scope"
FUND = "fund"
OTHER = "other"
COPAY = "copay"
SELF_PAY = "self-pay"
PRICE_COMPONENTS = {
    HOSPITAL: "Thành tiền theo giá bệnh viện (THANH_TIEN_BV)",
    BHYT_SCOPE: "Thành tiền trong phạm vi BHYT (THANH_TIEN_BH)",
    FUND: "Quỹ BHYT thanh toán (T_BHTT)",
    OTHER: "Nguồn khác chi trả (T_NGUONKHAC)",
    COPAY: "Người bệnh cùng chi trả (T_BNCCT)",
    SELF_PAY: "Người bệnh tự trả (T_BNTT)",
}


def number(value: Decimal | int | str) -> int | float:
    """A Decimal as a JSON number of exactly the same value (int when whole)."""
    d = Decimal(value)
    if d == d.to_integral_value():
        return int(d)
    out = float(d)
    if Decimal(repr(out)) != d:  # more digits than a double holds: never for DB amounts
        raise ValueError(f"{d} cannot be written exactly as a JSON number")
    return out


def money(value: Decimal | int | str) -> dict[str, Any]:
    return {"value": number(value), "currency": CURRENCY}


def version_stamp(*moments: datetime | None) -> int:
    """A version number for records without a change counter: the time of their last change,
    in milliseconds since 1970 (grows with every change; opaque to clients)."""
    latest = max((m for m in moments if m is not None), default=None)
    return 1 if latest is None else (latest - _EPOCH) // timedelta(milliseconds=1)


def local_iso(moment: datetime) -> str:
    """An instant in Asia/Ho_Chi_Minh with its offset (`+07:00`)."""
    return timezone.localtime(moment).isoformat()


def meta(version: int, last_updated: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {"versionId": str(version)}
    if last_updated is not None:
        out["lastUpdated"] = local_iso(last_updated)
    return out


def reference(resource_type: str, pk: int | None) -> dict[str, str]:
    return {"reference": f"{resource_type}/{pk}"}


def price_component(kind: str, code: str, amount: Decimal) -> dict[str, Any]:
    """An Invoice price component with its code in the local BHYT split CodeSystem."""
    return {
        "type": kind,
        "code": {"coding": [dt.coding(systems.PRICE_COMPONENT_CS, code, PRICE_COMPONENTS[code])]},
        "amount": money(amount),
    }


def split_components(
    *,
    hospital: Decimal,
    bhyt: Decimal,
    fund: Decimal,
    other: Decimal,
    copay: Decimal,
    self_pay: Decimal,
) -> list[dict[str, Any]]:
    """The BHYT split as price components: the hospital amount is the `base`; what the fund and
    other sources pay are `deduction`s (net = base - deductions = what the patient owes); the
    in-scope amount, the co-payment and the self-pay are `informational`."""
    return [
        price_component("base", HOSPITAL, hospital),
        price_component("informational", BHYT_SCOPE, bhyt),
        price_component("deduction", FUND, fund),
        price_component("deduction", OTHER, other),
        price_component("informational", COPAY, copay),
        price_component("informational", SELF_PAY, self_pay),
    ]
