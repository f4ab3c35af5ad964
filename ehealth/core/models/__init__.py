from ehealth.core.models.audit import AuditEvent
from ehealth.core.models.catalogs import (
    Drug,
    DrugPrice,
    IcdCode,
    MedicalService,
    ServicePrice,
    Supply,
    SupplyPrice,
)
from ehealth.core.models.facilities import (
    AdminUnit,
    Bed,
    ClinicRoom,
    Department,
    Facility,
    Province,
    Ward,
)
from ehealth.core.models.staff import Role, StaffMembership, User

__all__ = [
    "AdminUnit",
    "AuditEvent",
    "Bed",
    "ClinicRoom",
    "Department",
    "Drug",
    "DrugPrice",
    "Facility",
    "IcdCode",
    "MedicalService",
    "Province",
    "Role",
    "ServicePrice",
    "StaffMembership",
    "Supply",
    "SupplyPrice",
    "User",
    "Ward",
]
