"""Encounter: an outpatient visit or an inpatient stay (patients.Encounter) -> FHIR Encounter.

Pure functions: they read only the objects given (the encounter with its facility loaded, its
transfers and bed occupancies for the location history). Both ways: `encounter_from_fhir` reads a
partner's Encounter into `EncounterInput`, and `checkin_input` / `admission_input` turn that into
the inputs of the reception and admission services (the provider calls them; no writes here).

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

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, dump, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers.location import parse_location_id
from fhir_api.mappers.organization import organization_reference
from fhir_api.mappers.patient import MappingError
from patients.clinical.reception import CheckInInput
from patients.clinical_choices import (
    ArrivalMode,
    Conclusion,
    EncounterKind,
    EncounterStatus,
    VisitType,
)
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
# FHIR statuses a write may name (the others are not held by the registry).
WRITABLE_STATUSES = ("arrived", "in-progress", "finished", "cancelled")
# HL7 admit-source of a stay <-> the admission service's source (SOURCES).
ADMIT_SOURCE = {"outp": "outpatient", "emd": "emergency", "hosp-trans": "transfer_in"}
ADMIT_SOURCE_DISPLAY = {
    "outp": "From outpatient department",
    "emd": "From accident/emergency department",
    "hosp-trans": "Transferred from other hospital",
}
# HL7 discharge-disposition read as a visit's conclusion where the meaning is the same.
CONCLUSION_OF_DISPOSITION = {"home": Conclusion.HOME, "other-hcf": Conclusion.TRANSFER}
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


def encounter_version(encounter: Encounter, extra_revision: int = 0) -> int:
    """The FHIR version (meta.versionId, ETag): the encounter's own version, plus the number of
    writes that changed only the elements kept beside it (fhir_api.extras)."""
    return encounter.version + extra_revision


def _facility_identifier(code: str) -> dict[str, Any]:
    return {"identifier": dt.identifier(systems.FACILITY, code)}


def _extensions(encounter: Encounter) -> list[dict[str, Any]]:
    """Arrival route, card presented, referral paper, follow-up date, transfer reason."""
    out = []
    if encounter.arrival_mode:
        label = str(ArrivalMode(encounter.arrival_mode).label)
        out.append(
            dt.extension(
                systems.ARRIVAL_MODE_EXT,
                valueCoding=dt.coding(systems.ARRIVAL_MODE_CS, encounter.arrival_mode, label),
            )
        )
    if encounter.insurance_card_code:
        card = dt.identifier(systems.BHYT, encounter.insurance_card_code)
        validity = {}
        if encounter.insurance_card_valid_from:
            validity["start"] = encounter.insurance_card_valid_from.isoformat()
        if encounter.insurance_card_valid_to:
            validity["end"] = encounter.insurance_card_valid_to.isoformat()
        if validity:
            card["period"] = validity
        out.append(dt.extension(systems.ENCOUNTER_BHYT_CARD_EXT, valueIdentifier=card))
    if encounter.registered_facility_code:
        out.append(
            dt.extension(
                systems.BHYT_REGISTERED_FACILITY_EXT,
                valueIdentifier=dt.identifier(systems.FACILITY, encounter.registered_facility_code),
            )
        )
    if encounter.referral_paper_number:
        out.append(
            dt.extension(systems.REFERRAL_PAPER_EXT, valueString=encounter.referral_paper_number)
        )
    if encounter.follow_up_date:
        out.append(
            dt.extension(systems.FOLLOW_UP_DATE_EXT, valueDate=encounter.follow_up_date.isoformat())
        )
    if encounter.transfer_reason:
        out.append(dt.extension(systems.TRANSFER_REASON_EXT, valueString=encounter.transfer_reason))
    return out


def _admit_source(encounter: Encounter) -> str:
    if encounter.arrival_mode == ArrivalMode.EMERGENCY:
        return "emd"
    if encounter.arrival_mode == ArrivalMode.TRANSFER_IN:
        return "hosp-trans"
    return "outp"


def _hospitalization(encounter: Encounter) -> dict[str, Any]:
    """Where a stay came from, where the patient was sent, how a visit ended."""
    out: dict[str, Any] = {}
    if encounter.referral_from_code:
        out["origin"] = _facility_identifier(encounter.referral_from_code)
    if encounter.kind == EncounterKind.INPATIENT:
        code = _admit_source(encounter)
        out["admitSource"] = {
            "coding": [dt.coding(systems.ADMIT_SOURCE_CS, code, ADMIT_SOURCE_DISPLAY[code])]
        }
    if encounter.conclusion:
        label = str(Conclusion(encounter.conclusion).label)
        out["dischargeDisposition"] = {
            "coding": [dt.coding(systems.VISIT_CONCLUSION_CS, encounter.conclusion, label)]
        }
    if encounter.transfer_to_code:
        out["destination"] = _facility_identifier(encounter.transfer_to_code)
    return out


def encounter_to_json(
    encounter: Encounter,
    *,
    transfers: list[Transfer] | None = None,
    occupancies: list[BedOccupancy] | None = None,
    version_id: str | None = None,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """The FHIR Encounter of a visit or stay, as JSON (not yet validated).

    `version_id` / `last_updated` override the encounter's own (when elements kept beside it
    count, see `encounter_version`).
    """
    data: dict[str, Any] = {"resourceType": "Encounter"}
    if encounter.pk is not None:
        data["id"] = str(encounter.pk)
        data["meta"] = {"versionId": version_id or str(encounter_version(encounter))}
        updated = last_updated or encounter.updated_at
        if updated is not None:
            data["meta"]["lastUpdated"] = _instant(updated)
    extensions = _extensions(encounter)
    if extensions:
        data["extension"] = extensions
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
    hospitalization = _hospitalization(encounter)
    if hospitalization:
        data["hospitalization"] = hospitalization
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


# --- FHIR -> domain ------------------------------------------------------------------------------


def _ext_path(url: str) -> str:
    return f"Encounter.extension('{url}')"


# Domain field (a service's ValidationError key) -> the element a partner wrote it in.
FIELD_PATHS = {
    "patient_id": "Encounter.subject",
    "status": "Encounter.status",
    "main_code": "Encounter.status",  # concluding needs a main diagnosis (a Condition)
    "reason": "Encounter.reasonCode",
    "started_at": "Encounter.period.start",
    "admitted_at": "Encounter.period.start",
    "room_id": "Encounter.location",
    "department_id": "Encounter.location",
    "bed_id": "Encounter.location",
    "from_encounter_id": "Encounter.partOf",
    "source": "Encounter.hospitalization.admitSource",
    "arrival_mode": _ext_path(systems.ARRIVAL_MODE_EXT),
    "insurance_card_code": _ext_path(systems.ENCOUNTER_BHYT_CARD_EXT),
    "insurance_card_valid_from": _ext_path(systems.ENCOUNTER_BHYT_CARD_EXT),
    "insurance_card_valid_to": _ext_path(systems.ENCOUNTER_BHYT_CARD_EXT),
    "registered_facility_code": _ext_path(systems.BHYT_REGISTERED_FACILITY_EXT),
    "referral_paper_number": _ext_path(systems.REFERRAL_PAPER_EXT),
    "referral_from_code": "Encounter.hospitalization.origin",
    "conclusion": "Encounter.hospitalization.dischargeDisposition",
    "follow_up_date": _ext_path(systems.FOLLOW_UP_DATE_EXT),
    "transfer_to_code": "Encounter.hospitalization.destination",
    "transfer_reason": _ext_path(systems.TRANSFER_REASON_EXT),
}


@dataclass
class EncounterInput:
    """What a partner's Encounter says, in the registry's terms (`encounter_from_fhir`)."""

    kind: str  # EncounterKind
    status: str  # the FHIR status as sent (one of WRITABLE_STATUSES)
    patient_id: int
    service_provider_id: int | None = None  # Organization/<pk>
    service_provider_code: str = ""  # or the unit named by its ma-cskcb code
    started_at: datetime | None = None
    ended_at: datetime | None = None  # read only to refuse it where the server sets it
    reason: str = ""
    department_id: int | None = None
    bed_id: int | None = None
    room_code: str = ""  # a clinic room by its code (logical reference)
    room_system: str = ""
    location_refs: tuple[str, ...] = ()  # every Location/<id> named, in order
    arrival_mode: str = ""  # ArrivalMode; "" = not said
    insurance_card_code: str = ""
    insurance_card_valid_from: date | None = None
    insurance_card_valid_to: date | None = None
    registered_facility_code: str = ""
    referral_from_code: str = ""
    referral_paper_number: str = ""
    admit_source: str = ""  # admission source (ADMIT_SOURCE values); "" = not said
    part_of_id: int | None = None
    conclusion: str = ""  # Conclusion; "" = not said
    follow_up_date: date | None = None
    transfer_to_code: str = ""
    transfer_reason: str = ""


def reference_pk(ref: Any, resource_type: str, path: str) -> int | None:
    """The pk in a literal reference `Type/<id>` (None when the Reference has none)."""
    if not isinstance(ref, dict) or not ref.get("reference"):
        return None
    text = str(ref["reference"])
    head, _, tail = text.partition("/")
    if head != resource_type or not tail.isdigit() or len(tail) > 18:
        raise MappingError(f"{path}.reference", f"Expected '{resource_type}/<id>', got '{text}'.")
    return int(tail)


def parse_instant(text: Any, path: str) -> datetime:
    """A FHIR dateTime that is an instant (date, time and offset)."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        value = None
    if value is None or len(str(text)) <= 10 or timezone.is_naive(value):
        raise MappingError(path, f"'{text}' is not an instant: give date, time and offset.")
    return value


