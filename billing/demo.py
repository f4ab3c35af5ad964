"""Demo invoices: the bills of seeded encounters, so the cashier's desk has patients to collect from.

`demo_invoices_build` derives the charges of each encounter from its record (`charges_derive`)
and builds its invoice (`invoice_build`, the benefit engine's split by the card presented) as the
given cashier, both in one transaction per encounter, and leaves the invoice unpaid. An encounter
whose charges cannot be priced (a catalog item without a price in force, or with an illustrative
price while BILLING_ACCEPT_ILLUSTRATIVE_PRICES is off) or that the rules refuse is skipped and
counted, never failing the seed; one that already has a live invoice is left alone.

`desk_encounters` picks what the desk lists (`billing.views.lookups.desk_rows`) that is ready to
bill: today's concluded visits at the facility and its stays discharged in the last week.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from billing.charges import charges_derive
from billing.invoices import invoice_build
from billing.models import Invoice, InvoiceStatus
from ehealth.core.exceptions import DomainError
from ehealth.core.models import Facility
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import Encounter
from patients.validation import VN_TZ


@dataclass
class DemoInvoiceResult:
    built: int = 0
    uncharged: int = 0  # skipped: charges not derivable (chiefly an item without a price)
    refused: int = 0  # skipped: the invoice was refused (e.g. a card not the patient's)
    already: int = 0  # a live invoice was there
    invoices: list[Invoice] = field(default_factory=list)  # those built now
    billed: set[int] = field(default_factory=set)  # encounters with a live invoice after the run

    @property
    def skipped(self) -> int:
        return self.uncharged + self.refused


def desk_encounters(*, facility: Facility) -> QuerySet[Encounter]:
    """Today's concluded outpatient visits at the facility and its inpatient stays discharged in
    the last seven days (local days, Asia/Ho_Chi_Minh), oldest first."""
    today = timezone.localdate(timezone=VN_TZ)
    start = datetime.combine(today, time.min, tzinfo=VN_TZ)
    return (
        Encounter.objects.filter(facility=facility, voided_at__isnull=True)
        .filter(
            Q(
                kind=EncounterKind.OUTPATIENT,
                status=EncounterStatus.CONCLUDED,
                started_at__gte=start,
            )
            | Q(
                kind=EncounterKind.INPATIENT,
                status=EncounterStatus.DISCHARGED,
                ended_at__gte=start - timedelta(days=7),
            )
        )
        .order_by("started_at", "pk")
    )


def demo_invoices_build(
    *, actor, facility: Facility, encounters: Iterable[Encounter]
) -> DemoInvoiceResult:
    """Derive the charges and build the invoice of each encounter (see the module docstring)."""
    result = DemoInvoiceResult()
    encounters = list(encounters)
    live = set(
        Invoice.objects.filter(encounter__in=encounters)
        .exclude(status=InvoiceStatus.CANCELLED)
        .values_list("encounter_id", flat=True)
    )
    for encounter in encounters:
        if encounter.pk in live:
            result.already += 1
            result.billed.add(encounter.pk)
            continue
        stage = "charges"
        try:
            with transaction.atomic():
                charges_derive(encounter_id=encounter.pk, actor=actor)
                stage = "invoice"
                invoice = invoice_build(actor=actor, facility=facility, encounter=encounter)
        except (ValidationError, DomainError, PermissionDenied, Http404):
            if stage == "charges":
                result.uncharged += 1
            else:
                result.refused += 1
            continue
        result.built += 1
        result.invoices.append(invoice)
        result.billed.add(encounter.pk)
    return result


__all__ = ["DemoInvoiceResult", "demo_invoices_build", "desk_encounters"]
