"""The insurance officer's workspace (issue 5 "Pages and exports"): reads and the period build.

Reads (selectors): the dossiers of a facility and a settlement period with their filters, the
counts and amounts per status, a page of dossiers (each patient shown is audited, like the
patient search), the encounters of a period still waiting for a dossier, the lines and summary
of a stored version (parsed from the XML that is sent, not from the record), and the monthly
totals by cost group for the director's PDF.

Writes: `build_run_start` queues the build of a period's dossiers (a `DossierBuildRun`, one per
facility and period at a time) that the Celery task runs in chunks (`build_run_step`), one
encounter at a time, each through `dossier_build` in its own transaction, so one bad record never
rolls back the others; the page polls the run's counts.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from zoneinfo import ZoneInfo

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, transaction
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.exceptions import DomainError
from ehealth.core.permissions import has_perm_at
from insurance.claims.build_models import ACTIVE_BUILD_STATUSES, BuildRunStatus, DossierBuildRun
from insurance.claims.fields import TABLES
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.services import CLAIMABLE_STATUSES, DossierNotBuildable, dossier_build
from insurance.claims.signing import signing_material
from patients.clinical.documents.data import FacilityInfo

logger = logging.getLogger(__name__)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
ZERO = Decimal(0)
MANAGE_CLAIMS = "insurance.manage_claims"
PAGE_SIZE = 50
# The background build (`build_run_start` -> the Celery task): dossier_build runs ~15 per second on
# a 2-core box, so a chunk of 25 takes ~2 s and the counts move at the pace the page polls them;
# a task builds chunks for BUILD_TASK_BUDGET seconds, then queues itself again (well inside the
# task time limit). A run whose counts did not move for BUILD_RUN_STALE_AFTER is taken as dead.
BUILD_CHUNK = 25
BUILD_TASK_BUDGET = 60
BUILD_RUN_STALE_AFTER = timedelta(minutes=10)
MAX_FAILURES_KEPT = 20
STATUS_ORDER = [s.value for s in DossierStatus]
# Statuses whose dossiers count as claimed in the monthly summary: a valid version that is
# (or was) put to the insurer. Drafts and dossiers with errors are not claims yet.
CLAIMED_STATUSES = (
    DossierStatus.READY,
    DossierStatus.SENT,
    DossierStatus.ACCEPTED,
    DossierStatus.REJECTED,
    DossierStatus.PAID,
)
MONEY_FIELDS = ("THANH_TIEN_BV", "THANH_TIEN_BH", "T_BHTT", "T_BNCCT", "T_BNTT", "T_NGUONKHAC")


class WorkspaceError(DomainError):
    """The workspace cannot do what was asked (said in Vietnamese)."""


# --- Period and filters -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A settlement month (NAM_QT, THANG_QT), in Asia/Ho_Chi_Minh."""

    year: int
    month: int

    @classmethod
    def current(cls) -> Period:
        today = timezone.localdate(timezone=LOCAL)
        return cls(today.year, today.month)

    @classmethod
    def parse(cls, text: str) -> Period | None:
        """'2026-11' -> Period(2026, 11); None when not a month."""
        try:
            year_text, month_text = (text or "").strip().split("-")
            year, month = int(year_text), int(month_text)
        except ValueError:
            return None
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            return None
        return cls(year, month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=LOCAL)

    @property
    def end(self) -> datetime:
        """The first moment of the next month (exclusive bound)."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=LOCAL)
        return datetime(self.year, self.month + 1, 1, tzinfo=LOCAL)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def value(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.month:02d}/{self.year:04d}"


@dataclass(frozen=True)
class DossierFilters:
    """What the officer narrowed the list to; empty strings mean 'all'."""

    period: Period
    department_code: str = ""
    visit_type: str = ""
    status: str = ""
    has_errors: bool | None = None


def require_claims_perm(actor, facility) -> None:
    """PermissionDenied unless the actor manages claims at the facility."""
    if not has_perm_at(actor, MANAGE_CLAIMS, facility.pk):
        raise PermissionDenied(_("Bạn không có quyền quản lý hồ sơ giám định BHYT tại cơ sở này."))


def _error_count() -> Subquery:
    """The number of validation issues of the dossier's current version."""
    return Subquery(
        DossierVersion.objects.filter(dossier=OuterRef("pk"), number=OuterRef("current_version"))
        .annotate(n=Func(F("errors"), function="jsonb_array_length", output_field=IntegerField()))
        .values("n")[:1],
        output_field=IntegerField(),
    )