def _parse_date(text: Any, path: str) -> date:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        raise MappingError(path, f"'{text}' is not a full date (YYYY-MM-DD).") from None


def _code_in(concept: Any, system: str) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system and coding.get("code"):
            return coding["code"]
    return None


def _class(data: dict[str, Any]) -> str:
    cls = data.get("class") or {}
    kind = KIND_OF_CLASS.get(cls.get("code") or "")
    if kind is None or cls.get("system") not in (None, systems.ACT_CODE_CS):
        raise MappingError(
            "Encounter.class",
            f"class must be {systems.ACT_CODE_CS}|AMB (outpatient visit) or IMP (inpatient stay).",
        )
    return kind


def _locations(data: dict[str, Any], values: dict[str, Any]) -> None:
    refs = []
    for i, item in enumerate(data.get("location") or []):
        ref = item.get("location") or {}
        path = f"Encounter.location[{i}].location"
        if ref.get("reference"):
            text = str(ref["reference"])
            head, _, tail = text.partition("/")
            parsed = parse_location_id(tail) if head == "Location" else None
            if parsed is None:
                raise MappingError(
                    f"{path}.reference",
                    f"Expected Location/dept-<id>, Location/ward-<id> or Location/bed-<id>, "
                    f"got '{text}'.",
                )
            refs.append(text)
            kind, pk = parsed
            if kind == "dept" and values.get("department_id") is None:
                values["department_id"] = pk
            elif kind == "bed" and values.get("bed_id") is None:
                values["bed_id"] = pk
        ident = ref.get("identifier") or {}
        system = ident.get("system") or ""
        if system.startswith(systems.CLINIC_ROOM_PREFIX) and ident.get("value"):
            if values.get("room_code"):
                raise MappingError(path, "Only one clinic room may be named.")
            values["room_code"], values["room_system"] = str(ident["value"]), system
        elif not ref.get("reference"):
            raise MappingError(
                path,
                "A location is Location/<id> or a clinic room by its code "
                f"({systems.CLINIC_ROOM_PREFIX}<facility code>).",
            )
    values["location_refs"] = tuple(refs)


