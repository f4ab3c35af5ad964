"""The record snapshot a dossier is built from, and how it is read (issue 5).

- `snapshot`: `DossierData` and its parts, frozen dataclasses the builders and the validator are
  pure functions of;
- `read`: `dossier_data(encounter=...)` (one encounter) and `dossier_data_many(encounter_ids=...)`
  (a chunk, for claim runs and the benchmark), each with a fixed number of queries;
- `rows`: the plain rows both readers fill, and `assemble`, which makes the DossierData.
"""

from insurance.claims.data.read import charges_from_billing, dossier_data, dossier_data_many
from insurance.claims.data.snapshot import (
    VISIT_CATEGORY,
    ZERO,
    CardPart,
    ChargeInput,
    CourseNote,
    DiagnosisPart,
    DossierData,
    DrugLine,
    EncounterPart,
    Money,
    PatientPart,
    ResultLine,
    ServiceLine,
)

__all__ = [
    "VISIT_CATEGORY",
    "ZERO",
    "CardPart",
    "ChargeInput",
    "CourseNote",
    "DiagnosisPart",
    "DossierData",
    "DrugLine",
    "EncounterPart",
    "Money",
    "PatientPart",
    "ResultLine",
    "ServiceLine",
    "charges_from_billing",
    "dossier_data",
    "dossier_data_many",
]