def _filtered(facility, filters: DossierFilters, *, with_status: bool = True) -> QuerySet[Dossier]:
    qs = Dossier.objects.filter(
        facility=facility,
        settlement_year=filters.period.year,
        settlement_month=filters.period.month,
    )
    if filters.department_code:
        qs = qs.filter(department_code=filters.department_code)
    if filters.visit_type:
        qs = qs.filter(visit_type=filters.visit_type)
    if with_status and filters.status:
        qs = qs.filter(status=filters.status)
    if filters.has_errors is not None:
        with_errors = Exists(
            DossierVersion.objects.filter(
                dossier=OuterRef("pk"), number=OuterRef("current_version")
            ).exclude(errors=[])
        )
        qs = qs.filter(with_errors) if filters.has_errors else qs.exclude(with_errors)
    return qs


@dataclass(frozen=True)
class StatusTotal:
    """Dossiers of one status: how many, T_TONGCHI_BV and T_BHTT summed."""

    status: str
    label: str
    count: int = 0
    hospital: Decimal = ZERO
    fund: Decimal = ZERO


@dataclass(frozen=True)
class StatusTotals:
    rows: list[StatusTotal]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def hospital(self) -> Decimal:
        return sum((r.hospital for r in self.rows), ZERO)

    @property
    def fund(self) -> Decimal:
        return sum((r.fund for r in self.rows), ZERO)


def dossier_status_totals(*, facility, filters: DossierFilters) -> StatusTotals:
    """Counts and amounts per status (every status, zeros included) under the filters other than
    the status itself, so each figure is also a link that narrows the list. One query."""
    found = {
        row["status"]: row
        for row in _filtered(facility, filters, with_status=False)
        .order_by()
        .values("status")
        .annotate(n=Count("id"), hospital=Sum("total_hospital"), fund=Sum("total_fund"))
    }
    labels = dict(DossierStatus.choices)
    rows = []
    for status in STATUS_ORDER:
        row = found.get(status)
        rows.append(
            StatusTotal(
                status=status,
                label=str(labels[status]),
                count=row["n"] if row else 0,
                hospital=(row["hospital"] or ZERO) if row else ZERO,
                fund=(row["fund"] or ZERO) if row else ZERO,
            )
        )
    return StatusTotals(rows)


def dossier_page(
    *, actor, facility, filters: DossierFilters, page_number, per_page: int | None = None
) -> Page:
    """One page of the facility's dossiers under the filters, newest encounter first, each row with
    its patient, encounter and the error count of its current version. A fixed number of queries
    whatever the page size; every patient shown is audited (one INSERT)."""
    require_claims_perm(actor, facility)
    qs = (
        _filtered(facility, filters)
        .select_related("encounter__patient", "encounter__department")
        .annotate(error_count=Coalesce(_error_count(), Value(0)))
        .order_by(F("encounter__ended_at").desc(nulls_last=True), "-id")
    )
    page = Paginator(qs, per_page or PAGE_SIZE).get_page(page_number)
    rows = list(page.object_list)
    page.object_list = rows
    if rows:
        audit_record_many(
            actor=actor,
            action="claims.dossier_list",
            patient_ids=sorted({d.encounter.patient_id for d in rows}),
            detail={"facility_id": facility.pk, "period": filters.period.value},
        )
    return page


def dossier_for(*, actor, facility, pk) -> Dossier:
    """A dossier of the facility (404 for another facility's, exactly like a missing one)."""
    require_claims_perm(actor, facility)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    dossier = (
        Dossier.objects.select_related("encounter__patient", "encounter__department", "facility")
        .filter(pk=pk, facility=facility)
        .first()
    )
    if dossier is None:
        raise Http404
    return dossier


def dossier_versions(*, dossier: Dossier) -> list[DossierVersion]:
    """Every version of a dossier, newest first, without their XML (the list of versions)."""
    return list(
        dossier.versions.select_related("created_by")
        .defer("tables", "envelope")
        .order_by("-number")
    )