def _extension_values(data: dict[str, Any], values: dict[str, Any]) -> None:
    for ext in data.get("extension") or []:
        url = ext.get("url")
        path = _ext_path(url)
        if url == systems.ARRIVAL_MODE_EXT:
            coding = ext.get("valueCoding") or {}
            code = coding.get("code") or ""
            if coding.get("system") not in (None, systems.ARRIVAL_MODE_CS) or (
                code not in ArrivalMode.values
            ):
                raise MappingError(
                    path, f"Arrival mode must be one of {', '.join(ArrivalMode.values)}."
                )
            values["arrival_mode"] = code
        elif url == systems.ENCOUNTER_BHYT_CARD_EXT:
            card = ext.get("valueIdentifier") or {}
            if card.get("system") != systems.BHYT or not card.get("value"):
                raise MappingError(path, f"The card is a valueIdentifier in {systems.BHYT}.")
            values["insurance_card_code"] = str(card["value"])
            validity = card.get("period") or {}
            if validity.get("start"):
                values["insurance_card_valid_from"] = _parse_date(validity["start"], path)
            if validity.get("end"):
                values["insurance_card_valid_to"] = _parse_date(validity["end"], path)
        elif url == systems.BHYT_REGISTERED_FACILITY_EXT:
            ident = ext.get("valueIdentifier") or {}
            if ident.get("system") != systems.FACILITY or not ident.get("value"):
                raise MappingError(path, f"A valueIdentifier in {systems.FACILITY} is expected.")
            values["registered_facility_code"] = str(ident["value"])
        elif url == systems.REFERRAL_PAPER_EXT:
            values["referral_paper_number"] = str(ext.get("valueString") or "")
        elif url == systems.FOLLOW_UP_DATE_EXT:
            values["follow_up_date"] = _parse_date(ext.get("valueDate"), path)
        elif url == systems.TRANSFER_REASON_EXT:
            values["transfer_reason"] = str(ext.get("valueString") or "")


