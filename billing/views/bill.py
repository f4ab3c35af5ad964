"""One bill: what is owed and why, and the money moves on it (payment, deposit, refund request,
settlement of a stay, void of a mistaken payment), the receipt and the cost statement PDFs.

Every form posts to its own URL; on success the browser is sent back to the bill (post/redirect/
get), on a refusal the bill is shown again with the error beside the field and what was typed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import selectors, services
from billing.charges import charges_derive
from billing.forms import (
    DepositForm,
    PaymentForm,
    RefundRequestForm,
    SettleForm,
    VoidForm,
    format_amount_input,
)
from billing.invoices import invoice_build
from billing.models import Deposit, Invoice, Payment
from billing.pdf.cost_statement import render_cost_statement
from billing.pdf.receipt import render_receipt
from billing.views import lookups
from billing.views.base import (
    APPROVE,
    PREPARE,
    TAKE,
    VIEW_INVOICE,
    ServiceCall,
    can,
    cashier_required,
    facility_of,
    int_or_404,
    open_shift,
    open_shift_elsewhere,
    pdf_response,
)
from ehealth.core.audit import audit_record

VIEW_PAYMENT = "billing.view_payment"


def _no_shift_message(request) -> str:
    elsewhere = open_shift_elsewhere(request)
    if elsewhere is not None:
        return _(
            "Bạn đang có ca thu ngân mở tại %(facility)s. Hãy đóng ca đó rồi mở ca tại cơ sở này."
        ) % {"facility": elsewhere.facility.name}
    return _("Bạn chưa mở ca thu ngân. Hãy mở ca (nhập tiền lẻ đầu ca) rồi thu tiền.")


def _bill_url(encounter_id: int) -> str:
    return reverse("cashier:bill", kwargs={"encounter_id": encounter_id})


def _invoice_of(request, invoice_id) -> Invoice:
    invoice = (
        selectors.invoices_visible(user=request.user)
        .filter(pk=int_or_404(invoice_id), facility=facility_of(request))
        .first()
    )
    if invoice is None:
        raise Http404
    return invoice


def _render_bill(request, encounter, *, forms: dict | None = None):
    """The bill page, with fresh forms except those given (bound, with their errors)."""
    bill = lookups.bill_for(user=request.user, encounter=encounter)
    invoice = bill.invoice
    forms = forms or {}
    shift = open_shift(request)
    context = {
        "bill": bill,
        "encounter": encounter,
        "patient": encounter.patient,
        "invoice": invoice,
        "shift": shift,
        "no_shift_message": None if shift else _no_shift_message(request),
        "can_take": can(request, TAKE),
        "can_prepare": can(request, PREPARE),
        "can_approve": can(request, APPROVE),
        "highlight": request.GET.get("payment", ""),
        "pay_form": forms.get("pay")
        or PaymentForm(prefix="pay", owed=invoice.amount_due if invoice else None),
        "deposit_form": forms.get("deposit") or DepositForm(prefix="deposit"),
        "refund_form": forms.get("refund")
        or RefundRequestForm(prefix="refund", paid=invoice.paid_amount if invoice else None),
        "settle_form": forms.get("settle") or SettleForm(prefix="settle"),
        "open_form": next(iter(forms), ""),
        "refund_threshold": settings.REFUND_APPROVAL_THRESHOLD,
    }
    return render(request, "billing/bill.html", context)


@require_GET
@cashier_required(TAKE, VIEW_INVOICE)
def bill(request, encounter_id: int):
    encounter = lookups.cashier_encounter(
        user=request.user, facility=facility_of(request), pk=encounter_id
    )
    return _render_bill(request, encounter)


@require_POST
@cashier_required(PREPARE)
def prepare(request, encounter_id: int):
    """Derive the charges from the clinical record and (re)build the invoice with the split."""
    facility = facility_of(request)
    encounter = lookups.cashier_encounter(user=request.user, facility=facility, pk=encounter_id)
    try:
        # Both services are atomic; together they either both apply or neither does.
        with transaction.atomic():
            charges_derive(encounter_id=encounter.pk, actor=request.user)
            invoice = invoice_build(actor=request.user, facility=facility, encounter=encounter)
    except ValidationError as e:
        for message in e.messages:
            messages.error(request, message)
    except PermissionDenied as e:
        messages.error(request, str(e) or _("Bạn không có quyền thực hiện thao tác này."))
    else:
        messages.success(
            request,
            _("Đã tính viện phí: người bệnh phải trả %(owed)s đồng.")
            % {"owed": format_amount_input(invoice.patient_amount)},
        )
    return redirect(_bill_url(encounter.pk))


def _shift_or_error(request, form) -> object | None:
    shift = open_shift(request)
    if shift is None:
        form.add_error(None, _no_shift_message(request))
    return shift


def _money_call(request, form, service, **data):
    """Run a money service for a valid form in the cashier's open shift: with the actor,
    facility, shift, method and idempotency key. Returns the result, or None when refused
    (no open shift, or the service's error is then on the form)."""
    if not form.is_valid():
        return None
    shift = _shift_or_error(request, form)
    if shift is None:
        return None
    call = ServiceCall(form)
    result = call(
        service,
        actor=request.user,
        facility=facility_of(request),
        shift=shift,
        method=form.cleaned_data["method"],
        idempotency_key=form.cleaned_data["idempotency_key"],
        **data,
    )
    return result if call.ok else None


@require_POST
@cashier_required(TAKE)
def pay(request, invoice_id: int):
    facility = facility_of(request)
    invoice = _invoice_of(request, invoice_id)
    encounter = lookups.cashier_encounter(
        user=request.user, facility=facility, pk=invoice.encounter_id
    )
    form = PaymentForm(request.POST, prefix="pay", owed=invoice.amount_due)
    key = request.POST.get("pay-idempotency_key", "")
    # A resent form (double click, retry) carries the key of a payment already made: the service
    # returns that payment; the page says so instead of "paid" twice.
    replay = bool(key) and Payment.objects.filter(idempotency_key=key.strip().lower()).exists()
    if replay:
        form = PaymentForm(request.POST, prefix="pay", owed=None)
    amount = form.cleaned_data["amount"] if form.is_valid() else None
    payment = _money_call(request, form, services.payment_take, invoice=invoice, amount=amount)
    if payment is not None:
        if replay:
            messages.info(
                request,
                _("Phiếu thu %(number)s đã được ghi nhận trước đó; không thu lần nữa.")
                % {"number": payment.number},
            )
        else:
            messages.success(
                request,
                _("Đã thu %(amount)s đồng — phiếu thu %(number)s.")
                % {"amount": format_amount_input(payment.amount), "number": payment.number},
            )
        return redirect(f"{_bill_url(encounter.pk)}?payment={payment.pk}#payments")
    return _render_bill(request, encounter, forms={"pay": form})


@require_POST
@cashier_required(TAKE)
def deposit(request, encounter_id: int):
    facility = facility_of(request)
    encounter = lookups.cashier_encounter(user=request.user, facility=facility, pk=encounter_id)
    form = DepositForm(request.POST, prefix="deposit")
    amount = form.cleaned_data["amount"] if form.is_valid() else None
    taken = _money_call(request, form, services.deposit_take, encounter=encounter, amount=amount)
    if taken is not None:
        messages.success(
            request,
            _("Đã nhận tạm ứng %(amount)s đồng — %(number)s.")
            % {"amount": format_amount_input(taken.amount), "number": taken.number},
        )
        return redirect(f"{_bill_url(encounter.pk)}#deposits")
    return _render_bill(request, encounter, forms={"deposit": form})


@require_POST
@cashier_required(TAKE)
def refund(request, invoice_id: int):
    facility = facility_of(request)
    invoice = _invoice_of(request, invoice_id)
    encounter = lookups.cashier_encounter(
        user=request.user, facility=facility, pk=invoice.encounter_id
    )
    form = RefundRequestForm(request.POST, prefix="refund", paid=invoice.paid_amount)
    valid = form.is_valid()
    made = _money_call(
        request,
        form,
        services.refund_request,
        invoice=invoice,
        amount=form.cleaned_data["amount"] if valid else None,
        reason=form.cleaned_data["reason"] if valid else "",
    )
    if made is not None:
        if made.status == "pending":
            messages.warning(
                request,
                _(
                    "Đã lập yêu cầu hoàn %(amount)s đồng (%(number)s). Số tiền vượt hạn "
                    "mức: cần người thứ hai duyệt trước khi trả tiền."
                )
                % {"amount": format_amount_input(made.amount), "number": made.number},
            )
        else:
            messages.success(
                request,
                _("Đã hoàn %(amount)s đồng cho người bệnh (%(number)s).")
                % {"amount": format_amount_input(made.amount), "number": made.number},
            )
        return redirect(f"{_bill_url(encounter.pk)}#refunds")
    return _render_bill(request, encounter, forms={"refund": form})


@require_POST
@cashier_required(TAKE)
def settle(request, invoice_id: int):
    facility = facility_of(request)
    invoice = _invoice_of(request, invoice_id)
    encounter = lookups.cashier_encounter(
        user=request.user, facility=facility, pk=invoice.encounter_id
    )
    form = SettleForm(request.POST, prefix="settle")
    done = _money_call(request, form, services.stay_settle, invoice=invoice)
    if done is not None:
        if done.payment is not None:
            text = _("Đã quyết toán: thu thêm %(amount)s đồng.") % {
                "amount": format_amount_input(done.collected)
            }
        elif done.refund is not None:
            text = _("Đã quyết toán: trả lại người bệnh %(amount)s đồng tạm ứng thừa.") % {
                "amount": format_amount_input(done.returned)
            }
        else:
            text = _("Đã quyết toán: tạm ứng vừa đủ, không thu thêm.")
        messages.success(request, text)
        suffix = f"?payment={done.payment.pk}" if done.payment else ""
        return redirect(f"{_bill_url(encounter.pk)}{suffix}")
    return _render_bill(request, encounter, forms={"settle": form})


def _voidable(request, kind: str, pk: int):
    facility = facility_of(request)
    model = Payment if kind == "payment" else Deposit
    item = model.objects.filter(pk=int_or_404(pk), facility=facility).first()
    if item is None:
        raise Http404
    encounter_id = item.invoice.encounter_id if kind == "payment" else item.encounter_id
    encounter = lookups.cashier_encounter(user=request.user, facility=facility, pk=encounter_id)
    return item, encounter


@require_http_methods(["GET", "POST"])
@cashier_required(TAKE)
def void(request, kind: str, pk: int):
    """Void a payment or a deposit taken by mistake, with a reason (never a delete)."""
    if kind not in ("payment", "deposit"):
        raise Http404
    item, encounter = _voidable(request, kind, pk)
    form = VoidForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        call = ServiceCall(form)
        service = services.payment_void if kind == "payment" else services.deposit_void
        call(
            service,
            actor=request.user,
            facility=facility_of(request),
            reason=form.cleaned_data["reason"],
            **{kind: item},
        )
        if call.ok:
            messages.success(
                request,
                _("Đã huỷ %(number)s (%(amount)s đồng).")
                % {"number": item.number, "amount": format_amount_input(item.amount)},
            )
            return redirect(_bill_url(encounter.pk))
    return render(
        request,
        "billing/void.html",
        {"form": form, "item": item, "kind": kind, "encounter": encounter},
    )


@require_GET
@cashier_required(TAKE, VIEW_PAYMENT)
def receipt_pdf(request, payment_id: int):
    payment = (
        Payment.objects.filter(pk=int_or_404(payment_id), facility=facility_of(request))
        .select_related("invoice")
        .first()
    )
    if payment is None:
        raise Http404
    # the chart must be visible to the reader too (404 otherwise)
    lookups.cashier_encounter(
        user=request.user, facility=facility_of(request), pk=payment.invoice.encounter_id
    )
    content = render_receipt(selectors.receipt_data(payment=payment))
    audit_record(
        actor=request.user,
        action="receipt.print",
        target=payment,
        patient_id=payment.invoice.patient_id,
        detail={"invoice_id": payment.invoice_id},
    )
    return pdf_response(content, f"bien-lai-{payment.number}.pdf")


@require_GET
@cashier_required(TAKE, VIEW_INVOICE)
def statement_pdf(request, invoice_id: int):
    invoice = _invoice_of(request, invoice_id)
    lookups.cashier_encounter(
        user=request.user, facility=facility_of(request), pk=invoice.encounter_id
    )
    content = render_cost_statement(selectors.cost_statement_data(invoice=invoice))
    audit_record(
        actor=request.user,
        action="cost_statement.print",
        target=invoice,
        patient_id=invoice.patient_id,
        detail={"encounter_id": invoice.encounter_id},
    )
    return pdf_response(content, f"bang-ke-{invoice.number}.pdf")
