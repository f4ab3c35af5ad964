"""Audit pages for unit admins (per patient, per user) and the append-only trail."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from ehealth.core import context
from ehealth.core.audit import audit_record
from ehealth.core.models import AuditEvent, Role, StaffMembership
from tests.core.factories import make_staff

pytestmark = pytest.mark.django_db

PATIENT_ID = 424242


def _record(actor, facility, *, role=Role.DOCTOR, action="patient.view", patient_id=PATIENT_ID):
    token = context.set_current(
        context.ActorContext(
            ip_address="10.1.2.3", channel="web", facility_id=facility.pk, role=role
        )
    )
    try:
        return audit_record(actor=actor, action=action, patient_id=patient_id)
    finally:
        context.reset(token)


def _rows(response):
    return list(response.context["page"].object_list)


def test_unit_admin_sees_the_patient_trail_of_their_facility_newest_first(
    client, facility, other_facility, unit_admin
):
    # given views of one patient at the admin's facility and at another one
    doctor = make_staff(facility, Role.DOCTOR)
    first = _record(doctor, facility, action="patient.view")
    second = _record(doctor, facility, action="patient.update")
    elsewhere = _record(make_staff(other_facility, Role.DOCTOR), other_facility)
    unrelated = _record(doctor, facility, patient_id=PATIENT_ID + 1)
    # when the unit admin opens the patient's trail
    client.force_login(unit_admin)
    response = client.get(reverse("audit_patient", args=[PATIENT_ID]))
    # then only their facility's entries for that patient show, newest first
    assert response.status_code == 200
    assert [e.pk for e in _rows(response)] == [second.pk, first.pk]
    ids = {e.pk for e in _rows(response)}
    assert elsewhere.pk not in ids and unrelated.pk not in ids
    body = response.content.decode()
    for text in (doctor.username, "Bác sĩ", facility.code, "patient.update", "10.1.2.3"):
        assert text in body


def test_times_are_shown_in_vietnam_time(client, facility, unit_admin):
    # given an entry (stored in UTC)
    event = _record(make_staff(facility, Role.DOCTOR), facility)
    client.force_login(unit_admin)
    # when the admin reads it
    body = client.get(reverse("audit_patient", args=[PATIENT_ID])).content.decode()
    # then it reads in UTC+7, not in UTC
    fmt = "%d/%m/%Y %H:%M:%S"
    assert event.at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime(fmt) in body
    assert event.at.astimezone(UTC).strftime(fmt) not in body


def test_unit_admin_sees_a_user_trail_at_their_facility_only(
    client, facility, other_facility, unit_admin
):
    # given a doctor working at two facilities
    doctor = make_staff(facility, Role.DOCTOR)
    StaffMembership.objects.create(user=doctor, facility=other_facility, role=Role.DOCTOR)
    here = _record(doctor, facility)
    there = _record(doctor, other_facility)
    client.force_login(unit_admin)
    # when the unit admin opens that doctor's trail
    response = client.get(reverse("audit_user", args=[doctor.pk]))
    # then only what the doctor did at the admin's facility shows
    assert response.status_code == 200
    assert [e.pk for e in _rows(response)] == [here.pk]
    assert there.pk not in {e.pk for e in _rows(response)}


def test_trail_of_a_user_from_another_facility_is_404(client, other_facility, unit_admin):
    stranger = make_staff(other_facility, Role.DOCTOR)
    _record(stranger, other_facility)
    client.force_login(unit_admin)
    assert client.get(reverse("audit_user", args=[stranger.pk])).status_code == 404
    assert client.get(reverse("audit_user", args=[999_999])).status_code == 404


@pytest.mark.parametrize(
    "role",
    [
        Role.RECEPTIONIST,
        Role.DOCTOR,
        Role.NURSE,
        Role.CASHIER,
        Role.INSURANCE_OFFICER,
        Role.CITY_ADMIN,
    ],
)
def test_other_roles_get_404_on_audit_pages(client, facility, role):
    # given an entry and a member of staff who is not a unit admin
    doctor = make_staff(facility, Role.DOCTOR)
    _record(doctor, facility)
    client.force_login(make_staff(facility, role))
    # then every audit page answers 404, not 403
    for url in (
        reverse("audit_index"),
        reverse("audit_patient", args=[PATIENT_ID]),
        reverse("audit_user", args=[doctor.pk]),
    ):
        assert client.get(url).status_code == 404


def test_unit_admin_of_another_facility_sees_nothing_of_this_one(client, facility, other_facility):
    _record(make_staff(facility, Role.DOCTOR), facility)
    other_admin = make_staff(other_facility, Role.UNIT_ADMIN)
    client.force_login(other_admin)
    response = client.get(reverse("audit_patient", args=[PATIENT_ID]))
    assert response.status_code == 200
    assert _rows(response) == []


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("audit_patient", args=[PATIENT_ID]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_trail_is_paginated_and_bad_page_numbers_do_not_fail(client, facility, unit_admin):
    doctor = make_staff(facility, Role.DOCTOR)
    for _ in range(55):
        _record(doctor, facility)
    client.force_login(unit_admin)
    url = reverse("audit_patient", args=[PATIENT_ID])
    assert len(_rows(client.get(url))) == 50
    assert len(_rows(client.get(url, {"page": 2}))) == 5
    assert client.get(url, {"page": "abc"}).status_code == 200
    assert len(_rows(client.get(url, {"page": 99}))) == 5  # the last page


def test_trail_page_query_count_does_not_grow_with_rows(
    client, facility, unit_admin, django_assert_max_num_queries
):
    doctor = make_staff(facility, Role.DOCTOR)
    for _ in range(40):
        _record(doctor, facility)
    client.force_login(unit_admin)
    with django_assert_max_num_queries(14):
        client.get(reverse("audit_patient", args=[PATIENT_ID]))
    with django_assert_max_num_queries(14):
        client.get(reverse("audit_user", args=[doctor.pk]))
    with django_assert_max_num_queries(14):
        client.get(reverse("audit_index"))


def test_audit_index_opens_the_patient_trail_by_number(client, unit_admin):
    client.force_login(unit_admin)
    response = client.get(reverse("audit_index"), {"patient": str(PATIENT_ID)})
    assert response["Location"] == reverse("audit_patient", args=[PATIENT_ID])
    response = client.get(reverse("audit_index"), {"patient": "abc"})
    assert response.status_code == 200
    assert "Mã người bệnh phải là một số" in response.content.decode()


def test_the_trail_is_append_only_in_the_model_and_in_the_database(facility):
    # given an entry
    event = _record(make_staff(facility, Role.DOCTOR), facility)
    # then the model refuses to change or delete it, one by one or in bulk
    event.action = "patient.nothing"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    # and the database refuses too, even to raw SQL that bypasses the model
    for sql in (
        "UPDATE core_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [event.pk])
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "patient.view"
    assert stored.at <= datetime.now(UTC)


def test_the_trail_indexes_each_lookup_once(db):
    # every access inserts a row: no index whose columns another index leads with
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, AuditEvent._meta.db_table)
    indexes = [tuple(c["columns"]) for c in found.values() if c["index"] and not c["primary_key"]]
    assert ("facility_id", "at") in indexes
    for columns in indexes:
        leading = [
            other for other in indexes if other != columns and other[: len(columns)] == columns
        ]
        assert not leading, f"{columns} is the start of {leading}"
