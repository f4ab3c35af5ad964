"""Every read and write of a stay leaves an audit entry in the same transaction, with ids and
codes only (no names, no card numbers)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ehealth.core.models import AuditEvent
from patients.clinical.examination import VitalsInput
from patients.clinical.inpatient import (
    admission_create,
    admission_discharge,
    bed_assign,
    consultation_add,
    nursing_observation_record,
    progress_note_add,
    progress_note_update,
    transfer_create,
)
from patients.clinical.ward_selectors import bed_board, stay_course
from patients.clinical_choices import DischargeType, TreatmentResult
from patients.models import BedOccupancy, Encounter
from tests.clinical.inpatient_factories import (
    doctor_at,
    icd_codes,
    make_department_with_beds,
    make_visit_concluded_admit,
    nurse_at,
)
from tests.patients.factories import unique_card

pytestmark = pytest.mark.django_db

NAME = "Hoàng Thị Diệu Linh"


def _events_since(mark: int, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=mark, action=action).order_by("pk"))


def _mark() -> int:
    last = AuditEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


def test_each_inpatient_read_and_write_is_audited_with_ids_only(facility):
    # given a visit concluded 'admit' of a named patient with a card, staff and beds
    icd_codes()
    nurse, doctor = nurse_at(facility), doctor_at(facility)
    department, _ward, beds = make_department_with_beds(facility, beds=2)
    surgery, _w, surgery_beds = make_department_with_beds(facility, beds=1)
    visit = make_visit_concluded_admit(facility, hours_ago=30)
    patient = visit.patient
    patient.full_name = NAME
    patient.save(update_fields=["full_name"])
    card = unique_card()
    steps = []

    # when the stay runs its whole course, each step checked for its audit row
    def step(action, actor, fn):
        mark = _mark()
        result = fn()
        events = _events_since(mark, action)
        assert events, f"no audit entry {action}"
        for event in events:
            assert event.actor_id == actor.pk
            assert event.patient_id == patient.pk
            text = json.dumps(event.detail, ensure_ascii=False)
            assert NAME not in text and card not in text
        steps.append(action)
        return result

    stay = step(
        "admission.create",
        nurse,
        lambda: admission_create(
            actor=nurse,
            facility=facility,
            patient=patient,
            department_id=department.pk,
            bed_id=beds[0].pk,
            source="outpatient",
            from_encounter=visit,
            reason="Đau ngực",
            insurance_card_code=card,
            admitted_at=timezone.now() - timedelta(hours=28),
        ),
    )
    step(
        "bed.assign",
        nurse,
        lambda: bed_assign(
            actor=nurse, facility=facility, encounter=stay, bed_id=beds[1].pk, reason="Đổi"
        ),
    )
    step(
        "encounter.transfer",
        nurse,
        lambda: transfer_create(
            actor=nurse,
            facility=facility,
            encounter=stay,
            to_department_id=surgery.pk,
            to_bed_id=surgery_beds[0].pk,
            reason="Chuyển mổ",
        ),
    )
    note = step(
        "progress_note.add",
        doctor,
        lambda: progress_note_add(
            actor=doctor, facility=facility, encounter=stay, clinical_course="Tỉnh."
        ),
    )
    step(
        "progress_note.update",
        doctor,
        lambda: progress_note_update(
            actor=doctor,
            facility=facility,
            note=note,
            expected_version=note.version,
            clinical_course="Tỉnh, ăn được.",
        ),
    )
    step(
        "consultation.add",
        doctor,
        lambda: consultation_add(
            actor=doctor, facility=facility, encounter=stay, participants="BS A", conclusion="Mổ"
        ),
    )
    step(
        "vitals.record",
        nurse,
        lambda: nursing_observation_record(
            actor=nurse,
            facility=facility,
            encounter=stay,
            data=VitalsInput(
                pulse=80,
                systolic=110,
                diastolic=70,
                temperature="37.0",
                respiratory_rate=16,
                spo2=98,
                height_cm=None,
                weight_kg=None,
            ),
        ),
    )
    step("bed_board.view", nurse, lambda: bed_board(user=nurse, department_id=surgery.pk))
    step("stay.view", doctor, lambda: stay_course(user=doctor, encounter_id=stay.pk))
    stay.refresh_from_db()
    step(
        "encounter.discharge",
        doctor,
        lambda: admission_discharge(
            actor=doctor,
            facility=facility,
            encounter=stay,
            expected_version=stay.version,
            discharged_at=timezone.now(),
            main_code="I20.0",
            secondary_codes=["I10"],
            treatment_result=TreatmentResult.CURED,
            discharge_type=DischargeType.DISCHARGED,
            treatment_summary="Ổn định",
        ),
    )
    # then every step left its entry; the discharge names the version and the fields written
    assert len(steps) == 10
    discharge = AuditEvent.objects.get(action="encounter.discharge")
    stay.refresh_from_db()
    assert discharge.detail["version"] == stay.version
    assert "treatment_days" in discharge.detail["fields"]
    days = (timezone.localdate(stay.ended_at) - timezone.localdate(stay.admitted_at)).days + 1
    assert discharge.detail["treatment_days"] == stay.treatment_days == days


def test_an_admission_that_fails_after_its_audit_row_keeps_neither(facility):
    # given a doctor admitting with an admission diagnosis that is not in the catalog
    doctor = doctor_at(facility)
    department, _ward, beds = make_department_with_beds(facility, beds=1)
    visit = make_visit_concluded_admit(facility)
    mark = _mark()
    # when the admission is written and audited, then the diagnosis is refused
    with pytest.raises(ValidationError) as exc:
        admission_create(
            actor=doctor,
            facility=facility,
            patient=visit.patient,
            department_id=department.pk,
            bed_id=beds[0].pk,
            source="outpatient",
            from_encounter=visit,
            reason="Theo dõi",
            admission_main_code="Z99.999",
        )
    # then the whole transaction is gone: no stay, no bed, no audit entry
    assert "admission_main_code" in exc.value.message_dict
    assert not Encounter.objects.filter(parent=visit).exists()
    assert not BedOccupancy.objects.exists()
    assert not AuditEvent.objects.filter(pk__gt=mark).exists()
