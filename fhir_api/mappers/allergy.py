"""AllergyIntolerance: a recorded allergy of the patient (patients.Allergy), both ways.

Pure functions: they read only the objects given (the allergy with its drug loaded when it has
one). Rules (documented in docs/fhir.md):

- Allergies are city-wide: they follow the patient to every unit. `patient` -> Patient/<pk>,
  `encounter` -> the encounter it was recorded in (when known), `recordedDate` = when recorded.
- `clinicalStatus` = `active`; the domain records no other state. A voided allergy (recorded in
  error) reads as `verificationStatus = entered-in-error` without clinicalStatus (ait-2),
  version 2; the domain records no verification otherwise, so verificationStatus is absent.
- `code.text` = the substance as written; `code.coding` = the catalog drug (and its MoH code,
  MA_THUOC) when the allergy names one, and then `category = medication` (the only category the
  domain can tell).
- `reaction[0]`: the manifestation as written and `severity` (mild, moderate, severe: the same
  codes as the domain). A severity without a written manifestation carries the data-absent
  reason `unknown` as manifestation (required by R4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import orders_common as oc
from fhir_api.mappers.patient import MappingError
from patients.clinical_choices import AllergySeverity
from patients.models import Allergy

TYPE = "AllergyIntolerance"
ACTIVE = "active"
MEDICATION = "medication"
FIELD_PATHS = {
    "substance": f"{TYPE}.code",
    "drug_id": f"{TYPE}.code.coding",
    "severity": f"{TYPE}.reaction[0].severity",
    "reason": TYPE,
}


def allergy_version(allergy: Allergy) -> int:
    return 2 if allergy.voided_at is not None else 1


def allergy_last_updated(allergy: Allergy) -> datetime:
    return allergy.voided_at or allergy.recorded_at


def _unknown() -> dict[str, Any]:
    return {"coding": [dt.coding(systems.DATA_ABSENT_REASON_CS, "unknown", "Unknown")]}


def allergy_to_json(allergy: Allergy) -> dict[str, Any]:
    """The FHIR AllergyIntolerance of an allergy, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": TYPE}
    if allergy.pk is not None:
        data["id"] = str(allergy.pk)
        data["meta"] = {
            "versionId": str(allergy_version(allergy)),
            "lastUpdated": oc.instant(allergy_last_updated(allergy)),
        }
    if allergy.voided_at is not None:
        data["verificationStatus"] = {
            "coding": [dt.coding(systems.ALLERGY_VERIFICATION_CS, "entered-in-error")]
        }
    else:
        data["clinicalStatus"] = {"coding": [dt.coding(systems.ALLERGY_CLINICAL_CS, ACTIVE)]}
    code: dict[str, Any] = {}
    if allergy.drug_id is not None:
        data["category"] = [MEDICATION]
        code["coding"] = oc.drug_code(allergy.drug)["coding"]
    code["text"] = allergy.substance
    data["code"] = code
    data["patient"] = {"reference": f"Patient/{allergy.patient_id}"}
    if allergy.encounter_id is not None:
        data["encounter"] = {"reference": f"Encounter/{allergy.encounter_id}"}
    if allergy.recorded_at is not None:
        data["recordedDate"] = oc.instant(allergy.recorded_at)
    if allergy.reaction or allergy.severity:
        reaction: dict[str, Any] = {
            "manifestation": [{"text": allergy.reaction} if allergy.reaction else _unknown()]
        }
        if allergy.severity:
            reaction["severity"] = allergy.severity
        data["reaction"] = [reaction]
    return data


def allergy_to_fhir(allergy: Allergy) -> FHIRResourceModel:
    return validate(allergy_to_json(allergy), TYPE)


@dataclass
class AllergyWrite:
    """What a posted AllergyIntolerance asks the allergies service to record."""

    patient_id: int
    encounter_id: int | None = None
    substance: str = ""
    drug_code: str | None = None
    reaction: str = ""
    severity: str = ""


def _reference_pk(data: dict[str, Any], element: str, resource_type: str) -> int | None:
    ref = data.get(element)
    if ref is None:
        return None
    m = re.fullmatch(rf"(?:.*/)?{resource_type}/([1-9]\d{{0,17}})", ref.get("reference") or "")
    if m is None:
        raise MappingError(
            f"{TYPE}.{element}",
            f"{element} must reference a {resource_type} of this server ({resource_type}/<id>).",
        )
    return int(m.group(1))


def _codes(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [c.get("code") for c in (concept or {}).get("coding") or [] if c.get("system") == system]


def _manifestation(reaction: dict[str, Any]) -> str:
    for concept in reaction.get("manifestation") or []:
        if _codes(concept, systems.DATA_ABSENT_REASON_CS):
            continue
        text = concept.get("text") or next(
            (c.get("display") for c in concept.get("coding") or [] if c.get("display")), ""
        )
        if text:
            return text
    return ""


def allergy_from_fhir(resource: dict[str, Any]) -> AllergyWrite:
    """What a posted AllergyIntolerance asks to record.

    Raises MappingError (422, with the element path) for what the domain cannot hold.
    """
    data = resource
    patient_id = _reference_pk(data, "patient", "Patient")
    if patient_id is None:
        raise MappingError(f"{TYPE}.patient", "patient is required.")
    clinical = _codes(data.get("clinicalStatus"), systems.ALLERGY_CLINICAL_CS)
    if data.get("clinicalStatus") is not None and clinical != [ACTIVE]:
        raise MappingError(
            f"{TYPE}.clinicalStatus", "Only active allergies are recorded (clinicalStatus active)."
        )
    verification = _codes(data.get("verificationStatus"), systems.ALLERGY_VERIFICATION_CS)
    if {"entered-in-error", "refuted"} & set(verification):
        raise MappingError(
            f"{TYPE}.verificationStatus",
            "An allergy entered in error or refuted is not recorded.",
        )
    code = data.get("code") or {}
    drug_codes = _codes(code, systems.DRUG_CATALOG_CS)
    substance = code.get("text") or next(
        (c.get("display") for c in code.get("coding") or [] if c.get("display")), ""
    )
    if not substance and not drug_codes:
        raise MappingError(
            f"{TYPE}.code",
            f"Name the substance (code.text) or a catalog drug ({systems.DRUG_CATALOG_CS}).",
        )
    reactions = data.get("reaction") or []
    reaction = reactions[0] if reactions else {}
    severity = reaction.get("severity") or ""
    if severity and severity not in AllergySeverity.values:
        raise MappingError(f"{TYPE}.reaction[0].severity", "Severity is mild, moderate or severe.")
    return AllergyWrite(
        patient_id=patient_id,
        encounter_id=_reference_pk(data, "encounter", "Encounter"),
        substance=substance,
        drug_code=drug_codes[0] if drug_codes else None,
        reaction=_manifestation(reaction),
        severity=severity,
    )
