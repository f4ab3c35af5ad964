"""The inpatient stay: admission, beds, transfers, daily notes and orders, consultations, discharge.

Modules: `admission` (admission, beds, transfers), `notes` (progress notes, consultations, daily
orders, nursing observations), `discharge`, `checks` (shared checks). Import from here.

Every service is one transaction with its permission check (at the acting membership's facility),
the encounter row locked, and an audit entry (ids and codes only). Bad input is a
`ValidationError({field: [Vietnamese message]})` on the form field; nothing is half-written.

A bed holds one patient and a patient lies in one bed: both are database constraints
(`bed_holds_one_patient`, `patient_in_one_bed` on BedOccupancy). The insert runs in a savepoint
and a violation becomes a message on `bed_id`, so two nurses clicking at once leave one patient
in the bed and the other nurse a clear message.
"""

from patients.clinical.inpatient.admission import (
    SOURCES,
    admission_create,
    bed_assign,
    transfer_create,
)
from patients.clinical.inpatient.discharge import admission_discharge
from patients.clinical.inpatient.notes import (
    consultation_add,
    daily_drug_add,
    daily_order_create,
    nursing_observation_record,
    progress_note_add,
    progress_note_update,
)

__all__ = [
    "SOURCES",
    "admission_create",
    "admission_discharge",
    "bed_assign",
    "consultation_add",
    "daily_drug_add",
    "daily_order_create",
    "nursing_observation_record",
    "progress_note_add",
    "progress_note_update",
    "transfer_create",
]
