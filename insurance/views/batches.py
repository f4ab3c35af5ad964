"""Batches: creation (by month, department, visit type), submission and its progress (htmx polling
of the items per state), the batch's items with the insurer's answers, a ZIP of the signed files.

The services are `insurance.claims.batches` (permission, transaction, audit, the sending task);
reads go through `insurance.claims.workspace`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ehealth.core.exceptions import DomainError
from insurance.claims import batch_reads, workspace
from insurance.claims import batches as batch_services
from insurance.claims.batch_models import BatchStatus, PortalExchangeLog
from insurance.forms import BatchCreateForm, ReviewForm, RowVersionForm
from insurance.views.base import claims_required, facility_of, is_htmx, query
from insurance.views.dossiers import departments_of

# Statuses in which the page keeps asking for the progress.
ACTIVE = (BatchStatus.SUBMITTING, BatchStatus.SUBMITTED, BatchStatus.PARTLY_ANSWERED)
POLL_SECONDS = 2


def _batch_url(batch) -> str:
    return reverse("claims:batch", kwargs={"batch_id": batch.pk})


def _create_form(request, facility, data=None) -> BatchCreateForm:
    return BatchCreateForm(
        data,
        departments=[(code, f"{code} – {name}") for code, name in departments_of(facility)],
        initial={"month": workspace.Period.current().value},
    )


def _ready_count(facility, form: BatchCreateForm) -> tuple[workspace.Period, int]:
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    period = data.get("month") or workspace.Period.current()
    count = batch_services.ready_dossiers(
        facility=facility,
        year=period.year,
        month=period.month,
        department_code=data.get("department") or "",
        visit_type=data.get("visit_type") or "",
    ).count()
    return period, count


@require_GET
@claims_required
def batch_list(request):
    facility = facility_of(request)
    form = _create_form(request, facility, request.GET or None)
    period, ready = _ready_count(facility, form)
    context = {"form": form, "period": period, "ready": ready}
    if is_htmx(request) and request.GET.get("preview"):
        return render(request, "insurance/_batch_preview.html", context)
    context["page"] = batch_reads.batches_page(
        actor=request.user, facility=facility, page_number=request.GET.get("page")
    )
    return render(request, "insurance/batch_list.html", context)


@require_POST
@claims_required
def batch_create(request):
    facility = facility_of(request)
    form = _create_form(request, facility, request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect("claims:batches")
    data = form.cleaned_data
    try:
        batch = batch_services.batch_create(
            actor=request.user,
            facility=facility,
            year=data["month"].year,
            month=data["month"].month,
            department_code=data["department"],
            visit_type=data["visit_type"],
        )
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, str(exc))
        back = query(
            month=data["month"].value, department=data["department"], visit_type=data["visit_type"]
        )
        return redirect(reverse("claims:batches") + back)
    messages.success(
        request,
        _("Đã lập lô gồm %(n)s hồ sơ. Kiểm tra rồi bấm “Gửi lô”.") % {"n": batch.item_count},
    )
    return redirect(_batch_url(batch))


def _progress_context(batch) -> dict:
    return {
        "batch": batch,
        "progress": batch_reads.batch_progress(batch=batch),
        "polling": batch.status in ACTIVE,
        "poll_seconds": POLL_SECONDS,
    }


@require_GET
@claims_required
def batch_detail(request, batch_id: int):
    facility = facility_of(request)
    batch = batch_reads.batch_for(actor=request.user, facility=facility, pk=batch_id)
    context = {
        **_progress_context(batch),
        "page": batch_reads.batch_items_page(
            actor=request.user, batch=batch, page_number=request.GET.get("page")
        ),
        "to_review": batch_reads.batch_exchanges_to_review(batch=batch),
        "can_submit": batch.status in (BatchStatus.DRAFT, BatchStatus.FAILED),
        "can_cancel": batch.status == BatchStatus.DRAFT,
        "can_ask_answers": batch.status in ACTIVE,
        "department_name": dict(departments_of(facility)).get(batch.department_code, ""),
    }
    return render(request, "insurance/batch_detail.html", context)


@require_GET
@claims_required
def batch_progress(request, batch_id: int):
    """The progress block alone (htmx polls it). When the batch's status changed since the page
    was drawn, the whole page is reloaded so the items show their answers."""
    batch = batch_reads.batch_for(actor=request.user, facility=facility_of(request), pk=batch_id)
    shown = request.GET.get("status", "")
    if is_htmx(request) and shown and shown != batch.status:
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    return render(request, "insurance/_batch_progress.html", _progress_context(batch))


def _move(request, batch_id: int, service, done_message: str):
    batch = batch_reads.batch_for(actor=request.user, facility=facility_of(request), pk=batch_id)
    form = RowVersionForm(request.POST)
    row_version = form.cleaned_data.get("row_version") if form.is_valid() else None
    try:
        service(actor=request.user, batch=batch, row_version=row_version)
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done_message)
    return redirect(_batch_url(batch))


@require_POST
@claims_required
def batch_submit(request, batch_id: int):
    return _move(
        request,
        batch_id,
        batch_services.batch_submit,
        _("Đã gửi lô: hồ sơ đang được chuyển lên cổng BHXH."),
    )


@require_POST
@claims_required
def batch_cancel(request, batch_id: int):
    return _move(
        request,
        batch_id,
        batch_services.batch_cancel,
        _("Đã hủy lô: các hồ sơ có thể đưa vào lô khác."),
    )


@require_POST
@claims_required
def batch_answers(request, batch_id: int):
    """Ask the gateway for the answers now (the periodic task does it anyway)."""
    batch = batch_reads.batch_for(actor=request.user, facility=facility_of(request), pk=batch_id)
    try:
        batch_services.batch_answers_request(actor=request.user, batch=batch)
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Đã hỏi kết quả giám định từ cổng BHXH."))
    return redirect(_batch_url(batch))


@require_POST
@claims_required
def exchange_review(request, batch_id: int, exchange_id: int):
    """Mark an odd answer of the gateway as looked at."""
    batch = batch_reads.batch_for(actor=request.user, facility=facility_of(request), pk=batch_id)
    exchange = PortalExchangeLog.objects.filter(pk=exchange_id, batch=batch).first()
    if exchange is None:
        raise Http404
    form = ReviewForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        batch_services.exchange_review(actor=request.user, exchange=exchange, note=note)
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Đã ghi nhận là đã xem xét."))
    return redirect(_batch_url(batch))


@require_GET
@claims_required
def batch_export(request, batch_id: int):
    """The batch as a ZIP of signed GIAMDINHHS files, one per dossier named by its MA_LK, streamed
    (the archive is never held whole in memory)."""
    facility = facility_of(request)
    batch = batch_reads.batch_for(actor=request.user, facility=facility, pk=batch_id)
    files = batch_reads.batch_envelopes(actor=request.user, batch=batch)
    response = StreamingHttpResponse(batch_reads.zip_stream(files), content_type="application/zip")
    name = f"lo-{batch.pk}-{facility.code}-{batch.year:04d}-{batch.month:02d}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
