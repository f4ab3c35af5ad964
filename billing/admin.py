"""Admin of billing's facility settings; no money page here.

Charges, invoices, payments, deposits, refunds and shifts are patient and financial records: they
are read and written only through the billing services and the cashier's pages, which check the
facility and audit every access (as patients/admin.py does for the registry). What a unit admin
keeps here is which catalog service prices an examination or a bed-day in their facility
(`ServiceMapping`, see billing/charges.py), scoped to their facility; nobody deletes a row.
"""

from __future__ import annotations

from django.contrib import admin

from billing.models import ServiceMapping
from ehealth.core.admin import FacilityScopeFilter, ScopedAdmin
from ehealth.core.models import Department, Facility, MedicalService
from ehealth.core.models.catalogs import CostGroup

_PURPOSE_GROUPS = [
    CostGroup.EXAMINATION,
    CostGroup.DAY_BED,
    CostGroup.INPATIENT_BED,
    CostGroup.OBSERVATION_BED,
]


@admin.register(ServiceMapping)
class ServiceMappingAdmin(ScopedAdmin):
    unit_perm = "core.change_department"
    city_perm = "core.manage_facilities"
    list_display = ("facility", "department", "purpose", "service")
    list_filter = (FacilityScopeFilter, "purpose")
    list_select_related = ("facility", "department", "service")
    search_fields = ("service__code", "service__name", "department__name")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "facility":
            kwargs["queryset"] = self.limit_facilities(request, Facility.objects.all())
        elif db_field.name == "department":
            facilities = self.limit_facilities(request, Facility.objects.all())
            kwargs["queryset"] = Department.objects.filter(facility__in=facilities)
        elif db_field.name == "service":
            kwargs["queryset"] = MedicalService.objects.filter(
                group__in=_PURPOSE_GROUPS, is_active=True
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
