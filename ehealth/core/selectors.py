"""Reads of the platform pages: the audit trail and city-wide aggregates.

Every selector takes the acting user and answers only what that user may see. Aggregates read the
registry's tables through `apps.get_model` and never import the `patients` package (it sits above
`ehealth.core` in the dependency graph).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Count, QuerySet

from ehealth.core.models import AuditEvent, Bed, Facility, Role, StaffMembership, User
from ehealth.core.permissions import facility_ids_with_perm, has_perm_at

AUDIT_VIEW_PERM = "core.view_auditevent"
CITY_AGGREGATES_PERM = "core.view_city_aggregates"


def audit_events_for_patient(*, user, facility_id: int | None, patient_id: int) -> QuerySet:
    """The entries about one patient made at the facility, if the user may read its audit trail
    there; otherwise no rows (the view answers 404)."""
    if not has_perm_at(user, AUDIT_VIEW_PERM, facility_id):
        return AuditEvent.objects.none()
    return _audit_list(AuditEvent.objects.filter(facility_id=facility_id, patient_id=patient_id))


def audit_subject_user_get(*, user, facility_id: int | None, subject_id: int) -> User | None:
    """The member of staff whose trail a unit admin asks for: only someone who holds or held a role
    at the admin's facility (anyone else is answered like an unknown id)."""
    if not has_perm_at(user, AUDIT_VIEW_PERM, facility_id):
        return None
    return (
        User.objects.filter(pk=subject_id, memberships__facility_id=facility_id).distinct().first()
    )


def audit_subject_users(*, user, facility_id: int | None) -> QuerySet:
    """The staff (past and present) of the facility whose trails a unit admin may open."""
    if not has_perm_at(user, AUDIT_VIEW_PERM, facility_id):
        return User.objects.none()
    return (
        User.objects.filter(memberships__facility_id=facility_id)
        .distinct()
        .order_by("full_name", "username")
        .only("id", "username", "full_name")
    )


def audit_events_by_user(*, user, facility_id: int | None, subject_id: int) -> QuerySet:
    """The entries made by one user at the facility, if the acting user may read its trail."""
    if not has_perm_at(user, AUDIT_VIEW_PERM, facility_id):
        return AuditEvent.objects.none()
    return _audit_list(AuditEvent.objects.filter(facility_id=facility_id, actor_id=subject_id))


def _audit_list(qs: QuerySet) -> QuerySet:
    return qs.select_related("facility", "actor").order_by("-at", "-id")


@dataclass
class FacilityAggregate:
    """The counts of one facility shown to city health admins: no individual patient in it."""

    facility: Facility
    patients_enrolled: int = 0
    beds: int = 0
    staff_by_role: dict[str, int] = field(default_factory=dict)

    @property
    def staff_total(self) -> int:
        return sum(self.staff_by_role.values())

    def staff_counts(self) -> list[int]:
        """Counts in the order of `Role` (the columns of the page)."""
        return [self.staff_by_role.get(role, 0) for role in Role.values]


def city_facility_aggregates(*, user) -> list[FacilityAggregate] | None:
    """Per-facility counts across the city (patients enrolled, staff per role, beds), in four
    queries whatever the number of facilities; None if the user may not see city aggregates."""
    if not facility_ids_with_perm(user, CITY_AGGREGATES_PERM):
        return None
    rows = {
        f.pk: FacilityAggregate(facility=f)
        for f in Facility.objects.filter(is_active=True).order_by("code")
    }

    # "Enrolled" = holding a live record number (MRN) at the facility.
    identifier_model = apps.get_model("patients", "PatientIdentifier")
    enrolled = (
        identifier_model.objects.filter(
            system="mrn", voided_at__isnull=True, facility_id__in=rows.keys()
        )
        .values("facility_id")
        .annotate(n=Count("patient_id", distinct=True))
        .order_by()
    )
    for item in enrolled:
        rows[item["facility_id"]].patients_enrolled = item["n"]

    staff = (
        StaffMembership.objects.filter(
            is_active=True, user__is_active=True, facility_id__in=rows.keys()
        )
        .values("facility_id", "role")
        .annotate(n=Count("user_id", distinct=True))
        .order_by()
    )
    for item in staff:
        rows[item["facility_id"]].staff_by_role[item["role"]] = item["n"]

    beds = (
        Bed.objects.filter(is_active=True, ward__department__facility_id__in=rows.keys())
        .values("ward__department__facility_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item in beds:
        rows[item["ward__department__facility_id"]].beds = item["n"]

    return list(rows.values())


def city_totals(aggregates: list[FacilityAggregate]) -> dict:
    """The city-wide sums of the per-facility rows (no query)."""
    return {
        "facilities": len(aggregates),
        "patients_enrolled": sum(a.patients_enrolled for a in aggregates),
        "beds": sum(a.beds for a in aggregates),
        "staff": sum(a.staff_total for a in aggregates),
        "staff_counts": [sum(a.staff_by_role.get(r, 0) for a in aggregates) for r in Role.values],
    }


def user_memberships(*, user) -> list[StaffMembership]:
    """The active roles of the user, with their facilities (for the switcher and the top bar)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        StaffMembership.objects.filter(user=user, is_active=True, facility__is_active=True)
        .select_related("facility")
        .order_by("facility__code", "role")
    )
