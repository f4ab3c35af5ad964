"""The dossiers of a period (filters, counts and amounts per status), one dossier with its lines,
validation errors linked to the page where each is fixed, its XML, versions and rejection
reasons; (re)building dossiers; the director's monthly summary PDF.

Reads go through `insurance.claims.workspace` (every patient shown is audited) and
`dossier_version` (audits the dossier read); writes through `dossier_build` / `build_run_start` (the period's build runs as a Celery
task; the page polls its progress).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from ehealth.core.exceptions import DomainError
from ehealth.core.models import Department
from insurance.claims import workspace
from insurance.claims.build_models import ACTIVE_BUILD_STATUSES
from insurance.claims.models import BUILDABLE, DossierStatus, DossierVersion
from insurance.claims.pdf import render_monthly_summary
from insurance.claims.services import dossier_build, dossier_version
from insurance.forms import DossierFilterForm, PeriodForm, RebuildForm
from insurance.views.base import (
    claims_required,
    facility_of,
    fix_link,
    is_htmx,
    pdf_response,
    query,
    reason_links,
)

POLL_SECONDS = 2


def departments_of(facility) -> list[tuple[str, str]]:
    return list(Department.objects.filter(facility=facility).order_by("code").values_list("code", "name"))  # fmt: skip


@require_GET
@claims_required
def dossier_list(request):
    facility = facility_of(request)
    if is_htmx(request) and request.GET.get("build_run"):
        return _build_progress(request, facility)
    departments = departments_of(facility)
    form = DossierFilterForm(
        request.GET or None,
        departments=[(code, f"{code} – {name}") for code, name in departments],
        initial={"month": workspace.Period.current().value},
    )
    filters = form.filters()
    period = filters.period
    base = {
        "month": period.value,
        "department": filters.department_code,
        "visit_type": filters.visit_type,
        "errors": {True: "yes", False: "no"}.get(filters.has_errors, ""),
    }
    totals = workspace.dossier_status_totals(facility=facility, filters=filters)
    page = workspace.dossier_page(
        actor=request.user, facility=facility, filters=filters, page_number=request.GET.get("page")
    )
    names = dict(departments)
    for d in page.object_list:
        d.department_name = names.get(d.department_code, "")
    context = {
        "form": form,
        "filters": filters,
        "period": period,
        "totals": totals,
        "status_rows": [(row, query(**base, status=row.status)) for row in totals.rows],
        "all_link": query(**base),
        "page": page,
        "waiting": workspace.claimable_encounters(facility=facility, period=period).count(),
    }
    if is_htmx(request):
        return render(request, "insurance/_dossier_results.html", context)
    context.update(
        _build_context(
            workspace.build_run_latest(actor=request.user, facility=facility, period=period)
        )
    )
    return render(request, "insurance/dossier_list.html", context)


def _build_context(run) -> dict:
    return {
        "run": run,
        "run_polling": run is not None and run.is_active,
        "poll_seconds": POLL_SECONDS,
    }


def _build_progress(request, facility):
    """The build run's progress block alone (htmx polls it every POLL_SECONDS). Once the run is
    over the whole page is reloaded, so the counts per status and the list show the new dossiers."""
    run = workspace.build_run_for(
        actor=request.user, facility=facility, pk=request.GET["build_run"]
    )
    if request.GET.get("status") in ACTIVE_BUILD_STATUSES and not run.is_active:
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    return render(request, "insurance/_build_progress.html", _build_context(run))


@require_POST
@claims_required
def build_period(request):
    """(Re)build the period's dossiers that are missing, drafts or with errors, in the background
    (in eager mode, a demo without broker, the run is over when this answers)."""
    form = PeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Chọn tháng cần lập hồ sơ (ví dụ: 2026-11)."))
        return redirect("claims:index")
    period = form.cleaned_data["month"]
    try:
        start = workspace.build_run_start(
            actor=request.user, facility=facility_of(request), period=period
        )
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return redirect(reverse("claims:index") + query(month=period.value))
    run = start.run
    run.refresh_from_db()
    if start.joined:
        messages.info(
            request,
            _("Hồ sơ tháng %(period)s đang được lập (bắt đầu lúc bấm trước): xem tiến độ bên dưới.")
            % {"period": period.label},
        )
    elif run.is_active:
        messages.success(
            request,
            _("Đã bắt đầu lập hồ sơ tháng %(period)s cho %(n)s lượt khám: xem tiến độ bên dưới.")
            % {"period": period.label, "n": run.total},
        )
    elif not run.built and not run.failed:
        messages.info(
            request,
            _("Tháng %(period)s không còn lượt khám nào cần lập hồ sơ.") % {"period": period.label},
        )
    else:  # eager mode: the run is over already
        messages.success(
            request,
            _(
                "Đã lập %(built)s hồ sơ tháng %(period)s: %(ready)s sẵn sàng gửi, "
                "%(invalid)s có lỗi cần sửa."
            )
            % {
                "built": run.built,
                "period": period.label,
                "ready": run.built_ready,
                "invalid": run.built_invalid,
            },
        )
    return redirect(reverse("claims:index") + query(month=period.value))


# XML1 fields shown in the dossier's summary, with their Vietnamese names.
SUMMARY_FIELDS = (
    ("MA_LK", _lazy("Mã liên kết")),
    ("MA_BN", _lazy("Mã người bệnh")),
    ("HO_TEN", _lazy("Họ tên")),
    ("NGAY_SINH", _lazy("Ngày sinh")),
    ("GIOI_TINH", _lazy("Giới tính")),
    ("MA_THE_BHYT", _lazy("Mã thẻ BHYT")),
    ("MA_DKBD", _lazy("Nơi ĐKKCB ban đầu")),
    ("MA_LOAI_KCB", _lazy("Loại KCB")),
    ("MA_KHOA", _lazy("Khoa")),
    ("NGAY_VAO", _lazy("Ngày vào")),
    ("NGAY_RA", _lazy("Ngày ra")),
    ("SO_NGAY_DTRI", _lazy("Số ngày điều trị")),
    ("MA_BENH_CHINH", _lazy("Mã bệnh chính")),
    ("MA_BENH_KT", _lazy("Mã bệnh kèm theo")),
    ("CHAN_DOAN_RV", _lazy("Chẩn đoán ra viện")),
    ("KET_QUA_DTRI", _lazy("Kết quả điều trị")),
    ("MA_LOAI_RV", _lazy("Loại ra viện")),
)
MONEY_FIELDS = (
    ("T_TONGCHI_BV", _lazy("Tổng chi phí")),
    ("T_TONGCHI_BH", _lazy("Trong phạm vi BHYT")),
    ("T_BHTT", _lazy("Quỹ BHYT thanh toán")),
    ("T_BNCCT", _lazy("Người bệnh cùng chi trả")),
    ("T_BNTT", _lazy("Người bệnh tự trả")),
    ("T_NGUONKHAC", _lazy("Nguồn khác")),
    ("T_THUOC", _lazy("Trong đó thuốc")),
    ("T_VTYT", _lazy("Trong đó vật tư y tế")),
)


def _reasons(dossier) -> list[dict[str, str]]:
    """The insurer's rejection reasons as {code, message} (whatever shape the answer had)."""
    out = []
    for item in dossier.rejection_reasons or []:
        if isinstance(item, dict):
            code = item.get("code") or item.get("ma") or ""
            message = item.get("message") or item.get("reason") or item.get("noi_dung") or ""
            out.append({"code": str(code), "message": str(message or item)})
        else:
            out.append({"code": "", "message": str(item)})
    return out


