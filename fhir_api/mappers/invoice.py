"""Invoice: a billing.Invoice (the bill of one encounter) with its lines -> FHIR Invoice.

Pure functions: they read only the invoice (with its encounter loaded) and the active lines
given. Read-only: invoices are built by `billing.invoices.invoice_build`.

Rules (documented in docs/fhir.md):

- `identifier` = the invoice number (`HD` + 8 digits, unique in the city, local system).
- `status`: `open` -> `issued`, or `draft` while it is the interim bill of a stay still open
  (rebuilt as the stay goes on); `paid` and `settled` -> `balanced`; `cancelled` -> `cancelled`;
  an invoice of a voided encounter is `entered-in-error`.
- `subject` = Patient, `issuer` = the unit, `date` = the last build; the encounter in a local
  extension (R4 Invoice has no element for it).
- `lineItem`: one per active charge line, `chargeItemReference` = ChargeItem/<line>, with the
  BHYT split as price components (`fees_common.split_components`: base = THANH_TIEN_BV, the fund
  share and other sources as deductions, in-scope amount, co-payment and self-pay informational);
  the same at invoice level in `totalPriceComponent`.
- `totalGross` = THANH_TIEN_BV of the invoice, `totalNet` = what the patient owes (co-payment +
  self-pay = gross - deductions). What was paid, and the benefit rate (MUC_HUONG) when a card was
  used, are local extensions.
- `meta.versionId`: the invoice's `version` counts only builds (a payment changes the status
  without it), so it is the time of the last change of the invoice or its lines, in ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from billing.models import ChargeLine, Invoice, InvoiceStatus
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import fees_common as fc
from patients.clinical_choices import EncounterKind, EncounterStatus

STATUSES = {
    InvoiceStatus.PAID: "balanced",
    InvoiceStatus.SETTLED: "balanced",
    InvoiceStatus.CANCELLED: "cancelled",
}


def is_interim(invoice: Invoice) -> bool:
    """The bill of a stay still open: rebuilt as the stay goes on (FHIR `draft`)."""
    encounter = invoice.encounter
    return (
        encounter.kind == EncounterKind.INPATIENT and encounter.status == EncounterStatus.ADMITTED
    )


def invoice_status(invoice: Invoice) -> str:
    if invoice.encounter.voided_at is not None:
        return "entered-in-error"
    if invoice.status == InvoiceStatus.OPEN:
        return "draft" if is_interim(invoice) else "issued"
    return STATUSES[invoice.status]


def invoice_last_updated(invoice: Invoice, lines: Sequence[ChargeLine]) -> datetime | None:
    """The last change of the invoice or of one of its lines."""
    moments = [invoice.updated_at, invoice.created_at, *(x.updated_at for x in lines)]
    return max((m for m in moments if m is not None), default=None)


def invoice_version(invoice: Invoice, lines: Sequence[ChargeLine]) -> int:
    return fc.version_stamp(invoice_last_updated(invoice, lines))


def _line_item(sequence: int, line: ChargeLine) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "chargeItemReference": fc.reference("ChargeItem", line.pk),
        "priceComponent": fc.split_components(
            hospital=line.hospital_amount,
            bhyt=line.bhyt_amount,
            fund=line.fund,
            other=line.other,
            copay=line.copay,
            self_pay=line.self_pay,
        ),
    }


def invoice_to_json(invoice: Invoice, lines: Sequence[ChargeLine]) -> dict[str, Any]:
    """The FHIR Invoice of an invoice and its active lines, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "Invoice"}
    if invoice.pk is not None:
        data["id"] = str(invoice.pk)
        updated = invoice_last_updated(invoice, lines)
        data["meta"] = fc.meta(fc.version_stamp(updated), updated)
    extensions = [
        dt.extension(
            systems.ENCOUNTER_EXT, valueReference=fc.reference("Encounter", invoice.encounter_id)
        )
    ]
    if invoice.card_id is not None and invoice.benefit_rate is not None:
        extensions.append(
            dt.extension(systems.BENEFIT_RATE_EXT, valueDecimal=fc.number(invoice.benefit_rate))
        )
    extensions.append(
        dt.extension(systems.AMOUNT_PAID_EXT, valueMoney=fc.money(invoice.paid_amount))
    )
    data["extension"] = extensions
    if invoice.pk is not None:
        data["identifier"] = [dt.identifier(systems.INVOICE_NUMBER, invoice.number, use="official")]
    data["status"] = invoice_status(invoice)
    data["subject"] = fc.reference("Patient", invoice.patient_id)
    issued = invoice.built_at or invoice.created_at
    if issued is not None:
        data["date"] = fc.local_iso(issued)
    data["issuer"] = fc.reference("Organization", invoice.facility_id)
    if lines:
        data["lineItem"] = [_line_item(n, line) for n, line in enumerate(lines, start=1)]
    data["totalPriceComponent"] = fc.split_components(
        hospital=invoice.total_hospital,
        bhyt=invoice.total_bhyt,
        fund=invoice.total_fund,
        other=invoice.total_other,
        copay=invoice.total_copay,
        self_pay=invoice.total_self_pay,
    )
    data["totalNet"] = fc.money(invoice.patient_amount)
    data["totalGross"] = fc.money(invoice.total_hospital)
    return data


def invoice_to_fhir(invoice: Invoice, lines: Sequence[ChargeLine]) -> FHIRResourceModel:
    """The FHIR Invoice, validated by the pinned FHIR models."""
    return validate(invoice_to_json(invoice, lines), "Invoice")
