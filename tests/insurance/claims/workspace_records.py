"""Claimable encounters for the workspace tests, priced and split by billing as in real life.

`claimable_visit` writes a concluded outpatient visit with a DN4 card (80 %) on the correct route:
an examination (50,600) and a blood count (949,400) — 1,000,000 in all, the fund pays 800,000
(T_BHTT), the patient 200,000 — and a main diagnosis; the invoice is built by billing, so
`dossier_build` reads the money from billing's selectors. Synthetic data only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from billing.charges import charges_derive
from billing.invoices import invoice_build
from ehealth.core.models import Department, Role
from ehealth.core.models.catalogs import CostGroup
from insurance.claims.services import dossier_build
from patients.choices import IdentifierSystem
from patients.clinical_choices import ArrivalMode, DiagnosisPhase, EncounterStatus
from patients.models import Diagnosis, Encounter
from tests.billing.factories import card_for, exam_service, make_service, order, visit
from tests.clinical.factories import make_icd
from tests.core.factories import DepartmentFactory, make_staff
from tests.patients.factories import make_patient, unique_cccd

HOSPITAL = Decimal("1000000.00")
FUND = Decimal("800000.00")


def icd(code: str = "J06.9", text: str = "Nhiễm trùng hô hấp trên cấp"):
    from ehealth.core.models import IcdCode

    return IcdCode.objects.filter(code=code).first() or make_icd(code, text)


def lab_service():
    from ehealth.core.models import MedicalService

    found = MedicalService.objects.filter(code="XN.CTM.WS").first()
    if found is not None:
        return found
    service = make_service(
        group=CostGroup.LAB, price="949400", code="XN.CTM.WS", name="Tổng phân tích tế bào máu"
    )
    service.moh_code = "22.0120.1370"
    service.save(update_fields=["moh_code"])
    return service


def claimable_visit(
    facility,
    *,
    doctor=None,
    ended_at: datetime | None = None,
    department=None,
    name: str = "Nguyễn Thị Ánh",
    diagnosis: str = "J06.9",
) -> Encounter:
    """A concluded visit with a card, a diagnosis and its invoice built (see the module doc)."""
    doctor = doctor or make_staff(facility, Role.DOCTOR, practitioner_code="000123/DNA-CCHN")
    cashier = make_staff(facility, Role.CASHIER)
    exam = exam_service(facility, price="50600")
    if not exam.moh_code:
        exam.moh_code = "02.1896"
        exam.save(update_fields=["moh_code"])
    ended_at = ended_at or datetime.now().astimezone()
    if department is None:
        department = Department.objects.filter(facility=facility, code="K01").first()
        department = department or DepartmentFactory(facility=facility, code="K01", name="Khoa Cấp cứu")  # fmt: skip
    patient = make_patient(
        facility, full_name=name, identifiers={IdentifierSystem.CCCD: unique_cccd(sex="2", birth_year=1990)}
    )  # fmt: skip
    card = card_for(patient, registered_facility_code=facility.code)
    enc = visit(
        facility,
        patient=patient,
        card_code=card.code,
        arrival_mode=ArrivalMode.REGISTERED,
        status=EncounterStatus.CONCLUDED,
        started_at=ended_at - timedelta(minutes=50),
        ended_at=ended_at,
        department=department,
        attending=doctor,
        closed_by=doctor,
        registered_facility_code=facility.code,
        insurance_card_valid_from=card.valid_from,
        insurance_card_valid_to=card.valid_to,
        conclusion="home",
        reason="Sốt, ho",
    )
    if diagnosis == "J06.9":
        icd(diagnosis)
    Diagnosis.objects.create(
        encounter=enc,
        phase=DiagnosisPhase.ENCOUNTER,
        icd_code=diagnosis,
        text="Chẩn đoán",
        rank=0,
        recorded_by=doctor,
        recorded_at=ended_at - timedelta(minutes=30),
    )
    order(enc, lab_service(), doctor)
    charges_derive(encounter_id=enc.pk)
    invoice_build(actor=cashier, facility=facility, encounter=enc)
    return enc


def build(officer, enc, **kwargs):
    return dossier_build(actor=officer, facility=enc.facility, encounter=enc, **kwargs)
