"""Practitioner: a member of staff (core.User) -> FHIR Practitioner, as a pure function.

`Practitioner/<id>` is the user's pk (the form the Encounter and ServiceRequest mappers use in
their references). Only what a staff directory shows: the name, the practising certificate number
(số chứng chỉ hành nghề) and whether the account is active. Never the username, password, e-mail
or phone: the registry does not model them as work contacts. Read-only: staff are managed on the
units' admin pages.
"""

from __future__ import annotations

from typing import Any

from ehealth.core.models import User
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt

LICENSE_TYPE = "LN"  # HL7 v2-0203: license number


def practitioner_reference(user: User) -> dict[str, Any]:
    """A reference to the user's Practitioner, with the name as display."""
    ref: dict[str, Any] = {"reference": f"Practitioner/{user.pk}"}
    if user.full_name.strip():
        ref["display"] = user.full_name.strip()
    return ref


def certificate_identifier(code: str) -> dict[str, Any]:
    return {
        "use": "official",
        "type": {"coding": [dt.coding(systems.V2_0203, LICENSE_TYPE, "License number")]},
        "system": systems.PRACTISING_CERTIFICATE,
        "value": code,
    }


def practitioner_to_json(user: User) -> dict[str, Any]:
    """The FHIR Practitioner of a member of staff, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "Practitioner"}
    if user.pk is not None:
        data["id"] = str(user.pk)
    code = (user.practitioner_code or "").strip()
    if code:
        data["identifier"] = [certificate_identifier(code)]
    data["active"] = bool(user.is_active)
    name = (user.full_name or "").strip()
    if name:
        data["name"] = [{"use": "official", **dt.human_name(name)}]
    return data


def practitioner_to_fhir(user: User) -> FHIRResourceModel:
    """The FHIR Practitioner of a member of staff, validated by the pinned FHIR models."""
    return validate(practitioner_to_json(user), "Practitioner")
