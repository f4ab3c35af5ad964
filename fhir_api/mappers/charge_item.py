"""ChargeItem: one billing.ChargeLine (a billable item of an encounter) -> FHIR ChargeItem.

Pure functions: they read only the line given (with its encounter and invoice loaded).
Read-only: lines are derived from the clinical record by `billing.charges.charges_derive`.

Rules (documented in docs/fhir.md):

- `status`: `billable` while no live invoice holds the line, `billed` once an invoice build has
  split it (a cancelled invoice leaves its lines `billable`); `entered-in-error` when the line
  was dropped (its source was cancelled: `note` says why) or its encounter was voided.
- `code`: the catalog code and name, system by kind (service / drug / supply catalog, local).
- `subject` = Patient, `context` = Encounter, `performingOrganization` = the unit;
  `occurrenceDateTime` = the day of service; `enteredDate` = when the line was derived.
- `quantity` (with its unit), `priceOverride` = the line's total at the hospital price
  (THANH_TIEN_BV) once billed; `factorOverride` = TYLE_TT_DV when below 100 % (e.g. a second
  examination the same day at 30 %). The unit prices (DON_GIA_BV, DON_GIA_BH) and the cost group
  (MA_NHOM) are local extensions: R4 ChargeItem has no element for them.
- The BHYT split (fund share, co-payment, self-pay) has no place on an R4 ChargeItem (no price
  components): it is on the Invoice, `lineItem.priceComponent`.
- `meta.versionId`: billing keeps no change counter on a line; it is the time of the line's last
  change in milliseconds (see `fees_common.version_stamp`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.models import ChargeLine, ChargeSource, ChargeStatus, InvoiceStatus
from ehealth.core.models.catalogs import CostGroup
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import fees_common as fc

HUNDRED = Decimal(100)
# Catalog CodeSystem of a line by where it comes from (examinations and bed-days are services).
CATALOG_SYSTEMS = {
    ChargeSource.DRUG: systems.DRUG_CATALOG_CS,
    ChargeSource.SUPPLY: systems.SUPPLY_CATALOG_CS,
}
_COST_GROUPS = dict(CostGroup.choices)


def catalog_system(source_kind: str) -> str:
    return CATALOG_SYSTEMS.get(source_kind, systems.SERVICE_CATALOG_CS)


def charge_status(line: ChargeLine) -> str:
    if line.status == ChargeStatus.DROPPED or line.encounter.voided_at is not None:
        return "entered-in-error"
    billed = line.invoice_id is not None and line.invoice.status != InvoiceStatus.CANCELLED
    return "billed" if billed else "billable"


def charge_version(line: ChargeLine) -> int:
    return fc.version_stamp(line.updated_at, line.created_at)


def cost_group_coding(group: int) -> dict[str, Any]:
    label = _COST_GROUPS.get(group)
    return dt.coding(systems.COST_GROUP_CS, str(group), str(label) if label else None)


def charge_item_to_json(line: ChargeLine) -> dict[str, Any]:
    """The FHIR ChargeItem of a charge line, as JSON (not yet validated)."""
    encounter = line.encounter
    status = charge_status(line)
    data: dict[str, Any] = {"resourceType": "ChargeItem"}
    if line.pk is not None:
        data["id"] = str(line.pk)
        data["meta"] = fc.meta(charge_version(line), line.updated_at or line.created_at)
    extensions = [dt.extension(systems.UNIT_PRICE_EXT, valueMoney=fc.money(line.hospital_price))]
    if line.bhyt_price is not None:
        extensions.append(
            dt.extension(systems.BHYT_UNIT_PRICE_EXT, valueMoney=fc.money(line.bhyt_price))
        )
    extensions.append(
        dt.extension(systems.COST_GROUP_EXT, valueCoding=cost_group_coding(line.cost_group))
    )
    data["extension"] = extensions
    data["status"] = status
    data["code"] = {
        "coding": [dt.coding(catalog_system(line.source_kind), line.item_code, line.item_name)],
        "text": line.item_name or line.item_code,
    }
    data["subject"] = fc.reference("Patient", encounter.patient_id)
    data["context"] = fc.reference("Encounter", line.encounter_id)
    data["occurrenceDateTime"] = line.service_date.isoformat()
    data["performingOrganization"] = fc.reference("Organization", line.facility_id)
    quantity: dict[str, Any] = {"value": fc.number(line.quantity)}
    if line.unit:
        quantity["unit"] = line.unit
    data["quantity"] = quantity
    if line.service_ratio is not None and line.service_ratio != HUNDRED:
        data["factorOverride"] = fc.number(line.service_ratio / HUNDRED)
    if status == "billed":
        data["priceOverride"] = fc.money(line.hospital_amount)
    if line.created_at is not None:
        data["enteredDate"] = fc.local_iso(line.created_at)
    if line.status == ChargeStatus.DROPPED and line.drop_reason:
        data["note"] = [{"text": line.drop_reason}]
    return data


def charge_item_to_fhir(line: ChargeLine) -> FHIRResourceModel:
    """The FHIR ChargeItem of a charge line, validated by the pinned FHIR models."""
    return validate(charge_item_to_json(line), "ChargeItem")
