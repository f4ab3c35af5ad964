from ehealth.core.models import Role
from ehealth.core.permissions import facility_ids_with_perm, has_perm_at
from ehealth.core.selectors import user_memberships


def staff_context(request):
    """What the layout needs: the active facility and roles, the facilities to switch to, and one
    flag per menu entry (each entry is shown only to those who may use it)."""
    membership = getattr(request, "active_membership", None)
    user = getattr(request, "user", None)

    def can(perm: str) -> bool:
        return bool(membership and has_perm_at(user, perm, membership.facility_id))

    if user is None or not user.is_authenticated:
        return {"active_membership": None}

    memberships = user_memberships(user=user)
    facilities = list({m.facility_id: m.facility for m in memberships}.values())
    active_roles = [
        Role(m.role).label
        for m in memberships
        if membership is not None and m.facility_id == membership.facility_id
    ]
    can_view_city = bool(facility_ids_with_perm(user, "core.view_city_aggregates"))
    return {
        "active_membership": membership,
        "active_facility": membership.facility if membership else None,
        "active_roles": active_roles,
        "my_memberships": memberships,
        "switchable_facilities": facilities if len(facilities) > 1 else [],
        "can_search_patients": can("patients.search_patient"),
        "can_register_patients": can("patients.add_patient"),
        "can_view_audit": can("core.view_auditevent"),
        "can_manage_staff": can("core.manage_staff"),
        "can_manage_catalog": can("core.manage_catalog"),
        "can_view_city": can_view_city,
        "can_use_admin": bool(user.is_staff),
        # Clinical pages (issue 3)
        "can_check_in": can("patients.checkin_encounter"),
        "can_open_worklist": can("patients.examine_encounter"),
        "can_view_encounters": can("patients.view_encounter"),
        "can_open_results": can("patients.enter_results"),
        # The cashier's desk (issue 4)
        "can_use_cashier": can("billing.take_payment"),
        "can_approve_refunds": can("billing.approve_refund"),
        # The insurance officer's workspace (issue 5)
        "can_manage_claims": can("insurance.manage_claims"),
    }
