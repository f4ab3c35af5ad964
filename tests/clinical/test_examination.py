"""Examination: section saves without lost work, vitals, diagnoses, conclusion, locking, addenda."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import Role
from patients.clinical.common import EncounterLocked, local_today
from patients.clinical.examination import (
    VitalsInput,
    addendum_add,
    diagnosis_set,
    encounter_conclude,
    encounter_update_notes,
    vitals_record,
)
from patients.clinical_choices import EncounterStatus, QueueStatus
from patients.models import Addendum, Diagnosis, VitalSigns
from tests.clinical.factories import (
    make_encounter,
    make_icd,
    make_room,
    make_visit_in_examination,
    start_examination,
)
from tests.core.factories import FacilityFactory


@pytest.fixture
def visit(facility, doctor):
    return make_visit_in_examination(facility, doctor)


@pytest.fixture
def icd(db):
    return {
        code: make_icd(code, name)
        for code, name in [
            ("J06.9", "Nhiễm trùng đường hô hấp trên cấp"),
            ("I10", "Tăng huyết áp vô căn"),
            ("E11.9", "Đái tháo đường typ 2"),
        ]
    }


def test_taking_a_patient_from_the_queue_starts_the_examination(facility, doctor):
    # given
    encounter = make_encounter(facility=facility, room=make_room(facility), with_ticket=True)
    # when
    encounter = start_examination(encounter, doctor, facility)
    # then
    encounter.refresh_from_db()
    assert encounter.status == EncounterStatus.IN_EXAMINATION
    assert encounter.attending == doctor
    assert encounter.version == 2
    assert encounter.queue_ticket.status == QueueStatus.CALLED
    assert encounter.queue_ticket.called_at is not None


def test_a_section_save_bumps_the_version(facility, doctor, visit):
    # when
    saved = encounter_update_notes(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        history="Ho khan 3 ngày",
    )
    # then
    saved.refresh_from_db()
    assert saved.history == "Ho khan 3 ngày"
    assert saved.version == visit.version + 1


def test_two_people_saving_different_sections_both_keep_their_work(
    facility, doctor, staff_factory, visit
):
    # given both opened the visit at the same version
    colleague = staff_factory(facility, Role.DOCTOR)
    loaded = visit.version
    # when one saves the history and the other the findings, from the same version
    encounter_update_notes(
        actor=doctor, facility=facility, encounter=visit, expected_version=loaded, history="Sốt"
    )
    encounter_update_notes(
        actor=colleague,
        facility=facility,
        encounter=visit,
        expected_version=loaded,
        examination_findings="Họng đỏ",
    )
    # then
    visit.refresh_from_db()
    assert (visit.history, visit.examination_findings) == ("Sốt", "Họng đỏ")
    assert visit.version == loaded + 2


def test_a_stale_save_of_the_same_section_is_refused_and_nothing_is_overwritten(
    facility, doctor, staff_factory, visit
):
    # given
    colleague = staff_factory(facility, Role.DOCTOR)
    loaded = visit.version
    encounter_update_notes(
        actor=doctor, facility=facility, encounter=visit, expected_version=loaded, history="A"
    )
    # when / then
    with pytest.raises(ConcurrentEditError) as exc:
        encounter_update_notes(
            actor=colleague,
            facility=facility,
            encounter=visit,
            expected_version=loaded,
            history="B",
        )
    assert "người khác cập nhật" in str(exc.value)
    visit.refresh_from_db()
    assert visit.history == "A"


def test_a_future_or_garbage_version_is_refused(facility, doctor, visit):
    for bad in (visit.version + 5, None, "abc"):
        with pytest.raises(ConcurrentEditError):
            encounter_update_notes(
                actor=doctor, facility=facility, encounter=visit, expected_version=bad, reason="x"
            )


# --- Vitals ------------------------------------------------------------------------------


def test_vitals_are_recorded_and_bmi_computed(facility, doctor, visit):
    # when
    vitals = vitals_record(
        actor=doctor,
        facility=facility,
        encounter=visit,
        data=VitalsInput(
            pulse="82",
            systolic=120,
            diastolic=80,
            temperature="37,5",
            respiratory_rate=18,
            spo2=98,
            height_cm="170",
            weight_kg="65",
        ),
    )
    # then
    vitals.refresh_from_db()
    assert vitals.temperature == Decimal("37.5")
    assert vitals.bmi == Decimal("22.5")
    assert vitals.recorded_by == doctor


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"temperature": 80}, "temperature", "Nhiệt độ phải từ 25 đến 45"),
        ({"spo2": 140}, "spo2", "SpO2 phải từ 30 đến 100"),
        ({"pulse": 0}, "pulse", "Mạch"),
        ({"systolic": 70, "diastolic": 90}, "diastolic", "thấp hơn huyết áp tâm thu"),
        ({"weight_kg": "nặng"}, "weight_kg", "Nhập một số"),
        ({"pulse": "80.5"}, "pulse", "số nguyên"),
        ({}, "__all__", "ít nhất một"),
    ],
)
def test_impossible_vitals_are_field_errors_and_nothing_is_saved(
    facility, doctor, visit, values, field, words
):
    # when
    with pytest.raises(ValidationError) as exc:
        vitals_record(actor=doctor, facility=facility, encounter=visit, data=VitalsInput(**values))
    # then
    assert words in " ".join(exc.value.message_dict[field])
    assert not VitalSigns.objects.exists()


def test_vitals_in_the_future_are_refused(facility, doctor, visit):
    from django.utils import timezone

    with pytest.raises(ValidationError) as exc:
        vitals_record(
            actor=doctor,
            facility=facility,
            encounter=visit,
            data=VitalsInput(pulse=80, recorded_at=timezone.now() + timedelta(hours=2)),
        )
    assert "recorded_at" in exc.value.message_dict


# --- Diagnoses ---------------------------------------------------------------------------


def test_diagnoses_are_set_main_first_from_the_catalog(facility, doctor, visit, icd):
    # when
    rows = diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="j069",
        secondary_codes=["I10", "E11.9"],
        expected_version=visit.version,
    )
    # then
    assert [(d.rank, d.icd_code) for d in rows] == [(0, "J06.9"), (1, "I10"), (2, "E11.9")]
    assert rows[0].text == "Nhiễm trùng đường hô hấp trên cấp"


def test_setting_diagnoses_again_voids_the_previous_set_and_keeps_it(facility, doctor, visit, icd):
    # given
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="J06.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    # when
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="I10",
        secondary_codes=["J06.9"],
        expected_version=visit.version,
    )
    # then
    live = Diagnosis.objects.filter(encounter=visit, voided_at__isnull=True).order_by("rank")
    assert [d.icd_code for d in live] == ["I10", "J06.9"]
    assert Diagnosis.objects.filter(encounter=visit, voided_at__isnull=False).count() == 1


@pytest.mark.parametrize(
    ("main", "secondary", "field", "words"),
    [
        ("Z99.99", [], "main_code", "không có trong danh mục"),
        ("", [], "main_code", "mã bệnh chính"),
        ("A99.1", [], "main_code", "không còn hiệu lực"),
        ("J06.9", ["I10", "I10"], "secondary_codes", "trùng"),
        ("J06.9", ["J06.9"], "secondary_codes", "trùng"),
        ("J06.9", ["NOPE"], "secondary_codes", "không có trong danh mục"),
        ("J06", [], "main_code", "chi tiết hơn"),
    ],
)
def test_bad_diagnoses_are_field_errors_and_change_nothing(
    facility, doctor, visit, icd, main, secondary, field, words
):
    # given a code retired before the visit, and a non-billable category
    make_icd("A99.1", "Mã cũ", valid_from=date(2000, 1, 1), valid_to=date(2010, 1, 1))
    make_icd("J06", "Nhiễm trùng hô hấp trên cấp (nhóm)", billable=False)
    # when
    with pytest.raises(ValidationError) as exc:
        diagnosis_set(
            actor=doctor,
            facility=facility,
            encounter=visit,
            main_code=main,
            secondary_codes=secondary,
            expected_version=visit.version,
        )
    # then
    assert words in " ".join(exc.value.message_dict[field])
    assert not Diagnosis.objects.exists()


def test_more_than_12_secondary_diagnoses_are_refused(facility, doctor, visit, icd):
    # given 13 valid codes
    codes = [make_icd(f"A{n:02d}.0", f"Bệnh {n}").code for n in range(13)]
    # when / then
    with pytest.raises(ValidationError) as exc:
        diagnosis_set(
            actor=doctor,
            facility=facility,
            encounter=visit,
            main_code="J06.9",
            secondary_codes=codes,
            expected_version=visit.version,
        )
    assert "Tối đa 12" in exc.value.message_dict["secondary_codes"][0]
    # and 12 are accepted
    rows = diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="J06.9",
        secondary_codes=codes[:12],
        expected_version=visit.version,
    )
    assert len(rows) == 13


def test_diagnoses_and_notes_saved_from_the_same_version_do_not_conflict(
    facility, doctor, visit, icd
):
    # given
    loaded = visit.version
    encounter_update_notes(
        actor=doctor, facility=facility, encounter=visit, expected_version=loaded, reason="Sốt"
    )
    # when
    rows = diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="J06.9",
        secondary_codes=[],
        expected_version=loaded,
    )
    # then
    assert rows[0].icd_code == "J06.9"


# --- Conclusion, lock, addenda -----------------------------------------------------------


def _diagnose(visit, doctor, facility):
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="J06.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    return visit


def test_conclusion_needs_a_main_diagnosis(facility, doctor, visit, icd):
    with pytest.raises(ValidationError) as exc:
        encounter_conclude(
            actor=doctor,
            facility=facility,
            encounter=visit,
            expected_version=visit.version,
            conclusion="home",
        )
    assert "chẩn đoán bệnh chính" in exc.value.message_dict["main_code"][0]


def test_follow_up_needs_a_future_date(facility, doctor, visit, icd):
    visit = _diagnose(visit, doctor, facility)
    with pytest.raises(ValidationError) as exc:
        encounter_conclude(
            actor=doctor,
            facility=facility,
            encounter=visit,
            expected_version=visit.version,
            conclusion="follow_up",
            follow_up_date=local_today(),
        )
    assert "follow_up_date" in exc.value.message_dict


def test_transfer_needs_destination_and_reason(facility, doctor, visit, icd):
    visit = _diagnose(visit, doctor, facility)
    with pytest.raises(ValidationError) as exc:
        encounter_conclude(
            actor=doctor,
            facility=facility,
            encounter=visit,
            expected_version=visit.version,
            conclusion="transfer",
        )
    assert {"transfer_to_code", "transfer_reason"} <= set(exc.value.message_dict)


def test_concluding_home_locks_the_visit_with_end_time_and_zero_treatment_days(
    facility, doctor, visit, icd
):
    # given
    visit = _diagnose(visit, doctor, facility)
    # when
    concluded = encounter_conclude(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        conclusion="follow_up",
        follow_up_date=local_today() + timedelta(days=7),
        conclusion_note="Uống thuốc đủ ngày",
    )
    # then
    concluded.refresh_from_db()
    assert concluded.status == EncounterStatus.CONCLUDED and concluded.is_locked
    assert concluded.ended_at >= concluded.started_at
    assert concluded.treatment_days == 0
    assert concluded.closed_by == doctor
    assert concluded.queue_ticket.status == QueueStatus.DONE


def test_transfer_to_a_facility_on_the_platform_shares_the_chart(facility, doctor, visit, icd):
    # given
    from patients.selectors import patient_visible_qs
    from tests.core.factories import make_staff

    destination = FacilityFactory()
    visit = _diagnose(visit, doctor, facility)
    # when
    concluded = encounter_conclude(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        conclusion="transfer",
        transfer_to_code=destination.code,
        transfer_reason="Vượt khả năng chuyên môn",
    )
    # then a doctor at the destination now sees the patient
    there = make_staff(destination, Role.DOCTOR)
    assert patient_visible_qs(user=there).filter(pk=visit.patient_id).exists()
    assert concluded.transfer_paper_number  # issued when not typed


def test_a_concluded_visit_refuses_edits_and_takes_addenda_with_author_and_time(
    facility, doctor, visit, icd
):
    # given
    visit = _diagnose(visit, doctor, facility)
    encounter_update_notes(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        examination_findings="Họng đỏ",
    )
    visit.refresh_from_db()
    encounter_conclude(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        conclusion="home",
    )
    visit.refresh_from_db()
    # when an edit is attempted
    with pytest.raises(EncounterLocked):
        encounter_update_notes(
            actor=doctor,
            facility=facility,
            encounter=visit,
            expected_version=visit.version,
            examination_findings="Sửa lại",
        )
    with pytest.raises(EncounterLocked):
        vitals_record(actor=doctor, facility=facility, encounter=visit, data=VitalsInput(pulse=80))
    addendum = addendum_add(
        actor=doctor,
        facility=facility,
        encounter=visit,
        text="Bổ sung: họng đỏ, amidan sưng độ 2",
        section="examination_findings",
    )
    # then the original is unchanged and the addendum carries author and time
    visit.refresh_from_db()
    assert visit.examination_findings == "Họng đỏ"
    assert addendum.author == doctor and addendum.created_at is not None
    assert list(visit.addenda.values_list("text", flat=True)) == [
        "Bổ sung: họng đỏ, amidan sưng độ 2"
    ]


def test_an_addendum_on_an_open_visit_is_refused(facility, doctor, visit):
    with pytest.raises(ValidationError):
        addendum_add(actor=doctor, facility=facility, encounter=visit, text="x")
    assert not Addendum.objects.exists()


def test_a_nurse_cannot_add_an_addendum(facility, doctor, staff_factory, visit, icd):
    # given a concluded visit
    visit = _diagnose(visit, doctor, facility)
    encounter_conclude(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        conclusion="home",
    )
    nurse = staff_factory(facility, Role.NURSE)
    # when / then
    with pytest.raises(PermissionDenied):
        addendum_add(actor=nurse, facility=facility, encounter=visit, text="x")


def test_an_encounter_of_another_facility_is_404(facility, doctor, other_facility):
    # given
    foreign = make_encounter(facility=other_facility)
    # when / then
    with pytest.raises(Http404):
        encounter_update_notes(
            actor=doctor, facility=facility, encounter=foreign, expected_version=1, reason="x"
        )
