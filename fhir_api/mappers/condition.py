"""Condition: an ICD-10 diagnosis of an encounter (patients.Diagnosis) -> FHIR Condition.

Pure functions: they read only the objects given (the diagnosis with its encounter loaded).
Both ways: `condition_from_fhir` reads a partner's Condition into `ConditionInput`, the input of
`patients.clinical.diagnoses.diagnosis_add` (the provider calls it; no writes here).

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

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, dump, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers.encounter import reference_pk
from fhir_api.mappers.patient import MappingError
from patients.clinical_choices import MAX_SECONDARY_DIAGNOSES, DiagnosisPhase, EncounterStatus
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


# --- FHIR -> domain ------------------------------------------------------------------------------

RANK_PATH = f"Condition.extension('{systems.DIAGNOSIS_RANK_EXT}')"
PHASE_PATH = f"Condition.extension('{systems.DIAGNOSIS_PHASE_EXT}')"
# Domain field (a service's ValidationError key) -> the element a partner wrote it in.
FIELD_PATHS = {
    "code": "Condition.code",
    "rank": RANK_PATH,
    "phase": PHASE_PATH,
    "reason": "X-Reason",
}
# verificationStatus the registry holds, and the phase each implies when no phase is given.
VERIFICATION_PHASE = {
    "provisional": DiagnosisPhase.ADMISSION,
    "confirmed": DiagnosisPhase.ENCOUNTER,
}


@dataclass
class ConditionInput:
    """What a partner's Condition says, in the registry's terms (`condition_from_fhir`)."""

    patient_id: int
    encounter_id: int
    code: str  # the ICD-10 code as sent (the service normalises and checks it)
    phase: str  # DiagnosisPhase
    rank: int | None = None  # 0 = main, 1.. = secondary; None = main if none yet, else next


def _code_in(concept: Any, system: str) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system and coding.get("code"):
            return coding["code"]
    return None


def _icd_code(data: dict[str, Any]) -> str:
    code = _code_in(data.get("code"), systems.ICD_10)
    if not code:
        raise MappingError(
            "Condition.code", f"A diagnosis is coded in ICD-10: a coding in {systems.ICD_10}."
        )
    return code


def _category(data: dict[str, Any]) -> None:
    for i, concept in enumerate(data.get("category") or []):
        code = _code_in(concept, systems.CONDITION_CATEGORY_CS)
        if code not in (None, "encounter-diagnosis"):
            raise MappingError(
                f"Condition.category[{i}]",
                f"Only encounter diagnoses are recorded here, not '{code}'.",
            )


def _rank(data: dict[str, Any]) -> int | None:
    ext = dt.find_extension(data.get("extension"), systems.DIAGNOSIS_RANK_EXT)
    if ext is None:
        return None
    value = ext.get("valuePositiveInt")
    if not isinstance(value, int) or not 1 <= value <= MAX_SECONDARY_DIAGNOSES + 1:
        raise MappingError(
            RANK_PATH,
            f"The rank is a valuePositiveInt: 1 = main diagnosis, 2 to "
            f"{MAX_SECONDARY_DIAGNOSES + 1} = secondary.",
        )
    return value - 1


def _phase(data: dict[str, Any]) -> str | None:
    ext = dt.find_extension(data.get("extension"), systems.DIAGNOSIS_PHASE_EXT)
    if ext is None:
        return None
    coding = ext.get("valueCoding") or {}
    code = coding.get("code")
    if coding.get("system") not in (None, systems.DIAGNOSIS_PHASE_CS) or (
        code not in DiagnosisPhase.values
    ):
        raise MappingError(
            PHASE_PATH,
            f"The phase is a valueCoding in {systems.DIAGNOSIS_PHASE_CS}: "
            f"{', '.join(DiagnosisPhase.values)}.",
        )
    return code


def _verified_phase(data: dict[str, Any], phase: str | None) -> str:
    """The phase, checked against verificationStatus (provisional = admission diagnosis)."""
    code = _code_in(data.get("verificationStatus"), systems.CONDITION_VER_STATUS_CS)
    if code is None:
        return phase or DiagnosisPhase.ENCOUNTER
    if code not in VERIFICATION_PHASE:
        raise MappingError(
            "Condition.verificationStatus",
            f"verificationStatus '{code}' is not recorded: a diagnosis is provisional "
            "(on admission) or confirmed; a withdrawn one is deleted (DELETE).",
        )
    implied = VERIFICATION_PHASE[code]
    if phase is None:
        return implied
    if (phase == DiagnosisPhase.ADMISSION) != (code == "provisional"):
        raise MappingError(
            "Condition.verificationStatus",
            f"A diagnosis of phase '{phase}' is "
            f"{'provisional' if phase == DiagnosisPhase.ADMISSION else 'confirmed'}, "
            f"not {code}.",
        )
    return phase


def condition_from_fhir(resource) -> ConditionInput:
    """The registry's reading of a FHIR Condition (validated by the pinned models beforehand).

    Raises MappingError(path, message) for what the registry cannot hold. `onset[x]` and
    `recordedDate` are the server's (the encounter's start, the time of recording); elements
    it does not read (note, bodySite, severity, another coding, ...) are the provider's extras.
    """
    data = dump(resource) if not isinstance(resource, dict) else resource
    code = _icd_code(data)
    _category(data)
    clinical = _code_in(data.get("clinicalStatus"), systems.CONDITION_CLINICAL_CS)
    if data.get("clinicalStatus") and clinical != CLINICAL_ACTIVE:
        raise MappingError(
            "Condition.clinicalStatus",
            "clinicalStatus is derived from the encounter (active while it is open); "
            f"send 'active' or leave it out, not '{clinical}'.",
        )
    abatement = [k for k in data if k.startswith("abatement")]
    if abatement:
        raise MappingError(
            f"Condition.{abatement[0]}", "The registry does not record when a condition abated."
        )
    patient_id = reference_pk(data.get("subject"), "Patient", "Condition.subject")
    if patient_id is None:
        raise MappingError("Condition.subject", "A diagnosis needs its subject: Patient/<id>.")
    encounter_id = reference_pk(data.get("encounter"), "Encounter", "Condition.encounter")
    if encounter_id is None:
        raise MappingError(
            "Condition.encounter", "A diagnosis is recorded on an encounter: Encounter/<id>."
        )
    return ConditionInput(
        patient_id=patient_id,
        encounter_id=encounter_id,
        code=code,
        phase=_verified_phase(data, _phase(data)),
        rank=_rank(data),
    )