def _render_detail(request, dossier, *, number=None, form: RebuildForm | None = None):
    try:
        version = dossier_version(actor=request.user, dossier=dossier, number=number)
    except DossierVersion.DoesNotExist:
        raise Http404 from None
    encounter = dossier.encounter
    content = workspace.version_content(version)
    errors = []
    for issue in version.errors:
        url, label = fix_link(issue, encounter)
        errors.append({**issue, "fix_url": url, "fix_label": label})
    buildable = dossier.status in BUILDABLE
    context = {
        "dossier": dossier,
        "encounter": encounter,
        "patient": encounter.patient,
        "version": version,
        "is_current": version.number == dossier.current_version,
        "content": content,
        "summary_rows": [
            (label, name, content.summary.get(name, "")) for name, label in SUMMARY_FIELDS
        ],
        "money_rows": [
            (label, name, content.summary.get(name, "")) for name, label in MONEY_FIELDS
        ],
        "errors": errors,
        "versions": workspace.dossier_versions(dossier=dossier),
        "reasons": _reasons(dossier),
        "reason_links": reason_links(encounter),
        "can_rebuild": buildable,
        "reason_required": dossier.status == DossierStatus.REJECTED,
        "rebuild_form": form or RebuildForm(),
    }
    return render(request, "insurance/dossier_detail.html", context)


