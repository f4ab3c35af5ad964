"""The layout, the role-aware home page, the facility switcher and the city aggregates page."""

import pytest
from django.urls import NoReverseMatch, reverse

from ehealth.core.middleware import ACTIVE_FACILITY_SESSION_KEY
from ehealth.core.models import Role, StaffMembership
from ehealth.core.selectors import city_facility_aggregates
from patients.models import Patient, PatientIdentifier
from tests.core.factories import BedFactory, FacilityFactory, WardFactory, make_staff

pytestmark = pytest.mark.django_db


def _url_or_none(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _enroll(facility, count, *, name="Nguyễn Văn Thử"):
    """`count` patients holding a record number at the facility."""
    patients = []
    for i in range(count):
        p = Patient.objects.create(full_name=name, birth_year=1980, sex="1")
        PatientIdentifier.objects.create(
            patient=p, system="mrn", value=f"{facility.code}-{i:06d}", facility=facility
        )
        patients.append(p)
    return patients


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_layout_shows_facility_user_role_and_post_logout(client, facility):
    # given a doctor signed in
    user = make_staff(facility, Role.DOCTOR, full_name="Trần Thị Bác Sĩ")
    client.force_login(user)
    # when the home page is shown
    body = client.get(reverse("home")).content.decode()
    # then the top bar names the facility, the user and the role, and logs out by POST
    assert facility.name in body
    assert "Trần Thị Bác Sĩ" in body
    assert "Bác sĩ" in body
    assert f'method="post" action="{reverse("logout")}"' in body
    assert f'action="{reverse("set_language")}"' in body
    # and every asset is served locally
    assert "/static/css/app.css" in body
    assert "/static/vendor/htmx/htmx.min.js" in body
    assert "http://" not in body and "https://" not in body


def test_receptionist_home_has_search_box_and_registration_link(client, receptionist):
    client.force_login(receptionist)
    body = client.get(reverse("home")).content.decode()
    search_url, register_url = _url_or_none("patients:search"), _url_or_none("patients:register")
    if search_url is None or register_url is None:
        pytest.skip("the registry pages are not installed")
    assert f'action="{search_url}"' in body
    assert 'name="q"' in body
    assert f'href="{register_url}"' in body
    assert reverse("audit_index") not in body
    assert reverse("city") not in body


def test_doctor_home_offers_search_but_not_registration_or_admin(client, doctor):
    client.force_login(doctor)
    body = client.get(reverse("home")).content.decode()
    register_url = _url_or_none("patients:register")
    if register_url:
        assert f'href="{register_url}"' not in body
    assert reverse("audit_index") not in body
    assert reverse("admin:index") not in body


def test_unit_admin_home_links_staff_catalogs_and_audit(client, unit_admin):
    client.force_login(unit_admin)
    body = client.get(reverse("home")).content.decode()
    assert reverse("audit_index") in body
    assert reverse("admin:core_user_changelist") in body
    assert reverse("admin:core_department_changelist") in body
    assert reverse("admin:core_medicalservice_changelist") in body
    assert reverse("city") not in body


def test_city_admin_home_links_city_aggregates_and_no_patient_pages(client, facility):
    city_admin = make_staff(facility, Role.CITY_ADMIN)
    client.force_login(city_admin)
    body = client.get(reverse("home")).content.decode()
    assert reverse("city") in body
    assert reverse("admin:core_facility_changelist") in body
    search_url = _url_or_none("patients:search")
    if search_url:
        assert f'href="{search_url}"' not in body
        assert f'action="{search_url}"' not in body


def test_switcher_shown_only_to_staff_of_several_facilities(client, facility, other_facility):
    # given a nurse at one facility and a doctor at two
    nurse = make_staff(facility, Role.NURSE)
    doctor = make_staff(facility, Role.DOCTOR)
    StaffMembership.objects.create(user=doctor, facility=other_facility, role=Role.DOCTOR)
    switch_url = reverse("facility_switch")
    # then only the doctor gets the switcher, listing both facilities
    client.force_login(nurse)
    assert switch_url not in client.get(reverse("home")).content.decode()
    client.force_login(doctor)
    body = client.get(reverse("home")).content.decode()
    assert switch_url in body
    assert f'value="{other_facility.pk}"' in body


def test_switching_facility_changes_the_active_facility(client, facility, other_facility):
    # given a doctor at two facilities, working at the first
    doctor = make_staff(facility, Role.DOCTOR)
    StaffMembership.objects.create(user=doctor, facility=other_facility, role=Role.DOCTOR)
    client.force_login(doctor)
    # when they switch to the other one
    response = client.post(
        reverse("facility_switch"), {"facility_id": other_facility.pk, "next": "/"}
    )
    # then the session and the top bar follow
    assert response.status_code == 302
    assert client.session[ACTIVE_FACILITY_SESSION_KEY] == other_facility.pk
    response = client.get(reverse("home"))
    assert response.wsgi_request.active_membership.facility_id == other_facility.pk


def test_cannot_switch_to_a_facility_without_an_active_role(client, facility, other_facility):
    # given a doctor whose role at the other facility has ended, and a third facility
    doctor = make_staff(facility, Role.DOCTOR)
    StaffMembership.objects.create(
        user=doctor, facility=other_facility, role=Role.DOCTOR, is_active=False
    )
    stranger = FacilityFactory()
    client.force_login(doctor)
    for target in (other_facility, stranger):
        # when they post that facility to the switcher
        response = client.post(reverse("facility_switch"), {"facility_id": target.pk})
        # then nothing changes
        assert response.status_code == 302
        assert ACTIVE_FACILITY_SESSION_KEY not in client.session
    response = client.post(reverse("facility_switch"), {"facility_id": "abc"})
    assert response.status_code == 302
    assert ACTIVE_FACILITY_SESSION_KEY not in client.session


def test_switch_does_not_redirect_off_site(client, facility, other_facility):
    doctor = make_staff(facility, Role.DOCTOR)
    StaffMembership.objects.create(user=doctor, facility=other_facility, role=Role.DOCTOR)
    client.force_login(doctor)
    response = client.post(
        reverse("facility_switch"),
        {"facility_id": other_facility.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("home")


def test_city_page_counts_patients_staff_and_beds_per_facility(client, facility, other_facility):
    # given two facilities with patients, staff and beds
    city_admin = make_staff(facility, Role.CITY_ADMIN)
    make_staff(facility, Role.DOCTOR)
    make_staff(facility, Role.DOCTOR)
    make_staff(other_facility, Role.NURSE)
    _enroll(facility, 3, name="Lê Văn Riêngtư")
    shared = _enroll(other_facility, 2)
    # a patient of the other facility also enrolled at the first: counted at both
    PatientIdentifier.objects.create(
        patient=shared[0], system="mrn", value="X-1", facility=facility
    )
    ward = WardFactory(department__facility=other_facility)
    BedFactory.create_batch(4, ward=ward)
    # when the city admin opens the aggregates
    client.force_login(city_admin)
    response = client.get(reverse("city"))
    # then the counts per facility are right
    assert response.status_code == 200
    rows = {row.facility.pk: row for row in response.context["aggregates"]}
    assert rows[facility.pk].patients_enrolled == 4
    assert rows[other_facility.pk].patients_enrolled == 2
    assert rows[facility.pk].staff_by_role == {Role.CITY_ADMIN: 1, Role.DOCTOR: 2}
    assert rows[other_facility.pk].staff_by_role == {Role.NURSE: 1}
    assert rows[other_facility.pk].beds == 4
    assert rows[facility.pk].beds == 0
    assert response.context["totals"]["patients_enrolled"] == 6
    # and no individual patient appears on the page
    assert "Riêngtư" not in response.content.decode()


@pytest.mark.parametrize("role", [Role.UNIT_ADMIN, Role.DOCTOR, Role.RECEPTIONIST])
def test_city_page_is_404_for_everyone_but_city_admins(client, facility, role):
    client.force_login(make_staff(facility, role))
    assert client.get(reverse("city")).status_code == 404


def test_city_aggregates_take_a_fixed_number_of_queries(facility, django_assert_max_num_queries):
    # given a city admin and few facilities
    city_admin = make_staff(facility, Role.CITY_ADMIN)
    for _ in range(2):
        f = FacilityFactory()
        make_staff(f, Role.DOCTOR)
        _enroll(f, 1)
    with django_assert_max_num_queries(6):
        small = city_facility_aggregates(user=city_admin)
    # when there are many more facilities
    for _ in range(12):
        f = FacilityFactory()
        make_staff(f, Role.NURSE)
        BedFactory(ward__department__facility=f)
        _enroll(f, 2)
    city_admin = type(city_admin).objects.get(pk=city_admin.pk)  # no cached permissions
    # then the query count does not grow
    with django_assert_max_num_queries(6):
        large = city_facility_aggregates(user=city_admin)
    assert len(large) == len(small) + 12


def test_city_page_view_query_count_is_bounded(client, facility, django_assert_max_num_queries):
    city_admin = make_staff(facility, Role.CITY_ADMIN)
    for _ in range(10):
        f = FacilityFactory()
        make_staff(f, Role.DOCTOR)
        BedFactory(ward__department__facility=f)
    client.force_login(city_admin)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("city")).status_code == 200
