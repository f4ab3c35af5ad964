"""PractitionerRole: a role held at a unit (core.StaffMembership) -> FHIR PractitionerRole.

Pure function: it reads only the membership given, with its user, facility and department loaded.

- `practitioner` -> `Practitioner/<user pk>`; `organization` -> `Organization/<facility pk>`
  (as the Organization resource maps it, with the facility code); `location` ->
  `Location/dept-<pk>` when the role is held in a department.
- `code`: one CodeableConcept whose codings say the same role in up to three systems: the local
  `urn:ehealth-city:staff-role` (always, Vietnamese display), HL7 `practitioner-role` and SNOMED CT
  occupations where one fits (doctor, nurse; a receptionist has a SNOMED occupation only).
- `active` = the membership is in force.
"""

from __future__ import annotations

from typing import Any

from ehealth.core.models import Role, StaffMembership
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers.location import location_reference
from fhir_api.mappers.organization import organization_reference
from fhir_api.mappers.practitioner import practitioner_reference

# Role -> HL7 practitioner-role code (the example value set R4 binds to PractitionerRole.code).
HL7_ROLE = {
    Role.DOCTOR: ("doctor", "Doctor"),
    Role.NURSE: ("nurse", "Nurse"),
}
# Role -> SNOMED CT occupation (is-a 223366009 Healthcare professional where clinical).
SNOMED_ROLE = {
    Role.DOCTOR: ("158965000", "Medical practitioner"),
    Role.NURSE: ("106292003", "Professional nurse"),
    Role.RECEPTIONIST: ("159561009", "Receptionist"),
}


def role_concept(role: str) -> dict[str, Any]:
    """The role as one CodeableConcept: local code first, then the standard ones that fit."""
    label = str(Role(role).label) if role in Role.values else role
    codings = [dt.coding(systems.STAFF_ROLE_CS, role, label)]
    if role in HL7_ROLE:
        codings.append(dt.coding(systems.PRACTITIONER_ROLE_CS, *HL7_ROLE[role]))
    if role in SNOMED_ROLE:
        codings.append(dt.coding(systems.SNOMED_SCT, *SNOMED_ROLE[role]))
    return {"coding": codings, "text": label}


def practitioner_role_to_json(membership: StaffMembership) -> dict[str, Any]:
    """The FHIR PractitionerRole of a membership, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "PractitionerRole"}
    if membership.pk is not None:
        data["id"] = str(membership.pk)
    data["active"] = bool(membership.is_active)
    data["practitioner"] = practitioner_reference(membership.user)
    data["organization"] = organization_reference(membership.facility)
    data["code"] = [role_concept(membership.role)]
    if membership.department_id is not None:
        data["location"] = [
            {**location_reference(membership.department), "display": membership.department.name}
        ]
    return data


def practitioner_role_to_fhir(membership: StaffMembership) -> FHIRResourceModel:
    """The FHIR PractitionerRole of a membership, validated by the pinned FHIR models."""
    return validate(practitioner_role_to_json(membership), "PractitionerRole")
