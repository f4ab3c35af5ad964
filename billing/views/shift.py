"""The cashier's shift: open with a float, close with the money counted per method, and the close
report (expected against counted, and the differences)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import services
from billing.forms import ShiftCloseForm, ShiftOpenForm, format_amount_input
from billing.models import CashierShift, ShiftStatus
from billing.views.base import (
    APPROVE,
    SHIFT,
    ServiceCall,
    can,
    cashier_required,
    facility_of,
    int_or_404,
    open_shift,
    open_shift_elsewhere,
    safe_next,
)

RECENT_SHIFTS = 10


def _shift_page(request, *, open_form=None, close_form=None):
    shift = open_shift(request)
    context = {
        "shift": shift,
        "elsewhere": None if shift else open_shift_elsewhere(request),
        "open_form": open_form or ShiftOpenForm(),
        "close_form": close_form or ShiftCloseForm(),
        "next": safe_next(request, ""),
        "report": services.shift_report(shift=shift) if shift else None,
        "recent": list(
            CashierShift.objects.filter(
                opened_by=request.user, facility=facility_of(request), status=ShiftStatus.CLOSED
            ).order_by("-opened_at")[:RECENT_SHIFTS]
        ),
    }
    return render(request, "billing/shift.html", context)


@require_GET
@cashier_required(SHIFT)
def shift(request):
    return _shift_page(request)


@require_POST
@cashier_required(SHIFT)
def shift_open(request):
    form = ShiftOpenForm(request.POST)
    if form.is_valid():
        call = ServiceCall(form)
        opened = call(
            services.shift_open,
            actor=request.user,
            facility=facility_of(request),
            opening_float=form.cleaned_data["opening_float"],
        )
        if call.ok:
            messages.success(
                request,
                _("Đã mở ca thu ngân với %(amount)s đồng tiền lẻ đầu ca.")
                % {"amount": format_amount_input(opened.opening_float)},
            )
            return redirect(safe_next(request, reverse("cashier:desk")))
    return _shift_page(request, open_form=form)


@require_POST
@cashier_required(SHIFT)
def shift_close(request):
    current = open_shift(request)
    if current is None:
        messages.info(request, _("Không có ca thu ngân nào đang mở."))
        return redirect("cashier:shift")
    form = ShiftCloseForm(request.POST)
    if form.is_valid():
        call = ServiceCall(form)
        call(
            services.shift_close,
            actor=request.user,
            facility=facility_of(request),
            shift=current,
            counted=form.counted(),
            note=form.cleaned_data["note"],
        )
        if call.ok:
            messages.success(request, _("Đã đóng ca thu ngân."))
            return redirect("cashier:shift_report", shift_id=current.pk)
    return _shift_page(request, close_form=form)


@require_http_methods(["GET"])
@cashier_required(SHIFT, APPROVE)
def shift_report(request, shift_id: int):
    """The report of a shift: its own cashier, or an approver of the facility, may read it."""
    item = (
        CashierShift.objects.filter(pk=int_or_404(shift_id), facility=facility_of(request))
        .select_related("opened_by", "closed_by")
        .first()
    )
    if item is None or (item.opened_by_id != request.user.pk and not can(request, APPROVE)):
        raise Http404
    report = services.shift_report(shift=item)
    return render(request, "billing/shift_report.html", {"item": item, "report": report})