# --- Encounters of a period and the build ------------------------------------------------------


def claimable_encounters(*, facility, period: Period):
    """Encounters of the facility that ended in the period with a card, concluded or discharged,
    that have no dossier yet or whose dossier is a draft or has errors (to (re)build)."""
    from patients.models import Encounter

    return (
        Encounter.objects.filter(
            facility=facility,
            voided_at__isnull=True,
            status__in=CLAIMABLE_STATUSES,
        )
        .exclude(insurance_card_code="")
        .annotate(period_at=Coalesce("ended_at", "started_at"))
        .filter(period_at__gte=period.start, period_at__lt=period.end)
        .filter(
            Q(claim_dossier__isnull=True)
            | Q(claim_dossier__status__in=(DossierStatus.DRAFT, DossierStatus.INVALID))
        )
    )


@dataclass
class PeriodBuildReport:
    """What one chunk of the build did: how many built, ready, with errors, refused."""

    period: Period
    ready: int = 0
    invalid: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def built(self) -> int:
        return self.ready + self.invalid


def _signing_material():
    try:
        return signing_material()
    except (ImproperlyConfigured, OSError) as exc:
        raise WorkspaceError(
            _(
                "Chưa cấu hình chứng thư số của cơ sở để ký hồ sơ (CLAIMS_SIGNING_KEY_FILE, "
                "CLAIMS_SIGNING_CERT_FILE): chưa lập được hồ sơ nào."
            )
        ) from exc


def _build_ids(*, actor, facility, ids, material, report: PeriodBuildReport) -> None:
    """Build each encounter's dossier in its own transaction; a refusal is noted, never raised."""
    from patients.models import Encounter

    for encounter_id in ids:
        try:
            version = dossier_build(
                actor=actor,
                facility=facility,
                encounter=Encounter(pk=encounter_id),
                material=material,
            )
        except (DossierNotBuildable, Http404) as exc:
            report.failed.append((encounter_id, str(exc) or _("Không tìm thấy lượt khám.")))
            continue
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the run
            logger.exception("dossier build of encounter %s failed", encounter_id)
            report.failed.append(
                (
                    encounter_id,
                    _("Lỗi hệ thống khi lập hồ sơ (%(kind)s).") % {"kind": type(exc).__name__},
                )
            )
            continue
        if version.errors:
            report.invalid += 1
        else:
            report.ready += 1


# --- The period build in the background (a Celery task with its progress) ----------------------


@dataclass(frozen=True)
class BuildStart:
    run: DossierBuildRun
    joined: bool  # True: a run of the period was already queued or running; no new one


def _stale(run: DossierBuildRun) -> bool:
    return run.updated_at < timezone.now() - BUILD_RUN_STALE_AFTER


@transaction.atomic
def build_run_start(*, actor, facility, period: Period) -> BuildStart:
    """Queue the build of the period's dossiers (the task is sent once this transaction commits).

    One run per facility and period at a time: while one is queued or running, a second start
    joins it. A run silent for longer than BUILD_RUN_STALE_AFTER (its worker was lost) is marked
    failed and a new one starts; rebuilding is safe (ready and sent dossiers are never touched).
    """
    from insurance.claims.tasks import dossier_build_run_task

    require_claims_perm(actor, facility)
    _signing_material()  # said now, in the page, rather than by a failed run
    active = (
        DossierBuildRun.objects.select_for_update()
        .filter(facility=facility, year=period.year, month=period.month)
        .filter(status__in=ACTIVE_BUILD_STATUSES)
        .first()
    )
    if active is not None and not _stale(active):
        return BuildStart(active, joined=True)
    if active is not None:
        active.status = BuildRunStatus.FAILED
        active.finished_at = timezone.now()
        active.last_error = _("Tiến trình lập hồ sơ bị gián đoạn; đã chạy lại.")
        active.save(update_fields=["status", "finished_at", "last_error", "updated_at"])
    total = claimable_encounters(facility=facility, period=period).count()
    try:
        with transaction.atomic():
            run = DossierBuildRun.objects.create(
                facility=facility,
                year=period.year,
                month=period.month,
                total=total,
                created_by=actor,
            )
    except IntegrityError:  # another officer's click committed first: join it
        run = DossierBuildRun.objects.get(
            facility=facility,
            year=period.year,
            month=period.month,
            status__in=ACTIVE_BUILD_STATUSES,
        )
        return BuildStart(run, joined=True)
    audit_record(
        actor=actor,
        action="claims.period_build_start",
        target=run,
        detail={"facility_id": facility.pk, "period": period.value, "total": total},
    )
    transaction.on_commit(partial(dossier_build_run_task.delay, run.pk))
    return BuildStart(run, joined=False)


