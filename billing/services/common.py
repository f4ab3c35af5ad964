"""Checks shared by the cashier's desk services (see billing/services/__init__.py)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    CashierShift,
    Invoice,
    InvoiceStatus,
    PaymentMethod,
    ShiftStatus,
)
from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from ehealth.core.money import quantize_money
from patients.clinical_choices import EncounterKind

TAKE_PERM = "billing.take_payment"
SHIFT_PERM = "billing.manage_shift"
APPROVE_PERM = "billing.approve_refund"
ZERO = Decimal(0)
METHODS = tuple(PaymentMethod.values)


# --- Checks shared by the services -------------------------------------------------------------


def _require(actor, perm: str, facility: Facility) -> None:
    if not permissions.has_perm_at(actor, perm, facility.pk):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


def money_amount(value, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """A positive Decimal amount (VND) from a form value, or a field error in Vietnamese."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float.")
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise ValidationError({field: [_("Số tiền không hợp lệ.")]})
    amount = quantize_money(amount)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError({field: [_("Số tiền phải lớn hơn 0.")]})
    return amount


def _method(value: str) -> str:
    if value not in METHODS:
        raise ValidationError({"method": [_("Hình thức thanh toán không hợp lệ.")]})
    return value


def _key(value: str) -> str:
    key = (value or "").strip()
    if not key or len(key) > 64:
        raise ValidationError({"idempotency_key": [_("Thiếu mã yêu cầu (idempotency key).")]})
    return key


def _reason(value: str, field: str = "reason") -> str:
    reason = (value or "").strip()
    if not reason:
        raise ValidationError({field: [_("Cần ghi lý do.")]})
    return reason[:500]


def _vnd(amount: Decimal) -> str:
    return f"{amount:,.0f}".replace(",", ".")


def _key_reused() -> ValidationError:
    return ValidationError(
        {"idempotency_key": [_("Mã yêu cầu này đã được dùng cho một giao dịch khác.")]}
    )


def _open_shift(*, actor, facility: Facility, shift: CashierShift) -> CashierShift:
    """The actor's own open shift at the facility, locked for the transaction."""
    locked = CashierShift.objects.select_for_update().filter(pk=shift.pk).first()
    if locked is None or locked.facility_id != facility.pk:
        raise Http404
    if locked.opened_by_id != actor.pk:
        raise ValidationError(_("Đây không phải ca thu ngân của bạn."))
    if locked.status != ShiftStatus.OPEN:
        raise ValidationError(_("Ca thu ngân đã đóng: không nhận thêm giao dịch."))
    return locked


def _locked_invoice(*, facility: Facility, invoice: Invoice) -> Invoice:
    locked = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("encounter")
        .filter(pk=invoice.pk, facility=facility)
        .first()
    )
    if locked is None:
        raise Http404
    if locked.status == InvoiceStatus.CANCELLED:
        raise ValidationError(_("Hoá đơn đã huỷ."))
    return locked


def _set_paid(invoice: Invoice, delta: Decimal, **extra) -> None:
    """Move paid_amount by `delta` in SQL (the CHECK constraint sees the true sum) and keep the
    in-memory row in step. Outpatient invoices are PAID exactly when nothing is due."""
    invoice.paid_amount += delta
    if "status" not in extra and invoice.encounter.kind == EncounterKind.OUTPATIENT:
        paid_up = invoice.paid_amount == invoice.patient_amount
        extra["status"] = InvoiceStatus.PAID if paid_up else InvoiceStatus.OPEN
    Invoice.objects.filter(pk=invoice.pk).update(
        paid_amount=F("paid_amount") + delta, updated_at=timezone.now(), **extra
    )
    for name, value in extra.items():
        setattr(invoice, name, value)


def _audit(actor, action: str, target, patient_id: int, facility: Facility, **detail) -> None:
    clean = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in detail.items()}
    audit_record(
        actor=actor,
        action=action,
        target=target,
        patient_id=patient_id,
        detail={"facility_id": facility.pk, **clean},
    )
