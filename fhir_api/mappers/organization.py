"""Organization: a health unit (core.Facility) -> FHIR Organization, as a pure function.

`organization_to_json` reads only the facility given, with its province and commune loaded.
Read-only: facilities are managed on the city's admin pages, not through the API.
"""

from __future__ import annotations

from typing import Any

from ehealth.core.models import Facility
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt

# HL7 organization-type: every kind of unit that treats patients is a provider ("prov"); the
# city's health department is a government body ("govt").
ORGANIZATION_TYPE_OF_KIND = {
    Facility.Kind.HOSPITAL: "prov",
    Facility.Kind.CLINIC: "prov",
    Facility.Kind.COMMUNE_STATION: "prov",
    Facility.Kind.HEALTH_AUTHORITY: "govt",
}
_ORGANIZATION_TYPE_DISPLAY = {"prov": "Healthcare Provider", "govt": "Government"}


def _type(facility: Facility) -> list[dict[str, Any]]:
    out = []
    hl7 = ORGANIZATION_TYPE_OF_KIND.get(facility.kind)
    if hl7:
        out.append(
            {
                "coding": [
                    dt.coding(systems.ORGANIZATION_TYPE_CS, hl7, _ORGANIZATION_TYPE_DISPLAY[hl7])
                ]
            }
        )
    if facility.kind:
        out.append({"coding": [dt.coding(systems.FACILITY_KIND_CS, facility.kind)]})
    if facility.level:
        out.append({"coding": [dt.coding(systems.FACILITY_LEVEL_CS, facility.level)]})
    return out


def _address(facility: Facility) -> dict[str, Any] | None:
    if not (facility.address or facility.province_id or facility.commune_id):
        return None
    address: dict[str, Any] = {"use": "work", "type": "physical"}
    codes = []
    if facility.province_id:
        codes.append(dt.extension(systems.PROVINCE_EXT, valueCode=facility.province_id))
    if facility.commune_id:
        codes.append(dt.extension(systems.COMMUNE_EXT, valueCode=facility.commune_id))
    if codes:
        address["extension"] = codes
    if facility.address:
        address["line"] = [facility.address]
    if facility.commune_id:
        address["city"] = facility.commune.name
    if facility.province_id:
        address["state"] = facility.province.name
    address["country"] = "VN"
    return address


def organization_identifier(facility: Facility) -> dict[str, Any]:
    """The facility code (mã CSKCB); a placeholder code of the demo is marked `use=temp`."""
    extra = {"use": "temp"} if facility.code_is_placeholder else {"use": "official"}
    return dt.identifier(systems.FACILITY, facility.code, **extra)


def organization_reference(facility: Facility) -> dict[str, Any]:
    """A reference to the facility's Organization, with its code and name."""
    return {
        "reference": f"Organization/{facility.pk}",
        "identifier": dt.identifier(systems.FACILITY, facility.code),
        "display": facility.name,
    }


def organization_to_json(facility: Facility) -> dict[str, Any]:
    """The FHIR Organization of a health unit, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "Organization"}
    if facility.pk is not None:
        data["id"] = str(facility.pk)
    data["identifier"] = [organization_identifier(facility)]
    data["active"] = bool(facility.is_active)
    types = _type(facility)
    if types:
        data["type"] = types
    data["name"] = facility.name
    if facility.phone:
        data["telecom"] = [dt.contact_point("phone", facility.phone)]
    address = _address(facility)
    if address:
        data["address"] = [address]
    return data


def organization_to_fhir(facility: Facility) -> FHIRResourceModel:
    """The FHIR Organization of a health unit, validated by the pinned FHIR models."""
    return validate(organization_to_json(facility), "Organization")
