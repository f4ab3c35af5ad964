"""Past versions of a patient's record (`PatientVersion`), kept by every service that bumps
`Patient.version`: update, void, merge and its reversal. The current version is the row itself."""

from __future__ import annotations

from datetime import date

from patients.models import Patient, PatientIdentifier, PatientVersion


def _json(value):
    return value.isoformat() if isinstance(value, date) else value


def patient_version_capture(patient: Patient) -> PatientVersion:
    """The current state of a (locked) patient as an unsaved past version.

    Capture before the service changes anything (fields or identifiers); save it with
    `patient_version_keep` only when the service does make a new version.
    """
    identifiers = list(
        PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True)
        .order_by("system", "id")
        .values("system", "value", "facility_id")
    )
    return PatientVersion(
        patient=patient,
        version=patient.version,
        data={name: _json(getattr(patient, name)) for name in PatientVersion.FIELDS},
        identifiers=identifiers,
        valid_from=patient.updated_at,
    )


def patient_version_keep(captured: PatientVersion, *, actor) -> PatientVersion:
    """Save a captured version: the service has just made the next one."""
    captured.recorded_by = actor
    captured.save()
    return captured


def patient_version_record(patient: Patient, *, actor) -> PatientVersion:
    """Capture and keep at once (the service is about to make a new version, whatever happens)."""
    return patient_version_keep(patient_version_capture(patient), actor=actor)
