"""Pieces shared by the order mappers (ServiceRequest, DiagnosticReport, MedicationRequest).

Pure functions over already-loaded objects: the service's code and category, instants, numbers,
references to the staff member (`Practitioner/<user pk>`) and to a department (`Location`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ehealth.core.models import Drug, MedicalService
from ehealth.core.models.catalogs import CostGroup
from fhir_api import systems
from fhir_api.mappers import datatypes as dt

# MA_NHOM cost group -> SNOMED CT code of the R4 example value set servicerequest-category
# (or a close SNOMED concept); groups without an evident one carry only the MA_NHOM coding.
SNOMED_CATEGORY: dict[int, tuple[str, str]] = {
    CostGroup.LAB: ("108252007", "Laboratory procedure"),
    CostGroup.IMAGING: ("363679005", "Imaging"),
    CostGroup.FUNCTIONAL: ("103693007", "Diagnostic procedure"),
    CostGroup.SURGERY: ("387713003", "Surgical procedure"),
    CostGroup.PROCEDURE: ("71388002", "Procedure"),
}
# MA_NHOM cost group -> HL7 v2-0074 diagnostic service section (DiagnosticReport.category).
SECTION_OF_GROUP: dict[int, tuple[str, str]] = {
    CostGroup.LAB: ("LAB", "Laboratory"),
    CostGroup.IMAGING: ("RAD", "Radiology"),
}
OTHER_SECTION = ("OTH", "Other")


def instant(value: datetime | None) -> str | None:
    """An aware datetime as a FHIR instant in Asia/Ho_Chi_Minh (`+07:00`)."""
    return timezone.localtime(value).isoformat() if value is not None else None


def latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def number(value: Decimal | int) -> int | float:
    """A Decimal as a JSON number: an integer when whole (`1.000` -> 1), else its value."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return int(value)
    return float(value.normalize())


def quantity(value: Decimal, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": number(value)}
    if unit:
        out["unit"] = unit
    return out


def days(count: int) -> dict[str, Any]:
    """A duration of whole days (UCUM `d`)."""
    return {"value": count, "unit": "ngày", "system": systems.UCUM_UNITS, "code": "d"}


def practitioner(user_id: int | None) -> dict[str, str] | None:
    """The staff member who acted: `Practitioner/<user pk>` (the Practitioner resource's ids)."""
    return {"reference": f"Practitioner/{user_id}"} if user_id is not None else None


def department(department_id: int | None) -> dict[str, str] | None:
    """A department as the Location resource names it (`Location/dept-<pk>`)."""
    return {"reference": f"Location/dept-{department_id}"} if department_id is not None else None


def service_code(service: MedicalService) -> dict[str, Any]:
    """The service's catalog code and, when known, its MoH shared code (MA_DICH_VU)."""
    codings = [dt.coding(systems.SERVICE_CATALOG_CS, service.code, service.name)]
    if service.moh_code:
        codings.append(dt.coding(systems.MOH_SERVICE_CS, service.moh_code, service.name))
    return {"coding": codings, "text": service.name or service.code}


def service_category(service: MedicalService) -> dict[str, Any]:
    """The MA_NHOM cost group and its SNOMED CT category where one fits."""
    group = CostGroup(service.group)
    codings = [dt.coding(systems.COST_GROUP_CS, str(group.value), str(group.label))]
    snomed = SNOMED_CATEGORY.get(group.value)
    if snomed is not None:
        codings.append(dt.coding(systems.SNOMED_SCT, *snomed))
    return {"coding": codings, "text": str(group.label)}


def report_category(service: MedicalService) -> dict[str, Any]:
    """The diagnostic service section (HL7 v2-0074): LAB, RAD, or OTH for the other groups."""
    code, display = SECTION_OF_GROUP.get(service.group, OTHER_SECTION)
    return {"coding": [dt.coding(systems.DIAGNOSTIC_SECTION_CS, code, display)]}


def drug_code(drug: Drug) -> dict[str, Any]:
    """The drug's catalog code and, when known, its MoH code (MA_THUOC, as on the claim)."""
    codings = [dt.coding(systems.DRUG_CATALOG_CS, drug.code, drug.name)]
    if drug.active_ingredient_code:
        display = drug.active_ingredient or drug.name
        codings.append(dt.coding(systems.MOH_DRUG_CS, drug.active_ingredient_code, display))
    return {"coding": codings, "text": drug.name or drug.code}
