"""One diagnosis at a time (patients.clinical.diagnoses) and the arrival instant at reception:
the services a partner system (FHIR) writes through, with the examination's rules."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import AuditEvent, Role
from patients.clinical.common import EncounterLocked
from patients.clinical.diagnoses import diagnosis_add, diagnosis_void
from patients.clinical.examination import diagnosis_set, encounter_update_notes
from patients.clinical.reception import CheckInInput, encounter_check_in
from patients.clinical_choices import ArrivalMode, DiagnosisPhase, EncounterStatus
from patients.models import Diagnosis
from patients.validation import VN_TZ
from tests.clinical.factories import make_encounter, make_icd, make_room, make_visit_in_examination
from tests.core.factories import FacilityFactory, make_staff
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(facility, doctor):
    return make_visit_in_examination(facility, doctor)


@pytest.fixture
def icd(db):
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp")
    make_icd("I10", "Tăng huyết áp vô căn")
    make_icd("E11.9", "Đái tháo đường typ 2")
    make_icd("E11", "Đái tháo đường typ 2 (nhóm)", billable=False)


def _add(doctor, facility, visit, code, **kwargs) -> Diagnosis:
    return diagnosis_add(actor=doctor, facility=facility, encounter=visit, code=code, **kwargs)


def test_first_code_is_the_main_diagnosis_and_the_next_ones_secondary(facility, doctor, visit, icd):
    # when three codes are added one by one (the second typed without its dot)
    main = _add(doctor, facility, visit, "J06.9")
    second = _add(doctor, facility, visit, "i10")
    third = _add(doctor, facility, visit, "E11.9")
    # then they take the places in order, with the catalog's names; the rows before stay
    assert [(d.icd_code, d.rank) for d in (main, second, third)] == [
        ("J06.9", 0),
        ("I10", 1),
        ("E11.9", 2),
    ]
    assert second.text == "Tăng huyết áp vô căn"
    assert Diagnosis.objects.filter(encounter=visit, voided_at__isnull=True).count() == 3
    visit.refresh_from_db()
    assert visit.version == 5  # started (2) + three additions


def test_addition_is_audited_with_the_section_it_touched(facility, doctor, visit, icd):
    diagnosis = _add(doctor, facility, visit, "J06.9")
    event = AuditEvent.objects.get(action="diagnosis.add")
    assert event.patient_id == visit.patient_id and event.target_id == str(visit.pk)
    assert event.detail["fields"] == ["diagnoses:encounter"]
    assert event.detail["diagnosis_id"] == diagnosis.pk and event.detail["code"] == "J06.9"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [("Z99.99", "không có trong danh mục"), ("E11", "chi tiết hơn"), ("", "Cần nhập")],
)
def test_code_must_be_in_the_catalog_and_billable(facility, doctor, visit, icd, code, fragment):
    with pytest.raises(ValidationError) as caught:
        _add(doctor, facility, visit, code)
    assert fragment in caught.value.message_dict["code"][0]


def test_code_twice_in_a_phase_is_refused(facility, doctor, visit, icd):
    _add(doctor, facility, visit, "J06.9")
    with pytest.raises(ValidationError) as caught:
        _add(doctor, facility, visit, "J06.9", rank=3)
    assert "code" in caught.value.message_dict


def test_main_place_taken_and_secondary_place_taken_are_refused(facility, doctor, visit, icd):
    _add(doctor, facility, visit, "J06.9")
    _add(doctor, facility, visit, "I10", rank=4)
    for code, rank in (("E11.9", 0), ("E11.9", 4)):
        with pytest.raises(ValidationError) as caught:
            _add(doctor, facility, visit, code, rank=rank)
        assert "rank" in caught.value.message_dict
    assert _add(doctor, facility, visit, "E11.9").rank == 5  # next after the last


def test_the_same_code_may_be_in_another_phase(facility, doctor, icd):
    stay = make_encounter(facility=facility, kind="inpatient")
    _add(doctor, facility, stay, "I10", phase=DiagnosisPhase.ADMISSION)
    assert _add(doctor, facility, stay, "I10", phase=DiagnosisPhase.DISCHARGE).rank == 0


def test_a_nurse_may_record_the_admission_diagnosis_not_the_visits(facility, icd):
    nurse = make_staff(facility, Role.NURSE)
    stay = make_encounter(facility=facility, kind="inpatient")
    visit = make_encounter(facility=facility)
    assert _add(nurse, facility, stay, "I10", phase=DiagnosisPhase.ADMISSION).rank == 0
    with pytest.raises(PermissionDenied):
        _add(nurse, facility, visit, "I10")


def test_receptionist_may_not_diagnose(facility, receptionist, visit, icd):
    with pytest.raises(PermissionDenied):
        _add(receptionist, facility, visit, "J06.9")


def test_encounter_of_another_unit_is_not_found(facility, doctor, icd):
    elsewhere = make_encounter(facility=FacilityFactory())
    with pytest.raises(Http404):
        _add(doctor, facility, elsewhere, "J06.9")


def test_a_concluded_visit_is_locked(facility, doctor, icd):
    done = make_encounter(facility=facility, status=EncounterStatus.CONCLUDED)
    with pytest.raises(EncounterLocked):
        _add(doctor, facility, done, "J06.9")


def test_void_keeps_the_row_with_who_and_why(facility, doctor, visit, icd):
    diagnosis = _add(doctor, facility, visit, "J06.9")
    # when withdrawn
    voided = diagnosis_void(
        actor=doctor, facility=facility, diagnosis=diagnosis, reason="  Nhập nhầm mã  "
    )
    # then it is kept, voided, with the reason; the encounter version moved; audited
    voided.refresh_from_db()
    assert voided.voided_at is not None and voided.voided_by == doctor
    assert voided.void_reason == "Nhập nhầm mã"
    visit.refresh_from_db()
    assert visit.version == 4
    event = AuditEvent.objects.get(action="diagnosis.void")
    assert event.detail["diagnosis_id"] == diagnosis.pk and event.detail["fields"]
    # and the main place is free again
    assert _add(doctor, facility, visit, "I10").rank == 0


def test_void_again_changes_nothing(facility, doctor, visit, icd):
    diagnosis = _add(doctor, facility, visit, "J06.9")
    first = diagnosis_void(actor=doctor, facility=facility, diagnosis=diagnosis.pk, reason="Sai")
    again = diagnosis_void(actor=doctor, facility=facility, diagnosis=diagnosis.pk, reason="Khác")
    assert again.voided_at == first.voided_at and again.void_reason == "Sai"
    assert AuditEvent.objects.filter(action="diagnosis.void").count() == 1


def test_void_needs_a_reason_and_an_open_encounter(facility, doctor, visit, icd):
    diagnosis = _add(doctor, facility, visit, "J06.9")
    with pytest.raises(ValidationError) as caught:
        diagnosis_void(actor=doctor, facility=facility, diagnosis=diagnosis, reason=" ")
    assert "reason" in caught.value.message_dict
    visit.status = EncounterStatus.CONCLUDED
    visit.save(update_fields=["status"])
    with pytest.raises(EncounterLocked):
        diagnosis_void(actor=doctor, facility=facility, diagnosis=diagnosis, reason="Sai")


def test_a_diagnosis_form_opened_before_an_addition_is_stale_other_sections_merge(
    facility, doctor, visit, icd
):
    # given the doctor's form loaded at the current version
    loaded = visit.version
    # when a partner adds a diagnosis meanwhile
    _add(doctor, facility, visit, "J06.9")
    # then the old diagnosis form is refused (it would drop the new code) ...
    with pytest.raises(ConcurrentEditError):
        diagnosis_set(
            actor=doctor,
            facility=facility,
            encounter=visit,
            main_code="I10",
            secondary_codes=[],
            expected_version=loaded,
        )
    # ... while a save of another section still goes through
    saved = encounter_update_notes(
        actor=doctor, facility=facility, encounter=visit, expected_version=loaded, history="Ho"
    )
    assert saved.history == "Ho"


# --- the arrival instant at reception ---------------------------------------------------------


def _check_in(receptionist, facility, started_at):
    room = make_room(facility)
    patient = make_patient(facility)
    return encounter_check_in(
        actor=receptionist,
        facility=facility,
        data=CheckInInput(
            patient_id=patient.pk,
            room_id=room.pk,
            arrival_mode=ArrivalMode.SELF_REFERRED,
            started_at=started_at,
        ),
    )


def test_an_earlier_arrival_of_the_same_day_is_kept(facility, receptionist):
    now = timezone.now()
    midnight = datetime.combine(timezone.localdate(now, timezone=VN_TZ), time(0), tzinfo=VN_TZ)
    arrived = max(now - timedelta(minutes=30), midnight).replace(microsecond=0)
    encounter = _check_in(receptionist, facility, arrived)
    encounter.refresh_from_db()
    assert encounter.started_at == arrived
    assert encounter.queue_ticket.issued_at >= arrived


@pytest.mark.parametrize(
    ("shift", "fragment"),
    [(timedelta(hours=1), "tương lai"), (timedelta(days=-1), "trong ngày hôm nay")],
)
def test_an_arrival_in_the_future_or_another_day_is_refused(
    facility, receptionist, shift, fragment
):
    with pytest.raises(ValidationError) as caught:
        _check_in(receptionist, facility, timezone.now() + shift)
    assert fragment in caught.value.message_dict["started_at"][0]


def test_without_an_arrival_instant_the_visit_starts_now(facility, receptionist):
    before = timezone.now()
    encounter = _check_in(receptionist, facility, None)
    assert before <= encounter.started_at <= timezone.now()
