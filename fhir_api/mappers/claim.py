"""Claim: a BHYT claim dossier (insurance.claims Dossier, its current version) -> FHIR Claim.

Pure functions: they read only the dossier (with its encounter loaded), the parsed tables of its
current version (`ClaimTables`: XML1, XML2, XML3 as sent to the insurer) and the id of the card
the Coverage provider serves for it. Read-only: dossiers are built by
`insurance.claims.services.dossier_build`.

Rules (documented in docs/fhir.md):

- `identifier` = MA_LK (`…/core/sid/ma-lk`).
- `status`: `draft` for a dossier being prepared (draft, invalid: with errors), `active` from ready
  on (ready, sent, accepted, rejected, paid); a dossier of a voided encounter is
  `entered-in-error`. The dossier's own status is kept in a local extension (with the version).
- `type` (HL7 claim-type): `institutional` for an inpatient stay, `professional` for an outpatient
  visit; `subType` = MA_LOAI_KCB. `use` = `claim`, `priority` = `normal`.
- `patient`, `provider` = Organization/<unit>, `insurer` = the social insurance agency as a
  display-only reference (as Coverage.payor), `insurance[0].coverage` = Coverage/<card> (the card
  the encounter used; by its BHYT identifier when the registry has no such card).
- `diagnosis`: XML1 MA_BENH_CHINH (type `principal`) then each MA_BENH_KT, ICD-10.
- `item`: one per XML2 (drugs: MA_THUOC) and XML3 (services: MA_DICH_VU, supplies: MA_VAT_TU)
  row: quantity, unit price, `net` = THANH_TIEN_BV, the day ordered, MA_NHOM as `category`, the
  amount asked of the fund (T_BHTT) in a local extension; `total` = T_TONGCHI_BV.
- `meta.versionId` = the dossier's row version (every build, send, answer, payment bumps it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import fees_common as fc
from fhir_api.mappers.charge_item import cost_group_coding
from fhir_api.mappers.coverage import PAYOR_DISPLAY
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.workspace import table_rows, to_decimal
from patients.clinical_choices import EncounterKind

DRAFT_STATUSES = (DossierStatus.DRAFT, DossierStatus.INVALID)
_STATUS_LABELS = dict(DossierStatus.choices)


@dataclass(frozen=True)
class ClaimTables:
    """What the current version of a dossier says: XML1's fields, the XML2 and XML3 rows."""

    summary: dict[str, str] = field(default_factory=dict)
    drugs: list[dict[str, str]] = field(default_factory=list)
    services: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, xml1: str | None, xml2: str | None, xml3: str | None) -> ClaimTables:
        summary = table_rows("XML1", xml1)
        return cls(
            summary=summary[0] if summary else {},
            drugs=table_rows("XML2", xml2),
            services=table_rows("XML3", xml3),
        )


def claim_status(dossier: Dossier) -> str:
    if dossier.encounter.voided_at is not None:
        return "entered-in-error"
    return "draft" if dossier.status in DRAFT_STATUSES else "active"


def claim_type(dossier: Dossier) -> dict[str, Any]:
    inpatient = dossier.encounter.kind == EncounterKind.INPATIENT
    code = "institutional" if inpatient else "professional"
    return {"coding": [dt.coding(systems.CLAIM_TYPE_CS, code)]}


def _day(stamp: str) -> str | None:
    """yyyymmddHHMM (or yyyymmdd) of the tables -> YYYY-MM-DD."""
    if len(stamp) >= 8 and stamp[:8].isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    return None


def _product(table: str, row: dict[str, str]) -> tuple[str, str, str]:
    """(system, code, name) of a table row."""
    if table == "XML2":
        return systems.MOH_DRUG_CS, row.get("MA_THUOC", ""), row.get("TEN_THUOC", "")
    if row.get("MA_VAT_TU"):
        name = row.get("TEN_VAT_TU") or row.get("TEN_DICH_VU", "")
        return systems.MOH_SUPPLY_CS, row["MA_VAT_TU"], name
    return systems.MOH_SERVICE_CS, row.get("MA_DICH_VU", ""), row.get("TEN_DICH_VU", "")


