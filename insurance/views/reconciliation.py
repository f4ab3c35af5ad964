"""The reconciliation view: import the insurer's settlement of a period (per-row report of the bad
rows, nothing stored when one is bad), then claimed versus approved per dossier, department and
cost group. Services in `insurance.claims.reconciliation`."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from insurance.claims import reconciliation as recon
from insurance.claims import workspace
from insurance.forms import PeriodForm, SettlementImportForm
from insurance.views.base import claims_required, facility_of, query


def _period(request) -> workspace.Period:
    form = PeriodForm(request.GET)
    return form.cleaned_data["month"] if form.is_valid() else workspace.Period.current()


def _render(request, period, *, form=None, report=None):
    only = request.GET.get("diff") == "1"
    data = recon.reconciliation(
        actor=request.user,
        facility=facility_of(request),
        period=period,
        page_number=request.GET.get("page"),
        only_differences=only,
    )
    context = {
        "period": period,
        "data": data,
        "only_differences": only,
        "form": form or SettlementImportForm(initial={"month": period.value}),
        "report": report,
        "all_link": query(month=period.value),
        "diff_link": query(month=period.value, diff="1"),
    }
    return render(request, "insurance/reconciliation.html", context)


@require_GET
@claims_required
def reconciliation(request):
    return _render(request, _period(request))


@require_http_methods(["POST"])
@claims_required
def settlement_import(request):
    form = SettlementImportForm(request.POST, request.FILES)
    period = _period(request)
    if not form.is_valid():
        return _render(request, period, form=form)
    period = form.cleaned_data["month"]
    upload = form.cleaned_data["file"]
    try:
        report = recon.settlement_import(
            actor=request.user,
            facility=facility_of(request),
            period=period,
            file_name=upload.name,
            content=upload.read(),
            dry_run=form.cleaned_data["dry_run"],
        )
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return _render(request, period, form=form)
    if report.settlement is not None:
        messages.success(
            request,
            _(
                "Đã nhập quyết toán kỳ %(period)s: %(n)s hồ sơ, %(paid)s hồ sơ chuyển sang "
                "“Đã thanh toán”."
            )
            % {"period": period.label, "n": len(report.rows), "paid": report.paid},
        )
        return redirect(reverse("claims:reconciliation") + query(month=period.value))
    return _render(request, period, form=form, report=report)
