"""The insurance officer's workspace (issue 5 "Pages and exports"): reads and the period build.

Reads (selectors): the dossiers of a facility and a settlement period with their filters, the
counts and amounts per status, a page of dossiers (each patient shown is audited, like the
patient search), the encounters of a period still waiting for a dossier, the lines and summary
of a stored version (parsed from the XML that is sent, not from the record), and the monthly
totals by cost group for the director's PDF.

Writes: `period_build` makes (or remakes) the dossiers of a period, one encounter at a time, each
through `dossier_build` in its own transaction, so one bad record never rolls back the others.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.paginator import Page, Paginator
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

from ehealth.core.audit import audit_record_many
from ehealth.core.exceptions import DomainError
from ehealth.core.permissions import has_perm_at
from insurance.claims.fields import TABLES
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.services import CLAIMABLE_STATUSES, DossierNotBuildable, dossier_build
from insurance.claims.signing import signing_material
from patients.clinical.documents.data import FacilityInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
ZERO = Decimal(0)
MANAGE_CLAIMS = "insurance.manage_claims"
PAGE_SIZE = 50
# A click on "Lập hồ sơ" builds at most this many dossiers in the request (dossier_build with its
# writes runs ~15 per second on a 2-core box: a few seconds); the page says how many are left and
# the officer clicks again. (A Celery task with progress would lift the cap: not done yet.)
PERIOD_BUILD_LIMIT = 100
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
    """What one click on "Lập hồ sơ" did: how many built, ready, with errors, refused."""

    period: Period
    ready: int = 0
    invalid: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    remaining: int = 0

    @property
    def built(self) -> int:
        return self.ready + self.invalid


def period_build(
    *, actor, facility, period: Period, limit: int = PERIOD_BUILD_LIMIT
) -> PeriodBuildReport:
    """Build the dossiers of the period's claimable encounters (at most `limit` of them), each in its
    own transaction through `dossier_build`; a refusal is reported and the loop goes on."""
    require_claims_perm(actor, facility)
    try:
        material = signing_material()
    except (ImproperlyConfigured, OSError) as exc:
        raise WorkspaceError(
            _(
                "Chưa cấu hình chứng thư số của cơ sở để ký hồ sơ (CLAIMS_SIGNING_KEY_FILE, "
                "CLAIMS_SIGNING_CERT_FILE): chưa lập được hồ sơ nào."
            )
        ) from exc
    ids = list(
        claimable_encounters(facility=facility, period=period)
        .order_by("period_at", "pk")
        .values_list("pk", flat=True)[: limit + 1]
    )
    report = PeriodBuildReport(period=period)
    if len(ids) > limit:
        ids = ids[:limit]
        report.remaining = claimable_encounters(facility=facility, period=period).count() - limit
    from patients.models import Encounter

    for encounter_id in ids:
        encounter = Encounter(pk=encounter_id)
        try:
            version = dossier_build(
                actor=actor, facility=facility, encounter=encounter, material=material
            )
        except (DossierNotBuildable, Http404) as exc:
            report.failed.append((encounter_id, str(exc) or _("Không tìm thấy lượt khám.")))
            continue
        if version.errors:
            report.invalid += 1
        else:
            report.ready += 1
    return report


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
