"""AllergyIntolerance search: parameter -> ORM lookup over the allergies the caller may see."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from fhir_api import systems
from fhir_api.mappers.allergy import ACTIVE, MEDICATION
from fhir_api.registry import SearchParam
from fhir_api.search.common import (
    EVERYTHING,
    FOLDED,
    NOTHING,
    folded,
    int_id,
    reference_id,
    string_q,
    uses_folded,
)
from fhir_api.search.observation import instant_range
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from patients.clinical_choices import AllergySeverity
from patients.models import Allergy

_SP = "http://hl7.org/fhir/SearchParameter/"
SEVERITY_CS = "http://hl7.org/fhir/reaction-event-severity"  # the code types' own systems
CATEGORY_CS = "http://hl7.org/fhir/allergy-intolerance-category"
PARAMS = {
    "patient": SearchParam(
        "patient",
        "reference",
        "Patient/<id> (or the id alone): the patient's allergies.",
        _SP + "clinical-patient",
    ),
    "clinical-status": SearchParam(
        "clinical-status",
        "token",
        "active (every allergy a search returns); no other status is recorded.",
        _SP + "AllergyIntolerance-clinical-status",
    ),
    "code": SearchParam(
        "code",
        "token",
        f"The catalog drug ({systems.DRUG_CATALOG_CS}|<code>) or its MoH code "
        f"({systems.MOH_DRUG_CS}|<code>); a bare code matches either.",
        _SP + "clinical-code",
    ),
    "substance": SearchParam(
        "substance",
        "string",
        "The substance as written (local parameter): each word starts a word, diacritics "
        "ignored; :exact, :contains.",
    ),
    "category": SearchParam(
        "category",
        "token",
        "medication (the allergy names a catalog drug); no other category is recorded.",
        _SP + "AllergyIntolerance-category",
    ),
    "severity": SearchParam(
        "severity",
        "token",
        "mild, moderate or severe (the reaction's severity).",
        _SP + "AllergyIntolerance-severity",
    ),
    "date": SearchParam(
        "date",
        "date",
        "When recorded (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        _SP + "clinical-date",
    ),
}


def _code_q(token: Token) -> Q:
    code = token.code.strip() if token.code else None
    fields = {
        systems.DRUG_CATALOG_CS: "drug__code",
        systems.MOH_DRUG_CS: "drug__active_ingredient_code",
    }
    if token.system is None:
        return Q(drug__code__iexact=code) | Q(drug__active_ingredient_code__iexact=code)
    field = fields.get(token.system)
    if field is None:
        return NOTHING
    if code is None:
        return Q(drug__isnull=False) & ~Q(**{field: ""})
    return Q(**{f"{field}__iexact": code})


def _fixed_q(token: Token, system: str, code: str, q: Q) -> Q:
    if token.system not in (None, system):
        return NOTHING
    return q if token.code in (None, code) else NOTHING


def _severity_q(token: Token) -> Q:
    if token.system not in (None, SEVERITY_CS):
        return NOTHING
    if token.code is None:
        return ~Q(severity="")
    return Q(severity=token.code) if token.code in AllergySeverity.values else NOTHING


def _value_q(name: str, modifier: str, value) -> Q:
    if name == "_id":
        pk = int_id(value.code)
        return Q(pk=pk) if pk is not None else NOTHING
    if name == "patient":
        pk = int_id(reference_id(value, "Patient"))
        return Q(patient_id=pk) if pk is not None else NOTHING
    if name == "clinical-status":
        return _fixed_q(value, systems.ALLERGY_CLINICAL_CS, ACTIVE, EVERYTHING)
    if name == "code":
        return _code_q(value)
    if name == "substance":
        return string_q("substance", modifier, value, param="substance")
    if name == "category":
        return _fixed_q(value, CATEGORY_CS, MEDICATION, Q(drug__isnull=False))
    if name == "severity":
        return _severity_q(value)
    if name == "date":
        return date_q(value, instant_range("recorded_at"))
    return NOTHING


def allergy_filter(qs: QuerySet[Allergy], criteria: list[Criterion]) -> QuerySet[Allergy]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    if uses_folded(criteria):
        qs = qs.annotate(**{FOLDED: folded("substance")})
    for c in criteria:
        q = NOTHING
        for value in c.values:
            q |= _value_q(c.param.name, c.modifier, value)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=allergy_filter,
    last_updated=Coalesce(F("voided_at"), F("recorded_at")),
    sorts={"date": F("recorded_at")},
)
