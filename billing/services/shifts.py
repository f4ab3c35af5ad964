"""Cashier shifts: open with a float, close with the count; the close report."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    CashierShift,
    Deposit,
    DepositStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    ShiftStatus,
)
from billing.services.common import (
    METHODS,
    SHIFT_PERM,
    ZERO,
    _audit,
    _open_shift,
    _require,
    money_amount,
)
from ehealth.core.models import Facility

# --- Shifts ------------------------------------------------------------------------------------


@transaction.atomic
def shift_open(*, actor, facility: Facility, opening_float=ZERO) -> CashierShift:
    """Open the actor's cashier shift with a cash float (one open shift per cashier: DB rule)."""
    _require(actor, SHIFT_PERM, facility)
    amount = money_amount(opening_float, field="opening_float", allow_zero=True)
    try:
        with transaction.atomic():
            shift = CashierShift.objects.create(
                facility=facility, opened_by=actor, opened_at=timezone.now(), opening_float=amount
            )
    except IntegrityError as exc:
        raise ValidationError(
            _("Bạn đang có một ca thu ngân chưa đóng. Hãy đóng ca đó trước khi mở ca mới.")
        ) from exc
    _audit(actor, "shift.open", shift, None, facility, opening_float=amount)
    return shift


@dataclass(frozen=True)
class ShiftMethodRow:
    method: str
    label: str
    expected: Decimal
    counted: Decimal | None
    difference: Decimal | None  # counted − expected (negative = short)


@dataclass(frozen=True)
class ShiftReport:
    """Expected against counted money per payment method of one shift."""

    shift_id: int
    opening_float: Decimal
    rows: tuple[ShiftMethodRow, ...]
    payments: int
    deposits: int
    refunds: int

    @property
    def expected_total(self) -> Decimal:
        return sum((r.expected for r in self.rows), ZERO)

    @property
    def counted_total(self) -> Decimal:
        return sum((r.counted or ZERO for r in self.rows), ZERO)

    @property
    def difference_total(self) -> Decimal:
        return self.counted_total - self.expected_total


def shift_expected(shift: CashierShift) -> tuple[dict[str, Decimal], dict[str, int]]:
    """What the drawer and terminals should hold per method: the float (cash), plus payments and
    deposits taken (not voided), less refunds paid out. Three queries."""
    expected = dict.fromkeys(METHODS, ZERO)
    expected[PaymentMethod.CASH] += shift.opening_float
    counts = {}
    sources = (
        ("payments", Payment.objects.filter(shift=shift, status=PaymentStatus.COMPLETED), 1),
        ("deposits", Deposit.objects.filter(shift=shift).exclude(status=DepositStatus.VOIDED), 1),
        ("refunds", Refund.objects.filter(shift=shift, status=RefundStatus.COMPLETED), -1),
    )
    for name, qs, sign in sources:
        rows = qs.values("method").annotate(total=Sum("amount"), n=Count("id"))
        counts[name] = 0
        for row in rows:
            expected[row["method"]] += sign * row["total"]
            counts[name] += row["n"]
    return expected, counts


def shift_report(*, shift: CashierShift) -> ShiftReport:
    """The close report: expected vs counted per method (counted empty while the shift is open)."""
    expected, counts = shift_expected(shift)
    labels = dict(PaymentMethod.choices)
    rows = []
    for method in METHODS:
        counted = shift.counted.get(method)
        counted = Decimal(counted) if counted is not None else None
        rows.append(
            ShiftMethodRow(
                method=method,
                label=str(labels[method]),
                expected=expected[method],
                counted=counted,
                difference=None if counted is None else counted - expected[method],
            )
        )
    return ShiftReport(
        shift_id=shift.pk,
        opening_float=shift.opening_float,
        rows=tuple(rows),
        payments=counts["payments"],
        deposits=counts["deposits"],
        refunds=counts["refunds"],
    )


@transaction.atomic
def shift_close(
    *, actor, facility: Facility, shift: CashierShift, counted: dict, note: str = ""
) -> ShiftReport:
    """Close the actor's shift with the money counted per method (a method not given counts 0).
    Afterwards the shift accepts nothing more."""
    _require(actor, SHIFT_PERM, facility)
    shift = _open_shift(actor=actor, facility=facility, shift=shift)
    unknown = set(counted) - set(METHODS)
    if unknown:
        raise ValidationError({"counted": [_("Hình thức thanh toán không hợp lệ.")]})
    counted_clean = {
        m: money_amount(counted.get(m, ZERO), field=f"counted_{m}", allow_zero=True)
        for m in METHODS
    }
    expected, _counts = shift_expected(shift)
    shift.status, shift.closed_at, shift.closed_by = ShiftStatus.CLOSED, timezone.now(), actor
    shift.counted = {m: str(v) for m, v in counted_clean.items()}
    shift.expected = {m: str(v) for m, v in expected.items()}
    shift.note = (note or "").strip()[:500]
    shift.save(update_fields=["status", "closed_at", "closed_by", "counted", "expected", "note"])
    report = shift_report(shift=shift)
    _audit(
        actor,
        "shift.close",
        shift,
        None,
        facility,
        expected={m: str(v) for m, v in expected.items()},
        counted=shift.counted,
        difference=str(report.difference_total),
    )
    return report