def _chunk_take(run_id: int) -> tuple[DossierBuildRun | None, list[int]]:
    """Lock the run, take the next chunk of encounter ids after its cursor and move the cursor
    past them (so a chunk is built once even when two workers hold the same run)."""
    with transaction.atomic():
        run = (
            DossierBuildRun.objects.select_for_update(of=("self",))
            .select_related("facility", "created_by")
            .filter(pk=run_id)
            .first()
        )
        if run is None or not run.is_active:
            return None, []
        period = Period(run.year, run.month)
        ids = list(
            claimable_encounters(facility=run.facility, period=period)
            .filter(pk__gt=run.cursor)
            .order_by("pk")
            .values_list("pk", flat=True)[:BUILD_CHUNK]
        )
        fields = ["cursor", "updated_at"]
        if run.status == BuildRunStatus.QUEUED:
            run.status = BuildRunStatus.RUNNING
            run.started_at = timezone.now()
            fields += ["status", "started_at"]
        if ids:
            run.cursor = ids[-1]
        run.save(update_fields=fields)
        return run, ids


def _chunk_record(run: DossierBuildRun, report: PeriodBuildReport, *, last: bool) -> None:
    with transaction.atomic():
        locked = DossierBuildRun.objects.select_for_update().get(pk=run.pk)
        locked.built_ready += report.ready
        locked.built_invalid += report.invalid
        locked.failed += len(report.failed)
        room = MAX_FAILURES_KEPT - len(locked.failures)
        if room > 0:
            locked.failures = locked.failures + [
                {"encounter_id": pk, "message": message} for pk, message in report.failed[:room]
            ]
        if report.failed:
            pk, message = report.failed[-1]
            locked.last_error = (
                _("Lượt khám #%(id)s: %(message)s") % {"id": pk, "message": message}
            )[:1000]
        locked.total = max(locked.total, locked.done)
        if last and locked.is_active:
            locked.status = BuildRunStatus.DONE
            locked.finished_at = timezone.now()
        locked.save()


def build_run_fail(*, run_id: int, error: str) -> None:
    """Mark a run failed (the task could not go on: no certificate, an unexpected error)."""
    DossierBuildRun.objects.filter(pk=run_id, status__in=ACTIVE_BUILD_STATUSES).update(
        status=BuildRunStatus.FAILED,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
        last_error=error[:1000],
    )


def build_run_step(*, run_id: int, budget_seconds: float | None = None) -> bool:
    """Build chunks of the run until it is done or `budget_seconds` have passed (None: to the end).
    Every dossier is its own transaction; the counts are added after each chunk. Returns True
    when more remains (the task queues itself again)."""
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    try:
        material = _signing_material()
    except WorkspaceError as exc:
        build_run_fail(run_id=run_id, error=str(exc))
        return False
    while True:
        run, ids = _chunk_take(run_id)
        if run is None:
            return False
        report = PeriodBuildReport(period=Period(run.year, run.month))
        _build_ids(
            actor=run.created_by, facility=run.facility, ids=ids, material=material, report=report
        )
        last = len(ids) < BUILD_CHUNK
        _chunk_record(run, report, last=last)
        if last:
            return False
        if deadline is not None and time.monotonic() >= deadline:
            return True


def build_run_latest(*, actor, facility, period: Period) -> DossierBuildRun | None:
    """The last build run of the facility's period (None when never built in the background)."""
    require_claims_perm(actor, facility)
    return (
        DossierBuildRun.objects.filter(facility=facility, year=period.year, month=period.month)
        .order_by("-created_at", "-id")
        .first()
    )


def build_run_for(*, actor, facility, pk) -> DossierBuildRun:
    """A build run of the facility (404 for another facility's or a bad id)."""
    require_claims_perm(actor, facility)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    run = DossierBuildRun.objects.filter(pk=pk, facility=facility).first()
    if run is None:
        raise Http404
    return run


