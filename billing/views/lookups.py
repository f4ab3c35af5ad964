"""Reads of the cashier's pages: today's desk, the one search box, one bill.

Each list runs a fixed number of queries whatever the number of rows (prefetching, limits), and
every patient shown is audited. Scoping: encounters through `encounter_visible_qs` (the clinical
visibility rule) and at the facility the cashier works at now; anything else is 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Prefetch, Q
from django.http import Http404

from billing import selectors
from billing.models import (
    ChargeLine,
    ChargeStatus,
    Deposit,
    DepositStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    Refund,
    RefundStatus,
)
from billing.pdf.common import by_cost_group
from billing.pdf.data import Split
from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import Facility
from ehealth.core.models.catalogs import CostGroup
from patients.clinical.common import local_today
from patients.clinical.selectors import encounter_get, encounter_visible_qs
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import Encounter, QueueTicket
from patients.selectors import patient_search
from patients.validation import VN_TZ

ZERO = Decimal(0)
DESK_LIMIT = 200
SEARCH_PATIENTS = 20
SEARCH_ENCOUNTERS = 100
RECENT_DAYS = 90
_INVOICE_RE = re.compile(r"^HD\s*0*(\d{1,12})$", re.IGNORECASE)
_QUEUE_RE = re.compile(r"^(?:#|STT\s*)?(\d{1,4})$", re.IGNORECASE)
_CARD_RE = re.compile(r"^[A-Z]{2}[1-5]\d{12}$")
_GROUP_LABELS = dict(CostGroup.choices)


@dataclass
class DeskRow:
    """One line of the desk: an encounter (or a patient found with none here) and its bill."""

    patient_id: int
    patient_name: str
    birth_year: int | None
    encounter: Encounter | None = None
    invoice: Invoice | None = None
    ticket_number: int | None = None

    @property
    def amount_due(self) -> Decimal | None:
        return self.invoice.amount_due if self.invoice is not None else None


def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VN_TZ)


def _encounters(user, facility: Facility):
    return (
        encounter_visible_qs(user=user)
        .filter(facility=facility)
        .exclude(status=EncounterStatus.CANCELLED)
        .select_related("patient", "room", "department", "queue_ticket")
        .prefetch_related(
            Prefetch(
                "invoices",
                queryset=Invoice.objects.exclude(status=InvoiceStatus.CANCELLED),
                to_attr="live_invoices",
            )
        )
        .order_by("-started_at", "-id")
    )


def _ticket_of(encounter: Encounter):
    try:
        return encounter.queue_ticket
    except QueueTicket.DoesNotExist:
        return None


def _rows(encounters) -> list[DeskRow]:
    return [_row(e) for e in encounters]


def _row(encounter: Encounter) -> DeskRow:
    ticket = _ticket_of(encounter)
    invoices = getattr(encounter, "live_invoices", [])
    return DeskRow(
        patient_id=encounter.patient_id,
        patient_name=encounter.patient.full_name,
        birth_year=encounter.patient.birth_year,
        encounter=encounter,
        invoice=invoices[0] if invoices else None,
        ticket_number=ticket.number if ticket is not None else None,
    )


def _audit_rows(user, rows: list[DeskRow], action: str, **detail) -> None:
    ids = sorted({r.patient_id for r in rows})
    if ids:
        audit_record_many(actor=user, action=action, patient_ids=ids, detail=detail)


def desk_rows(*, user, facility: Facility, limit: int = DESK_LIMIT) -> list[DeskRow]:
    """Today's visits at the facility and its current stays (admitted, or discharged in the last
    week and not settled), newest first."""
    today = local_today()
    week_ago = _day_start(today - timedelta(days=7))
    encounters = _encounters(user, facility).filter(
        Q(started_at__gte=_day_start(today))
        | Q(kind=EncounterKind.INPATIENT, status=EncounterStatus.ADMITTED)
        | (
            Q(
                kind=EncounterKind.INPATIENT,
                status=EncounterStatus.DISCHARGED,
                ended_at__gte=week_ago,
            )
            & ~Q(invoices__status=InvoiceStatus.SETTLED)
        )
    )
    rows = _rows(encounters[:limit])
    _audit_rows(user, rows, "cashier.desk", facility_id=facility.pk)
    return rows


def desk_search(*, user, facility: Facility, query: str) -> tuple[str, list[DeskRow]]:
    """What the one search box finds: (kind, rows).

    'HD123' or 'HD00000123' is an invoice number; a BHYT card code finds the visits where it
    was presented (and the patients holding it in the registry); a number of up to 4 digits (optionally '#12')
    is a queue number of today at the facility (patients whose record serial it is are listed
    after them); anything else goes to the registry search (name without diacritics, BHYT card,
    CCCD, phone, record number), each patient with their encounters here in the last 90 days.
    """
    query = (query or "").strip()
    if not query:
        return "", []
    m = _INVOICE_RE.match(query.replace(" ", ""))
    if m:
        encounters = _encounters(user, facility).filter(
            invoices__pk=int(m.group(1)), invoices__facility=facility
        )
        rows = _rows(encounters[:SEARCH_ENCOUNTERS])
        _audit_rows(user, rows, "cashier.search", kind="invoice")
        return "invoice", rows
    rows: list[DeskRow] = []
    kind = "patient"
    card = re.sub(r"[\s-]", "", query).upper()
    if _CARD_RE.match(card):
        # the card as presented at the visit (it may not be in the registry's identifiers)
        kind = "card"
        since = _day_start(local_today() - timedelta(days=RECENT_DAYS))
        rows = _rows(
            _encounters(user, facility)
            .filter(insurance_card_code=card)
            .filter(Q(started_at__gte=since) | Q(status=EncounterStatus.ADMITTED))[
                :SEARCH_ENCOUNTERS
            ]
        )
        _audit_rows(user, rows, "cashier.search", kind="card")
    m = _QUEUE_RE.match(query)
    if m:
        kind = "queue"
        rows = _rows(
            _encounters(user, facility).filter(
                queue_ticket__day=local_today(), queue_ticket__number=int(m.group(1))
            )[:SEARCH_ENCOUNTERS]
        )
        _audit_rows(user, rows, "cashier.search", kind="queue")
        query = m.group(1)
    patients = patient_search(user=user, query=query, limit=SEARCH_PATIENTS)
    if patients:
        seen = {r.encounter.pk for r in rows if r.encounter is not None}
        since = _day_start(local_today() - timedelta(days=RECENT_DAYS))
        found = _rows(
            _encounters(user, facility)
            .filter(patient_id__in=[p.pk for p in patients])
            .filter(Q(started_at__gte=since) | Q(status=EncounterStatus.ADMITTED))
            .exclude(pk__in=seen)[:SEARCH_ENCOUNTERS]
        )
        with_encounter = {r.patient_id for r in found} | {r.patient_id for r in rows}
        order = {p.pk: n for n, p in enumerate(patients)}
        found.sort(key=lambda r: order.get(r.patient_id, 0))
        rows += found
        rows += [
            DeskRow(patient_id=p.pk, patient_name=p.full_name, birth_year=p.birth_year)
            for p in patients
            if p.pk not in with_encounter
        ]
    return kind, rows


def cashier_encounter(*, user, facility: Facility, pk) -> Encounter:
    """One encounter of the cashier's facility (audited 'encounter.view'), else 404."""
    encounter = encounter_get(user=user, pk=pk)
    if encounter.facility_id != facility.pk:
        raise Http404
    return encounter


