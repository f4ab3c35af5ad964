"""Permission matrix of the inpatient services and ward reads: role x action x facility
(own, another, another with the patient shared). A refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from patients.clinical.examination import VitalsInput
from patients.clinical.inpatient import (
    admission_create,
    admission_discharge,
    bed_assign,
    consultation_add,
    nursing_observation_record,
    progress_note_add,
    transfer_create,
)
from patients.clinical.ward_selectors import bed_board, stay_course
from patients.clinical_choices import DischargeType, TreatmentResult
from patients.models import BedOccupancy, Consultation, Encounter, ProgressNote, Transfer
from patients.services import patient_share_with_facility
from tests.clinical.inpatient_factories import icd_codes, make_department_with_beds, nurse_at
from tests.core.factories import make_staff
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

ROLES = [
    Role.RECEPTIONIST,
    Role.DOCTOR,
    Role.NURSE,
    Role.CASHIER,
    Role.INSURANCE_OFFICER,
    Role.UNIT_ADMIN,
    Role.CITY_ADMIN,
]
# Who may do what at their own facility (the clinical brief; not derived from the code).
ALLOWED = {
    "admit": {Role.DOCTOR, Role.NURSE},
    "bed_assign": {Role.DOCTOR, Role.NURSE},
    "transfer": {Role.DOCTOR, Role.NURSE},
    "observation": {Role.DOCTOR, Role.NURSE},
    "note": {Role.DOCTOR},
    "consultation": {Role.DOCTOR},
    "discharge": {Role.DOCTOR},
    "board": {Role.DOCTOR, Role.NURSE, Role.CASHIER, Role.INSURANCE_OFFICER},
    "course": {Role.DOCTOR, Role.NURSE, Role.CASHIER, Role.INSURANCE_OFFICER},
}
READS = {"board", "course"}


class Ward:
    """Facility A: a department with beds and one admitted patient (in bed 0)."""

    def __init__(self, facility):
        icd_codes()
        self.facility = facility
        self.department, _w, self.beds = make_department_with_beds(facility, beds=3)
        self.other_department, _w2, self.other_beds = make_department_with_beds(facility, beds=1)
        self.stay = admission_create(
            actor=nurse_at(facility),
            facility=facility,
            patient=make_patient(facility),
            department_id=self.department.pk,
            bed_id=self.beds[0].pk,
            source="emergency",
            reason="Cấp cứu",
            admitted_at=timezone.now() - timedelta(days=2),
        )

    def snapshot(self) -> tuple:
        stay = Encounter.objects.get(pk=self.stay.pk)
        return (
            Encounter.objects.count(),
            stay.status,
            stay.version,
            stay.department_id,
            BedOccupancy.objects.filter(ended_at__isnull=True).count(),
            Transfer.objects.count(),
            ProgressNote.objects.count(),
            Consultation.objects.count(),
        )


def act(name: str, actor, facility, ward: Ward, patient=None):
    """Do `name` as `actor` working at `facility` on the ward's stay (or admit `patient`)."""
    stay = ward.stay
    if name == "admit":
        return admission_create(
            actor=actor,
            facility=facility,
            patient=patient or make_patient(ward.facility),
            department_id=ward.department.pk
            if facility == ward.facility
            else make_department_with_beds(facility, beds=1)[0].pk,
            source="emergency",
            reason="Cấp cứu",
        )
    if name == "bed_assign":
        return bed_assign(
            actor=actor, facility=facility, encounter=stay, bed_id=ward.beds[1].pk, reason="Đổi"
        )
    if name == "transfer":
        return transfer_create(
            actor=actor,
            facility=facility,
            encounter=stay,
            to_department_id=ward.other_department.pk,
            reason="Chuyển khoa",
        )
    if name == "observation":
        return nursing_observation_record(
            actor=actor,
            facility=facility,
            encounter=stay,
            data=VitalsInput(
                pulse=80,
                systolic=120,
                diastolic=80,
                temperature="37.0",
                respiratory_rate=18,
                spo2=98,
                height_cm=None,
                weight_kg=None,
            ),
        )
    if name == "note":
        return progress_note_add(
            actor=actor, facility=facility, encounter=stay, clinical_course="Ổn định."
        )
    if name == "consultation":
        return consultation_add(
            actor=actor,
            facility=facility,
            encounter=stay,
            participants="BS A",
            conclusion="Tiếp tục",
        )
    if name == "discharge":
        return admission_discharge(
            actor=actor,
            facility=facility,
            encounter=stay,
            expected_version=Encounter.objects.get(pk=stay.pk).version,
            discharged_at=timezone.now(),
            main_code="I10",
            secondary_codes=[],
            treatment_result=TreatmentResult.CURED,
            discharge_type=DischargeType.DISCHARGED,
            treatment_summary="Ổn định",
        )
    if name == "board":
        return bed_board(user=actor, department_id=ward.department.pk)
    if name == "course":
        return stay_course(user=actor, encounter_id=stay.pk)
    raise AssertionError(name)


def _outcome(name, actor, facility, ward, patient=None) -> str:
    try:
        act(name, actor, facility, ward, patient)
    except PermissionDenied:
        return "denied"
    except Http404:
        return "404"
    return "ok"


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("role", ROLES)
def test_own_facility(facility, role, action):
    # given staff of the facility in `role`, and the facility's admitted patient
    ward = Ward(facility)
    actor = make_staff(facility, role)
    before = ward.snapshot()
    audits = AuditEvent.objects.count()
    # when they try the action
    outcome = _outcome(action, actor, facility, ward)
    # then allowed roles succeed; the others are refused (404 for reads) and nothing changed
    if role in ALLOWED[action]:
        assert outcome == "ok"
    else:
        assert outcome == ("404" if action in READS else "denied")
        assert ward.snapshot() == before
        assert AuditEvent.objects.count() == audits


@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_another_facility_never_touches_the_stay(facility, other_facility, action):
    # given a doctor of another facility (who may do everything there)
    ward = Ward(facility)
    outsider = make_staff(other_facility, Role.DOCTOR)
    before = ward.snapshot()
    # when acting from their facility on this facility's stay: it does not exist for them
    outcome = _outcome(action, outsider, other_facility, ward)
    # then 404 (the admission: the patient is not visible to them) and nothing changed
    assert outcome == "404"
    assert ward.snapshot() == before
    # when claiming to act at this facility, where they hold no role: refused
    if action not in READS:
        assert _outcome(action, outsider, facility, ward) == "denied"
        assert ward.snapshot() == before


@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_a_shared_patient_is_visible_but_the_stay_stays_with_its_facility(
    facility, other_facility, action
):
    # given the patient shared with another facility (e.g. a referral)
    ward = Ward(facility)
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=ward.stay.patient,
        target_facility=other_facility,
        reason="Hội chẩn liên viện",
    )
    there = make_staff(other_facility, Role.DOCTOR)
    before = ward.snapshot()
    # when the other facility's doctor acts
    outcome = _outcome(action, there, other_facility, ward, patient=ward.stay.patient)
    # then they may admit the shared patient to their own ward, but not touch this stay
    if action == "admit":
        assert outcome == "ok"
        assert Encounter.objects.filter(patient=ward.stay.patient, facility=other_facility).exists()
    else:
        assert outcome == "404"
        assert ward.snapshot() == before
