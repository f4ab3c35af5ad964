"""The catalog lists the visit form offers: services to order, drugs, performing departments."""

from __future__ import annotations

from dataclasses import dataclass, field

from ehealth.core.models import Department, Drug, Facility, MedicalService
from ehealth.core.models.catalogs import CostGroup

# What a doctor orders from the visit form (examination and bed-days are billed by themselves).
ORDERABLE_GROUPS = (
    CostGroup.LAB,
    CostGroup.IMAGING,
    CostGroup.FUNCTIONAL,
    CostGroup.PROCEDURE,
    CostGroup.SURGERY,
    CostGroup.BLOOD,
    CostGroup.BLOOD_PRODUCT,
)


@dataclass
class Choices:
    services: list[MedicalService] = field(default_factory=list)
    drugs: list[Drug] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)


def visit_choices(*, facility: Facility, needed: bool) -> Choices:
    """The active catalog (three queries), or nothing when the page is read-only."""
    if not needed:
        return Choices()
    return Choices(
        services=list(
            MedicalService.objects.filter(is_active=True, group__in=ORDERABLE_GROUPS)
            .only("id", "code", "name", "group")
            .order_by("group", "name")
        ),
        drugs=list(
            Drug.objects.filter(is_active=True)
            .only("id", "code", "name", "active_ingredient", "route", "unit")
            .order_by("name")
        ),
        departments=list(
            Department.objects.filter(facility=facility, is_active=True)
            .only("id", "name", "code")
            .order_by("name")
        ),
    )
