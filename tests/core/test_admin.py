"""Admin pages: who gets in, what each admin sees and may change, and what nobody may do."""

import pytest
from django.contrib import admin
from django.urls import reverse

from ehealth.core.models import AuditEvent, Department, Facility, Role, StaffMembership, User
from ehealth.core.permissions import staff_sync_admin_flags
from tests.core.factories import DepartmentFactory, FacilityFactory, ProvinceFactory, make_staff

pytestmark = pytest.mark.django_db


def _changelist(client, model):
    return client.get(reverse(f"admin:core_{model._meta.model_name}_changelist"))


def _results(response):
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.UNIT_ADMIN, True),
        (Role.CITY_ADMIN, True),
        (Role.RECEPTIONIST, False),
        (Role.DOCTOR, False),
    ],
)
def test_admin_flag_follows_the_admin_roles(facility, role, expected):
    user = make_staff(facility, role)
    user.refresh_from_db()
    assert user.is_staff is expected


def test_admin_flag_is_cleared_when_the_admin_role_ends(facility):
    # given a unit admin
    user = make_staff(facility, Role.UNIT_ADMIN)
    # when their role ends
    StaffMembership.objects.filter(user=user).update(is_active=False)
    staff_sync_admin_flags(user)
    # then they no longer enter the admin site
    user.refresh_from_db()
    assert user.is_staff is False


def test_clinical_staff_cannot_enter_the_admin_site(client, doctor):
    client.force_login(doctor)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_unit_admin_sees_only_their_facility_departments(
    client, facility, other_facility, unit_admin
):
    # given departments at two facilities
    mine = DepartmentFactory(facility=facility)
    theirs = DepartmentFactory(facility=other_facility)
    client.force_login(unit_admin)
    # when the unit admin lists departments
    response = _changelist(client, Department)
    # then only their own show, and the other facility's page is out of reach
    assert response.status_code == 200
    assert _results(response) == [mine]
    change_theirs = reverse("admin:core_department_change", args=[theirs.pk])
    assert client.get(change_theirs).status_code in (302, 404)
    assert client.get(reverse("admin:core_department_change", args=[mine.pk])).status_code == 200


def test_unit_admin_adds_departments_only_at_their_facility(
    client, facility, other_facility, unit_admin
):
    client.force_login(unit_admin)
    url = reverse("admin:core_department_add")
    data = {
        "code": "K99",
        "name": "Khoa Thử",
        "is_active": "on",
        "wards-TOTAL_FORMS": "0",
        "wards-INITIAL_FORMS": "0",
    }
    # when they try the other facility, the form refuses it
    response = client.post(url, {**data, "facility": other_facility.pk})
    assert response.status_code == 200
    assert not Department.objects.filter(code="K99").exists()
    # and their own is accepted
    response = client.post(url, {**data, "facility": facility.pk})
    assert response.status_code == 302
    assert Department.objects.get(code="K99").facility == facility


