"""Reconciliation of the insurer's settlement with the dossiers claimed (issue 5 "Submission and
answers": import the settlement of a period, match it, show the differences).

`settlement_import` reads the insurer's file (CSV or XLSX; one row per dossier: MA_LK and the
amount approved, optionally the approved amount per cost group in columns `nhom_<MA_NHOM>`),
checks every row and reports each bad one with its row number, column and rule, like the catalog
import. A settlement is a financial document: it is stored whole or not at all, so a file with a
bad row changes nothing (one transaction per import). A stored settlement matches each row to our
dossier by MA_LK, keeps the claimed amount (T_BHTT) as it was, and moves an accepted dossier to
paid. Importing the same file twice for a period is refused.

`reconciliation` reads the differences, claimed versus approved: per dossier (paginated, every
patient shown audited), per department and per cost group (MA_NHOM; the claimed amounts are the
T_BHTT of the XML2/XML3 lines of each dossier's current version, the approved amounts those of
the file's cost-group columns, else the dossier's approved amount shared in proportion to what
was claimed in each group).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.catalogs import RowError, read_table
from insurance.claims.batch_models import Settlement, SettlementLine
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.workspace import (
    LOCAL,
    ZERO,
    Period,
    cost_group_label,
    require_claims_perm,
    table_rows,
    to_decimal,
)

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999.99")
KEY_COLUMN, AMOUNT_COLUMN, NOTE_COLUMN = "ma_lk", "so_tien_duyet", "ghi_chu"
_ALIASES = {
    "malk": KEY_COLUMN,
    "ma_lien_ket": KEY_COLUMN,
    "so_tien_duoc_duyet": AMOUNT_COLUMN,
    "duoc_duyet": AMOUNT_COLUMN,
    "t_bhtt_duyet": AMOUNT_COLUMN,
    "amount_approved": AMOUNT_COLUMN,
    "note": NOTE_COLUMN,
}
_GROUP_COLUMN = re.compile(r"^(?:ma_)?nhom_(\d{1,2})$")
# Dossiers the insurer may have settled: sent to it and answered (or still waiting).
SETTLEABLE = (
    DossierStatus.SENT,
    DossierStatus.ACCEPTED,
    DossierStatus.REJECTED,
    DossierStatus.PAID,
)
OK, ERROR = "ok", "error"
PAGE_SIZE = 50


# --- Import -------------------------------------------------------------------------------------


@dataclass
class SettlementRow:
    """What the import made of one data row of the file."""

    row: int
    key: str = ""
    status: str = ERROR
    amount: Decimal | None = None
    claimed: Decimal | None = None
    messages: list[str] = field(default_factory=list)


@dataclass
class SettlementImportReport:
    """The outcome of one import: a row per data row, file-level errors and warnings, and the
    settlement when it was stored (None: nothing was stored)."""

    file_name: str
    period: Period
    dry_run: bool
    rows: list[SettlementRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settlement: Settlement | None = None
    paid: int = 0

    @property
    def errors(self) -> list[SettlementRow]:
        return [r for r in self.rows if r.status == ERROR]

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.errors

    @property
    def total_approved(self) -> Decimal:
        return sum((r.amount or ZERO for r in self.rows if r.status == OK), ZERO)


def _header(value: Any) -> str:
    name = unicodedata.normalize("NFC", str(value or "")).strip().lower()
    name = re.sub(r"[\s\-]+", "_", name)
    return _ALIASES.get(name, name)


def parse_amount_cell(value: Any, column: str, errors: list[str]) -> Decimal | None:
    """A money cell: a number from a spreadsheet, or text ("1.250.500", "1250500.50"). None and a
    Vietnamese message naming the column when it is not a non-negative amount in đồng."""
    from billing.forms import parse_amount

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError("bool")
        if isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, float):
            amount = Decimal(repr(value))
        elif isinstance(value, Decimal):
            amount = value
        else:
            amount = parse_amount(str(value))
    except (ValueError, InvalidOperation):
        errors.append(
            _('Cột "%(col)s": "%(value)s" không phải số tiền (ví dụ: 1250500 hoặc 1.250.500).')
            % {"col": column, "value": str(value)[:40]}
        )
        return None
    if amount < 0:
        errors.append(_('Cột "%(col)s": số tiền không được âm.') % {"col": column})
        return None
    if amount != amount.quantize(CENT) or amount > MAX_AMOUNT:
        errors.append(
            _('Cột "%(col)s": số tiền quá lớn hoặc có quá 2 chữ số thập phân.') % {"col": column}
        )
        return None
    return amount.quantize(CENT)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", "" if value is None else str(value)).strip()


@transaction.atomic
def settlement_import(
    *,
    actor,
    facility,
    period: Period,
    file_name: str,
    content: bytes,
    dry_run: bool = False,
) -> SettlementImportReport:
    """Check the insurer's settlement file of a period and, when every row is good (and not a
    dry run), store it matched to our dossiers. A bad row is reported and nothing is stored."""
    require_claims_perm(actor, facility)
    report = SettlementImportReport(file_name=file_name, period=period, dry_run=dry_run)
    try:
        raw_header, rows = read_table(file_name, content)
    except RowError as exc:
        report.file_errors.extend(exc.messages)
        return report
    header = [_header(h) for h in raw_header]
    missing = [c for c in (KEY_COLUMN, AMOUNT_COLUMN) if c not in header]
    if missing:
        report.file_errors.append(
            _("Thiếu cột bắt buộc: %(cols)s (cần ma_lk và so_tien_duyet).")
            % {"cols": ", ".join(missing)}
        )
        return report
    groups = {h: int(m.group(1)) for h in header if (m := _GROUP_COLUMN.match(h or ""))}
    unused = [h for h in header if h and h not in (KEY_COLUMN, AMOUNT_COLUMN, NOTE_COLUMN, *groups)]
    if unused:
        report.warnings.append(
            _("Các cột sau không được dùng và bị bỏ qua: %(cols)s.") % {"cols": ", ".join(unused)}
        )
    if not rows:
        report.file_errors.append(_("Tệp không có dòng dữ liệu nào."))
        return report
    digest = hashlib.sha256(content).hexdigest()
    earlier = Settlement.objects.filter(
        facility=facility, year=period.year, month=period.month, source_sha256=digest
    ).first()
    if earlier is not None:
        report.file_errors.append(
            _("Tệp này đã được nhập cho kỳ %(period)s lúc %(at)s: không nhập lại.")
            % {
                "period": period.label,
                "at": earlier.imported_at.astimezone(LOCAL).strftime("%H:%M %d/%m/%Y"),
            }
        )
        return report

    parsed: list[tuple[SettlementRow, dict]] = []
    for number, values in rows:
        cells = {h: v for h, v in zip(header, values, strict=False) if h}
        row = SettlementRow(row=number, key=_text(cells.get(KEY_COLUMN))[:100])
        report.rows.append(row)
        errors: list[str] = []
        if not row.key:
            errors.append(_('Cột "ma_lk": bắt buộc, không được để trống.'))
        amount = parse_amount_cell(cells.get(AMOUNT_COLUMN), AMOUNT_COLUMN, errors)
        if amount is None and not any(AMOUNT_COLUMN in e for e in errors):
            errors.append(_('Cột "so_tien_duyet": bắt buộc, không được để trống.'))
        by_group: dict[str, Decimal] = {}
        for column, group in groups.items():
            value = parse_amount_cell(cells.get(column), column, errors)
            if value is not None:
                by_group[str(group)] = value
        if amount is not None and by_group and sum(by_group.values(), ZERO) != amount:
            errors.append(
                _("Tổng các cột nhom_… (%(sum)s) phải bằng so_tien_duyet (%(amount)s).")
                % {"sum": sum(by_group.values(), ZERO), "amount": amount}
            )
        row.amount = amount
        row.messages = errors
        parsed.append((row, {"by_group": by_group, "note": _text(cells.get(NOTE_COLUMN))[:1000]}))

    keys = [r.key for r, _extra in parsed if r.key]
    dossiers = {
        d.claim_key: d
        for d in Dossier.objects.filter(facility=facility, claim_key__in=keys).select_related(
            "encounter"
        )
    }
    seen: dict[str, int] = {}
    for row, _extra in parsed:
        if row.key:
            if row.key in seen:
                row.messages.append(
                    _("MA_LK %(key)s trùng với dòng %(row)s của cùng tệp.")
                    % {"key": row.key, "row": seen[row.key]}
                )
            else:
                seen[row.key] = row.row
            dossier = dossiers.get(row.key)
            if dossier is None:
                row.messages.append(
                    _("MA_LK %(key)s không khớp hồ sơ giám định nào của cơ sở.") % {"key": row.key}
                )
            elif dossier.status not in SETTLEABLE:
                row.messages.append(
                    _("Hồ sơ %(key)s chưa được gửi cổng BHXH (trạng thái: %(status)s).")
                    % {"key": row.key, "status": dossier.get_status_display()}
                )
            else:
                row.claimed = dossier.total_fund
                if (dossier.settlement_year, dossier.settlement_month) != (
                    period.year,
                    period.month,
                ):
                    report.warnings.append(
                        _(
                            "Dòng %(row)s: hồ sơ %(key)s thuộc kỳ %(m)s/%(y)s, được quyết toán kỳ %(period)s."
                        )  # fmt: skip
                        % {
                            "row": row.row,
                            "key": row.key,
                            "m": dossier.settlement_month,
                            "y": dossier.settlement_year,
                            "period": period.label,
                        }
                    )
        row.status = ERROR if row.messages else OK

    if not report.ok or dry_run:
        return report

    user = actor if getattr(actor, "is_authenticated", False) else None
    settlement = Settlement.objects.create(
        facility=facility,
        year=period.year,
        month=period.month,
        imported_by=user,
        source_name=file_name[:255],
        source_sha256=digest,
        line_count=len(parsed),
        total_approved=report.total_approved,
    )
    SettlementLine.objects.bulk_create(
        [
            SettlementLine(
                settlement=settlement,
                line_number=row.row,
                claim_key=row.key,
                dossier=dossiers[row.key],
                amount_approved=row.amount,
                amount_claimed=dossiers[row.key].total_fund,
                department_code=dossiers[row.key].department_code,
                cost_groups={k: str(v) for k, v in extra["by_group"].items()},
                note=extra["note"],
            )
            for row, extra in parsed
        ]
    )
    accepted = list(
        Dossier.objects.select_for_update()
        .filter(pk__in=[dossiers[r.key].pk for r, _e in parsed], status=DossierStatus.ACCEPTED)
        .order_by("pk")
    )
    for dossier in accepted:
        dossier.move_to(DossierStatus.PAID)
        dossier.row_version += 1
        dossier.save(update_fields=["status", "row_version", "updated_at"])
    report.paid = len(accepted)
    report.settlement = settlement
    audit_record(
        actor=actor,
        action="claims.settlement_import",
        target=settlement,
        detail={
            "year": period.year,
            "month": period.month,
            "lines": len(parsed),
            "paid": len(accepted),
            "sha256": digest,
        },
    )
    audit_record_many(
        actor=actor,
        action="claims.settlement_match",
        patient_ids=sorted({dossiers[r.key].encounter.patient_id for r, _e in parsed}),
        detail={"settlement_id": settlement.pk},
    )
    return report


# --- Reading the differences --------------------------------------------------------------------


def settlements_of(*, facility, period: Period) -> list[Settlement]:
    """The settlements imported for a period, newest first (the first is the one in force)."""
    return list(
        Settlement.objects.filter(facility=facility, year=period.year, month=period.month)
        .select_related("imported_by")
        .order_by("-imported_at", "-id")
    )


@dataclass(frozen=True)
class Difference:
    """Claimed versus approved for a department or a cost group."""

    key: str
    label: str
    count: int
    claimed: Decimal
    approved: Decimal

    @property
    def difference(self) -> Decimal:
        return self.approved - self.claimed


@dataclass
class Reconciliation:
    """The reconciliation of one period against its latest settlement (None: none imported)."""

    period: Period
    settlement: Settlement | None
    page: Page
    total: Difference
    departments: list[Difference]
    groups: list[Difference]
    history: list[Settlement]


def _dossiers(facility, period: Period, settlement: Settlement | None) -> QuerySet[Dossier]:
    """The dossiers to reconcile: the period's dossiers sent to the insurer, and every dossier the
    settlement names (a late one of an earlier period), each with its claimed and approved (its
    settlement line joined once: a dossier has at most one line in a settlement)."""
    money = DecimalField(max_digits=15, decimal_places=2)
    in_period = Q(
        facility=facility,
        settlement_year=period.year,
        settlement_month=period.month,
        status__in=SETTLEABLE,
    )
    settlement_id = settlement.pk if settlement else None
    named = Q(line__isnull=False) if settlement else Q(pk__in=[])
    return (
        Dossier.objects.annotate(
            line=FilteredRelation(
                "settlement_lines", condition=Q(settlement_lines__settlement_id=settlement_id)
            )
        )
        .filter(in_period | named)
        .annotate(
            claimed=Coalesce(F("line__amount_claimed"), F("total_fund"), output_field=money),
            approved=Coalesce(F("line__amount_approved"), Value(ZERO), output_field=money),
            listed=Coalesce(F("line__line_number"), Value(0)),
        )
        .annotate(difference=ExpressionWrapper(F("approved") - F("claimed"), output_field=money))
    )


def _allocate(approved: Decimal, claimed: dict[int, Decimal]) -> dict[int, Decimal]:
    """Share an approved amount between cost groups in proportion to what each claimed; the
    rounding remainder goes to the largest group so the shares add up exactly."""
    total = sum(claimed.values(), ZERO)
    if approved == 0:
        return {}
    if total <= 0:
        return {0: approved}
    shares = {
        g: (approved * c / total).quantize(CENT, ROUND_HALF_UP) for g, c in claimed.items() if c
    }
    largest = max(shares, key=lambda g: (claimed[g], -g))
    shares[largest] += approved - sum(shares.values(), ZERO)
    return shares


def _by_group(dossiers: QuerySet[Dossier], settlement: Settlement | None) -> list[Difference]:
    """Claimed (T_BHTT of the current version's lines) and approved per cost group, streamed."""
    from billing.pdf.common import FORM_ORDER

    groups_col = Subquery(
        SettlementLine.objects.filter(settlement=settlement, dossier=OuterRef("dossier")).values(
            "cost_groups"
        )[:1]
    )
    approved_col = Subquery(
        SettlementLine.objects.filter(settlement=settlement, dossier=OuterRef("dossier")).values(
            "amount_approved"
        )[:1]
    )
    versions = (
        DossierVersion.objects.filter(
            dossier__in=dossiers.values("pk"), number=F("dossier__current_version")
        )
        .annotate(
            xml2=KeyTextTransform("XML2", "tables"),
            xml3=KeyTextTransform("XML3", "tables"),
            given=groups_col,
            approved=approved_col,
        )
        .values_list("xml2", "xml3", "given", "approved")
        .order_by("pk")
    )
    claimed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    approved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    counts: dict[int, set] = defaultdict(set)
    for n, (xml2, xml3, given, amount) in enumerate(versions.iterator(chunk_size=500)):
        mine: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for code, xml in (("XML2", xml2), ("XML3", xml3)):
            for row in table_rows(code, xml):
                try:
                    group = int(row.get("MA_NHOM") or 0)
                except ValueError:
                    group = 0
                mine[group] += to_decimal(row.get("T_BHTT"))
        for group, value in mine.items():
            claimed[group] += value
            counts[group].add(n)
        if given:
            shares = {int(k): Decimal(v) for k, v in given.items()}
        else:
            shares = _allocate(Decimal(amount or 0), dict(mine))
        for group, value in shares.items():
            approved[group] += value
            counts[group].add(n)
    return [
        Difference(
            key=str(g),
            label=cost_group_label(g) if g else _("Không phân bổ được"),
            count=len(counts[g]),
            claimed=claimed[g],
            approved=approved[g],
        )
        for g in sorted(set(claimed) | set(approved), key=lambda g: (FORM_ORDER.get(g, 9), g))
    ]


def reconciliation(
    *,
    actor,
    facility,
    period: Period,
    page_number=None,
    only_differences: bool = False,
    per_page: int | None = None,
) -> Reconciliation:
    """Claimed versus approved for a period against its latest settlement: per dossier (one page,
    a fixed number of queries, every patient shown audited), per department, per cost group."""
    from ehealth.core.models import Department

    require_claims_perm(actor, facility)
    history = settlements_of(facility=facility, period=period)
    settlement = history[0] if history else None
    dossiers = _dossiers(facility, period, settlement)
    listed = dossiers
    if only_differences:
        listed = listed.exclude(approved=F("claimed"))
    rows = listed.select_related("encounter__patient").order_by("department_code", "claim_key")
    page = Paginator(rows, per_page or PAGE_SIZE).get_page(page_number)
    page.object_list = list(page.object_list)
    if page.object_list:
        audit_record_many(
            actor=actor,
            action="claims.reconciliation_view",
            patient_ids=sorted({d.encounter.patient_id for d in page.object_list}),
            detail={"facility_id": facility.pk, "period": period.value},
        )
    totals = dossiers.aggregate(sum_claimed=Sum("claimed"), sum_approved=Sum("approved"))
    names = dict(Department.objects.filter(facility=facility).values_list("code", "name"))
    departments = [
        Difference(
            key=row["department_code"],
            label=names.get(row["department_code"], "") or _("(không rõ khoa)"),
            count=row["n"],
            claimed=row["c"] or ZERO,
            approved=row["a"] or ZERO,
        )
        for row in dossiers.order_by()
        .values("department_code")
        .annotate(n=Count("id"), c=Sum("claimed"), a=Sum("approved"))
        .order_by("department_code")
    ]
    return Reconciliation(
        period=period,
        settlement=settlement,
        page=page,
        total=Difference(
            key="",
            label=_("Tổng cộng"),
            count=page.paginator.count if not only_differences else dossiers.count(),
            claimed=totals["sum_claimed"] or ZERO,
            approved=totals["sum_approved"] or ZERO,
        ),
        departments=departments,
        groups=_by_group(dossiers, settlement),
        history=history,
    )
