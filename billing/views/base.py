"""The permission gate and small helpers shared by the cashier's pages."""

from __future__ import annotations

from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme

from billing.models import CashierShift, ShiftStatus
from patients.views_clinical.base import (  # noqa: F401  (re-exported for the cashier views)
    ServiceCall,
    can,
    clinic_permission_required,
    facility_of,
    is_htmx,
    pdf_response,
)

TAKE = "billing.take_payment"
SHIFT = "billing.manage_shift"
PREPARE = "billing.prepare_invoice"
VIEW_INVOICE = "billing.view_invoice"
APPROVE = "billing.approve_refund"

cashier_required = clinic_permission_required


def open_shift(request) -> CashierShift | None:
    """The signed-in cashier's open shift at the facility they work at now (None if none)."""
    return (
        CashierShift.objects.filter(
            opened_by=request.user, facility=facility_of(request), status=ShiftStatus.OPEN
        )
        .order_by("-opened_at")
        .first()
    )


def open_shift_elsewhere(request) -> CashierShift | None:
    """An open shift of the cashier at another facility (it must be closed there first)."""
    return (
        CashierShift.objects.filter(opened_by=request.user, status=ShiftStatus.OPEN)
        .exclude(facility=facility_of(request))
        .select_related("facility")
        .first()
    )


def safe_next(request, default: str) -> str:
    """The `next` URL of the request when it points inside this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None