def test_nobody_deletes_through_the_admin(client, facility, unit_admin):
    department = DepartmentFactory(facility=facility)
    client.force_login(unit_admin)
    response = client.post(
        reverse("admin:core_department_delete", args=[department.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Department.objects.filter(pk=department.pk).exists()


def test_city_admin_manages_facilities_and_unit_admin_only_reads_their_own(
    client, facility, other_facility, unit_admin
):
    city_admin = make_staff(facility, Role.CITY_ADMIN)
    # the city admin lists every facility and may add one
    client.force_login(city_admin)
    response = _changelist(client, Facility)
    assert {f.pk for f in _results(response)} >= {facility.pk, other_facility.pk}
    response = client.post(
        reverse("admin:core_facility_add"),
        {
            "code": "48999",
            "name": "Trạm Y tế Thử",
            "level": Facility.Level.PRIMARY,
            "kind": Facility.Kind.COMMUNE_STATION,
            "province": ProvinceFactory().pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert Facility.objects.filter(code="48999").exists()
    # the unit admin sees their own facility only, read-only
    client.force_login(unit_admin)
    response = _changelist(client, Facility)
    assert _results(response) == [facility]
    response = client.post(
        reverse("admin:core_facility_change", args=[facility.pk]),
        {
            "code": facility.code,
            "name": "Đổi tên",
            "level": facility.level,
            "kind": facility.kind,
            "province": facility.province_id,
        },
    )
    assert response.status_code == 403
    facility.refresh_from_db()
    assert facility.name != "Đổi tên"


def test_unit_admin_sees_only_staff_of_their_facility(client, facility, other_facility, unit_admin):
    nurse = make_staff(facility, Role.NURSE)
    stranger = make_staff(other_facility, Role.NURSE)
    client.force_login(unit_admin)
    response = _changelist(client, User)
    shown = {u.pk for u in _results(response)}
    assert nurse.pk in shown and unit_admin.pk in shown
    assert stranger.pk not in shown


def _user_add_data(facility_pk, role, username="newstaff"):
    return {
        "username": username,
        "full_name": "Nhân viên Mới",
        "usable_password": "true",
        "password1": "Khong-Doan-Duoc-2026",
        "password2": "Khong-Doan-Duoc-2026",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "1",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-facility": facility_pk,
        "memberships-0-role": role,
        "memberships-0-is_active": "on",
    }


def test_unit_admin_creates_staff_at_their_facility(client, facility, unit_admin):
    client.force_login(unit_admin)
    response = client.post(
        reverse("admin:core_user_add"), _user_add_data(facility.pk, Role.RECEPTIONIST)
    )
    assert response.status_code == 302, response.context and response.context.get("errors")
    user = User.objects.get(username="newstaff")
    assert list(user.memberships.values_list("facility_id", "role")) == [
        (facility.pk, Role.RECEPTIONIST)
    ]
    assert user.groups.filter(name=f"facility:{facility.code}").exists()
    assert user.is_staff is False


def test_unit_admin_cannot_grant_city_admin_or_roles_elsewhere(
    client, facility, other_facility, unit_admin
):
    client.force_login(unit_admin)
    url = reverse("admin:core_user_add")
    client.post(url, _user_add_data(facility.pk, Role.CITY_ADMIN, username="escalate1"))
    client.post(url, _user_add_data(other_facility.pk, Role.DOCTOR, username="escalate2"))
    assert not User.objects.filter(username__in=["escalate1", "escalate2"]).exists()


def test_unit_admin_cannot_change_an_admin_of_another_facility(
    client, facility, other_facility, unit_admin
):
    # given the other facility's admin, who also holds a doctor role here
    other_admin = make_staff(other_facility, Role.UNIT_ADMIN)
    StaffMembership.objects.create(user=other_admin, facility=facility, role=Role.DOCTOR)
    client.force_login(unit_admin)
    # then our unit admin may see the account but not change it or its password
    change = reverse("admin:core_user_change", args=[other_admin.pk])
    assert client.get(change).status_code == 200
    password = reverse("admin:auth_user_password_change", args=[other_admin.pk])
    response = client.post(
        password, {"password1": "Takeover-2026-x", "password2": "Takeover-2026-x"}
    )
    assert response.status_code == 403
    other_admin.refresh_from_db()
    assert not other_admin.check_password("Takeover-2026-x")


def test_unit_admin_cannot_make_anyone_superuser(client, facility, unit_admin):
    nurse = make_staff(facility, Role.NURSE)
    client.force_login(unit_admin)
    response = client.get(reverse("admin:core_user_change", args=[nurse.pk]))
    form_fields = response.context["adminform"].form.fields
    assert "is_superuser" not in form_fields and "is_staff" not in form_fields


def test_audit_trail_in_admin_is_read_only_and_scoped(client, facility, other_facility, unit_admin):
    # given entries at both facilities
    mine = AuditEvent.objects.create(action="patient.view", facility=facility, patient_id=1)
    theirs = AuditEvent.objects.create(action="patient.view", facility=other_facility, patient_id=1)
    client.force_login(unit_admin)
    # then the unit admin lists their facility's entries only
    shown = {e.pk for e in _results(_changelist(client, AuditEvent))}
    assert mine.pk in shown and theirs.pk not in shown
    # and can neither add, change nor delete one
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    change = reverse("admin:core_auditevent_change", args=[mine.pk])
    assert client.post(change, {"action": "x"}).status_code == 403
    delete = reverse("admin:core_auditevent_delete", args=[mine.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    mine.refresh_from_db()
    assert mine.action == "patient.view"


def test_patient_records_are_not_in_the_admin():
    from patients.models import Patient, PatientIdentifier

    assert not admin.site.is_registered(Patient)
    assert not admin.site.is_registered(PatientIdentifier)


def test_department_list_query_count_is_bounded(
    client, facility, unit_admin, django_assert_max_num_queries
):
    for _ in range(30):
        DepartmentFactory(facility=facility)
    client.force_login(unit_admin)
    with django_assert_max_num_queries(16):
        assert _changelist(client, Department).status_code == 200


def test_staff_list_query_count_is_bounded(
    client, facility, unit_admin, django_assert_max_num_queries
):
    for _ in range(20):
        make_staff(facility, Role.NURSE)
    FacilityFactory()
    client.force_login(unit_admin)
    with django_assert_max_num_queries(16):
        assert _changelist(client, User).status_code == 200


def test_audit_and_price_lists_query_count_is_bounded(
    client, facility, unit_admin, django_assert_max_num_queries
):
    for i in range(30):
        AuditEvent.objects.create(action="patient.view", facility=facility, patient_id=i)
    client.force_login(unit_admin)
    with django_assert_max_num_queries(16):
        assert _changelist(client, AuditEvent).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(reverse("admin:core_serviceprice_changelist")).status_code == 200