def _item(sequence: int, table: str, row: dict[str, str], encounter_id: int) -> dict[str, Any]:
    system, code, name = _product(table, row)
    product: dict[str, Any] = {"coding": [dt.coding(system, code, name)]} if code else {}
    product["text"] = name or code or table
    price = row.get("DON_GIA") if table == "XML2" else row.get("DON_GIA_BV")
    item: dict[str, Any] = {
        "extension": [
            dt.extension(
                systems.FUND_CLAIMED_EXT, valueMoney=fc.money(to_decimal(row.get("T_BHTT")))
            )
        ],
        "sequence": sequence,
    }
    group = row.get("MA_NHOM", "")
    if group.isdigit():
        item["category"] = {"coding": [cost_group_coding(int(group))]}
    item["productOrService"] = product
    day = _day(row.get("NGAY_YL", ""))
    if day:
        item["servicedDate"] = day
    item["quantity"] = {"value": fc.number(to_decimal(row.get("SO_LUONG")))}
    item["unitPrice"] = fc.money(to_decimal(price))
    item["net"] = fc.money(to_decimal(row.get("THANH_TIEN_BV")))
    item["encounter"] = [fc.reference("Encounter", encounter_id)]
    return item


def _diagnoses(summary: dict[str, str]) -> list[dict[str, Any]]:
    main = (summary.get("MA_BENH_CHINH") or "").strip()
    others = [c.strip() for c in (summary.get("MA_BENH_KT") or "").split(";") if c.strip()]
    out = []
    for code in ([main] if main else []) + others:
        entry: dict[str, Any] = {
            "sequence": len(out) + 1,
            "diagnosisCodeableConcept": {"coding": [dt.coding(systems.ICD_10, code)]},
        }
        if code == main and not out:
            entry["type"] = [{"coding": [dt.coding(systems.DIAGNOSIS_TYPE_CS, "principal")]}]
        out.append(entry)
    return out


def coverage_reference(card_id: int | None, card_code: str) -> dict[str, Any]:
    """Coverage/<card> as the Coverage provider serves it; by the card's BHYT identifier when the
    registry holds no such card."""
    if card_id is not None:
        return fc.reference("Coverage", card_id)
    if card_code:
        return {"identifier": dt.identifier(systems.BHYT, card_code), "display": card_code}
    return {"display": "BHYT"}


def claim_to_json(dossier: Dossier, tables: ClaimTables, card_id: int | None) -> dict[str, Any]:
    """The FHIR Claim of a dossier, as JSON (not yet validated)."""
    encounter = dossier.encounter
    data: dict[str, Any] = {"resourceType": "Claim"}
    if dossier.pk is not None:
        data["id"] = str(dossier.pk)
        data["meta"] = fc.meta(dossier.row_version, dossier.updated_at)
    status_label = _STATUS_LABELS.get(dossier.status)
    extensions = [
        dt.extension(
            systems.DOSSIER_STATUS_EXT,
            valueCoding=dt.coding(
                systems.DOSSIER_STATUS_CS, dossier.status, str(status_label or "") or None
            ),
        ),
        dt.extension(systems.FUND_CLAIMED_EXT, valueMoney=fc.money(dossier.total_fund)),
    ]
    if dossier.current_version:
        extensions.insert(
            1,
            dt.extension(systems.DOSSIER_VERSION_EXT, valuePositiveInt=dossier.current_version),
        )
    data["extension"] = extensions
    data["identifier"] = [dt.identifier(systems.MA_LK, dossier.claim_key, use="official")]
    data["status"] = claim_status(dossier)
    data["type"] = claim_type(dossier)
    if dossier.visit_type:
        data["subType"] = {"coding": [dt.coding(systems.VISIT_TYPE_CS, dossier.visit_type)]}
    data["use"] = "claim"
    data["patient"] = fc.reference("Patient", encounter.patient_id)
    if encounter.started_at is not None:
        period = {"start": fc.local_iso(encounter.started_at)}
        if encounter.ended_at is not None:
            period["end"] = fc.local_iso(encounter.ended_at)
        data["billablePeriod"] = period
    data["created"] = fc.local_iso(dossier.created_at)
    data["insurer"] = {"display": PAYOR_DISPLAY}
    data["provider"] = fc.reference("Organization", dossier.facility_id)
    data["priority"] = {"coding": [dt.coding(systems.PROCESS_PRIORITY_CS, "normal")]}
    diagnoses = _diagnoses(tables.summary)
    if diagnoses:
        data["diagnosis"] = diagnoses
    data["insurance"] = [
        {
            "sequence": 1,
            "focal": True,
            "coverage": coverage_reference(card_id, encounter.insurance_card_code),
        }
    ]
    rows = [("XML2", r) for r in tables.drugs] + [("XML3", r) for r in tables.services]
    if rows:
        data["item"] = [
            _item(n, table, row, dossier.encounter_id) for n, (table, row) in enumerate(rows, 1)
        ]
    data["total"] = fc.money(dossier.total_hospital)
    return data


def claim_to_fhir(dossier: Dossier, tables: ClaimTables, card_id: int | None) -> FHIRResourceModel:
    """The FHIR Claim of a dossier, validated by the pinned FHIR models."""
    return validate(claim_to_json(dossier, tables, card_id), "Claim")
