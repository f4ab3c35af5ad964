"""Organization search: parameter -> ORM lookup over the health units (core.Facility)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from ehealth.core.models import Facility
from fhir_api import systems
from fhir_api.mappers.organization import ORGANIZATION_TYPE_OF_KIND
from fhir_api.registry import SearchParam
from fhir_api.search.common import (
    EVERYTHING,
    FOLDED,
    NOTHING,
    folded,
    int_id,
    string_q,
    token_code_q,
    uses_folded,
)
from fhir_api.search.params import Criterion, Token
from fhir_api.search.refine import SearchSpec

PARAMS = {
    "identifier": SearchParam(
        "identifier",
        "token",
        f"The facility code (mã CSKCB): {systems.FACILITY}|<5 characters>, or the code alone.",
        "http://hl7.org/fhir/SearchParameter/Organization-identifier",
    ),
    "name": SearchParam(
        "name",
        "string",
        "Each word starts a word of the name, diacritics ignored; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/Organization-name",
        ("exact", "contains"),
    ),
    "type": SearchParam(
        "type",
        "token",
        f"{systems.ORGANIZATION_TYPE_CS}|prov or govt; {systems.FACILITY_KIND_CS}|<kind>; "
        f"{systems.FACILITY_LEVEL_CS}|<level>; a code alone matches any of the three.",
        "http://hl7.org/fhir/SearchParameter/Organization-type",
    ),
}


def _type_q(token: Token) -> Q:
    code = token.code
    hl7 = Q(kind__in=[k for k, v in ORGANIZATION_TYPE_OF_KIND.items() if v == code])
    kind = Q(kind=code) if code in Facility.Kind.values else NOTHING
    level = Q(level=code) if code in Facility.Level.values else NOTHING
    if code is None:  # "system|": every unit has a code in each system
        return EVERYTHING if token.system in (None, *_TYPE_SYSTEMS) else NOTHING
    return {
        None: hl7 | kind | level,
        systems.ORGANIZATION_TYPE_CS: hl7,
        systems.FACILITY_KIND_CS: kind,
        systems.FACILITY_LEVEL_CS: level,
    }.get(token.system, NOTHING)


_TYPE_SYSTEMS = (systems.ORGANIZATION_TYPE_CS, systems.FACILITY_KIND_CS, systems.FACILITY_LEVEL_CS)


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def organization_filter(qs: QuerySet[Facility], criteria: list[Criterion]) -> QuerySet[Facility]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    if uses_folded(criteria):
        qs = qs.annotate(**{FOLDED: folded("name")})
    for c in criteria:
        q = NOTHING
        for value in c.values:
            if c.param.name == "_id":
                q |= _id_q(value)
            elif c.param.name == "identifier":
                q |= token_code_q(value, systems.FACILITY, "code", upper=True)
            elif c.param.name == "name":
                q |= string_q("name", c.modifier, value, param="name")
            elif c.param.name == "type":
                q |= _type_q(value)
        qs = qs.filter(q)
    return qs


# Facilities carry no change time: no _lastUpdated (refused with a 400), sorted by name or id.
SPEC = SearchSpec(filter=organization_filter, sorts={"name": Lower("name")})
