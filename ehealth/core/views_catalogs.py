"""The catalog import page: upload a CSV/XLSX file, see the per-row report, download templates.

Who: staff holding `core.manage_catalog` at their active facility; anyone else is answered 404.
At the city health authority every catalog may be imported; at a unit, only that unit's prices.
`catalog_import` enforces the same rule again, and its refusal is shown beside the field.
"""

from __future__ import annotations

import csv
import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from ehealth.core.catalogs import COLUMNS, ERROR, KINDS, MANAGE_CATALOG, ImportReport, RowReport
from ehealth.core.catalogs import catalog_import as catalog_import_service
from ehealth.core.forms import CATALOG_KIND_LABELS, CatalogImportForm
from ehealth.core.models import Facility
from ehealth.core.permissions import has_perm_at

# A 5 MB file may hold tens of thousands of rows: every error row is shown, other rows up to this.
MAX_SHOWN_ROWS = 1000


def _importable_kinds(request) -> tuple[str, ...]:
    """Catalogs the user may import at the active facility (404 when none)."""
    membership = getattr(request, "active_membership", None)
    facility_id = membership.facility_id if membership else None
    if not has_perm_at(request.user, MANAGE_CATALOG, facility_id):
        raise Http404
    if membership.facility.kind == Facility.Kind.HEALTH_AUTHORITY:
        return KINDS
    return ("prices",)


def _template_csv(kind: str) -> HttpResponse:
    """The header row the importer expects for `kind`: required columns first, then optional."""
    required, optional = COLUMNS[kind]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(required + optional)
    # The BOM lets Excel open the file as UTF-8; the importer reads it with or without one.
    response = HttpResponse(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="mau-danh-muc-{kind}.csv"'
    return response


def _rows_to_show(report: ImportReport) -> tuple[list[RowReport], int]:
    """Every error row, and the other rows while the table stays readable; plus how many hid."""
    if len(report.rows) <= MAX_SHOWN_ROWS:
        return report.rows, 0
    room = max(MAX_SHOWN_ROWS - len(report.errors()), 0)
    shown = []
    for row in report.rows:
        if row.status == ERROR:
            shown.append(row)
        elif room:
            shown.append(row)
            room -= 1
    return shown, len(report.rows) - len(shown)


@login_required
def catalog_import(request):
    """GET: the form (or `?template=<kind>`: a CSV template); POST: import and show the report."""
    kinds = _importable_kinds(request)
    template_kind = request.GET.get("template")
    if template_kind is not None:
        if template_kind not in KINDS:
            raise Http404
        return _template_csv(template_kind)

    report, shown, hidden = None, [], 0
    if request.method == "POST":
        form = CatalogImportForm(request.POST, request.FILES, kinds=kinds)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = catalog_import_service(
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    file_name=upload.name,
                    content=upload.read(),
                    dry_run=form.cleaned_data["dry_run"],
                )
            except PermissionDenied:
                form.add_error(
                    "kind",
                    _(
                        "Bạn không có quyền nhập danh mục này: quản trị đơn vị chỉ nhập bảng giá "
                        "của cơ sở mình; các danh mục dùng chung do Sở Y tế nhập. Không có gì "
                        "được lưu."
                    ),
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                shown, hidden = _rows_to_show(report)
    else:
        form = CatalogImportForm(kinds=kinds)

    return render(
        request,
        "core/catalog_import.html",
        {
            "form": form,
            "report": report,
            "counts": report.counts if report else None,
            "kind_label": CATALOG_KIND_LABELS.get(report.kind) if report else "",
            "shown_rows": shown,
            "hidden_rows": hidden,
            "kinds": [(k, CATALOG_KIND_LABELS[k], COLUMNS[k][0], COLUMNS[k][1]) for k in kinds],
        },
    )
