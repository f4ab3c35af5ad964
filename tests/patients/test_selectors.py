"""Visibility, audited reads and the one-box search of the registry, on PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from ehealth.core.permissions import share_with_user
from patients.choices import IdentifierSystem, PatientStatus, Sex
from patients.models import Encounter, Patient
from patients.selectors import (
    patient_encounters_visible_among,
    patient_find_by_identifier,
    patient_get,
    patient_search,
    patient_search_sql,
    patient_similar,
    patient_summary,
    patient_visible_qs,
    patients_visible_among,
)
from patients.services import patient_merge, patient_share_with_facility
from tests.clinical.factories import make_encounter
from tests.core.factories import make_staff
from tests.patients.factories import make_patient, patient_input, unique_card, unique_cccd

pytestmark = pytest.mark.django_db


# --- visibility ----------------------------------------------------------------------------


def test_own_facility_patient_is_visible_and_the_view_is_audited(receptionist, facility):
    # given
    patient = make_patient(facility)
    # when
    got = patient_get(user=receptionist, pk=patient.pk)
    # then
    assert got == patient
    event = AuditEvent.objects.get(action="patient.view")
    assert (event.actor, event.patient_id, event.target_type) == (
        receptionist,
        patient.pk,
        "patients.Patient",
    )


def test_other_facility_patient_answers_404_like_a_missing_one(receptionist, other_facility):
    # given a patient of another facility
    patient = make_patient(other_facility)
    missing_pk = patient.pk + 1000
    # when / then: both raise the same Http404, and nothing is audited
    for pk in (patient.pk, missing_pk, "abc"):
        with pytest.raises(Http404):
            patient_get(user=receptionist, pk=pk)
    assert not AuditEvent.objects.exists()


def test_shared_patient_is_visible_to_the_other_facility(doctor, facility, other_facility):
    # given a patient of the doctor's facility and a nurse of another facility
    patient = make_patient(facility)
    nurse = make_staff(other_facility, Role.NURSE)
    # when shared with the nurse's facility
    patient_share_with_facility(
        actor=doctor,
        facility=facility,
        patient=patient,
        target_facility=other_facility,
        reason="Hội chẩn",
    )
    # then
    assert patient_get(user=nurse, pk=patient.pk) == patient


def test_share_with_one_user_makes_it_visible_to_that_user_only(facility, other_facility):
    patient = make_patient(facility)
    nurse, colleague = (
        make_staff(other_facility, Role.NURSE),
        make_staff(other_facility, Role.NURSE),
    )
    share_with_user(perm="patients.view_patient", obj=patient, user=nurse)
    assert patient_visible_qs(user=nurse).filter(pk=patient.pk).exists()
    assert not patient_visible_qs(user=colleague).filter(pk=patient.pk).exists()


def test_city_admin_sees_no_chart_even_when_shared(facility):
    # given a city admin and a patient shared with the admin's facility group
    admin = make_staff(facility, Role.CITY_ADMIN)
    patient = make_patient(facility)
    share_with_user(perm="patients.view_patient", obj=patient, user=admin)
    # then
    assert not patient_visible_qs(user=admin).exists()
    with pytest.raises(Http404):
        patient_get(user=admin, pk=patient.pk)
    with pytest.raises(PermissionDenied):
        patient_search(user=admin, query="Trần")


def test_merged_patient_is_no_longer_visible(unit_admin, facility):
    survivor, merged = make_patient(facility), make_patient(facility)
    patient_merge(
        actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="Trùng"
    )
    assert _status(merged) == PatientStatus.MERGED
    with pytest.raises(Http404):
        patient_get(user=unit_admin, pk=merged.pk)


@pytest.fixture
def city(doctor, facility, other_facility):
    """A nurse of `other_facility` and patients she sees in every way and does not see: her own
    unit's, one shared with her unit, one shared with her alone, another unit's, a merged one and
    a voided one; each with a visit, and her own patient with a voided visit too."""
    nurse = make_staff(other_facility, Role.NURSE)
    own, by_unit, by_user, elsewhere, merged, voided = (
        make_patient(other_facility),
        make_patient(facility),
        make_patient(facility),
        make_patient(facility),
        make_patient(other_facility),
        make_patient(other_facility),
    )
    patients = [own, by_unit, by_user, elsewhere, merged, voided]
    units = [other_facility, facility, facility, facility, other_facility, other_facility]
    visits = [make_encounter(facility=u, patient=p) for u, p in zip(units, patients, strict=True)]
    gone = make_encounter(facility=other_facility, patient=own)
    patient_share_with_facility(
        actor=doctor, facility=facility, patient=by_unit, target_facility=other_facility,
        reason="Hội chẩn",
    )  # fmt: skip
    share_with_user(perm="patients.view_patient", obj=by_user, user=nurse)
    admin = make_staff(other_facility, Role.UNIT_ADMIN)
    patient_merge(actor=admin, facility=other_facility, survivor=own, merged=merged, reason="Trùng")
    Patient.objects.filter(pk=voided.pk).update(voided_at=timezone.now())
    Encounter.objects.filter(pk=gone.pk).update(voided_at=timezone.now())
    return nurse, patients, [*visits, gone]


def test_patients_visible_among_is_the_visibility_rule_by_id(city):
    nurse, patients, _visits = city
    asked = [p.pk for p in patients] + [10**9, "abc", -1]
    # when
    got = patients_visible_among(user=nurse, pks=asked)
    # then: exactly what the ORM's rule gives, as full rows
    expected = patient_visible_qs(user=nurse).filter(pk__in=[p.pk for p in patients]).in_bulk()
    assert set(got) == set(expected) == {p.pk for p in patients[:3]}
    for pk, patient in got.items():
        assert patient.get_deferred_fields() == set()
        assert (patient.full_name, patient.birth_date) == (
            expected[pk].full_name,
            expected[pk].birth_date,
        )
    assert patients_visible_among(user=nurse, pks=[]) == {}
    assert patients_visible_among(user=make_staff(nurse.memberships.first().facility,
                                  Role.CITY_ADMIN), pks=asked) == {}  # fmt: skip


def test_encounters_visible_among_keeps_the_visits_of_visible_patients(city):
    nurse, patients, visits = city
    asked = [v.pk for v in visits] + [10**9, "x"]
    # when
    got = patient_encounters_visible_among(user=nurse, pks=asked)
    # then: not voided, of a patient she sees; only the keys the checks read are loaded
    visible = patient_visible_qs(user=nurse).values("pk")
    expected = Encounter.objects.filter(
        voided_at__isnull=True, patient__in=visible, pk__in=[v.pk for v in visits]
    ).in_bulk()
    moved = visits[4]  # the merged patient's visit, now the survivor's (her own patient)
    assert set(got) == set(expected) == {v.pk for v in [*visits[:3], moved]}
    for pk, encounter in got.items():
        assert (encounter.patient_id, encounter.facility_id) == (
            expected[pk].patient_id,
            expected[pk].facility_id,
        )
        assert "patient_id" not in encounter.get_deferred_fields()
        assert "status" in encounter.get_deferred_fields()


def _status(patient):
    patient.refresh_from_db()
    return patient.status


# --- search --------------------------------------------------------------------------------


@pytest.fixture
def people(facility):
    """Three visible patients and one at another facility with the same name."""
    from tests.core.factories import FacilityFactory

    an = make_patient(
        facility,
        full_name="Nguyễn Văn An",
        sex=Sex.MALE,
        birth_date=date(1985, 5, 12),
        phone="0905123456",
        identifiers={
            IdentifierSystem.CCCD: unique_cccd(),
            IdentifierSystem.BHYT: (card := unique_card()),
            IdentifierSystem.SOCIAL_INSURANCE: card[5:],
        },
    )
    anh = make_patient(
        facility, full_name="Nguyễn Văn Anh", sex=Sex.MALE, birth_date=None, birth_year=1990
    )
    dat = make_patient(facility, full_name="Đặng Thị Đào", sex=Sex.FEMALE)
    hidden = make_patient(FacilityFactory(), full_name="Nguyễn Văn An", sex=Sex.MALE)
    return {"an": an, "anh": anh, "dat": dat, "hidden": hidden}


def _ids(results):
    return [p.pk for p in results]


def test_name_without_diacritics_finds_the_name_with_them(receptionist, people):
    results = patient_search(user=receptionist, query="nguyen van an")
    assert _ids(results) == [people["an"].pk, people["anh"].pk]  # exact name ranked first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("NGUYEN", ["an", "anh"]),
        ("nguyen van", ["an", "anh"]),
        ("van an", ["an", "anh"]),
        ("Nguyễn Văn Anh", ["anh"]),
        ("  nguyen   anh ", ["anh"]),
        ("dang dao", ["dat"]),  # đ folds to d
        ("ĐẶNG", ["dat"]),
        ("thi dao", ["dat"]),
        ("guyen", []),  # words match from their start, not in the middle
        ("hoang", []),
    ],
)
def test_partial_and_case_insensitive_name_search(receptionist, people, query, expected):
    results = patient_search(user=receptionist, query=query)
    assert sorted(_ids(results)) == sorted(people[k].pk for k in expected)


def test_exact_identifier_searches(receptionist, people):
    an = people["an"]
    live = {i.system: i.value for i in an.identifiers.all()}
    mrn = live[IdentifierSystem.MRN]
    queries = {
        "cccd": live[IdentifierSystem.CCCD],
        "cccd spaced": " ".join([live[IdentifierSystem.CCCD][:3], live[IdentifierSystem.CCCD][3:]]),
        "card lower": live[IdentifierSystem.BHYT].lower(),
        "bhxh": live[IdentifierSystem.SOCIAL_INSURANCE],
        "phone": "0905 123 456",
        "phone +84": "+84905123456",
        "record number": mrn,
        "record serial": str(int(mrn.split("-")[1])),
    }
    for label, query in queries.items():
        assert _ids(patient_search(user=receptionist, query=query)) == [an.pk], label


def test_search_never_returns_invisible_patients(receptionist, people):
    hidden = people["hidden"]
    cccd = unique_cccd()
    hidden.identifiers.create(system=IdentifierSystem.CCCD, value=cccd)
    assert patient_search(user=receptionist, query=cccd) == []
    assert hidden.pk not in _ids(patient_search(user=receptionist, query="Nguyễn Văn An"))


def test_search_audits_one_entry_per_patient_returned_without_the_query(receptionist, people):
    results = patient_search(user=receptionist, query="nguyen van")
    events = AuditEvent.objects.filter(action="patient.search")
    assert sorted(e.patient_id for e in events) == sorted(_ids(results))
    assert all("nguyen" not in str(e.detail) for e in events)


def test_search_sql_uses_the_trigram_index(receptionist, people):
    # given the planner cannot pick a sequential scan
    kind, sql, params = patient_search_sql(user=receptionist, query="nguyen van an")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert kind == "name"
    assert "patient_name_unaccent_trgm" in plan


def test_search_sql_uses_the_unique_identifier_index(receptionist, people):
    cccd = people["an"].identifiers.get(system=IdentifierSystem.CCCD).value
    kind, sql, params = patient_search_sql(user=receptionist, query=cccd)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert kind == "cccd"
    assert "identifier_city_unique" in plan


# --- other reads ---------------------------------------------------------------------------


def test_find_by_identifier_is_city_wide_and_follows_merges(unit_admin, facility, other_facility):
    # given a patient of another facility known by CCCD
    cccd = unique_cccd()
    elsewhere = make_patient(other_facility, identifiers={IdentifierSystem.CCCD: cccd})
    # then reception finds them by the exact identifier, audited when an actor is given
    assert patient_find_by_identifier(system="cccd", value=cccd, actor=unit_admin) == elsewhere
    assert AuditEvent.objects.filter(
        action="patient.find_by_identifier", patient_id=elsewhere.pk
    ).exists()
    assert patient_find_by_identifier(system="cccd", value=unique_cccd()) is None
    assert patient_find_by_identifier(system="name", value=cccd) is None


def test_patient_similar_ranks_candidates(facility):
    same = make_patient(
        facility, full_name="Nguyễn Văn An", sex=Sex.MALE, birth_date=date(1985, 5, 12)
    )
    make_patient(facility, full_name="Lê Thị Hồng", sex=Sex.FEMALE, birth_date=date(1985, 5, 12))
    candidates = patient_similar(data=patient_input(full_name="nguyen van an"))
    assert [c.patient.pk for c in candidates] == [same.pk]
    assert candidates[0].score == Decimal("0.800")
    assert patient_similar(data=patient_input(), exclude_id=same.pk) == []


def test_summary_lists_identifiers_record_numbers_shares_and_is_audited(
    doctor, facility, other_facility
):
    patient = make_patient(facility, identifiers={IdentifierSystem.CCCD: unique_cccd()})
    patient_share_with_facility(
        actor=doctor,
        facility=facility,
        patient=patient,
        target_facility=other_facility,
        reason="Chuyển viện",
    )
    summary = patient_summary(user=doctor, pk=patient.pk)
    assert summary.patient == patient
    assert [i.system for i in summary.identifiers] == [IdentifierSystem.CCCD]
    assert [r.facility for r in summary.record_numbers] == [facility]
    assert summary.shared_with == [other_facility]
    assert summary.own_facility_ids == [facility.pk]
    assert AuditEvent.objects.filter(action="patient.view_summary", patient_id=patient.pk).exists()