def _facility_code_of(ref: Any, path: str) -> str:
    """A facility named by its code: {"identifier": {"system": ma-cskcb, "value": code}}."""
    ident = (ref or {}).get("identifier") or {}
    if ident.get("system") != systems.FACILITY or not ident.get("value"):
        raise MappingError(
            path, f"Name the facility by its code: identifier in {systems.FACILITY}."
        )
    return str(ident["value"])


def _hospitalization_values(data: dict[str, Any], values: dict[str, Any]) -> None:
    hosp = data.get("hospitalization") or {}
    base = "Encounter.hospitalization"
    if hosp.get("origin"):
        values["referral_from_code"] = _facility_code_of(hosp["origin"], f"{base}.origin")
    if hosp.get("destination"):
        values["transfer_to_code"] = _facility_code_of(hosp["destination"], f"{base}.destination")
    if hosp.get("admitSource"):
        code = _code_in(hosp["admitSource"], systems.ADMIT_SOURCE_CS)
        if code not in ADMIT_SOURCE:
            raise MappingError(
                f"{base}.admitSource",
                f"Admit source must be {systems.ADMIT_SOURCE_CS} outp, emd or hosp-trans.",
            )
        values["admit_source"] = ADMIT_SOURCE[code]
    if hosp.get("dischargeDisposition"):
        concept = hosp["dischargeDisposition"]
        code = _code_in(concept, systems.VISIT_CONCLUSION_CS)
        if code is None:
            code = CONCLUSION_OF_DISPOSITION.get(
                _code_in(concept, systems.DISCHARGE_DISPOSITION_CS) or ""
            )
        if code not in Conclusion.values:
            raise MappingError(
                f"{base}.dischargeDisposition",
                f"A visit ends as {systems.VISIT_CONCLUSION_CS} "
                f"{', '.join(Conclusion.values)} (or HL7 discharge-disposition home, other-hcf).",
            )
        values["conclusion"] = code


