"""Admin of the benefit engine's dated parameters; no card or lookup pages here.

Cards and portal lookups are patient data: as for the registry (patients/admin.py), they are read
and changed only through the insurance services and pages, which check the facility scope and
audit every access. BenefitParameter rows are city-wide rules: every admin holding the catalog
permission reads them, the city keeps them (like the catalogs); nobody deletes one, a change of
rule is a new dated row.
"""

from __future__ import annotations

from django.contrib import admin

from ehealth.core.admin import CatalogAdmin
from insurance.models import BenefitParameter


@admin.register(BenefitParameter)
class BenefitParameterAdmin(CatalogAdmin):
    change_list_template = None  # the catalog import page does not load parameters
    list_display = ("key", "qualifier", "value", "valid_from", "valid_to", "unconfirmed", "source")
    list_filter = ("key", "unconfirmed")
    search_fields = ("key", "qualifier", "source")
    readonly_fields = ("changed_by", "changed_at")
    ordering = ("key", "qualifier", "-valid_from")

    def save_model(self, request, obj, form, change):
        obj.changed_by = request.user
        super().save_model(request, obj, form, change)
