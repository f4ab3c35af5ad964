"""Refunds waiting for a second person's approval (above REFUND_APPROVAL_THRESHOLD)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import services
from billing.forms import RefundDecisionForm, format_amount_input
from billing.models import Refund, RefundStatus
from billing.views.base import APPROVE, ServiceCall, cashier_required, facility_of, int_or_404
from ehealth.core.audit import audit_record_many

LIST_LIMIT = 100


def _pending(request):
    return (
        Refund.objects.filter(facility=facility_of(request), status=RefundStatus.PENDING)
        .select_related("invoice__patient", "requested_by", "shift")
        .order_by("requested_at", "id")
    )


def _render(request, *, failed: Refund | None = None, form: RefundDecisionForm | None = None):
    refunds = list(_pending(request)[:LIST_LIMIT])
    if refunds:
        audit_record_many(
            actor=request.user,
            action="refund.list",
            patient_ids=sorted({r.invoice.patient_id for r in refunds}),
            detail={"facility_id": facility_of(request).pk},
        )
    return render(
        request,
        "billing/refunds.html",
        {
            "refunds": refunds,
            "failed_id": failed.pk if failed else None,
            "failed_form": form,
            "limit": LIST_LIMIT,
        },
    )


@require_GET
@cashier_required(APPROVE)
def refunds(request):
    return _render(request)


@require_POST
@cashier_required(APPROVE)
def decide(request, refund_id: int):
    item = _pending(request).filter(pk=int_or_404(refund_id)).first()
    if item is None:
        raise Http404
    form = RefundDecisionForm(request.POST, prefix=f"r{item.pk}")
    if form.is_valid():
        call = ServiceCall(form)
        if form.cleaned_data["decision"] == "approve":
            call(services.refund_approve, actor=request.user, facility=item.facility, refund=item)
            text = _("Đã duyệt hoàn %(amount)s đồng (%(number)s).")
        else:
            call(
                services.refund_reject,
                actor=request.user,
                facility=item.facility,
                refund=item,
                reason=form.cleaned_data["rejected_reason"],
            )
            text = _("Đã từ chối yêu cầu hoàn tiền %(number)s.")
        if call.ok:
            messages.success(
                request,
                text % {"amount": format_amount_input(item.amount), "number": item.number},
            )
            return redirect("cashier:refunds")
    return _render(request, failed=item, form=form)