@dataclass
class BillGroup:
    """The lines of one cost group (MA_NHOM) with their subtotal."""

    cost_group: int
    name: str
    lines: list[ChargeLine]
    subtotal: Split


@dataclass
class Bill:
    """What the bill page shows for one encounter, loaded in a fixed number of queries."""

    encounter: Encounter
    invoice: Invoice | None
    groups: list[BillGroup] = field(default_factory=list)
    totals: Split | None = None
    payments: list[Payment] = field(default_factory=list)
    deposits: list[Deposit] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    stale: bool = False  # the charges changed since the invoice was built
    ticket_number: int | None = None

    @property
    def inpatient(self) -> bool:
        return self.encounter.kind == EncounterKind.INPATIENT

    @property
    def deposits_held(self) -> Decimal:
        return sum((d.amount for d in self.deposits if d.status == DepositStatus.HELD), ZERO)

    @property
    def refunds_pending(self) -> Decimal:
        return sum((r.amount for r in self.refunds if r.status == RefundStatus.PENDING), ZERO)

    @property
    def amount_due(self) -> Decimal:
        return self.invoice.amount_due if self.invoice is not None else ZERO

    @property
    def settle_balance(self) -> Decimal:
        """For a stay: what settlement collects (positive) or gives back (negative)."""
        return self.amount_due - self.deposits_held

    @property
    def visit_open(self) -> bool:
        return self.encounter.status not in (
            EncounterStatus.CONCLUDED,
            EncounterStatus.DISCHARGED,
            EncounterStatus.CANCELLED,
        )


def bill_for(*, user, encounter: Encounter) -> Bill:
    """The encounter's invoice grouped by cost group, with its payments, deposits and refunds."""
    invoice = selectors.invoice_for_encounter(encounter_id=encounter.pk)
    bill = Bill(
        encounter=encounter,
        invoice=invoice,
        ticket_number=getattr(_ticket_of(encounter), "number", None),
        deposits=list(
            Deposit.objects.filter(encounter=encounter)
            .select_related("received_by", "voided_by")
            .order_by("received_at", "id")
        )
        if encounter.kind == EncounterKind.INPATIENT
        else [],
    )
    if invoice is None:
        bill.stale = ChargeLine.objects.filter(
            encounter=encounter, status=ChargeStatus.ACTIVE
        ).exists()
        return bill
    lines = list(selectors.invoice_lines(invoice=invoice))
    bill.groups = [
        BillGroup(
            cost_group=group,
            name=str(_GROUP_LABELS.get(group, group)),
            lines=members,
            subtotal=Split.total(selectors.line_split(line) for line in members),
        )
        for group, members in by_cost_group(lines, key=lambda line: line.cost_group)
    ]
    bill.totals = selectors.invoice_split(invoice)
    bill.payments = list(
        Payment.objects.filter(invoice=invoice)
        .select_related("received_by", "voided_by")
        .order_by("received_at", "id")
    )
    bill.refunds = list(
        Refund.objects.filter(invoice=invoice)
        .select_related("requested_by", "approved_by")
        .order_by("requested_at", "id")
    )
    unbilled = (
        ChargeLine.objects.filter(encounter=encounter, status=ChargeStatus.ACTIVE)
        .exclude(invoice=invoice)
        .exists()
    )
    lines_total = Split.total(selectors.line_split(line) for line in lines)
    bill.stale = invoice.status != InvoiceStatus.SETTLED and (
        unbilled or lines_total != bill.totals
    )
    audit_record(
        actor=user,
        action="invoice.view",
        target=invoice,
        patient_id=invoice.patient_id,
        detail={"encounter_id": encounter.pk},
    )
    return bill