@require_GET
@claims_required
def dossier_detail(request, dossier_id: int, number: int | None = None):
    dossier = workspace.dossier_for(
        actor=request.user, facility=facility_of(request), pk=dossier_id
    )
    if dossier.current_version == 0:
        raise Http404
    return _render_detail(request, dossier, number=number)


@require_POST
@claims_required
def dossier_rebuild(request, dossier_id: int):
    """Lập lại hồ sơ: a new version from the (corrected) record; old versions stay readable."""
    facility = facility_of(request)
    dossier = workspace.dossier_for(actor=request.user, facility=facility, pk=dossier_id)
    form = RebuildForm(request.POST)
    if form.is_valid():
        try:
            version = dossier_build(
                actor=request.user,
                facility=facility,
                encounter=dossier.encounter,
                reason=form.cleaned_data["reason"],
            )
        except (DomainError, PermissionDenied) as exc:
            form.add_error("reason" if dossier.status == DossierStatus.REJECTED else None, str(exc))
        except (ImproperlyConfigured, OSError):
            form.add_error(
                None,
                _(
                    "Chưa cấu hình chứng thư số của cơ sở để ký hồ sơ: chưa lập lại được. "
                    "Hãy báo quản trị hệ thống."
                ),
            )
        else:
            if version.errors:
                messages.warning(
                    request,
                    _("Đã lập phiên bản %(n)s: còn %(e)s lỗi cần sửa.")
                    % {"n": version.number, "e": len(version.errors)},
                )
            else:
                messages.success(
                    request,
                    _("Đã lập phiên bản %(n)s: hồ sơ sẵn sàng gửi.") % {"n": version.number},
                )
            return redirect("claims:dossier", dossier_id=dossier.pk)
    dossier.refresh_from_db()
    return _render_detail(request, dossier, form=form)


@require_GET
@claims_required
def envelope_download(request, dossier_id: int, number: int):
    """The signed GIAMDINHHS envelope of one version, as the file sent to the insurer."""
    dossier = workspace.dossier_for(
        actor=request.user, facility=facility_of(request), pk=dossier_id
    )
    try:
        version = dossier_version(actor=request.user, dossier=dossier, number=number)
    except DossierVersion.DoesNotExist:
        raise Http404 from None
    response = HttpResponse(version.envelope.encode("utf-8"), content_type="application/xml")
    name = f"{dossier.claim_key}_v{version.number}.xml"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@claims_required
def summary_pdf(request):
    """The director's monthly summary: claims by status and by cost group (totals only)."""
    form = PeriodForm(request.GET)
    period = form.cleaned_data["month"] if form.is_valid() else workspace.Period.current()
    data = workspace.monthly_summary(
        actor=request.user, facility=facility_of(request), period=period
    )
    return pdf_response(
        render_monthly_summary(data),
        f"tong-hop-bhyt-{facility_of(request).code}-{period.value}.pdf",
    )
