"""The one permission gate of the project.

Two questions, two mechanisms:
- *What may a role do?* Django groups, one per role (`role:<role>`), whose permissions are seeded
  from ROLE_PERMISSIONS and may be edited by an admin. A member of staff holds roles per facility
  (StaffMembership), so a permission is always asked *at a facility*: `has_perm_at`.
- *Which records?* Records of the facilities where the user works, plus records shared explicitly,
  stored as django-guardian object permissions granted to a user or to a facility's staff group
  (`facility:<code>`). Nothing outside this module imports guardian.

A record that exists but is not visible is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from guardian.shortcuts import assign_perm, get_objects_for_group, get_objects_for_user, remove_perm

from ehealth.core.models import Facility, Role, StaffMembership
from ehealth.core.sqlrows import Prepared

PATIENT_READ = [
    "patients.search_patient",
    "patients.view_patient",
]

CLINICAL_READ = ["patients.view_encounter"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.RECEPTIONIST: [
        *PATIENT_READ,
        "patients.add_patient",
        "patients.change_patient",
        "patients.checkin_encounter",
    ],
    Role.DOCTOR: [
        *PATIENT_READ,
        *CLINICAL_READ,
        "patients.change_patient",
        "patients.share_patient",
        "patients.examine_encounter",
        "patients.record_vitals",
        "patients.enter_results",
        "patients.admit_patient",
        "patients.discharge_patient",
        "patients.write_progress_note",
        "patients.add_addendum",
    ],
    Role.NURSE: [
        *PATIENT_READ,
        *CLINICAL_READ,
        "patients.record_vitals",
        "patients.enter_results",
        "patients.admit_patient",
    ],
    Role.CASHIER: [
        *PATIENT_READ,
        *CLINICAL_READ,
        "billing.prepare_invoice",
        "billing.view_invoice",
        "billing.take_payment",
        "billing.view_payment",
        "billing.manage_shift",
    ],
    Role.INSURANCE_OFFICER: [*PATIENT_READ, *CLINICAL_READ, "insurance.manage_claims"],
    Role.UNIT_ADMIN: [
        *PATIENT_READ,
        "patients.merge_patient",
        "patients.share_patient",
        "core.view_auditevent",
        "core.manage_staff",
        "core.manage_catalog",
        "core.view_facility",
        # The structure of their own unit (admin pages scope these to the facility).
        "core.add_department",
        "core.change_department",
        "core.add_ward",
        "core.change_ward",
        "core.add_bed",
        "core.change_bed",
        "core.add_clinicroom",
        "core.change_clinicroom",
        # The cashier's desk: refunds above the threshold need a second person.
        "billing.approve_refund",
        "billing.view_invoice",
        "billing.view_payment",
    ],
    Role.CITY_ADMIN: [
        "core.view_city_aggregates",
        "core.manage_catalog",
        "core.manage_facilities",
        "core.manage_staff",
        "core.view_facility",
    ],
}


def role_group_name(role: str) -> str:
    return f"role:{role}"


def facility_group_name(facility: Facility) -> str:
    return f"facility:{facility.code}"


def roles_sync() -> None:
    """Create the role groups and give each the default permissions it lacks (idempotent)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role_group_name(role))
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            p = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if p is not None:
                wanted.append(p)
        group.permissions.add(*wanted)


def access_sql(user_id: str) -> str:
    """The access rows of the user whose id is the SQL expression `user_id`: one per active
    membership at an active facility, as (facility id, facility code, the permissions of the
    role's group as 'id app_label.codename' texts, the user's groups as JSON {name: id}). Its one
    parameter is `%(role_prefix)s` (`access_params()`).

    For a caller that reads a user and their access in one statement (the FHIR API's token
    check), then hands the rows to `access_load`."""
    tables = {
        "m": StaffMembership._meta.db_table,
        "f": Facility._meta.db_table,
        "g": Group._meta.db_table,
        "gp": Group.permissions.through._meta.db_table,
        "p": Permission._meta.db_table,
        "ct": ContentType._meta.db_table,
        "ug": Group.user_set.through._meta.db_table,
    }
    return (
        "SELECT m.facility_id, f.code, "  # noqa: S608
        f"ARRAY(SELECT p.id || ' ' || ct.app_label || '.' || p.codename FROM {tables['gp']} gp "
        f"JOIN {tables['p']} p ON p.id = gp.permission_id "
        f"JOIN {tables['ct']} ct ON ct.id = p.content_type_id WHERE gp.group_id = g.id), "
        f"(SELECT json_object_agg(ug_g.name, ug_g.id) FROM {tables['g']} ug_g "
        f"JOIN {tables['ug']} ug ON ug.group_id = ug_g.id WHERE ug.user_id = {user_id})::text "
        f"FROM {tables['m']} m JOIN {tables['f']} f ON f.id = m.facility_id "
        f"LEFT JOIN {tables['g']} g ON g.name = %(role_prefix)s::text || m.role "
        f"WHERE m.user_id = {user_id} AND m.is_active AND f.is_active"
    )


def access_params() -> dict:
    return {"role_prefix": role_group_name("")}


@cache
def _access_statement() -> Prepared:
    """`access_sql` of one user, hand-written and prepared: every request of every page asks it,
    and compiling and planning the join cost more than running it."""
    return Prepared("user_access", access_sql("%(user)s"))


@dataclass(frozen=True)
class Access:
    """What the permission checks of one request know about a user, read in one query."""

    perm_map: dict[int, set[str]]  # facility id -> permissions held there
    perm_ids: dict[str, int]  # 'app_label.codename' -> permission id, for those held
    facility_codes: dict[int, str]  # facility id -> code, for the active memberships
    group_ids: dict[str, int]  # the user's groups, name -> id (e.g. facility staff groups)