# --- A stored version, read back from its XML --------------------------------------------------


def table_rows(code: str, xml: str | bytes | None) -> list[dict[str, str]]:
    """The rows of a stored table (XML text) as {field: text}; [] for an absent table."""
    if not xml:
        return []
    spec = TABLES[code]
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    holders = [root] if not spec.has_rows else root.findall(f"{spec.path[1]}/{spec.path[2]}")
    return [{child.tag: (child.text or "") for child in holder} for holder in holders]


def to_decimal(value: str | None) -> Decimal:
    """A money text of a table as Decimal (0 when empty or unreadable)."""
    try:
        return Decimal(value) if value else ZERO
    except InvalidOperation:
        return ZERO


@dataclass(frozen=True)
class VersionLine:
    """One XML2 or XML3 line as the officer reads it (money as Decimal)."""

    table: str
    number: str  # STT
    code: str
    name: str
    cost_group: str
    unit: str
    quantity: Decimal
    price: Decimal
    hospital: Decimal  # THANH_TIEN_BV
    bhyt: Decimal  # THANH_TIEN_BH
    benefit_rate: str  # MUC_HUONG
    fund: Decimal  # T_BHTT
    copay: Decimal  # T_BNCCT
    self_pay: Decimal  # T_BNTT
    other: Decimal  # T_NGUONKHAC


@dataclass(frozen=True)
class VersionContent:
    """What a version says: XML1's fields, its lines, the pretty XML of each table."""

    summary: dict[str, str]
    drugs: list[VersionLine]
    services: list[VersionLine]
    pretty: dict[str, str]

    def total(self, lines: Iterable[VersionLine], name: str) -> Decimal:
        return sum((getattr(line, name) for line in lines), ZERO)

    @property
    def drug_totals(self) -> dict[str, Decimal]:
        return {n: self.total(self.drugs, n) for n in ("hospital", "bhyt", "fund", "copay", "self_pay", "other")}  # fmt: skip

    @property
    def service_totals(self) -> dict[str, Decimal]:
        return {n: self.total(self.services, n) for n in ("hospital", "bhyt", "fund", "copay", "self_pay", "other")}  # fmt: skip


def _line(table: str, row: dict[str, str]) -> VersionLine:
    if table == "XML2":
        code, name, price = row.get("MA_THUOC", ""), row.get("TEN_THUOC", ""), row.get("DON_GIA")
    else:
        code = row.get("MA_DICH_VU") or row.get("MA_VAT_TU", "")
        name = row.get("TEN_DICH_VU") or row.get("TEN_VAT_TU", "")
        price = row.get("DON_GIA_BV")
    return VersionLine(
        table=table,
        number=row.get("STT", ""),
        code=code,
        name=name,
        cost_group=row.get("MA_NHOM", ""),
        unit=row.get("DON_VI_TINH", ""),
        quantity=to_decimal(row.get("SO_LUONG")),
        price=to_decimal(price),
        hospital=to_decimal(row.get("THANH_TIEN_BV")),
        bhyt=to_decimal(row.get("THANH_TIEN_BH")),
        benefit_rate=row.get("MUC_HUONG", ""),
        fund=to_decimal(row.get("T_BHTT")),
        copay=to_decimal(row.get("T_BNCCT")),
        self_pay=to_decimal(row.get("T_BNTT")),
        other=to_decimal(row.get("T_NGUONKHAC")),
    )


def pretty_xml(xml: str) -> str:
    """The table's XML indented for reading (the template escapes it)."""
    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        return xml
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def version_content(version: DossierVersion) -> VersionContent:
    """Parse a stored version's tables for the detail page."""
    tables = version.tables or {}
    summary_rows = table_rows("XML1", tables.get("XML1"))
    order = {code: n for n, code in enumerate(TABLES)}
    return VersionContent(
        summary=summary_rows[0] if summary_rows else {},
        drugs=[_line("XML2", r) for r in table_rows("XML2", tables.get("XML2"))],
        services=[_line("XML3", r) for r in table_rows("XML3", tables.get("XML3"))],
        pretty={
            code: pretty_xml(tables[code])
            for code in sorted(tables, key=lambda c: order.get(c, 99))
        },
    )


