"""Condition search: parameter -> ORM lookup over the diagnoses the caller may see."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from fhir_api import systems
from fhir_api.mappers.condition import CLINICAL_ACTIVE, OPEN_ENCOUNTER
from fhir_api.registry import SearchParam
from fhir_api.search.common import EVERYTHING, NOTHING, int_id, reference_id, utc_midnight
from fhir_api.search.params import Criterion, RangeLookups, Token, date_q
from fhir_api.search.refine import SearchSpec
from patients.models import Diagnosis

PARAMS = {
    "patient": SearchParam(
        "patient",
        "reference",
        "Patient/<id> (or the id alone): the patient's diagnoses.",
        "http://hl7.org/fhir/SearchParameter/clinical-patient",
    ),
    "subject": SearchParam(
        "subject",
        "reference",
        "Patient/<id>: same as patient.",
        "http://hl7.org/fhir/SearchParameter/Condition-subject",
    ),
    "encounter": SearchParam(
        "encounter",
        "reference",
        "Encounter/<id>: the diagnoses of one visit or stay.",
        "http://hl7.org/fhir/SearchParameter/clinical-encounter",
    ),
    "code": SearchParam(
        "code",
        "token",
        f"The ICD-10 code: {systems.ICD_10}|<code> or the code alone (e.g. J06.9).",
        "http://hl7.org/fhir/SearchParameter/clinical-code",
    ),
    "clinical-status": SearchParam(
        "clinical-status",
        "token",
        "active (the encounter is still open); no other status is recorded.",
        "http://hl7.org/fhir/SearchParameter/Condition-clinical-status",
    ),
    "onset-date": SearchParam(
        "onset-date",
        "date",
        "The encounter's start against the date (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        "http://hl7.org/fhir/SearchParameter/Condition-onset-date",
    ),
}

_ONSET = "encounter__started_at"
# The onset is an instant: a range whose start and end are the same moment.
_ONSET_RANGE = RangeLookups(
    start_ge=lambda d: Q(**{f"{_ONSET}__gte": utc_midnight(d)}),
    start_lt=lambda d: Q(**{f"{_ONSET}__lt": utc_midnight(d)}),
    end_le=lambda d: Q(**{f"{_ONSET}__lt": utc_midnight(d)}),
    end_gt=lambda d: Q(**{f"{_ONSET}__gte": utc_midnight(d)}),
)


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def _reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def _code_q(token: Token) -> Q:
    if token.system not in (None, systems.ICD_10):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    return Q(icd_code__iexact=token.code.strip())


def _clinical_status_q(token: Token) -> Q:
    if token.system not in (None, systems.CONDITION_CLINICAL_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    if token.code == CLINICAL_ACTIVE:
        return Q(encounter__status__in=OPEN_ENCOUNTER)
    return NOTHING


def condition_filter(qs: QuerySet[Diagnosis], criteria: list[Criterion]) -> QuerySet[Diagnosis]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        for value in c.values:
            name = c.param.name
            if name == "_id":
                q |= _id_q(value)
            elif name in ("patient", "subject"):
                q |= _reference_q(value, "Patient", "encounter__patient_id")
            elif name == "encounter":
                q |= _reference_q(value, "Encounter", "encounter_id")
            elif name == "code":
                q |= _code_q(value)
            elif name == "clinical-status":
                q |= _clinical_status_q(value)
            elif name == "onset-date":
                q |= date_q(value, _ONSET_RANGE)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=condition_filter,
    last_updated=Coalesce(F("voided_at"), F("recorded_at")),
    sorts={
        "onset-date": F("encounter__started_at"),
        "recorded-date": F("recorded_at"),
        "code": F("icd_code"),
    },
)
