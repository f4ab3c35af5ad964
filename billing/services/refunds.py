"""Refunds (with approval above the threshold) and the settlement of a stay."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
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
    Refund,
    RefundKind,
    RefundStatus,
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
from ehealth.core.models import Facility
from patients.clinical_choices import EncounterKind, EncounterStatus

# --- Refunds -----------------------------------------------------------------------------------


def _refundable(invoice: Invoice) -> Decimal:
    pending = Refund.objects.filter(invoice=invoice, status=RefundStatus.PENDING).aggregate(
        t=Sum("amount")
    )["t"]
    return invoice.paid_amount - (pending or ZERO)


def _complete_refund(refund: Refund, invoice: Invoice) -> None:
    refund.status, refund.completed_at = RefundStatus.COMPLETED, timezone.now()
    _set_paid(invoice, -refund.amount)


@transaction.atomic
def refund_request(
    *,
    actor,
    facility: Facility,
    shift: CashierShift,
    invoice: Invoice,
    amount,
    method: str,
    reason: str,
    idempotency_key: str,
) -> Refund:
    """Give money paid on an invoice back, with a reason. Up to REFUND_APPROVAL_THRESHOLD it is
    paid out at once from the actor's shift; above it, it waits for a second person's approval."""
    _require(actor, TAKE_PERM, facility)
    key = _key(idempotency_key)
    method = _method(method)
    amount = money_amount(amount)
    reason = _reason(reason)
    invoice = _locked_invoice(facility=facility, invoice=invoice)
    first = Refund.objects.filter(idempotency_key=key).first()
    if first is not None:
        if first.invoice_id == invoice.pk and first.amount == amount:
            return first
        raise _key_reused()
    shift = _open_shift(actor=actor, facility=facility, shift=shift)
    if invoice.status == InvoiceStatus.SETTLED:
        raise ValidationError(_("Đợt điều trị đã quyết toán: không hoàn tiền trên hoá đơn này."))
    refundable = _refundable(invoice)
    if amount > refundable:
        raise ValidationError(
            {
                "amount": [
                    _("Số tiền hoàn vượt quá số đã thu (%(paid)s đồng).")
                    % {"paid": _vnd(max(refundable, ZERO))}
                ]
            }
        )
    refund = Refund(
        invoice=invoice,
        facility=facility,
        shift=shift,
        amount=amount,
        method=method,
        reason=reason,
        idempotency_key=key,
        requested_by=actor,
        requested_at=timezone.now(),
    )
    if amount <= settings.REFUND_APPROVAL_THRESHOLD:
        _complete_refund(refund, invoice)
    try:
        with transaction.atomic():
            refund.save()
    except IntegrityError as exc:
        raise _key_reused() from exc
    _audit(
        actor,
        "refund.request",
        refund,
        invoice.patient_id,
        facility,
        invoice_id=invoice.pk,
        shift_id=shift.pk,
        amount=amount,
        status=refund.status,
    )
    return refund


def _pending_refund(*, facility: Facility, refund: Refund) -> tuple[Refund, Invoice]:
    invoice = _locked_invoice(facility=facility, invoice=refund.invoice)
    refund = Refund.objects.select_for_update().filter(pk=refund.pk, invoice=invoice).first()
    if refund is None:
        raise Http404
    if refund.status != RefundStatus.PENDING:
        raise ValidationError(_("Yêu cầu hoàn tiền đã được xử lý."))
    return refund, invoice


@transaction.atomic
def refund_approve(*, actor, facility: Facility, refund: Refund) -> Refund:
    """A second person approves a refund above the threshold; the money leaves the requesting
    cashier's shift, which must still be open."""
    _require(actor, APPROVE_PERM, facility)
    refund, invoice = _pending_refund(facility=facility, refund=refund)
    if refund.requested_by_id == actor.pk:
        raise ValidationError(_("Người duyệt phải khác người lập yêu cầu hoàn tiền."))
    shift = CashierShift.objects.select_for_update().get(pk=refund.shift_id)
    if shift.status != ShiftStatus.OPEN:
        raise ValidationError(
            _("Ca thu ngân lập yêu cầu đã đóng: hãy lập lại yêu cầu trong một ca đang mở.")
        )
    if refund.amount > invoice.paid_amount:
        raise ValidationError(_("Số tiền hoàn vượt quá số đã thu."))
    refund.approved_by, refund.approved_at = actor, timezone.now()
    _complete_refund(refund, invoice)
    refund.save(update_fields=["approved_by", "approved_at", "status", "completed_at"])
    _audit(
        actor,
        "refund.approve",
        refund,
        invoice.patient_id,
        facility,
        invoice_id=invoice.pk,
        amount=refund.amount,
    )
    return refund


