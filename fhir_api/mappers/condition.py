"""Condition: an ICD-10 diagnosis of an encounter (patients.Diagnosis) -> FHIR Condition.

Pure functions: they read only the objects given (the diagnosis with its encounter loaded).
Read-only: diagnoses are written through the clinical pages' services.

Rules (documented in docs/fhir.md):

- `code`: the ICD-10 code (`http://hl7.org/fhir/sid/icd-10`) with the Vietnamese name as display;
  `category` = `encounter-diagnosis`.
- `clinicalStatus` = `active` while the encounter is open (checked in, in examination, admitted);
  absent once it ended: the registry does not record whether a condition resolved.
- `verificationStatus`: `provisional` for an admission diagnosis (chẩn đoán vào viện), `confirmed`
  for the others; a voided diagnosis is `entered-in-error` (and has no clinicalStatus, con-5).
- `onsetDateTime` = the encounter's start (NGAY_VAO), `recordedDate` = when it was recorded.
- main (bệnh chính) vs secondary (bệnh kèm theo): extension `diagnosis-rank`, valuePositiveInt
  1 = main, 2.. = secondary (as Encounter.diagnosis.rank); the phase in `diagnosis-phase`.
- version: a diagnosis changes only by being voided, so `versionId` is 1, or 2 once voided.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from patients.clinical_choices import DiagnosisPhase, EncounterStatus
from patients.models import Diagnosis

OPEN_ENCOUNTER = (
    EncounterStatus.ARRIVED,
    EncounterStatus.IN_EXAMINATION,
    EncounterStatus.AWAITING_RESULTS,
    EncounterStatus.ADMITTED,
)
CLINICAL_ACTIVE = "active"


def diagnosis_version(diagnosis: Diagnosis) -> int:
    return 2 if diagnosis.voided_at is not None else 1


def diagnosis_last_updated(diagnosis: Diagnosis):
    return diagnosis.voided_at or diagnosis.recorded_at


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [dt.coding(system, code, display)]}


def verification_code(diagnosis: Diagnosis) -> str:
    if diagnosis.voided_at is not None:
        return "entered-in-error"
    if diagnosis.phase == DiagnosisPhase.ADMISSION:
        return "provisional"
    return "confirmed"


def condition_to_json(diagnosis: Diagnosis) -> dict[str, Any]:
    """The FHIR Condition of a diagnosis, as JSON (not yet validated)."""
    encounter = diagnosis.encounter
    data: dict[str, Any] = {"resourceType": "Condition"}
    if diagnosis.pk is not None:
        data["id"] = str(diagnosis.pk)
        data["meta"] = {"versionId": str(diagnosis_version(diagnosis))}
        updated = diagnosis_last_updated(diagnosis)
        if updated is not None:
            data["meta"]["lastUpdated"] = timezone.localtime(updated).isoformat()
    phase = DiagnosisPhase(diagnosis.phase)
    data["extension"] = [
        dt.extension(systems.DIAGNOSIS_RANK_EXT, valuePositiveInt=diagnosis.rank + 1),
        dt.extension(
            systems.DIAGNOSIS_PHASE_EXT,
            valueCoding=dt.coding(systems.DIAGNOSIS_PHASE_CS, phase.value, str(phase.label)),
        ),
    ]
    verification = verification_code(diagnosis)
    if verification != "entered-in-error" and encounter.status in OPEN_ENCOUNTER:
        data["clinicalStatus"] = _concept(systems.CONDITION_CLINICAL_CS, CLINICAL_ACTIVE)
    data["verificationStatus"] = _concept(systems.CONDITION_VER_STATUS_CS, verification)
    data["category"] = [
        _concept(systems.CONDITION_CATEGORY_CS, "encounter-diagnosis", "Encounter Diagnosis")
    ]
    data["code"] = {
        "coding": [dt.coding(systems.ICD_10, diagnosis.icd_code, diagnosis.text)],
        "text": diagnosis.text or diagnosis.icd_code,
    }
    data["subject"] = {"reference": f"Patient/{encounter.patient_id}"}
    data["encounter"] = {"reference": f"Encounter/{diagnosis.encounter_id}"}
    if encounter.started_at is not None:
        data["onsetDateTime"] = timezone.localtime(encounter.started_at).isoformat()
    if diagnosis.recorded_at is not None:
        data["recordedDate"] = timezone.localtime(diagnosis.recorded_at).isoformat()
    return data


def condition_to_fhir(diagnosis: Diagnosis) -> FHIRResourceModel:
    """The FHIR Condition of a diagnosis, validated by the pinned FHIR models."""
    return validate(condition_to_json(diagnosis), "Condition")