# --- The monthly summary (director's PDF) ------------------------------------------------------


@dataclass(frozen=True)
class CostGroupTotal:
    """Claimed lines of one cost group (MA_NHOM) over a month."""

    cost_group: int
    label: str
    lines: int = 0
    hospital: Decimal = ZERO
    bhyt: Decimal = ZERO
    fund: Decimal = ZERO
    copay: Decimal = ZERO
    self_pay: Decimal = ZERO
    other: Decimal = ZERO


@dataclass(frozen=True)
class MonthlySummary:
    """The claims of one facility and month: per status, and the claimed ones per cost group."""

    facility: FacilityInfo  # the shared PDF header's facility
    period: Period
    statuses: StatusTotals
    groups: list[CostGroupTotal]
    claimed_dossiers: int
    printed_at: datetime
    printed_by: str = ""

    def group_total(self, name: str) -> Decimal:
        return sum((getattr(g, name) for g in self.groups), ZERO)


def cost_group_label(group: int) -> str:
    from ehealth.core.models.catalogs import CostGroup

    labels = dict(CostGroup.choices)
    labels.update({5: _("Thuốc ngoài danh mục"), 6: _("Thuốc thanh toán theo tỷ lệ")})
    labels.update({11: _("Vật tư thanh toán theo tỷ lệ")})
    return str(labels.get(group, _("Nhóm %(n)s") % {"n": group}))


def cost_group_totals(*, facility, period: Period) -> tuple[list[CostGroupTotal], int]:
    """Sums per cost group over the XML2/XML3 lines of the current versions of the month's claimed
    dossiers (what was or will be sent), in the order of the cost statement (form 01/KBCB); and
    the number of dossiers summed. Streams the versions: memory does not grow with the month."""
    from billing.pdf.common import FORM_ORDER

    acc: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    lines: dict[int, int] = defaultdict(int)
    dossiers = 0
    versions = (
        DossierVersion.objects.filter(
            dossier__facility=facility,
            dossier__settlement_year=period.year,
            dossier__settlement_month=period.month,
            dossier__status__in=CLAIMED_STATUSES,
            number=F("dossier__current_version"),
        )
        .annotate(xml2=KeyTextTransform("XML2", "tables"), xml3=KeyTextTransform("XML3", "tables"))
        .values_list("xml2", "xml3")
        .order_by("pk")
    )
    for xml2, xml3 in versions.iterator(chunk_size=500):
        dossiers += 1
        for code, xml in (("XML2", xml2), ("XML3", xml3)):
            for row in table_rows(code, xml):
                try:
                    group = int(row.get("MA_NHOM") or 0)
                except ValueError:
                    group = 0
                lines[group] += 1
                for name in MONEY_FIELDS:
                    acc[group][name] += to_decimal(row.get(name))
    groups = [
        CostGroupTotal(
            cost_group=g,
            label=cost_group_label(g),
            lines=lines[g],
            hospital=acc[g]["THANH_TIEN_BV"],
            bhyt=acc[g]["THANH_TIEN_BH"],
            fund=acc[g]["T_BHTT"],
            copay=acc[g]["T_BNCCT"],
            self_pay=acc[g]["T_BNTT"],
            other=acc[g]["T_NGUONKHAC"],
        )
        for g in sorted(acc, key=lambda g: (FORM_ORDER.get(g, 9), g))
    ]
    return groups, dossiers


def monthly_summary(*, actor, facility, period: Period) -> MonthlySummary:
    """Everything the director's monthly PDF prints (no patient is named: totals only)."""
    require_claims_perm(actor, facility)
    groups, claimed = cost_group_totals(facility=facility, period=period)
    return MonthlySummary(
        facility=FacilityInfo(
            name=facility.name,
            code=facility.code,
            address=facility.address,
            phone=facility.phone,
            managing_body=facility.managing_body,
        ),
        period=period,
        statuses=dossier_status_totals(facility=facility, filters=DossierFilters(period=period)),
        groups=groups,
        claimed_dossiers=claimed,
        printed_at=timezone.now(),
        printed_by=getattr(actor, "full_name", "") or getattr(actor, "username", ""),
    )