@transaction.atomic
def refund_reject(*, actor, facility: Facility, refund: Refund, reason: str) -> Refund:
    """The approver refuses a pending refund, with a reason."""
    _require(actor, APPROVE_PERM, facility)
    reason = _reason(reason)
    refund, invoice = _pending_refund(facility=facility, refund=refund)
    if refund.requested_by_id == actor.pk:
        raise ValidationError(_("Người duyệt phải khác người lập yêu cầu hoàn tiền."))
    refund.status, refund.rejected_reason = RefundStatus.REJECTED, reason
    refund.approved_by, refund.approved_at = actor, timezone.now()
    refund.save(update_fields=["status", "rejected_reason", "approved_by", "approved_at"])
    _audit(actor, "refund.reject", refund, invoice.patient_id, facility, amount=refund.amount)
    return refund


# --- Settlement of a stay ----------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """The settlement of a stay: the deposits set against it, and either the rest collected or
    the surplus given back (or neither when they match)."""

    invoice: Invoice
    deposits_total: Decimal
    payment: Payment | None = None
    refund: Refund | None = None

    @property
    def collected(self) -> Decimal:
        return self.payment.amount if self.payment else ZERO

    @property
    def returned(self) -> Decimal:
        return self.refund.amount if self.refund else ZERO


def _replayed_settlement(invoice: Invoice, key: str) -> Settlement | None:
    payment = Payment.objects.filter(idempotency_key=key).first()
    refund = Refund.objects.filter(idempotency_key=key).first()
    if payment is None and refund is None:
        return None
    if (payment and payment.invoice_id != invoice.pk) or (
        refund and refund.invoice_id != invoice.pk
    ):
        raise _key_reused()
    return Settlement(
        invoice=invoice, deposits_total=invoice.deposits_applied, payment=payment, refund=refund
    )


@transaction.atomic
def stay_settle(
    *,
    actor,
    facility: Facility,
    shift: CashierShift,
    invoice: Invoice,
    method: str,
    idempotency_key: str,
) -> Settlement:
    """Settle a discharged stay against its deposits: collect the rest, or give back the surplus
    (a computed return of the patient's own deposit, so it needs no approval).

    Build the invoice first (`charges_derive`, `invoice_build`): settlement takes its amounts.
    """
    _require(actor, TAKE_PERM, facility)
    key = _key(idempotency_key)
    method = _method(method)
    invoice = _locked_invoice(facility=facility, invoice=invoice)
    if invoice.status == InvoiceStatus.SETTLED:
        replay = _replayed_settlement(invoice, key)
        if replay is not None:
            return replay
        raise ValidationError(_("Đợt điều trị đã được quyết toán."))
    stay = invoice.encounter
    if stay.kind != EncounterKind.INPATIENT:
        raise ValidationError(_("Chỉ quyết toán cho đợt điều trị nội trú."))
    if stay.status != EncounterStatus.DISCHARGED:
        raise ValidationError(_("Người bệnh chưa ra viện: chưa quyết toán được."))
    if Payment.objects.filter(idempotency_key=key).exists() or (
        Refund.objects.filter(idempotency_key=key).exists()
    ):
        raise _key_reused()
    shift = _open_shift(actor=actor, facility=facility, shift=shift)
    deposits = list(
        Deposit.objects.select_for_update().filter(encounter=stay, status=DepositStatus.HELD)
    )
    held = sum((d.amount for d in deposits), ZERO)
    due = invoice.amount_due
    now = timezone.now()
    payment = refund = None
    if held < due:
        payment = Payment.objects.create(
            invoice=invoice,
            facility=facility,
            shift=shift,
            amount=due - held,
            method=method,
            idempotency_key=key,
            received_by=actor,
            received_at=now,
            is_settlement=True,
        )
    elif held > due:
        refund = Refund.objects.create(
            invoice=invoice,
            facility=facility,
            shift=shift,
            kind=RefundKind.DEPOSIT_SURPLUS,
            amount=held - due,
            method=method,
            reason=_("Hoàn tạm ứng thừa khi quyết toán ra viện"),
            idempotency_key=key,
            requested_by=actor,
            requested_at=now,
            status=RefundStatus.COMPLETED,
            completed_at=now,
        )
    if deposits:
        Deposit.objects.filter(pk__in=[d.pk for d in deposits]).update(
            status=DepositStatus.APPLIED, applied_to=invoice, applied_at=now
        )
    _set_paid(
        invoice,
        due,
        status=InvoiceStatus.SETTLED,
        settled_at=now,
        settled_by=actor,
        deposits_applied=held,
    )
    _audit(
        actor,
        "stay.settle",
        invoice,
        invoice.patient_id,
        facility,
        encounter_id=stay.pk,
        shift_id=shift.pk,
        deposits=held,
        patient_amount=invoice.patient_amount,
        collected=payment.amount if payment else ZERO,
        returned=refund.amount if refund else ZERO,
        payment_id=payment.pk if payment else None,
        refund_id=refund.pk if refund else None,
    )
    return Settlement(invoice=invoice, deposits_total=held, payment=payment, refund=refund)
