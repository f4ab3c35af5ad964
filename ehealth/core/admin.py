"""Admin pages for facilities, staff and catalogs, scoped per facility.

Entry to the admin site needs `is_staff`, which follows the roles (`staff_sync_admin_flags`: set
while the user is a unit admin or a city admin). What each page shows and allows is decided here,
through `ehealth.core.permissions`, never by Django's global model permissions:

- a unit admin sees and edits the departments, wards, beds and staff of their own facility, reads
  the catalogs, and keeps the prices of their own facility;
- a city admin manages facilities, catalogs and staff city-wide;
- nobody deletes anything here (records are deactivated), and the audit trail is read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ehealth.core.models import (
    AdminUnit,
    AuditEvent,
    Bed,
    Department,
    Drug,
    DrugPrice,
    Facility,
    IcdCode,
    MedicalService,
    Province,
    Role,
    ServicePrice,
    StaffMembership,
    Supply,
    SupplyPrice,
    User,
    Ward,
)
from ehealth.core.permissions import facility_ids_with_perm, has_perm_anywhere, staff_groups_sync

admin.site.site_header = _("Quản trị hệ thống Y tế Đà Nẵng")
admin.site.site_title = _("Quản trị Y tế Đà Nẵng")
admin.site.index_title = _("Cơ sở, nhân viên và danh mục")

CITY_ROLE_PERM = "core.view_city_aggregates"  # held by the city admin role only
EVERYWHERE = None


def facility_scope(user, *, unit_perm: str, city_perm: str | None) -> list[int] | None:
    """The facilities whose records the user may manage: `EVERYWHERE` (None) for a superuser or a
    city admin holding `city_perm`, else the facilities where the user holds `unit_perm`."""
    if not (user.is_active and user.is_staff):
        return []
    if user.is_superuser:
        return EVERYWHERE
    if city_perm and has_perm_anywhere(user, CITY_ROLE_PERM) and has_perm_anywhere(user, city_perm):
        return EVERYWHERE
    return facility_ids_with_perm(user, unit_perm)


def in_scope(scope: list[int] | None, facility_id: int | None) -> bool:
    return scope is EVERYWHERE or facility_id in scope


class FacilityScopeFilter(admin.SimpleListFilter):
    """Filter by facility, offering only the facilities in the user's scope."""

    title = _("cơ sở")
    parameter_name = "facility"

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        scope = model_admin.scope(request)
        qs = Facility.objects.order_by("code")
        if scope is not EVERYWHERE:
            qs = qs.filter(pk__in=scope)
        return [(f.pk, str(f)) for f in qs]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{self.model_admin.facility_path: int(value)})
        return queryset


class ScopedAdmin(admin.ModelAdmin):
    """Records belonging to a facility: visible and editable within the user's facility scope."""

    facility_path = "facility_id"
    unit_perm = ""
    city_perm: str | None = None
    needs_distinct = False  # the path crosses a to-many relation
    list_per_page = 50

    def scope(self, request) -> list[int] | None:
        cache = request.__dict__.setdefault("_admin_scope", {})
        key = (self.unit_perm, self.city_perm)
        if key not in cache:
            cache[key] = facility_scope(
                request.user, unit_perm=self.unit_perm, city_perm=self.city_perm
            )
        return cache[key]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        scope = self.scope(request)
        if scope is EVERYWHERE:
            return qs
        qs = qs.filter(**{f"{self.facility_path}__in": scope})
        return qs.distinct() if self.needs_distinct else qs

    def object_facility_id(self, obj) -> int | None:
        value = obj
        for part in self.facility_path.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        scope = self.scope(request)
        if obj is None:
            return scope is EVERYWHERE or bool(scope)
        return in_scope(scope, self.object_facility_id(obj))

    def has_add_permission(self, request, obj=None):
        return self.has_view_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def limit_facilities(self, request, queryset):
        scope = self.scope(request)
        return queryset if scope is EVERYWHERE else queryset.filter(pk__in=scope)


class ScopedInline(admin.TabularInline):
    """Rows edited inside a parent's page: allowed exactly when the parent may be edited."""

    extra = 0
    can_delete = False  # records are deactivated, never deleted

    def _parent(self):
        return self.admin_site.get_model_admin(self.parent_model)

    def has_view_permission(self, request, obj=None):
        return self._parent().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        parent = self._parent()
        if obj is None:
            return parent.has_add_permission(request)
        return parent.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


