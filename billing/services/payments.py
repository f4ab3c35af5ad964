"""Payments of invoices and deposits of stays; voids of mistaken ones."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    CashierShift,
    Deposit,
    DepositStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    ShiftStatus,
)
from billing.services.common import (
    APPROVE_PERM,
    TAKE_PERM,
    ZERO,
    _audit,
    _key,
    _key_reused,
    _locked_invoice,
    _method,
    _open_shift,
    _reason,
    _require,
    _set_paid,
    _vnd,
    money_amount,
)
from ehealth.core import permissions
from ehealth.core.models import Facility
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import Encounter

# --- Payments ----------------------------------------------------------------------------------


@transaction.atomic
def payment_take(
    *,
    actor,
    facility: Facility,
    shift: CashierShift,
    invoice: Invoice,
    amount,
    method: str,
    idempotency_key: str,
) -> Payment:
    """Take a payment of an outpatient invoice in the actor's open shift.

    A retried request (same key) returns the first payment. Refused: nothing due (already paid,
    e.g. at another desk a moment ago), an amount of zero or less, above what is due.
    """
    _require(actor, TAKE_PERM, facility)
    key = _key(idempotency_key)
    method = _method(method)
    amount = money_amount(amount)
    invoice = _locked_invoice(facility=facility, invoice=invoice)
    first = Payment.objects.filter(idempotency_key=key).first()
    if first is not None:
        if first.invoice_id == invoice.pk and first.amount == amount and first.method == method:
            return first
        raise _key_reused()
    shift = _open_shift(actor=actor, facility=facility, shift=shift)
    if invoice.encounter.kind == EncounterKind.INPATIENT:
        raise ValidationError(
            _("Đợt điều trị nội trú: nhận tạm ứng, và thanh toán khi quyết toán ra viện.")
        )
    due = invoice.amount_due
    if due <= 0:
        raise ValidationError(_("Hoá đơn đã được thanh toán đủ. Không thu thêm."))
    if amount > due:
        raise ValidationError(
            {"amount": [_("Số tiền vượt quá số còn phải trả (%(due)s đồng).") % {"due": _vnd(due)}]}
        )
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                invoice=invoice,
                facility=facility,
                shift=shift,
                amount=amount,
                method=method,
                idempotency_key=key,
                received_by=actor,
                received_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise _key_reused() from exc
    _set_paid(invoice, amount)
    _audit(
        actor,
        "payment.take",
        payment,
        invoice.patient_id,
        facility,
        invoice_id=invoice.pk,
        shift_id=shift.pk,
        amount=amount,
        method=method,
    )
    return payment


@transaction.atomic
def payment_void(*, actor, facility: Facility, payment: Payment, reason: str) -> Payment:
    """Void a mistaken payment (never a delete) while its shift is still open; afterwards money
    goes back through a refund. The cashier of the shift or an approver may void."""
    _require(actor, TAKE_PERM, facility)
    reason = _reason(reason)
    invoice = _locked_invoice(facility=facility, invoice=payment.invoice)
    payment = Payment.objects.select_for_update().filter(pk=payment.pk, invoice=invoice).first()
    if payment is None:
        raise Http404
    if payment.status != PaymentStatus.COMPLETED:
        raise ValidationError(_("Phiếu thu đã được huỷ trước đó."))
    shift = CashierShift.objects.select_for_update().get(pk=payment.shift_id)
    if shift.status != ShiftStatus.OPEN:
        raise ValidationError(
            _("Ca thu ngân của phiếu thu đã đóng: không huỷ được, hãy lập phiếu hoàn tiền.")
        )
    if shift.opened_by_id != actor.pk and not permissions.has_perm_at(
        actor, APPROVE_PERM, facility.pk
    ):
        raise PermissionDenied(_("Chỉ thu ngân của ca hoặc người duyệt được huỷ phiếu thu này."))
    if invoice.status == InvoiceStatus.SETTLED:
        raise ValidationError(_("Đợt điều trị đã quyết toán: không huỷ phiếu thu."))
    payment.status, payment.voided_at, payment.voided_by = (
        PaymentStatus.VOIDED,
        timezone.now(),
        actor,
    )
    payment.void_reason = reason
    payment.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    _set_paid(invoice, -payment.amount)
    _audit(
        actor,
        "payment.void",
        payment,
        invoice.patient_id,
        facility,
        invoice_id=invoice.pk,
        amount=payment.amount,
    )
    return payment


# --- Deposits ----------------------------------------------------------------------------------


def _open_stay(*, facility: Facility, encounter: Encounter) -> Encounter:
    stay = (
        Encounter.objects.select_for_update(of=("self",))
        .filter(pk=encounter.pk, facility=facility, voided_at__isnull=True)
        .first()
    )
    if stay is None:
        raise Http404
    if stay.kind != EncounterKind.INPATIENT:
        raise ValidationError(_("Chỉ nhận tạm ứng cho người bệnh điều trị nội trú."))
    if stay.status == EncounterStatus.CANCELLED:
        raise ValidationError(_("Đợt điều trị đã huỷ."))
    if stay.invoices.filter(status=InvoiceStatus.SETTLED).exists():
        raise ValidationError(_("Đợt điều trị đã quyết toán: không nhận thêm tạm ứng."))
    return stay


@transaction.atomic
def deposit_take(
    *,
    actor,
    facility: Facility,
    shift: CashierShift,
    encounter: Encounter,
    amount,
    method: str,
    idempotency_key: str,
) -> Deposit:
    """Take an advance deposit for an inpatient stay (several, at any time before settlement)."""
    _require(actor, TAKE_PERM, facility)
    key = _key(idempotency_key)
    method = _method(method)
    amount = money_amount(amount)
    stay = _open_stay(facility=facility, encounter=encounter)
    first = Deposit.objects.filter(idempotency_key=key).first()
    if first is not None:
        if first.encounter_id == stay.pk and first.amount == amount and first.method == method:
            return first
        raise _key_reused()
    shift = _open_shift(actor=actor, facility=facility, shift=shift)
    try:
        with transaction.atomic():
            deposit = Deposit.objects.create(
                encounter=stay,
                facility=facility,
                shift=shift,
                amount=amount,
                method=method,
                idempotency_key=key,
                received_by=actor,
                received_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise _key_reused() from exc
    _audit(
        actor,
        "deposit.take",
        deposit,
        stay.patient_id,
        facility,
        encounter_id=stay.pk,
        shift_id=shift.pk,
        amount=amount,
        method=method,
    )
    return deposit


@transaction.atomic
def deposit_void(*, actor, facility: Facility, deposit: Deposit, reason: str) -> Deposit:
    """Void a deposit taken by mistake, while its shift is open and before settlement."""
    _require(actor, TAKE_PERM, facility)
    reason = _reason(reason)
    stay = _open_stay(facility=facility, encounter=deposit.encounter)
    deposit = Deposit.objects.select_for_update().filter(pk=deposit.pk, encounter=stay).first()
    if deposit is None:
        raise Http404
    if deposit.status != DepositStatus.HELD:
        raise ValidationError(_("Khoản tạm ứng này không còn huỷ được."))
    shift = CashierShift.objects.select_for_update().get(pk=deposit.shift_id)
    if shift.status != ShiftStatus.OPEN:
        raise ValidationError(_("Ca thu ngân của khoản tạm ứng đã đóng: không huỷ được."))
    if shift.opened_by_id != actor.pk and not permissions.has_perm_at(
        actor, APPROVE_PERM, facility.pk
    ):
        raise PermissionDenied(_("Chỉ thu ngân của ca hoặc người duyệt được huỷ khoản này."))
    deposit.status, deposit.voided_at, deposit.voided_by = (
        DepositStatus.VOIDED,
        timezone.now(),
        actor,
    )
    deposit.void_reason = reason
    deposit.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    _audit(actor, "deposit.void", deposit, stay.patient_id, facility, amount=deposit.amount)
    return deposit


def deposits_held(encounter: Encounter) -> Decimal:
    """The total of a stay's deposits not yet voided or applied."""
    total = Deposit.objects.filter(encounter=encounter, status=DepositStatus.HELD).aggregate(
        t=Sum("amount")
    )["t"]
    return total or ZERO