_NO_ACCESS = Access({}, {}, {}, {})


def access(user) -> Access:
    """The user's memberships, permissions and groups (cached on the user object for a request,
    with the permission map; `forget_cached_permissions` drops both)."""
    perm_map = _perm_map(user)
    cached = getattr(user, "_ehealth_access", None)
    return cached if cached is not None and cached.perm_map is perm_map else _NO_ACCESS


def _perm_map(user) -> dict[int, set[str]]:
    """facility id -> permissions the user holds there (cached on the user object for a request).

    One query (`access_sql`), which also reads what `access` returns."""
    cached = getattr(user, "_ehealth_perm_map", None)
    if cached is not None:
        return cached
    rows = []
    if user is not None and user.is_authenticated and user.is_active:
        with connection.cursor() as cursor:
            _access_statement().execute(cursor, {**access_params(), "user": user.pk})
            rows = cursor.fetchall()
    return access_load(user, rows)


def access_load(user, rows) -> dict[int, set[str]]:
    """Cache on the user the access rows of `access_sql` (read by `_perm_map`, or by a caller's
    own statement), as `_perm_map` does; the permission map."""
    result: dict[int, set[str]] = {}
    if user is not None and user.is_authenticated and user.is_active:
        perm_ids: dict[str, int] = {}
        codes: dict[int, str] = {}
        groups: dict[str, int] = {}
        for facility_id, code, held, group_json in rows:
            perms = result.setdefault(facility_id, set())
            codes[facility_id] = code
            for item in held:
                perm_id, perm = item.split(" ", 1)
                perms.add(perm)
                perm_ids[perm] = int(perm_id)
            if group_json and not groups:
                groups = json.loads(group_json)
        user._ehealth_access = Access(result, perm_ids, codes, groups)
    user._ehealth_perm_map = result
    return result


def forget_cached_permissions(user) -> None:
    for name in ("_ehealth_perm_map", "_ehealth_access"):
        if hasattr(user, name):
            delattr(user, name)


def has_perm_at(user, perm: str, facility_id: int | None) -> bool:
    """May `user` do `perm` at the facility? (Through a role held there.)"""
    if facility_id is None:
        return False
    return perm in _perm_map(user).get(facility_id, set())


def has_perm_anywhere(user, perm: str) -> bool:
    return any(perm in perms for perms in _perm_map(user).values())


def facility_ids_with_perm(user, perm: str) -> list[int]:
    """The facilities where the user may do `perm`."""
    return sorted(fid for fid, perms in _perm_map(user).items() if perm in perms)


def active_membership(user, facility_id: int | None) -> StaffMembership | None:
    """The membership the user works under now: the chosen facility, else their first one."""
    qs = StaffMembership.objects.filter(user=user, is_active=True, facility__is_active=True)
    qs = qs.select_related("facility").order_by("facility__code", "role")
    if facility_id is not None:
        chosen = next((m for m in qs if m.facility_id == facility_id), None)
        if chosen is not None:
            return chosen
    return qs.first()


# --- Record-level sharing (django-guardian) ------------------------------------------------------


def facility_staff_group(facility: Facility) -> Group:
    group, _ = Group.objects.get_or_create(name=facility_group_name(facility))
    return group


def staff_groups_sync(user) -> None:
    """Keep the user's membership in facility staff groups equal to their active memberships."""
    facility_ids = set(
        StaffMembership.objects.filter(user=user, is_active=True).values_list(
            "facility_id", flat=True
        )
    )
    wanted = {facility_staff_group(f) for f in Facility.objects.filter(pk__in=facility_ids)}
    current = set(user.groups.filter(name__startswith="facility:"))
    for group in current - wanted:
        user.groups.remove(group)
    for group in wanted - current:
        user.groups.add(group)
    forget_cached_permissions(user)
    staff_sync_admin_flags(user)


ADMIN_SITE_ROLES = (Role.UNIT_ADMIN, Role.CITY_ADMIN)


def staff_sync_admin_flags(user) -> None:
    """`is_staff` (entry to the admin pages) follows the roles: set while the user holds an active
    unit-admin or city-admin role, cleared otherwise. Superusers are left as they are.

    What the admin pages then show is scoped per facility by `has_perm_at`, not by `is_staff`.
    """
    if user.is_superuser:
        return
    wanted = StaffMembership.objects.filter(
        user=user, is_active=True, facility__is_active=True, role__in=ADMIN_SITE_ROLES
    ).exists()
    if user.is_staff != wanted:
        user.is_staff = wanted
        user.save(update_fields=["is_staff"])


def share_with_user(*, perm: str, obj: models.Model, user) -> None:
    assign_perm(perm, user, obj)


def share_with_facility(*, perm: str, obj: models.Model, facility: Facility) -> None:
    assign_perm(perm, facility_staff_group(facility), obj)


def unshare_with_facility(*, perm: str, obj: models.Model, facility: Facility) -> None:
    remove_perm(perm, facility_staff_group(facility), obj)


def shared_object_ids(user, perm: str, queryset: models.QuerySet) -> models.QuerySet:
    """Ids of the objects of `queryset` shared explicitly with the user or one of their groups."""
    return get_objects_for_user(
        user, perm, klass=queryset, accept_global_perms=False, with_superuser=False
    ).values("pk")


def facilities_sharing(obj_queryset: models.QuerySet, perm: str, facilities: Iterable[Facility]):
    """For tests and admin pages: which of the given facilities have `obj` shared with them."""
    return {
        f.pk: get_objects_for_group(facility_staff_group(f), perm, klass=obj_queryset)
        for f in facilities
    }
