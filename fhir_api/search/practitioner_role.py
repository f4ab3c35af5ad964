"""PractitionerRole search: parameter -> ORM lookup over the roles held (core.StaffMembership)."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from ehealth.core.models import Role, StaffMembership
from fhir_api import systems
from fhir_api.mappers.location import DEPARTMENT, parse_location_id
from fhir_api.mappers.practitioner_role import HL7_ROLE, SNOMED_ROLE
from fhir_api.outcomes import BadRequest
from fhir_api.registry import SearchParam
from fhir_api.search.common import EVERYTHING, NOTHING, int_id, reference_id
from fhir_api.search.params import Criterion, Token
from fhir_api.search.refine import SearchSpec

PARAMS = {
    "practitioner": SearchParam(
        "practitioner",
        "reference",
        "Practitioner/<id> (or the id alone): the roles of one member of staff.",
        "http://hl7.org/fhir/SearchParameter/PractitionerRole-practitioner",
    ),
    "organization": SearchParam(
        "organization",
        "reference",
        "Organization/<id> (or the id alone): the roles held at one unit.",
        "http://hl7.org/fhir/SearchParameter/PractitionerRole-organization",
    ),
    "location": SearchParam(
        "location",
        "reference",
        "Location/dept-<id>: the roles held in one department.",
        "http://hl7.org/fhir/SearchParameter/PractitionerRole-location",
    ),
    "role": SearchParam(
        "role",
        "token",
        f"{systems.STAFF_ROLE_CS}|<role> (doctor, nurse, receptionist, cashier, "
        f"insurance_officer, unit_admin, city_admin), {systems.PRACTITIONER_ROLE_CS}|doctor or "
        f"nurse, {systems.SNOMED_SCT}|<occupation>; a code alone matches any of them.",
        "http://hl7.org/fhir/SearchParameter/PractitionerRole-role",
    ),
    "active": SearchParam(
        "active",
        "token",
        "true | false (only roles in force are served: false matches none).",
        "http://hl7.org/fhir/SearchParameter/PractitionerRole-active",
    ),
}


def _reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def _location_q(raw: str) -> Q:
    parsed = parse_location_id(reference_id(raw, "Location") or "")
    if parsed is None or parsed[0] != DEPARTMENT:
        return NOTHING  # roles are held in departments, never in a ward or a bed
    return Q(department_id=parsed[1])


def _role_q(token: Token) -> Q:
    local = {token.code} & set(Role.values)
    hl7 = {r for r, (code, _) in HL7_ROLE.items() if code == token.code}
    snomed = {r for r, (code, _) in SNOMED_ROLE.items() if code == token.code}
    if token.code is None:
        known = (None, systems.STAFF_ROLE_CS, systems.PRACTITIONER_ROLE_CS, systems.SNOMED_SCT)
        if token.system not in known:
            return NOTHING
        every = {
            None: None,
            systems.STAFF_ROLE_CS: None,
            systems.PRACTITIONER_ROLE_CS: set(HL7_ROLE),
            systems.SNOMED_SCT: set(SNOMED_ROLE),
        }[token.system]
        return EVERYTHING if every is None else Q(role__in=every)
    roles = {
        None: local | hl7 | snomed,
        systems.STAFF_ROLE_CS: local,
        systems.PRACTITIONER_ROLE_CS: hl7,
        systems.SNOMED_SCT: snomed,
    }.get(token.system, set())
    return Q(role__in=sorted(roles)) if roles else NOTHING


def _active_q(token: Token) -> Q:
    if token.code == "true":
        return EVERYTHING
    if token.code == "false":
        return NOTHING
    raise BadRequest("active takes true or false.", expression="active")


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def practitioner_role_filter(
    qs: QuerySet[StaffMembership], criteria: list[Criterion]
) -> QuerySet[StaffMembership]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        for value in c.values:
            name = c.param.name
            if name == "_id":
                q |= _id_q(value)
            elif name == "practitioner":
                q |= _reference_q(value, "Practitioner", "user_id")
            elif name == "organization":
                q |= _reference_q(value, "Organization", "facility_id")
            elif name == "location":
                q |= _location_q(value)
            elif name == "role":
                q |= _role_q(value)
            elif name == "active":
                q |= _active_q(value)
        qs = qs.filter(q)
    return qs


# `:not` on the tokens, `_sort` by role, unit or practitioner, and `_total`; a membership row has
# no change time, so `_lastUpdated` is refused (400).
SPEC = SearchSpec(
    filter=practitioner_role_filter,
    sorts={"role": F("role"), "organization": F("facility_id"), "practitioner": F("user_id")},
)
