"""Location search: parameter -> ORM lookup, per table (departments, wards, beds).

A Location search runs over the three tables in turn; each criterion becomes one condition per
table (a condition that cannot hold for a table, e.g. `partof=Location/ward-3` on departments,
excludes it).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from fhir_api import systems
from fhir_api.mappers.location import (
    BED,
    DEPARTMENT,
    KIND_OF_PHYSICAL_TYPE,
    WARD,
    parse_location_id,
)
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
from fhir_api.search.params import Criterion, Token

PARAMS = {
    "name": SearchParam(
        "name",
        "string",
        "Each word starts a word of the name (a bed's name is its code), diacritics ignored; "
        ":exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/Location-name",
        ("exact", "contains"),
    ),
    "organization": SearchParam(
        "organization",
        "reference",
        "Organization/<id>: the departments, wards and beds of a health unit.",
        "http://hl7.org/fhir/SearchParameter/Location-organization",
    ),
    "partof": SearchParam(
        "partof",
        "reference",
        "Location/dept-<id> (its wards) or Location/ward-<id> (its beds).",
        "http://hl7.org/fhir/SearchParameter/Location-partof",
    ),
    "physical-type": SearchParam(
        "physical-type",
        "token",
        f"{systems.LOCATION_PHYSICAL_TYPE_CS}|area (department), wa (ward) or bd (bed). "
        "Not a standard R4 parameter.",
    ),
}

# Per table: the facility, the name, the parent (kind of the parent, field).
_FACILITY = {
    DEPARTMENT: "facility_id",
    WARD: "department__facility_id",
    BED: "ward__department__facility_id",
}
_NAME = {DEPARTMENT: "name", WARD: "name", BED: "code"}
_PARENT = {WARD: (DEPARTMENT, "department_id"), BED: (WARD, "ward_id")}


def _id_q(kind: str, token: Token) -> Q:
    parsed = parse_location_id(token.code or "")
    return Q(pk=parsed[1]) if parsed and parsed[0] == kind else NOTHING


def _organization_q(kind: str, raw: str) -> Q:
    pk = int_id(reference_id(raw, "Organization"))
    return Q(**{_FACILITY[kind]: pk}) if pk is not None else NOTHING


def _partof_q(kind: str, raw: str) -> Q:
    parsed = parse_location_id(reference_id(raw, "Location") or "")
    parent = _PARENT.get(kind)
    if parsed is None or parent is None or parsed[0] != parent[0]:
        return NOTHING
    return Q(**{parent[1]: parsed[1]})


def _physical_type_q(kind: str, token: Token) -> Q:
    if token.system not in (None, systems.LOCATION_PHYSICAL_TYPE_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    return EVERYTHING if KIND_OF_PHYSICAL_TYPE.get(token.code) == kind else NOTHING


def location_filter(kind: str, qs: QuerySet, criteria: list[Criterion]) -> QuerySet:
    """Apply the parsed criteria to one table (values ORed within one, criteria ANDed)."""
    if uses_folded(criteria):
        qs = qs.annotate(**{FOLDED: folded(_NAME[kind])})
    for c in criteria:
        q = NOTHING
        for value in c.values:
            if c.param.name == "_id":
                q |= _id_q(kind, value)
            elif c.param.name == "name":
                q |= string_q(_NAME[kind], c.modifier, value, param="name")
            elif c.param.name == "organization":
                q |= _organization_q(kind, value)
            elif c.param.name == "partof":
                q |= _partof_q(kind, value)
            elif c.param.name == "physical-type":
                q |= _physical_type_q(kind, value)
        qs = qs.filter(q)
    return qs
