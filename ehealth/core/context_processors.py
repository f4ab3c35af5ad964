from ehealth.core.permissions import facility_ids_with_perm, has_perm_at


def staff_context(request):
    membership = getattr(request, "active_membership", None)
    user = getattr(request, "user", None)

    def can(perm: str) -> bool:
        return bool(membership and has_perm_at(user, perm, membership.facility_id))

    if user is None or not user.is_authenticated:
        return {"active_membership": None}
    return {
        "active_membership": membership,
        "can_search_patients": can("patients.search_patient"),
        "can_register_patients": can("patients.add_patient"),
        "can_view_audit": can("core.view_auditevent"),
        "can_manage_staff": can("core.manage_staff"),
        "can_view_city": bool(facility_ids_with_perm(user, "core.view_city_aggregates")),
    }
