"""The patients app: the city-wide registry and the clinical record."""

from patients.models.encounters import (
    Addendum,
    Allergy,
    Diagnosis,
    Encounter,
    IllegalTransition,
    QueueTicket,
    VitalSigns,
)
from patients.models.inpatient import Consultation, ProgressNote, Transfer
from patients.models.orders import Prescription, PrescriptionItem, ResultValue, ServiceOrder
from patients.models.registry import (
    BedOccupancy,
    DuplicateCandidate,
    Patient,
    PatientGroupObjectPermission,
    PatientIdentifier,
    PatientMerge,
    PatientUserObjectPermission,
    PatientVersion,
    RecordNumberCounter,
)

__all__ = [
    "Addendum",
    "Allergy",
    "BedOccupancy",
    "Consultation",
    "Diagnosis",
    "DuplicateCandidate",
    "Encounter",
    "IllegalTransition",
    "Patient",
    "PatientGroupObjectPermission",
    "PatientIdentifier",
    "PatientMerge",
    "PatientUserObjectPermission",
    "PatientVersion",
    "Prescription",
    "PrescriptionItem",
    "ProgressNote",
    "QueueTicket",
    "RecordNumberCounter",
    "ResultValue",
    "ServiceOrder",
    "Transfer",
    "VitalSigns",
]
