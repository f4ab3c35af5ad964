"""The inpatient stay: admission, beds, transfers with history, notes, orders, discharge."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import AuditEvent
from patients.clinical.common import EncounterLocked, local_today
from patients.clinical.examination import PrescriptionItemInput, VitalsInput
from patients.clinical.inpatient import (
    admission_create,
    admission_discharge,
    bed_assign,
    consultation_add,
    daily_drug_add,
    daily_order_create,
    nursing_observation_record,
    progress_note_add,
    progress_note_update,
    transfer_create,
)
from patients.clinical_choices import (
    ArrivalMode,
    DischargeType,
    EncounterKind,
    EncounterStatus,
    TreatmentResult,
)
from patients.models import (
    BedOccupancy,
    Diagnosis,
    Encounter,
    Prescription,
    ProgressNote,
    ServiceOrder,
    Transfer,
    VitalSigns,
)
from tests.clinical.factories import make_drug, make_encounter, make_service
from tests.clinical.inpatient_factories import (
    doctor_at,
    icd_codes,
    make_department_with_beds,
    make_visit_concluded_admit,
    nurse_at,
)
from tests.patients.factories import make_patient, unique_card

VN = ZoneInfo("Asia/Ho_Chi_Minh")
pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(facility):
    return make_department_with_beds(facility, beds=3)


@pytest.fixture
def nurse(facility):
    return nurse_at(facility)


@pytest.fixture
def codes(db):
    icd_codes()


def admit_emergency(actor, facility, department, bed=None, *, patient=None, admitted_at=None):
    return admission_create(
        actor=actor,
        facility=facility,
        patient=patient or make_patient(facility),
        department_id=department.pk,
        bed_id=bed.pk if bed else None,
        source="emergency",
        reason="Khó thở",
        admitted_at=admitted_at,
    )


def discharge_args(stay, **overrides):
    values = {
        "expected_version": stay.version,
        "discharged_at": timezone.now(),
        "main_code": "I20.0",
        "secondary_codes": ["I10"],
        "treatment_result": TreatmentResult.IMPROVED,
        "discharge_type": DischargeType.DISCHARGED,
        "treatment_summary": "Điều trị nội khoa, ổn định.",
    }
    values.update(overrides)
    return values


# --- admission ---------------------------------------------------------------------------------


def test_admission_from_a_visit_concluded_admit_opens_a_stay_in_the_bed(facility, nurse, ward):
    # given a visit concluded 'admit' with a card and a free bed
    department, _ward, beds = ward
    card = unique_card()
    visit = make_visit_concluded_admit(facility)
    Encounter.objects.filter(pk=visit.pk).update(
        insurance_card_code=card, registered_facility_code="48001", card_check_status="unchecked"
    )
    # when the nurse admits the patient
    stay = admission_create(
        actor=nurse,
        facility=facility,
        patient=visit.patient,
        department_id=department.pk,
        bed_id=beds[0].pk,
        source="outpatient",
        from_encounter=visit,
        reason="Theo dõi đau ngực",
    )
    # then an inpatient stay (MA_LOAI_KCB 03) is open, linked to the visit, with the card
    stay.refresh_from_db()
    assert stay.kind == EncounterKind.INPATIENT
    assert stay.visit_type == "03"
    assert stay.status == EncounterStatus.ADMITTED
    assert stay.parent_id == visit.pk
    assert stay.department_id == department.pk
    assert stay.admitted_at == stay.started_at
    assert stay.insurance_card_code == card
    assert stay.registered_facility_code == "48001"
    # and the bed holds the patient for this stay
    occupancy = BedOccupancy.objects.get(bed=beds[0], ended_at__isnull=True)
    assert (occupancy.patient_id, occupancy.encounter_id) == (visit.patient_id, stay.pk)
    assert occupancy.started_at == stay.admitted_at


def test_a_visit_not_concluded_admit_cannot_be_admitted_from(facility, nurse, ward):
    # given a visit still in examination
    department, _ward, beds = ward
    visit = make_encounter(facility=facility, status=EncounterStatus.IN_EXAMINATION)
    # when
    with pytest.raises(ValidationError) as exc:
        admission_create(
            actor=nurse,
            facility=facility,
            patient=visit.patient,
            department_id=department.pk,
            bed_id=beds[0].pk,
            source="outpatient",
            from_encounter=visit,
            reason="Theo dõi",
        )
    # then the message is at the field and nothing was written
    assert "from_encounter_id" in exc.value.message_dict
    assert not Encounter.objects.filter(kind=EncounterKind.INPATIENT).exists()
    assert not BedOccupancy.objects.exists()


def test_one_visit_is_admitted_once(facility, nurse, ward):
    # given a visit already admitted from
    department, _ward, _beds = ward
    visit = make_visit_concluded_admit(facility)
    kwargs = {
        "actor": nurse,
        "facility": facility,
        "patient": visit.patient,
        "department_id": department.pk,
        "source": "outpatient",
        "from_encounter": visit,
        "reason": "Theo dõi",
    }
    first = admission_create(**kwargs)
    # when admitted again
    with pytest.raises(ValidationError) as exc:
        admission_create(**kwargs)
    # then refused, naming the open stay by id
    assert str(first.pk) in exc.value.message_dict["from_encounter_id"][0]
    assert Encounter.objects.filter(parent=visit).count() == 1


def test_emergency_admission_needs_no_card_and_may_wait_for_a_bed(facility, nurse, ward):
    # given a patient brought in by ambulance
    department, _ward, beds = ward
    # when admitted without a bed, then given one
    stay = admit_emergency(nurse, facility, department)
    occupancy = bed_assign(actor=nurse, facility=facility, encounter=stay, bed_id=beds[1].pk)
    # then
    stay.refresh_from_db()
    assert stay.arrival_mode == ArrivalMode.EMERGENCY
    assert stay.insurance_card_code == ""
    assert occupancy.bed_id == beds[1].pk and occupancy.encounter_id == stay.pk
    assert not Transfer.objects.filter(encounter=stay).exists()  # a first bed is not a move


def test_transfer_in_needs_the_sending_facility_and_the_paper(facility, nurse, ward):
    # given a patient sent from another hospital, without the paper
    department, _ward, _beds = ward
    patient = make_patient(facility)
    # when
    with pytest.raises(ValidationError) as exc:
        admission_create(
            actor=nurse,
            facility=facility,
            patient=patient,
            department_id=department.pk,
            source="transfer_in",
            reason="Chuyển tuyến",
        )
    # then both are asked for, and nothing was written
    assert {"referral_from_code", "referral_paper_number"} <= set(exc.value.message_dict)
    assert not Encounter.objects.exists()
    # when given
    stay = admission_create(
        actor=nurse,
        facility=facility,
        patient=patient,
        department_id=department.pk,
        source="transfer_in",
        referral_from_code="48002",
        referral_paper_number="CT-123/2026",
        reason="Chuyển tuyến",
    )
    # then the route is recorded for the claim (MA_NOI_DI, GIAY_CHUYEN_TUYEN)
    assert stay.arrival_mode == ArrivalMode.TRANSFER_IN
    assert (stay.referral_from_code, stay.referral_paper_number) == ("48002", "CT-123/2026")


def test_an_occupied_bed_is_refused_at_the_field_and_nothing_is_written(facility, nurse, ward):
    # given a bed with a patient
    department, _ward, beds = ward
    admit_emergency(nurse, facility, department, beds[0])
    encounters_before = Encounter.objects.count()
    audits_before = AuditEvent.objects.filter(action="admission.create").count()
    # when another patient is admitted into it
    with pytest.raises(ValidationError) as exc:
        admit_emergency(nurse, facility, department, beds[0])
    # then a Vietnamese message on bed_id; no stay, no audit row, one patient in the bed
    assert exc.value.message_dict["bed_id"] == [
        f"Giường {beds[0].code} đã có người bệnh. Vui lòng chọn giường khác."
    ]
    assert Encounter.objects.count() == encounters_before
    assert AuditEvent.objects.filter(action="admission.create").count() == audits_before
    assert BedOccupancy.objects.filter(bed=beds[0], ended_at__isnull=True).count() == 1


def test_a_bed_of_another_department_is_refused(facility, nurse, ward):
    # given a bed of another department
    department, _ward, _beds = ward
    _other_dept, _w, other_beds = make_department_with_beds(facility, beds=1)
    # when / then
    with pytest.raises(ValidationError) as exc:
        admit_emergency(nurse, facility, department, other_beds[0])
    assert "bed_id" in exc.value.message_dict
    assert not Encounter.objects.exists()


def test_a_patient_already_admitted_here_is_not_admitted_twice(facility, nurse, ward):
    # given an admitted patient
    department, _ward, _beds = ward
    patient = make_patient(facility)
    stay = admit_emergency(nurse, facility, department, patient=patient)
    # when / then
    with pytest.raises(ValidationError) as exc:
        admit_emergency(nurse, facility, department, patient=patient)
    assert str(stay.pk) in exc.value.message_dict["patient_id"][0]


def test_an_admission_time_in_the_future_is_refused(facility, nurse, ward):
    department, _ward, _beds = ward
    with pytest.raises(ValidationError) as exc:
        admit_emergency(
            nurse, facility, department, admitted_at=timezone.now() + timedelta(hours=2)
        )
    assert "admitted_at" in exc.value.message_dict


def test_admission_diagnoses_are_set_by_a_doctor(facility, doctor, ward, codes):
    # given
    department, _ward, _beds = ward
    # when a doctor admits with an admission diagnosis
    stay = admission_create(
        actor=doctor,
        facility=facility,
        patient=make_patient(facility),
        department_id=department.pk,
        source="emergency",
        reason="Đau ngực",
        admission_main_code="I20.0",
        admission_secondary_codes=["I10"],
    )
    # then they are recorded in the admission phase, main first
    rows = Diagnosis.objects.filter(encounter=stay, phase="admission", voided_at__isnull=True)
    assert [(d.rank, d.icd_code) for d in rows.order_by("rank")] == [(0, "I20.0"), (1, "I10")]


# --- transfers and beds ------------------------------------------------------------------------


def test_a_transfer_keeps_history_and_hands_over_the_bed_at_one_instant(facility, nurse, ward):
    # given a patient in bed 0 of the first department
    department, _ward, beds = ward
    surgery, _w, surgery_beds = make_department_with_beds(facility, beds=2)
    stay = admit_emergency(nurse, facility, department, beds[0])
    # when moved to surgery, then to another bed there
    first = transfer_create(
        actor=nurse,
        facility=facility,
        encounter=stay,
        to_department_id=surgery.pk,
        to_bed_id=surgery_beds[0].pk,
        reason="Chuyển mổ",
    )
    second = bed_assign(
        actor=nurse,
        facility=facility,
        encounter=stay,
        bed_id=surgery_beds[1].pk,
        reason="Giường gần phòng điều dưỡng",
    )
    # then both moves are in the history, with who, when, why
    moves = list(Transfer.objects.filter(encounter=stay).order_by("moved_at", "id"))
    assert [(m.from_department_id, m.to_department_id) for m in moves] == [
        (department.pk, surgery.pk),
        (surgery.pk, surgery.pk),
    ]
    assert [(m.from_bed_id, m.to_bed_id) for m in moves] == [
        (beds[0].pk, surgery_beds[0].pk),
        (surgery_beds[0].pk, surgery_beds[1].pk),
    ]
    assert moves[0].moved_by == nurse and moves[0].reason == "Chuyển mổ"
    # and each old occupancy ended at the instant the next one started
    stays = list(BedOccupancy.objects.filter(encounter=stay).order_by("started_at", "id"))
    assert [o.bed_id for o in stays] == [beds[0].pk, surgery_beds[0].pk, surgery_beds[1].pk]
    assert stays[0].ended_at == stays[1].started_at == first.moved_at
    assert stays[1].ended_at == stays[2].started_at == second.started_at
    assert stays[2].ended_at is None
    stay.refresh_from_db()
    assert stay.department_id == surgery.pk


def test_a_transfer_into_an_occupied_bed_changes_nothing(facility, nurse, ward):
    # given two patients in beds 0 and 1
    department, _ward, beds = ward
    stay = admit_emergency(nurse, facility, department, beds[0])
    admit_emergency(nurse, facility, department, beds[1])
    # when the first is moved into bed 1
    with pytest.raises(ValidationError) as exc:
        transfer_create(
            actor=nurse,
            facility=facility,
            encounter=stay,
            to_department_id=department.pk,
            to_bed_id=beds[1].pk,
            reason="Đổi giường",
        )
    # then refused at the field; the first patient is still in bed 0, no history row
    assert "to_bed_id" in exc.value.message_dict
    assert BedOccupancy.objects.get(encounter=stay, ended_at__isnull=True).bed_id == beds[0].pk
    assert not Transfer.objects.filter(encounter=stay).exists()


def test_a_transfer_needs_a_reason_and_a_real_move(facility, nurse, ward):
    department, _ward, beds = ward
    stay = admit_emergency(nurse, facility, department, beds[0])
    with pytest.raises(ValidationError) as exc:
        transfer_create(
            actor=nurse,
            facility=facility,
            encounter=stay,
            to_department_id=department.pk,
            to_bed_id=beds[0].pk,
            reason="",
        )
    assert {"reason", "to_bed_id"} <= set(exc.value.message_dict)


# --- notes, consultations, orders, observations ------------------------------------------------


def test_a_stale_edit_of_a_progress_note_is_refused_and_overwrites_nothing(
    facility, doctor, nurse, ward
):
    # given a note read by two doctors at version 1
    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    colleague = doctor_at(facility)
    note = progress_note_add(
        actor=doctor, facility=facility, encounter=stay, clinical_course="Tỉnh, sốt nhẹ."
    )
    # when the colleague saves first, then the doctor saves on the old version
    progress_note_update(
        actor=colleague,
        facility=facility,
        note=note,
        expected_version=1,
        clinical_course="Tỉnh, hết sốt.",
    )
    with pytest.raises(ConcurrentEditError):
        progress_note_update(
            actor=doctor,
            facility=facility,
            note=note,
            expected_version=1,
            clinical_course="Tỉnh, sốt 38 độ.",
        )
    # then the colleague's text stands
    note.refresh_from_db()
    assert (note.clinical_course, note.version) == ("Tỉnh, hết sốt.", 2)


def test_a_progress_note_needs_a_clinical_course_and_a_time_within_the_stay(
    facility, doctor, nurse, ward
):
    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    with pytest.raises(ValidationError) as exc:
        progress_note_add(
            actor=doctor,
            facility=facility,
            encounter=stay,
            clinical_course="  ",
            noted_at=stay.admitted_at - timedelta(hours=1),
        )
    assert {"clinical_course", "noted_at"} <= set(exc.value.message_dict)
    assert not ProgressNote.objects.exists()


def test_a_consultation_is_recorded_with_its_conclusion(facility, doctor, nurse, ward):
    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    with pytest.raises(ValidationError) as exc:
        consultation_add(
            actor=doctor,
            facility=facility,
            encounter=stay,
            participants="BS A, BS B",
            conclusion="",
        )
    assert "conclusion" in exc.value.message_dict
    consultation = consultation_add(
        actor=doctor,
        facility=facility,
        encounter=stay,
        participants="BS A, BS B",
        reason="Sốt kéo dài",
        conclusion="Chuyển kháng sinh.",
    )
    assert consultation.encounter_id == stay.pk and consultation.requested_by == doctor


def test_daily_orders_and_drugs_are_written_for_a_day_of_the_stay(facility, doctor, nurse, ward):
    # given an admitted patient, a lab service and a drug
    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    service, drug = make_service(), make_drug()
    today = local_today()
    # when the doctor orders today's test and drug
    order = daily_order_create(
        actor=doctor, facility=facility, encounter=stay, service_id=service.pk, for_day=today
    )
    item = daily_drug_add(
        actor=doctor,
        facility=facility,
        encounter=stay,
        for_day=today,
        data=PrescriptionItemInput(
            drug_id=drug.pk,
            dose="1",
            dose_unit="viên",
            route="Uống",
            times_per_day=2,
            days=1,
            quantity=2,
        ),
    )
    # then both carry the day (NGAY_YL of the claim)
    assert ServiceOrder.objects.get(pk=order.pk).for_day == today
    assert Prescription.objects.get(pk=item.prescription_id).for_day == today
    # and a day before the admission is refused
    with pytest.raises(ValidationError) as exc:
        daily_order_create(
            actor=doctor,
            facility=facility,
            encounter=stay,
            service_id=service.pk,
            for_day=today - timedelta(days=3),
        )
    assert "for_day" in exc.value.message_dict


def test_nursing_observations_chart_vitals_over_the_stay(facility, nurse, ward):
    department, _ward, _beds = ward
    stay = admit_emergency(
        nurse, facility, department, admitted_at=timezone.now() - timedelta(hours=6)
    )
    for hours_ago, temperature in ((4, "38.5"), (1, "37.2")):
        nursing_observation_record(
            actor=nurse,
            facility=facility,
            encounter=stay,
            data=VitalsInput(
                pulse=90,
                systolic=120,
                diastolic=80,
                temperature=temperature,
                respiratory_rate=18,
                spo2=97,
                height_cm=None,
                weight_kg=None,
                recorded_at=timezone.now() - timedelta(hours=hours_ago),
            ),
        )
    chart = VitalSigns.objects.filter(encounter=stay).order_by("recorded_at")
    assert [str(v.temperature) for v in chart] == ["38.5", "37.2"]


# --- discharge ---------------------------------------------------------------------------------


def test_discharge_records_the_outcome_frees_the_bed_and_locks_the_stay(
    facility, doctor, nurse, ward, codes
):
    # given a patient admitted at 23:00 on 10 March 2026 (Vietnam) in bed 0
    department, _ward, beds = ward
    admitted = datetime(2026, 3, 10, 23, 0, tzinfo=VN)
    stay = admit_emergency(nurse, facility, department, beds[0], admitted_at=admitted)
    discharged = datetime(2026, 3, 14, 9, 30, tzinfo=VN)
    # when discharged on 14 March
    stay = admission_discharge(
        actor=doctor,
        facility=facility,
        encounter=stay,
        **discharge_args(
            stay,
            discharged_at=discharged,
            discharge_advice="Tái khám sau 1 tuần",
            follow_up_date=discharged.date() + timedelta(days=7),
        ),
    )
    # then outcome codes, days (14 − 10 + 1), end time, lock
    stay.refresh_from_db()
    assert stay.status == EncounterStatus.DISCHARGED and stay.is_locked
    assert (stay.treatment_result, stay.discharge_type) == ("2", "1")
    assert stay.treatment_days == 5
    assert stay.ended_at == discharged
    assert stay.closed_by == doctor
    assert [
        (d.rank, d.icd_code)
        for d in Diagnosis.objects.filter(
            encounter=stay, phase="discharge", voided_at__isnull=True
        ).order_by("rank")
    ] == [(0, "I20.0"), (1, "I10")]
    # and the bed is free from the discharge instant
    occupancy = BedOccupancy.objects.get(encounter=stay)
    assert occupancy.ended_at == discharged
    assert not BedOccupancy.objects.filter(bed=beds[0], ended_at__isnull=True).exists()
    # and the locked stay takes no more notes
    with pytest.raises(EncounterLocked):
        progress_note_add(actor=doctor, facility=facility, encounter=stay, clinical_course="x")


def test_discharge_before_admission_is_refused_and_nothing_is_saved(
    facility, doctor, nurse, ward, codes
):
    # given an admitted patient in a bed
    department, _ward, beds = ward
    admitted = timezone.now() - timedelta(days=1)
    stay = admit_emergency(nurse, facility, department, beds[0], admitted_at=admitted)
    version = stay.version
    # when discharged an hour before the admission
    with pytest.raises(ValidationError) as exc:
        admission_discharge(
            actor=doctor,
            facility=facility,
            encounter=stay,
            **discharge_args(stay, discharged_at=admitted - timedelta(hours=1)),
        )
    # then the message is on discharged_at and the stay, its bed and diagnoses are unchanged
    assert "discharged_at" in exc.value.message_dict
    stay.refresh_from_db()
    assert (stay.status, stay.version, stay.ended_at) == (EncounterStatus.ADMITTED, version, None)
    assert BedOccupancy.objects.filter(encounter=stay, ended_at__isnull=True).count() == 1
    assert not Diagnosis.objects.filter(encounter=stay, phase="discharge").exists()
    assert not AuditEvent.objects.filter(action="encounter.discharge").exists()


def test_discharge_reports_every_bad_field_at_once(facility, doctor, nurse, ward, codes):
    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    with pytest.raises(ValidationError) as exc:
        admission_discharge(
            actor=doctor,
            facility=facility,
            encounter=stay,
            **discharge_args(
                stay,
                main_code="Z99.999",
                treatment_result="9",
                discharge_type=DischargeType.TRANSFERRED_MEDICAL,
                treatment_summary="",
            ),
        )
    assert {
        "main_code",
        "treatment_result",
        "treatment_summary",
        "transfer_to_code",
    } <= set(exc.value.message_dict)
    stay.refresh_from_db()
    assert stay.status == EncounterStatus.ADMITTED


def test_a_stale_discharge_is_refused(facility, doctor, nurse, ward, codes):
    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    with pytest.raises(ConcurrentEditError):
        admission_discharge(
            actor=doctor,
            facility=facility,
            encounter=stay,
            **discharge_args(stay, expected_version=stay.version - 1),
        )
    stay.refresh_from_db()
    assert stay.status == EncounterStatus.ADMITTED


def test_illegal_moves_of_the_state_machine_are_refused(facility, doctor, nurse, ward, codes):
    # given an outpatient visit in examination, and a discharged stay
    department, _ward, _beds = ward
    visit = make_encounter(facility=facility, status=EncounterStatus.IN_EXAMINATION)
    stay = admit_emergency(nurse, facility, department)
    stay = admission_discharge(
        actor=doctor, facility=facility, encounter=stay, **discharge_args(stay)
    )
    # when an outpatient visit is "discharged": a clear message on status
    with pytest.raises(ValidationError) as exc:
        admission_discharge(
            actor=doctor, facility=facility, encounter=visit, **discharge_args(visit)
        )
    assert "status" in exc.value.message_dict
    # when a discharged stay is discharged again: locked
    with pytest.raises(EncounterLocked):
        admission_discharge(actor=doctor, facility=facility, encounter=stay, **discharge_args(stay))


def test_a_stay_under_four_hours_is_claimed_as_visit_type_09_with_zero_days(
    facility, doctor, nurse, ward, codes
):
    department, _ward, _beds = ward
    admitted = timezone.now() - timedelta(hours=3)
    stay = admit_emergency(nurse, facility, department, admitted_at=admitted)
    stay = admission_discharge(
        actor=doctor, facility=facility, encounter=stay, **discharge_args(stay)
    )
    stay.refresh_from_db()
    assert (stay.visit_type, stay.treatment_days) == ("09", 0)


def test_discharge_just_after_midnight_vietnam_time_counts_two_days(
    facility, doctor, nurse, ward, codes
):
    # given the clock frozen at 00:30 on 2 March 2026 in Vietnam (17:30 UTC on 1 March)
    department, _ward, _beds = ward
    frozen = datetime(2026, 3, 2, 0, 30, tzinfo=VN)
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        # and a patient admitted at 19:00 on 1 March
        stay = admit_emergency(
            nurse, facility, department, admitted_at=datetime(2026, 3, 1, 19, 0, tzinfo=VN)
        )
        # when discharged "now" (the default of the form)
        stay = admission_discharge(
            actor=doctor, facility=facility, encounter=stay, **discharge_args(stay)
        )
    # then two calendar days in Vietnam, although one day in UTC
    stay.refresh_from_db()
    assert stay.ended_at == frozen
    assert (stay.visit_type, stay.treatment_days) == ("03", 2)


def test_a_transfer_discharge_needs_the_destination_and_shares_the_patient(
    facility, other_facility, doctor, nurse, ward, codes
):
    # given a patient of this facility to be sent to another facility on the platform
    from patients.selectors import patient_visible_qs
    from tests.core.factories import make_staff

    department, _ward, _beds = ward
    stay = admit_emergency(nurse, facility, department)
    colleague_there = make_staff(other_facility, "doctor")
    assert not patient_visible_qs(user=colleague_there).filter(pk=stay.patient_id).exists()
    # when discharged as a transfer for medical reasons
    stay = admission_discharge(
        actor=doctor,
        facility=facility,
        encounter=stay,
        **discharge_args(
            stay,
            discharge_type=DischargeType.TRANSFERRED_MEDICAL,
            transfer_to_code=other_facility.code,
            transfer_reason="Vượt khả năng chuyên môn",
        ),
    )
    # then the destination is recorded (MA_NOI_DEN) and its staff now see the patient
    assert stay.transfer_to_code == other_facility.code
    assert patient_visible_qs(user=colleague_there).filter(pk=stay.patient_id).exists()


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_stay_of_one_patient_at_a_facility():
    # given a patient with an open stay at a facility, written straight to the database
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from patients.clinical_choices import ArrivalMode, EncounterKind, EncounterStatus, VisitType
    from patients.models import Encounter
    from tests.core.factories import FacilityFactory
    from tests.patients.factories import make_patient

    facility = FacilityFactory()
    patient = make_patient(facility)
    fields = {
        "patient": patient,
        "facility": facility,
        "kind": EncounterKind.INPATIENT,
        "visit_type": VisitType.INPATIENT,
        "status": EncounterStatus.ADMITTED,
        "arrival_mode": ArrivalMode.EMERGENCY,
        "started_at": timezone.now(),
    }
    Encounter.objects.create(**fields)
    # when a second open stay is written, bypassing the service's check
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Encounter.objects.create(**fields)
