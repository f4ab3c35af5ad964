import pytest

from ehealth.core.models import Role
from ehealth.core.permissions import facility_ids_with_perm, has_perm_at
from tests.core.factories import make_staff

pytestmark = pytest.mark.django_db


def test_role_permission_holds_only_at_the_facility_of_the_role(facility, other_facility):
    # given a receptionist at one facility and a cashier at another
    user = make_staff(facility, Role.RECEPTIONIST)
    from ehealth.core.models import StaffMembership

    StaffMembership.objects.create(user=user, facility=other_facility, role=Role.CASHIER)
    # then registering is allowed where they are receptionist, not where they are cashier
    assert has_perm_at(user, "patients.add_patient", facility.pk)
    assert not has_perm_at(user, "patients.add_patient", other_facility.pk)
    assert facility_ids_with_perm(user, "patients.view_patient") == sorted(
        [facility.pk, other_facility.pk]
    )


def test_city_admin_has_no_patient_permission(facility):
    admin = make_staff(facility, Role.CITY_ADMIN)
    assert not has_perm_at(admin, "patients.view_patient", facility.pk)
    assert has_perm_at(admin, "core.view_city_aggregates", facility.pk)
