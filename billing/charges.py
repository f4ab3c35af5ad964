"""Charges derived from the clinical record: one idempotent service, `charges_derive`.

What is charged, one line per source row and day of service (the unique key of ChargeLine):

- **Examination**: one per outpatient visit (not visit type 07, drugs without examination), at
  the examination service of the visit's department or facility (`ServiceMapping`, else
  `settings.BILLING_DEFAULT_EXAMINATION_SERVICE`). The same patient examined several times on
  the same local day at the same facility pays 100 % for the 1st, 30 % for the 2nd to 4th, 10 %
  for the 5th and 0 for the 6th and later (domain brief 2.4); the rate is the line's
  `service_ratio` (TYLE_TT_DV) and follows the visits still valid (a cancelled one no longer
  counts).
- **Service orders** not cancelled, on the order's day (`for_day`, else the local day ordered).
- **Drugs** of issued prescriptions (outpatient prescriptions and the inpatient daily drug
  orders), lines not voided, on the prescription's day.
- **Bed-days** of an inpatient stay: one per calendar day in Asia/Ho_Chi_Minh from admission to
  discharge (or today while the stay is open), the same days SO_NGAY_DTRI counts ("out − in + 1",
  `patients.clinical.treatment_days`); none for a stay under 4 hours (visit type 09). A day goes
  to the department the patient is in at the end of that day (at discharge on the last day),
  from the stay's transfers; it is priced at that department's bed-day service (`ServiceMapping`,
  else `settings.BILLING_DEFAULT_BED_DAY_SERVICE`). Finer rules (shared beds 100/50/33 %, the
  TT 39/2018 "out − in" count for some discharges) are not applied: UNCONFIRMED in the brief.
- Supplies have no source in the clinical record yet (`ChargeSource.SUPPLY` is reserved).

Prices are the ones in force on the day of service, the facility's own first, else the city-wide
one (the rule of `ehealth.core.catalogs.price_in_force`, resolved here in bulk so the number of
queries does not grow with the lines). Prices marked illustrative by the reference loader are not
prices (unless `BILLING_ACCEPT_ILLUSTRATIVE_PRICES`). A missing price refuses the whole run with
a message naming each item and day; nothing is written.

Running twice changes nothing. A line whose source was cancelled (or disappeared) is *dropped*
with the time and the reason, never deleted; a changed source updates its line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import ChargeLine, ChargeSource, ChargeStatus, InvoiceStatus, ServiceMapping
from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.bulk import bulk_insert
from ehealth.core.models import Drug, DrugPrice, MedicalService, ServicePrice
from ehealth.core.models.catalogs import CostGroup
from ehealth.core.reference import ILLUSTRATIVE_SOURCE
from patients.clinical_choices import (
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
    VisitType,
)
from patients.models import Encounter, PrescriptionItem, ServiceOrder, Transfer
from patients.validation import VN_TZ

PREPARE_PERM = "billing.prepare_invoice"
HUNDRED = Decimal(100)
NO_EXAMINATION_TYPES = {VisitType.DRUGS_BY_APPOINTMENT}
NO_BED_DAY_TYPES = {VisitType.INPATIENT_UNDER_4H}


def examination_ratio(rank: int) -> Decimal:
    """TYLE_TT_DV of the `rank`-th examination (1-based) of a patient on one day at a facility."""
    if rank <= 1:
        return HUNDRED
    if rank <= 4:
        return Decimal(30)
    if rank == 5:
        return Decimal(10)
    return Decimal(0)


@dataclass
class DeriveReport:
    """What one run did: line counts by outcome (ids only, fit for the audit trail)."""

    encounter_id: int
    created: int = 0
    updated: int = 0
    dropped: int = 0
    unchanged: int = 0
    active_lines: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.dropped)


@dataclass
class _Wanted:
    """A line the record asks for, before its price is known."""

    kind: str
    source_id: int
    day: date
    item: object  # MedicalService | Drug
    quantity: Decimal
    department_id: int | None = None
    service_ratio: Decimal = HUNDRED
    in_scope: bool = True
    price: object = None  # PriceBase once resolved
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, date]:
        return (self.kind, self.source_id, self.day)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, VN_TZ).date()


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=VN_TZ)
    return start, start + timedelta(days=1)


# --- What the record asks for ---------------------------------------------------------------


def _mapped_services(encounter: Encounter) -> dict[tuple[str, int | None], MedicalService]:
    """(purpose, department id or None) -> service, with the settings defaults under
    (purpose, 'default')."""
    rows = ServiceMapping.objects.filter(facility_id=encounter.facility_id).select_related(
        "service"
    )
    found: dict = {(m.purpose, m.department_id): m.service for m in rows}
    codes = {
        ServiceMapping.Purpose.EXAMINATION: settings.BILLING_DEFAULT_EXAMINATION_SERVICE,
        ServiceMapping.Purpose.BED_DAY: settings.BILLING_DEFAULT_BED_DAY_SERVICE,
    }
    defaults = {s.code: s for s in MedicalService.objects.filter(code__in=codes.values())}
    for purpose, code in codes.items():
        if code in defaults:
            found[(purpose, "default")] = defaults[code]
    return found


def _service_for(mapped: dict, purpose: str, department_id: int | None, label: str):
    service = (
        mapped.get((purpose, department_id))
        or mapped.get((purpose, None))
        or mapped.get((purpose, "default"))
    )
    if service is None:
        raise ValidationError(
            _("Chưa cấu hình dịch vụ tính %(what)s cho khoa/cơ sở này.") % {"what": label}
        )
    return service


def _examination(encounter: Encounter, mapped: dict) -> list[_Wanted]:
    if encounter.kind != EncounterKind.OUTPATIENT or encounter.visit_type in NO_EXAMINATION_TYPES:
        return []
    if encounter.status == EncounterStatus.CANCELLED or encounter.voided_at is not None:
        return []
    day = local_day(encounter.started_at)
    start, end = _day_bounds(day)
    same_day = list(
        Encounter.objects.filter(
            patient_id=encounter.patient_id,
            facility_id=encounter.facility_id,
            kind=EncounterKind.OUTPATIENT,
            started_at__gte=start,
            started_at__lt=end,
            voided_at__isnull=True,
        )
        .exclude(status=EncounterStatus.CANCELLED)
        .exclude(visit_type__in=NO_EXAMINATION_TYPES)
        .order_by("started_at", "id")
        .values_list("id", flat=True)
    )
    rank = same_day.index(encounter.pk) + 1
    service = _service_for(
        mapped, ServiceMapping.Purpose.EXAMINATION, encounter.department_id, _("tiền khám")
    )
    return [
        _Wanted(
            kind=ChargeSource.EXAMINATION,
            source_id=encounter.pk,
            day=day,
            item=service,
            quantity=Decimal(1),
            department_id=encounter.department_id,
            service_ratio=examination_ratio(rank),
        )
    ]


def _by_id(model, ids) -> dict:
    """Catalog rows by id, each loaded once (a stay orders the same few items many times)."""
    return model.objects.in_bulk(set(ids))


def _orders(encounter: Encounter) -> list[_Wanted]:
    orders = list(
        ServiceOrder.objects.filter(encounter=encounter)
        .exclude(status=OrderStatus.CANCELLED)
        .filter(cancelled_at__isnull=True)
        .values_list(
            "pk",
            "service_id",
            "quantity",
            "for_day",
            "ordered_at",
            "performing_department_id",
            "ordering_department_id",
        )
    )
    services = _by_id(MedicalService, (o[1] for o in orders))
    return [
        _Wanted(
            kind=ChargeSource.SERVICE_ORDER,
            source_id=pk,
            day=for_day or local_day(ordered_at),
            item=services[service_id],
            quantity=quantity,
            department_id=performing or ordering,
        )
        for pk, service_id, quantity, for_day, ordered_at, performing, ordering in orders
    ]


def _drugs(encounter: Encounter) -> list[_Wanted]:
    items = list(
        PrescriptionItem.objects.filter(
            prescription__encounter=encounter,
            prescription__status=PrescriptionStatus.ISSUED,
            prescription__cancelled_at__isnull=True,
            voided_at__isnull=True,
        )
        .order_by("prescription_id", "id")
        .values_list(
            "pk", "drug_id", "quantity", "prescription__for_day", "prescription__prescribed_at"
        )
    )
    drugs = _by_id(Drug, (i[1] for i in items))
    return [
        _Wanted(
            kind=ChargeSource.DRUG,
            source_id=pk,
            day=for_day or local_day(prescribed_at),
            item=drugs[drug_id],
            quantity=quantity,
            department_id=encounter.department_id,
            in_scope=drugs[drug_id].in_bhyt_list is not False,
        )
        for pk, drug_id, quantity, for_day, prescribed_at in items
    ]


def bed_days(
    *, admitted_at: datetime, ended_at: datetime | None, first_department_id: int | None, moves
) -> list[tuple[date, int | None]]:
    """(day, department id) for each calendar day of a stay (Asia/Ho_Chi_Minh), the department
    being the one the patient is in at the end of that day (at `ended_at` on the last day).
    `moves` are (moved_at, to_department_id) in time order. Pure."""
    until = ended_at or timezone.now()
    first, last = local_day(admitted_at), local_day(until)
    result = []
    day = first
    moves = list(moves)
    while day <= last:
        cutoff = min(_day_bounds(day)[1], until)
        department = first_department_id
        for moved_at, to_department in moves:
            if moved_at < cutoff or (moved_at == cutoff == until):
                department = to_department
        result.append((day, department))
        day += timedelta(days=1)
    return result


def _beds(encounter: Encounter, mapped: dict) -> list[_Wanted]:
    if encounter.kind != EncounterKind.INPATIENT or encounter.visit_type in NO_BED_DAY_TYPES:
        return []
    if encounter.status == EncounterStatus.CANCELLED or encounter.voided_at is not None:
        return []
    transfers = list(
        Transfer.objects.filter(encounter=encounter)
        .order_by("moved_at", "id")
        .values_list("moved_at", "from_department_id", "to_department_id")
    )
    first_department = transfers[0][1] if transfers else encounter.department_id
    days = bed_days(
        admitted_at=encounter.admitted_at or encounter.started_at,
        ended_at=encounter.ended_at,
        first_department_id=first_department or encounter.department_id,
        moves=[(t[0], t[2]) for t in transfers],
    )
    wanted = []
    for day, department_id in days:
        service = _service_for(
            mapped, ServiceMapping.Purpose.BED_DAY, department_id, _("ngày giường")
        )
        wanted.append(
            _Wanted(
                kind=ChargeSource.BED_DAY,
                source_id=department_id or 0,
                day=day,
                item=service,
                quantity=Decimal(1),
                department_id=department_id,
            )
        )
    return wanted


# --- Prices ------------------------------------------------------------------------------------


def _accepted(price) -> bool:
    if getattr(settings, "BILLING_ACCEPT_ILLUSTRATIVE_PRICES", False):
        return True
    return not (price.source or "").startswith(ILLUSTRATIVE_SOURCE)


def _in_force(rows: Iterable, day: date, facility_id: int):
    """The rule of `ehealth.core.catalogs.price_in_force` over rows already loaded."""
    valid = [r for r in rows if r.valid_from <= day and (r.valid_to is None or r.valid_to >= day)]
    for scope in (facility_id, None):
        candidates = [r for r in valid if r.facility_id == scope]
        if candidates:
            return max(candidates, key=lambda r: r.valid_from)
    return None


def prices_resolve(wanted: list[_Wanted], facility_id: int) -> None:
    """Set `price` on every wanted line (two queries in all) or raise one ValidationError naming
    every item and day without a price."""
    by_model: dict[type, set[int]] = defaultdict(set)
    for w in wanted:
        by_model[DrugPrice if w.kind == ChargeSource.DRUG else ServicePrice].add(w.item.pk)
    loaded: dict[tuple[type, int], list] = defaultdict(list)
    for model, ids in by_model.items():
        rows = model.objects.filter(item_id__in=ids).filter(
            Q(facility_id=facility_id) | Q(facility__isnull=True)
        )
        for row in rows:
            loaded[(model, row.item_id)].append(row)
    missing = []
    for w in wanted:
        model = DrugPrice if w.kind == ChargeSource.DRUG else ServicePrice
        price = _in_force(loaded[(model, w.item.pk)], w.day, facility_id)
        if price is None or not _accepted(price):
            missing.append((w.item.code, w.item.name, w.day))
        w.price = price
    if missing:
        raise ValidationError(
            [
                _("Chưa có giá áp dụng cho «%(code)s – %(name)s» ngày %(day)s.")
                % {"code": code, "name": name, "day": day.strftime("%d/%m/%Y")}
                for code, name, day in sorted(set(missing), key=lambda m: (m[2], m[0]))
            ]
        )


# --- The service ---------------------------------------------------------------------------------

_COMPARED = (
    "quantity",
    "hospital_price",
    "bhyt_price",
    "service_ratio",
    "in_scope",
    "department_id",
    "item_code",
    "item_name",
    "unit",
    "cost_group",
    "service_id",
    "drug_id",
)


def _values(w: _Wanted) -> dict:
    is_drug = w.kind == ChargeSource.DRUG
    return {
        "quantity": Decimal(w.quantity),
        "hospital_price": w.price.hospital_price,
        "bhyt_price": w.price.bhyt_price,
        "service_ratio": w.service_ratio,
        "in_scope": w.in_scope,
        "department_id": w.department_id,
        "item_code": w.item.code,
        "item_name": w.item.name,
        "unit": w.item.unit,
        "cost_group": CostGroup.DRUG if is_drug else w.item.group,
        "service_id": None if is_drug else w.item.pk,
        "drug_id": w.item.pk if is_drug else None,
    }


def _drop_reason(line: ChargeLine, encounter: Encounter) -> str:
    if line.source_kind == ChargeSource.SERVICE_ORDER:
        return _("Chỉ định đã huỷ")
    if line.source_kind == ChargeSource.DRUG:
        return _("Thuốc đã huỷ khỏi đơn")
    if encounter.status == EncounterStatus.CANCELLED:
        return _("Lượt khám/đợt điều trị đã huỷ")
    return _("Nguồn chi phí không còn trong hồ sơ")


@transaction.atomic
def charges_derive(*, encounter_id: int, actor=None) -> DeriveReport:
    """Bring the charge lines of an encounter in line with its clinical record (idempotent).

    With an `actor`, they must hold billing.prepare_invoice at the encounter's facility (a
    system run, e.g. a task, passes none). Refused once the stay is settled.
    """
    encounter = Encounter.objects.select_for_update(of=("self",)).filter(pk=encounter_id).first()
    if encounter is None:
        raise Http404
    if actor is not None and not permissions.has_perm_at(
        actor, PREPARE_PERM, encounter.facility_id
    ):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))
    if encounter.invoices.filter(status=InvoiceStatus.SETTLED).exists():
        raise ValidationError(_("Đợt điều trị đã quyết toán: không tính lại chi phí."))

    mapped = _mapped_services(encounter)
    wanted = [
        *_examination(encounter, mapped),
        *_orders(encounter),
        *_drugs(encounter),
        *_beds(encounter, mapped),
    ]
    prices_resolve(wanted, encounter.facility_id)

    report = DeriveReport(encounter_id=encounter.pk)
    now = timezone.now()
    existing = {
        (c.source_kind, c.source_id, c.service_date): c
        for c in ChargeLine.objects.filter(encounter=encounter)
    }
    to_create, to_update = [], []
    for w in wanted:
        values = _values(w)
        line = existing.pop(w.key, None)
        if line is None:
            to_create.append(
                ChargeLine(
                    encounter=encounter,
                    facility_id=encounter.facility_id,
                    source_kind=w.kind,
                    source_id=w.source_id,
                    service_date=w.day,
                    **values,
                )
            )
            continue
        differs = [k for k, v in values.items() if getattr(line, k) != v]
        if differs or line.status != ChargeStatus.ACTIVE:
            for k, v in values.items():
                setattr(line, k, v)
            line.status, line.dropped_at, line.drop_reason = ChargeStatus.ACTIVE, None, ""
            to_update.append(line)
        else:
            report.unchanged += 1
    to_drop = [line for line in existing.values() if line.status == ChargeStatus.ACTIVE]
    for line in to_drop:
        line.status, line.dropped_at = ChargeStatus.DROPPED, now
        line.drop_reason = _drop_reason(line, encounter)
        # A dropped line carries no money (its split is zero until a rebuild ignores it).
        line.hospital_amount = line.bhyt_amount = Decimal(0)
        line.fund = line.copay = line.self_pay = line.other = Decimal(0)
        line.invoice = None
    if to_create:
        bulk_insert(ChargeLine, to_create)  # a stay's 2,000 lines: bulk_create's prep is slow
    fields = [*_COMPARED, "status", "dropped_at", "drop_reason", "updated_at"]
    for line in to_update:
        line.updated_at = now
    if to_update:
        ChargeLine.objects.bulk_update(to_update, fields)
    if to_drop:
        for line in to_drop:
            line.updated_at = now
        ChargeLine.objects.bulk_update(
            to_drop,
            [
                "status",
                "dropped_at",
                "drop_reason",
                "hospital_amount",
                "bhyt_amount",
                "fund",
                "copay",
                "self_pay",
                "other",
                "invoice",
                "updated_at",
            ],
        )
    report.created, report.updated, report.dropped = len(to_create), len(to_update), len(to_drop)
    report.active_lines = len(wanted)
    if report.changed:
        audit_record(
            actor=actor,
            action="charges.derive",
            target=encounter,
            patient_id=encounter.patient_id,
            detail={
                "facility_id": encounter.facility_id,
                "created": report.created,
                "updated": report.updated,
                "dropped": report.dropped,
                "active": report.active_lines,
            },
        )
    return report


__all__ = ["DeriveReport", "bed_days", "charges_derive", "examination_ratio", "prices_resolve"]
