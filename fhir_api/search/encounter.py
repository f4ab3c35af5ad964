"""Encounter search: parameter -> ORM lookup over the encounters the caller may see."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from fhir_api import systems
from fhir_api.mappers.encounter import DOMAIN_STATUSES, KIND_OF_CLASS
from fhir_api.mappers.location import parse_location_id
from fhir_api.registry import SearchParam
from fhir_api.search.common import (
    EVERYTHING,
    NOTHING,
    int_id,
    period_range,
    reference_id,
    token_code_q,
)
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from patients.models import BedOccupancy, Encounter, Transfer

ENCOUNTER_STATUS_CS = "http://hl7.org/fhir/encounter-status"

PARAMS = {
    "patient": SearchParam(
        "patient",
        "reference",
        "Patient/<id> (or the id alone): the patient's encounters.",
        "http://hl7.org/fhir/SearchParameter/clinical-patient",
    ),
    "subject": SearchParam(
        "subject",
        "reference",
        "Patient/<id>: same as patient.",
        "http://hl7.org/fhir/SearchParameter/Encounter-subject",
    ),
    "date": SearchParam(
        "date",
        "date",
        "The period overlaps or lies within the date (prefixes eq ne lt gt le ge sa eb; days "
        "are UTC); an encounter still going on has no end.",
        "http://hl7.org/fhir/SearchParameter/clinical-date",
    ),
    "status": SearchParam(
        "status",
        "token",
        "arrived | in-progress | finished | cancelled (see docs/fhir.md for the mapping).",
        "http://hl7.org/fhir/SearchParameter/Encounter-status",
    ),
    "class": SearchParam(
        "class",
        "token",
        f"{systems.ACT_CODE_CS}|AMB (outpatient visit) or IMP (inpatient stay).",
        "http://hl7.org/fhir/SearchParameter/Encounter-class",
    ),
    "service-provider": SearchParam(
        "service-provider",
        "reference",
        "Organization/<id>: the health unit of the encounter.",
        "http://hl7.org/fhir/SearchParameter/Encounter-service-provider",
    ),
    "identifier": SearchParam(
        "identifier",
        "token",
        f"The claim link code: {systems.MA_LK}|<MA_LK>.",
        "http://hl7.org/fhir/SearchParameter/clinical-identifier",
    ),
    "location": SearchParam(
        "location",
        "reference",
        "Location/dept-<id>, Location/ward-<id> or Location/bed-<id>: encounters that were "
        "there at any time (department, transfers, bed occupancies).",
        "http://hl7.org/fhir/SearchParameter/Encounter-location",
    ),
}

_PERIOD = period_range("started_at", "ended_at")


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def _reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def _status_q(token: Token) -> Q:
    if token.system not in (None, ENCOUNTER_STATUS_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    statuses = DOMAIN_STATUSES.get(token.code)
    return Q(status__in=statuses) if statuses else NOTHING


def _class_q(token: Token) -> Q:
    if token.system not in (None, systems.ACT_CODE_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    kind = KIND_OF_CLASS.get(token.code)
    return Q(kind=kind) if kind else NOTHING


def _location_q(raw: str) -> Q:
    parsed = parse_location_id(reference_id(raw, "Location") or "")
    if parsed is None:
        return NOTHING
    kind, pk = parsed
    if kind == "dept":
        moved_in = Transfer.objects.filter(encounter_id=OuterRef("pk"), to_department_id=pk)
        return Q(department_id=pk) | Q(Exists(moved_in))
    beds = BedOccupancy.objects.filter(encounter_id=OuterRef("pk"))
    beds = beds.filter(bed_id=pk) if kind == "bed" else beds.filter(bed__ward_id=pk)
    return Q(Exists(beds))


def encounter_filter(qs: QuerySet[Encounter], criteria: list[Criterion]) -> QuerySet[Encounter]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        for value in c.values:
            name = c.param.name
            if name == "_id":
                q |= _id_q(value)
            elif name in ("patient", "subject"):
                q |= _reference_q(value, "Patient", "patient_id")
            elif name == "service-provider":
                q |= _reference_q(value, "Organization", "facility_id")
            elif name == "date":
                q |= date_q(value, _PERIOD)
            elif name == "status":
                q |= _status_q(value)
            elif name == "class":
                q |= _class_q(value)
            elif name == "identifier":
                q |= token_code_q(value, systems.MA_LK, "claim_key", upper=True)
            elif name == "location":
                q |= _location_q(value)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=encounter_filter,
    last_updated="updated_at",
    sorts={"date": F("started_at"), "status": F("status")},
)