def encounter_from_fhir(resource) -> EncounterInput:
    """The registry's reading of a FHIR Encounter (validated by the pinned models beforehand).

    Raises MappingError(path, message) for what the registry cannot hold. Elements it does not
    read (participant, type, a second reasonCode, ...) are the provider's kept extras.
    """
    data = dump(resource) if not isinstance(resource, dict) else resource
    kind = _class(data)
    status = data.get("status") or ""
    if status not in WRITABLE_STATUSES:
        raise MappingError(
            "Encounter.status",
            f"Status '{status}' is not held by the registry "
            f"(it holds {', '.join(WRITABLE_STATUSES)}).",
        )
    patient_id = reference_pk(data.get("subject"), "Patient", "Encounter.subject")
    if patient_id is None:
        raise MappingError("Encounter.subject", "An encounter needs its subject: Patient/<id>.")
    values: dict[str, Any] = {"kind": kind, "status": status, "patient_id": patient_id}
    provider = data.get("serviceProvider")
    if provider:
        pk = reference_pk(provider, "Organization", "Encounter.serviceProvider")
        if pk is None:
            values["service_provider_code"] = _facility_code_of(
                provider, "Encounter.serviceProvider"
            )
        values["service_provider_id"] = pk
    period = data.get("period") or {}
    if period.get("start"):
        values["started_at"] = parse_instant(period["start"], "Encounter.period.start")
    if period.get("end"):
        values["ended_at"] = parse_instant(period["end"], "Encounter.period.end")
    for reason in data.get("reasonCode") or []:
        text = reason.get("text") or next(
            (c.get("display") for c in reason.get("coding") or [] if c.get("display")), ""
        )
        if text:
            values["reason"] = text
            break
    _locations(data, values)
    _extension_values(data, values)
    _hospitalization_values(data, values)
    values["part_of_id"] = reference_pk(data.get("partOf"), "Encounter", "Encounter.partOf")
    return EncounterInput(**values)


def _single_department(data: EncounterInput) -> None:
    departments = {r for r in data.location_refs if r.startswith("Location/dept-")}
    if len(departments) > 1:
        raise MappingError("Encounter.location", "A new encounter is in one department.")


def checkin_input(data: EncounterInput, *, room_id: int) -> CheckInInput:
    """The reception's input for an outpatient visit (the room resolved by the caller).

    The arrival route defaults to self-referred (no card needed); the insurance routes
    (registered facility, referral) take the card extension, as at the reception desk.
    """
    if data.bed_id is not None or any(r.startswith("Location/ward-") for r in data.location_refs):
        raise MappingError(
            "Encounter.location",
            "An outpatient visit takes place in a clinic room of a department, "
            "not in a ward or bed.",
        )
    _single_department(data)
    return CheckInInput(
        patient_id=data.patient_id,
        room_id=room_id,
        arrival_mode=data.arrival_mode or ArrivalMode.SELF_REFERRED,
        referral_paper_number=data.referral_paper_number,
        referral_from_code=data.referral_from_code,
        insurance_card_code=data.insurance_card_code,
        insurance_card_valid_from=data.insurance_card_valid_from,
        insurance_card_valid_to=data.insurance_card_valid_to,
        registered_facility_code=data.registered_facility_code,
        reason=data.reason,
        started_at=data.started_at,
    )


def admission_input(data: EncounterInput) -> dict[str, Any]:
    """The keyword arguments of `admission_create` for an inpatient stay.

    The source is hospitalization.admitSource, or "from an outpatient visit" when partOf names
    one; the department is required (Location/dept-<id>), the bed optional.
    """
    if data.department_id is None:
        raise MappingError(
            "Encounter.location", "An inpatient stay needs its department: Location/dept-<id>."
        )
    _single_department(data)
    if data.room_code:
        raise MappingError("Encounter.location", "An inpatient stay has no clinic room.")
    source = data.admit_source or ("outpatient" if data.part_of_id else "")
    if not source:
        raise MappingError(
            "Encounter.hospitalization.admitSource",
            f"Say where the patient comes from: {systems.ADMIT_SOURCE_CS} outp (with partOf "
            "the visit concluded 'admit'), emd or hosp-trans.",
        )
    return {
        "patient": data.patient_id,
        "department_id": data.department_id,
        "bed_id": data.bed_id,
        "source": source,
        "from_encounter": data.part_of_id,
        "referral_from_code": data.referral_from_code,
        "referral_paper_number": data.referral_paper_number,
        "reason": data.reason,
        "insurance_card_code": data.insurance_card_code,
        "admitted_at": data.started_at,
    }
