"""Encounter: an outpatient visit or an inpatient stay (patients.Encounter) -> FHIR Encounter.

Pure functions: they read only the objects given (the encounter with its facility loaded, its
transfers and bed occupancies for the location history). Read-only for now: visits and stays are
written through the clinical pages' services.

Status (documented in docs/fhir.md):

| Domain | FHIR |
|---|---|
| arrived (checked in, waiting) | arrived |
| in_examination, awaiting_results | in-progress |
| concluded (visit ended) | finished |
| admitted (stay open) | in-progress |
| discharged | finished |
| cancelled | cancelled |

Voided encounters are not served at all (404), so `entered-in-error` never appears.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers.organization import organization_reference
from patients.clinical_choices import EncounterKind, EncounterStatus, VisitType
from patients.models import BedOccupancy, Encounter, Transfer

FHIR_STATUS = {
    EncounterStatus.ARRIVED: "arrived",
    EncounterStatus.IN_EXAMINATION: "in-progress",
    EncounterStatus.AWAITING_RESULTS: "in-progress",
    EncounterStatus.CONCLUDED: "finished",
    EncounterStatus.ADMITTED: "in-progress",
    EncounterStatus.DISCHARGED: "finished",
    EncounterStatus.CANCELLED: "cancelled",
}
DOMAIN_STATUSES: dict[str, list[str]] = {}
for _domain, _fhir in FHIR_STATUS.items():
    DOMAIN_STATUSES.setdefault(_fhir, []).append(_domain)

CLASS_OF_KIND = {
    EncounterKind.OUTPATIENT: ("AMB", "ambulatory"),
    EncounterKind.INPATIENT: ("IMP", "inpatient encounter"),
}
KIND_OF_CLASS = {code: kind for kind, (code, _display) in CLASS_OF_KIND.items()}
_OPEN = (
    EncounterStatus.ARRIVED,
    EncounterStatus.IN_EXAMINATION,
    EncounterStatus.AWAITING_RESULTS,
    EncounterStatus.ADMITTED,
)


def _instant(value: datetime) -> str:
    """An instant as shown to people here: Asia/Ho_Chi_Minh, with its offset."""
    return timezone.localtime(value).isoformat()


def _period(start: datetime | None, end: datetime | None) -> dict[str, str]:
    out = {}
    if start is not None:
        out["start"] = _instant(start)
    if end is not None:
        out["end"] = _instant(end)
    return out


def _place(reference: str, physical: str, start, end, *, open_: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "location": {"reference": reference},
        "status": "active" if end is None and open_ else "completed",
        "physicalType": {
            "coding": [dt.coding(systems.LOCATION_PHYSICAL_TYPE_CS, physical)],
        },
    }
    period = _period(start, end)
    if period:
        entry["period"] = period
    return entry


def location_history(
    encounter: Encounter, transfers: list[Transfer], occupancies: list[BedOccupancy]
) -> list[dict[str, Any]]:
    """Encounter.location: the departments of the encounter over time (from its transfers), then
    the beds it occupied (from bed occupancies), each with its period."""
    is_open = encounter.status in _OPEN
    out = []
    if encounter.kind == EncounterKind.INPATIENT:
        moves = sorted(transfers, key=lambda t: (t.moved_at, t.pk or 0))
        current = (moves[0].from_department_id if moves else None) or encounter.department_id
        since = encounter.admitted_at or encounter.started_at
        segments = []
        for move in moves:
            if move.to_department_id != current:
                segments.append((current, since, move.moved_at))
                current, since = move.to_department_id, move.moved_at
        segments.append((current, since, encounter.ended_at))
        for department_id, start, end in segments:
            if department_id:
                out.append(
                    _place(
                        f"Location/dept-{department_id}",
                        "area",
                        start,
                        end,
                        open_=is_open,
                    )
                )
    elif encounter.department_id:
        out.append(
            _place(
                f"Location/dept-{encounter.department_id}",
                "area",
                encounter.started_at,
                encounter.ended_at,
                open_=is_open,
            )
        )
    for occupancy in sorted(occupancies, key=lambda o: (o.started_at, o.pk or 0)):
        out.append(
            _place(
                f"Location/bed-{occupancy.bed_id}",
                "bd",
                occupancy.started_at,
                occupancy.ended_at,
                open_=is_open,
            )
        )
    return out


def encounter_to_json(
    encounter: Encounter,
    *,
    transfers: list[Transfer] | None = None,
    occupancies: list[BedOccupancy] | None = None,
) -> dict[str, Any]:
    """The FHIR Encounter of a visit or stay, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "Encounter"}
    if encounter.pk is not None:
        data["id"] = str(encounter.pk)
        data["meta"] = {"versionId": str(encounter.version)}
        if encounter.updated_at is not None:
            data["meta"]["lastUpdated"] = _instant(encounter.updated_at)
    data["identifier"] = [dt.identifier(systems.MA_LK, encounter.claim_key, use="official")]
    data["status"] = FHIR_STATUS.get(encounter.status, "unknown")
    code, display = CLASS_OF_KIND[encounter.kind]
    data["class"] = dt.coding(systems.ACT_CODE_CS, code, display)
    if encounter.visit_type:
        label = str(VisitType(encounter.visit_type).label)
        data["type"] = [{"coding": [dt.coding(systems.VISIT_TYPE_CS, encounter.visit_type, label)]}]
    data["subject"] = {"reference": f"Patient/{encounter.patient_id}"}
    data["period"] = _period(encounter.started_at, encounter.ended_at)
    if encounter.reason:
        data["reasonCode"] = [{"text": encounter.reason}]
    history = location_history(encounter, transfers or [], occupancies or [])
    if history:
        data["location"] = history
    data["serviceProvider"] = organization_reference(encounter.facility)
    if encounter.parent_id:
        data["partOf"] = {"reference": f"Encounter/{encounter.parent_id}"}
    return data


def encounter_to_fhir(encounter: Encounter, **kwargs: Any) -> FHIRResourceModel:
    """The FHIR Encounter of a visit or stay, validated by the pinned FHIR models."""
    return validate(encounter_to_json(encounter, **kwargs), "Encounter")
