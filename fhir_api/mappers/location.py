"""Location: a department, a ward or a bed (core.Department, Ward, Bed) -> FHIR Location.

One resource type for the three tables, so the logical id carries the table: `dept-<pk>`,
`ward-<pk>`, `bed-<pk>` (unique across the three). The kind is `physicalType` (HL7
location-physical-type): a department is an `area`, a ward `wa`, a bed `bd`. `partOf` points up
the tree (bed -> ward -> department); `managingOrganization` is the facility. Pure functions: they
read only the objects given (a ward with its department, a bed with its ward and department).
"""

from __future__ import annotations

import re
from typing import Any

from ehealth.core.models import Bed, Department, Ward
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt

DEPARTMENT, WARD, BED = "dept", "ward", "bed"
KINDS = (DEPARTMENT, WARD, BED)  # also the order of a search's pages
MODEL_OF_KIND = {DEPARTMENT: Department, WARD: Ward, BED: Bed}
PHYSICAL_TYPE = {DEPARTMENT: "area", WARD: "wa", BED: "bd"}
KIND_OF_PHYSICAL_TYPE = {v: k for k, v in PHYSICAL_TYPE.items()}
_PHYSICAL_TYPE_DISPLAY = {"area": "Area", "wa": "Ward", "bd": "Bed"}
# HL7 v2-0116 bed status: occupied / unoccupied.
BED_STATUS_CS = "http://terminology.hl7.org/CodeSystem/v2-0116"

_ID_RE = re.compile(r"^(dept|ward|bed)-([1-9]\d{0,17})$")

Place = Department | Ward | Bed


def location_kind(obj: Place) -> str:
    if isinstance(obj, Department):
        return DEPARTMENT
    if isinstance(obj, Ward):
        return WARD
    return BED


def location_id(obj: Place) -> str:
    """The logical id: `dept-12`, `ward-3`, `bed-40`."""
    return f"{location_kind(obj)}-{obj.pk}"


def parse_location_id(text: str) -> tuple[str, int] | None:
    """(kind, pk) of a logical id, or None when it is not one of ours."""
    m = _ID_RE.match(text or "")
    return (m.group(1), int(m.group(2))) if m else None


def location_reference(obj: Place) -> dict[str, Any]:
    return {"reference": f"Location/{location_id(obj)}"}


def _facility_id(obj: Place) -> int:
    if isinstance(obj, Department):
        return obj.facility_id
    if isinstance(obj, Ward):
        return obj.department.facility_id
    return obj.ward.department.facility_id


def location_to_json(obj: Place, *, occupied: bool | None = None) -> dict[str, Any]:
    """The FHIR Location of a department, ward or bed, as JSON (not yet validated).

    `occupied` (beds only) gives `operationalStatus` when the caller knows it.
    """
    kind = location_kind(obj)
    data: dict[str, Any] = {"resourceType": "Location"}
    if obj.pk is not None:
        data["id"] = location_id(obj)
    if isinstance(obj, Department):
        data["identifier"] = [dt.identifier(systems.department_system(obj.facility.code), obj.code)]
    data["status"] = "active" if getattr(obj, "is_active", True) else "inactive"
    if kind == BED and occupied is not None:
        code, display = ("O", "Occupied") if occupied else ("U", "Unoccupied")
        data["operationalStatus"] = dt.coding(BED_STATUS_CS, code, display)
    data["name"] = obj.code if isinstance(obj, Bed) else obj.name
    if isinstance(obj, Ward) and obj.code:
        data["alias"] = [obj.code]
    data["mode"] = "instance"
    physical = PHYSICAL_TYPE[kind]
    data["physicalType"] = {
        "coding": [
            dt.coding(systems.LOCATION_PHYSICAL_TYPE_CS, physical, _PHYSICAL_TYPE_DISPLAY[physical])
        ]
    }
    data["managingOrganization"] = {"reference": f"Organization/{_facility_id(obj)}"}
    if isinstance(obj, Ward):
        data["partOf"] = {"reference": f"Location/{DEPARTMENT}-{obj.department_id}"}
    elif isinstance(obj, Bed):
        data["partOf"] = {"reference": f"Location/{WARD}-{obj.ward_id}"}
    return data


def location_to_fhir(obj: Place, **kwargs: Any) -> FHIRResourceModel:
    """The FHIR Location of a department, ward or bed, validated by the pinned FHIR models."""
    return validate(location_to_json(obj, **kwargs), "Location")