# --- Health units ------------------------------------------------------------------------------


@admin.register(Facility)
class FacilityAdmin(ScopedAdmin):
    facility_path = "pk"
    unit_perm = "core.view_facility"
    city_perm = "core.manage_facilities"
    list_display = ("code", "name", "level", "kind", "province", "is_active")
    list_filter = ("level", "kind", "is_active", "province")
    search_fields = ("code", "name", "address")
    list_select_related = ("province",)
    autocomplete_fields = ("commune",)

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        scope = self.scope(request)
        return qs if scope is EVERYWHERE else qs.filter(pk__in=scope)

    def object_facility_id(self, obj):
        return obj.pk

    def _city(self, request) -> bool:
        return self.scope(request) is EVERYWHERE

    def has_add_permission(self, request, obj=None):
        return self._city(request)

    def has_change_permission(self, request, obj=None):
        return self._city(request)


class WardInline(ScopedInline):
    model = Ward
    fields = ("code", "name")
    show_change_link = True


@admin.register(Department)
class DepartmentAdmin(ScopedAdmin):
    unit_perm = "core.change_department"
    city_perm = "core.manage_facilities"
    list_display = ("code", "name", "facility", "is_active")
    list_filter = (FacilityScopeFilter, "is_active")
    search_fields = ("code", "name")
    list_select_related = ("facility",)
    inlines = [WardInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "facility":
            kwargs["queryset"] = self.limit_facilities(request, Facility.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class BedInline(ScopedInline):
    model = Bed
    fields = ("code", "is_active")


@admin.register(Ward)
class WardAdmin(ScopedAdmin):
    facility_path = "department__facility_id"
    unit_perm = "core.change_ward"
    city_perm = "core.manage_facilities"
    list_display = ("code", "name", "department", "facility_code")
    list_filter = (FacilityScopeFilter,)
    search_fields = ("code", "name", "department__name")
    list_select_related = ("department__facility",)
    inlines = [BedInline]

    @admin.display(description=_("cơ sở"), ordering="department__facility__code")
    def facility_code(self, obj):
        return obj.department.facility.code

    def object_facility_id(self, obj):
        return obj.department.facility_id if obj.department_id else None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "department":
            scope = self.scope(request)
            qs = Department.objects.select_related("facility")
            kwargs["queryset"] = qs if scope is EVERYWHERE else qs.filter(facility_id__in=scope)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Bed)
class BedAdmin(ScopedAdmin):
    facility_path = "ward__department__facility_id"
    unit_perm = "core.change_bed"
    city_perm = "core.manage_facilities"
    list_display = ("code", "ward", "department_name", "is_active")
    list_filter = (FacilityScopeFilter, "is_active")
    search_fields = ("code", "ward__name", "ward__department__name")
    list_select_related = ("ward__department",)

    @admin.display(description=_("khoa"), ordering="ward__department__name")
    def department_name(self, obj):
        return obj.ward.department.name

    def object_facility_id(self, obj):
        return obj.ward.department.facility_id if obj.ward_id else None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "ward":
            scope = self.scope(request)
            qs = Ward.objects.select_related("department")
            kwargs["queryset"] = (
                qs if scope is EVERYWHERE else qs.filter(department__facility_id__in=scope)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Staff ---------------------------------------------------------------------------------------

STAFF_PERM = "core.manage_staff"


def grantable_roles(scope: list[int] | None) -> list[tuple[str, str]]:
    """A unit admin grants any role of their facility except city admin."""
    if scope is EVERYWHERE:
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if value != Role.CITY_ADMIN]


class MembershipFormMixin:
    def clean(self):
        cleaned = super().clean()
        department, facility = cleaned.get("department"), cleaned.get("facility")
        if (
            department is not None
            and facility is not None
            and department.facility_id != facility.pk
        ):
            self.add_error("department", _("Khoa phải thuộc cơ sở đã chọn."))
        return cleaned


class MembershipForm(MembershipFormMixin, forms.ModelForm):
    class Meta:
        model = StaffMembership
        fields = ("user", "facility", "role", "department", "is_active")


class MembershipInlineForm(MembershipFormMixin, forms.ModelForm):
    class Meta:
        model = StaffMembership
        fields = ("facility", "role", "department", "is_active")


def _membership_formfield(admin_obj, db_field, request, kwargs):
    scope = facility_scope(request.user, unit_perm=STAFF_PERM, city_perm=STAFF_PERM)
    if db_field.name == "facility":
        qs = Facility.objects.filter(is_active=True)
        kwargs["queryset"] = qs if scope is EVERYWHERE else qs.filter(pk__in=scope)
    elif db_field.name == "department":
        qs = Department.objects.select_related("facility")
        kwargs["queryset"] = qs if scope is EVERYWHERE else qs.filter(facility_id__in=scope)
    return kwargs


class StaffMembershipInline(ScopedInline):
    model = StaffMembership
    form = MembershipInlineForm
    extra = 1
    fields = ("facility", "role", "department", "is_active")  # a role ends by unticking

    def _scope(self, request):
        return facility_scope(request.user, unit_perm=STAFF_PERM, city_perm=STAFF_PERM)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("facility", "department")
        scope = self._scope(request)
        return qs if scope is EVERYWHERE else qs.filter(facility_id__in=scope)

    def get_min_num(self, request, obj=None, **kwargs):
        # A unit admin's new account must have a role at their facility, or it would vanish
        # from their scope the moment it is saved.
        return 1 if obj is None and self._scope(request) is not EVERYWHERE else 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = _membership_formfield(self, db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = grantable_roles(self._scope(request))
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class StaffUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class StaffUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "full_name")


@admin.register(User)
class StaffUserAdmin(ScopedAdmin, DjangoUserAdmin):
    """Staff accounts. A unit admin manages the accounts holding a role at their facility, but not
    one that is an admin elsewhere (that would let them take over another unit's admin)."""

    facility_path = "memberships__facility_id"
    needs_distinct = True
    unit_perm = STAFF_PERM
    city_perm = STAFF_PERM
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm
    inlines = [StaffMembershipInline]
    list_display = ("username", "full_name", "practitioner_code", "is_active", "last_login")
    list_filter = (FacilityScopeFilter, "memberships__role", "is_active")
    search_fields = ("username", "full_name", "practitioner_code", "email", "phone")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Thông tin nhân viên"),
            {"fields": ("full_name", "practitioner_code", "phone", "email")},
        ),
        (_("Trạng thái"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    superuser_fieldsets = ((_("Quyền hệ thống"), {"fields": ("is_staff", "is_superuser")}),)
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        if request.user.is_superuser:
            return self.fieldsets + self.superuser_fieldsets
        return self.fieldsets

    def object_facility_id(self, obj):  # not used: users are checked by their memberships
        return None

    def has_view_permission(self, request, obj=None):
        scope = self.scope(request)
        if obj is None or scope is EVERYWHERE:
            return scope is EVERYWHERE or bool(scope)
        return obj.memberships.filter(facility_id__in=scope).exists()

    def has_change_permission(self, request, obj=None):
        if not self.has_view_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        if obj.is_superuser:
            return False
        scope = self.scope(request)
        if scope is EVERYWHERE:
            return True
        admin_roles = (Role.UNIT_ADMIN, Role.CITY_ADMIN)
        return not (
            obj.memberships.filter(role__in=admin_roles).exclude(facility_id__in=scope).exists()
        )

    def has_add_permission(self, request, obj=None):
        return self.has_view_permission(request)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        staff_groups_sync(form.instance)  # facility groups and the admin-site flag follow roles


@admin.register(StaffMembership)
class StaffMembershipAdmin(ScopedAdmin):
    unit_perm = STAFF_PERM
    city_perm = STAFF_PERM
    form = MembershipForm
    list_display = ("user", "role", "facility", "department", "is_active", "created_at")
    list_filter = (FacilityScopeFilter, "role", "is_active")
    search_fields = ("user__username", "user__full_name", "facility__code")
    list_select_related = ("user", "facility", "department")
    autocomplete_fields = ("user",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = _membership_formfield(self, db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = grantable_roles(self.scope(request))
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.role == Role.CITY_ADMIN:
            return self.scope(request) is EVERYWHERE
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        staff_groups_sync(obj.user)


# --- Catalogs ------------------------------------------------------------------------------------

CATALOG_PERM = "core.manage_catalog"


class CatalogAdmin(admin.ModelAdmin):
    """City-wide catalogs: read by every admin holding the catalog permission, kept by the city."""

    list_per_page = 50
    change_list_template = "admin/core/catalog_change_list.html"  # links the import page

    def _scope(self, request):
        return facility_scope(request.user, unit_perm=CATALOG_PERM, city_perm=CATALOG_PERM)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        scope = self._scope(request)
        return scope is EVERYWHERE or bool(scope)

    def has_add_permission(self, request):
        return self._scope(request) is EVERYWHERE

    def has_change_permission(self, request, obj=None):
        return self._scope(request) is EVERYWHERE

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IcdCode)
class IcdCodeAdmin(CatalogAdmin):
    list_display = ("code", "name_vi", "name_en", "billable", "valid_from", "valid_to")
    list_filter = ("billable", "valid_from")
    search_fields = ("code", "name_vi", "name_en")


@admin.register(MedicalService)
class MedicalServiceAdmin(CatalogAdmin):
    list_display = ("code", "name", "moh_code", "group", "unit", "is_active")
    list_filter = ("group", "is_active")
    search_fields = ("code", "name", "moh_code")


@admin.register(Drug)
class DrugAdmin(CatalogAdmin):
    list_display = ("code", "name", "active_ingredient", "strength", "unit", "in_bhyt_list")
    list_filter = ("in_bhyt_list", "is_active", "route")
    search_fields = ("code", "name", "active_ingredient", "active_ingredient_code")


@admin.register(Supply)
class SupplyAdmin(CatalogAdmin):
    list_display = ("code", "name", "moh_code", "unit", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "moh_code")


class PriceAdmin(ScopedAdmin):
    """Prices: city-wide rows (no facility) kept by the city; a unit admin keeps their own."""

    unit_perm = CATALOG_PERM
    city_perm = CATALOG_PERM
    list_display = ("item", "facility", "hospital_price", "bhyt_price", "valid_from", "valid_to")
    change_list_template = "admin/core/catalog_change_list.html"  # links the import page
    list_filter = (FacilityScopeFilter, "valid_from")
    search_fields = ("item__code", "item__name")
    list_select_related = ("item", "facility")
    autocomplete_fields = ("item",)

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        scope = self.scope(request)
        if scope is EVERYWHERE:
            return qs
        return qs.filter(Q(facility_id__isnull=True) | Q(facility_id__in=scope))

    def has_view_permission(self, request, obj=None):
        scope = self.scope(request)
        if obj is None or obj.facility_id is None:
            return scope is EVERYWHERE or bool(scope)
        return in_scope(scope, obj.facility_id)

    def has_change_permission(self, request, obj=None):
        scope = self.scope(request)
        if obj is None:
            return scope is EVERYWHERE or bool(scope)
        if obj.facility_id is None:
            return scope is EVERYWHERE
        return in_scope(scope, obj.facility_id)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "facility":
            kwargs["queryset"] = self.limit_facilities(request, Facility.objects.all())
            if self.scope(request) is not EVERYWHERE:
                kwargs["required"] = True  # only the city sets city-wide prices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ServicePrice)
class ServicePriceAdmin(PriceAdmin):
    pass


@admin.register(DrugPrice)
class DrugPriceAdmin(PriceAdmin):
    pass


@admin.register(SupplyPrice)
class SupplyPriceAdmin(PriceAdmin):
    pass


# --- Reference data and audit (read-only) -------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}


class CityReferenceAdmin(ReadOnlyAdmin):
    """Administrative units: reference data, loaded from files; readable by city admins."""

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        scope = facility_scope(
            request.user, unit_perm="core.manage_facilities", city_perm="core.manage_facilities"
        )
        return scope is EVERYWHERE or bool(scope)


@admin.register(Province)
class ProvinceAdmin(CityReferenceAdmin):
    list_display = ("code", "name", "merged_from")
    search_fields = ("code", "name")


@admin.register(AdminUnit)
class AdminUnitAdmin(CityReferenceAdmin):
    list_display = ("code", "name", "kind", "province")
    list_filter = ("kind", "province")
    search_fields = ("code", "name", "merged_from")
    list_select_related = ("province",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, ScopedAdmin):
    """The audit trail of the admin's facilities: read-only, nothing can be added or removed."""

    unit_perm = "core.view_auditevent"
    city_perm = None
    list_display = (
        "at",
        "actor_username",
        "role",
        "facility",
        "action",
        "target_type",
        "target_id",
        "patient_id",
        "ip_address",
        "channel",
    )
    list_filter = (FacilityScopeFilter, "channel", "role")
    search_fields = ("actor_username", "action", "target_id")
    date_hierarchy = "at"
    list_select_related = ("facility",)
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        return ScopedAdmin.has_view_permission(self, request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request)
