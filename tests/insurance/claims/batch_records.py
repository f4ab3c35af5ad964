"""Several claimable outpatient visits at one unit, built into READY dossiers (synthetic data).

Each visit is the outpatient visit of `records.outpatient_visit` (examination, blood count,
paracetamol; 150,000 at the hospital price, 140,000 paid by the fund) for a new patient with a
card of their own, so that a batch holds several dossiers of one facility and period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ehealth.core.models import Drug, MedicalService, Role
from ehealth.core.models.catalogs import CostGroup
from insurance.claims.data import ChargeInput
from insurance.claims.models import Dossier
from insurance.claims.services import dossier_build
from insurance.models import InsuranceCard
from patients.choices import IdentifierSystem, Sex
from patients.clinical_choices import (
    ArrivalMode,
    DiagnosisPhase,
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
)
from patients.models import (
    Diagnosis,
    Encounter,
    PatientIdentifier,
    Prescription,
    PrescriptionItem,
    ServiceOrder,
)
from tests.clinical.factories import make_encounter, make_icd
from tests.core.factories import DepartmentFactory, FacilityFactory, ProvinceFactory, make_staff
from tests.insurance.claims.records import D, local, money
from tests.patients.factories import AdminUnitFactory, make_patient, unique_card, unique_cccd


@dataclass
class Unit:
    facility: object
    officer: object
    doctor: object
    department: object
    commune: object
    exam: MedicalService
    cbc: MedicalService
    drug: Drug
    charges: dict[int, list[ChargeInput]] = field(default_factory=dict)


def unit(code: str = "48901") -> Unit:
    """A facility with an insurance officer, a doctor, a department and the catalog items."""
    province = ProvinceFactory(code="48", name="Thành phố Đà Nẵng")
    facility = FacilityFactory(code=code, name="Bệnh viện Thử nghiệm Hải Châu", province=province)
    officer = make_staff(facility, Role.INSURANCE_OFFICER)
    doctor = make_staff(
        facility, Role.DOCTOR, full_name="Lê Văn Cường", practitioner_code="000123/DNA-CCHN"
    )
    department = DepartmentFactory(facility=facility, code="K02", name="Khoa Khám bệnh")
    commune = AdminUnitFactory(code="20194", province=province, name="Phường Hải Châu")
    for icd, text in (("J06.9", "Nhiễm trùng hô hấp trên cấp"), ("I10", "Tăng huyết áp vô căn")):
        make_icd(icd, text)
    exam = MedicalService.objects.create(
        code="KB.NOI", name="Khám Nội", group=CostGroup.EXAMINATION, unit="lần", moh_code="02.1896"
    )
    cbc = MedicalService.objects.create(
        code="XN.CTM",
        name="Tổng phân tích tế bào máu ngoại vi",
        group=CostGroup.LAB,
        unit="lần",
        moh_code="22.0120.1370",
    )
    drug = Drug.objects.create(
        code="TH.PARA500",
        name="Paracetamol 500mg",
        unit="viên",
        active_ingredient="Paracetamol",
        active_ingredient_code="40.48",
        strength="500mg",
        dosage_form="Viên nén",
        route="Uống",
        route_code="1.01",
        registration_number="VD-12345-20",
    )
    return Unit(facility, officer, doctor, department, commune, exam, cbc, drug)


def visit(u: Unit, *, day: int = 20) -> Encounter:
    """A concluded outpatient visit on `day`/11/2026 of a new patient with a DN4 card."""
    card = unique_card(group="DN", level=4)
    patient = make_patient(
        None,
        full_name="Trần Thị Bình",
        sex=Sex.FEMALE,
        birth_date=date(1990, 3, 4),
        phone="0905111222",
        address_line="12 Lê Duẩn",
        province=u.facility.province,
        commune=u.commune,
        ethnicity_code="01",
        identifiers={IdentifierSystem.CCCD: unique_cccd(sex=Sex.FEMALE, birth_year=1990)},
    )
    PatientIdentifier.objects.create(
        patient=patient,
        system=IdentifierSystem.MRN,
        value=f"BN-{patient.pk:06d}",
        facility=u.facility,
    )
    InsuranceCard.objects.create(
        patient=patient,
        code=card,
        group_code=card[:2],
        benefit_digit=int(card[2]),
        province_code=card[3:5],
        social_insurance_number=card[5:],
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
        registered_facility_code=u.facility.code,
    )
    encounter = make_encounter(
        facility=u.facility,
        patient=patient,
        kind=EncounterKind.OUTPATIENT,
        status=EncounterStatus.CONCLUDED,
        started_at=local(2026, 11, day, 8, 15),
        ended_at=local(2026, 11, day, 9, 40),
        attending=u.doctor,
        closed_by=u.doctor,
        department=u.department,
        arrival_mode=ArrivalMode.REGISTERED,
        insurance_card_code=card,
        insurance_card_valid_from=date(2026, 1, 1),
        insurance_card_valid_to=date(2026, 12, 31),
        registered_facility_code=u.facility.code,
        reason="Sốt, ho 3 ngày",
        conclusion="home",
        conclusion_note="Uống thuốc theo đơn",
    )
    Diagnosis.objects.create(
        encounter=encounter,
        phase=DiagnosisPhase.ENCOUNTER,
        icd_code="J06.9",
        text="Nhiễm trùng hô hấp trên cấp",
        rank=0,
        recorded_by=u.doctor,
        recorded_at=local(2026, 11, day, 8, 30),
    )
    order = ServiceOrder.objects.create(
        encounter=encounter,
        service=u.cbc,
        status=OrderStatus.RESULTED,
        ordered_by=u.doctor,
        ordered_at=local(2026, 11, day, 8, 30),
        performed_at=local(2026, 11, day, 8, 45),
        performed_by=u.doctor,
        resulted_at=local(2026, 11, day, 9, 10),
        result_conclusion="Bình thường",
    )
    rx = Prescription.objects.create(
        encounter=encounter,
        status=PrescriptionStatus.ISSUED,
        prescribed_by=u.doctor,
        prescribed_at=local(2026, 11, day, 9, 20),
    )
    item = PrescriptionItem.objects.create(
        prescription=rx,
        drug=u.drug,
        dose=D(1),
        dose_unit="viên",
        route="Uống",
        times_per_day=2,
        days=5,
        quantity=D(10),
        instructions="Uống sau ăn",
    )
    on = date(2026, 11, day)
    u.charges[encounter.pk] = [
        ChargeInput("examination", encounter.pk, on, 13, D(1), D(50000), D(50000),
                    money(50000, 50000, 100, 50000, 0, 0), department_code="K02",
                    service_id=u.exam.pk),
        ChargeInput("service_order", order.pk, on, 1, D(1), D(90000), D(80000),
                    money(90000, 80000, 100, 80000, 0, 10000), department_code="K02",
                    service_id=u.cbc.pk),
        ChargeInput("drug", item.pk, on, 4, D(10), D(1000), D(1000),
                    money(10000, 10000, 100, 10000, 0, 0), department_code="K02",
                    drug_id=u.drug.pk),
    ]  # fmt: skip
    return encounter


HOSPITAL_PER_VISIT = Decimal("150000.00")
FUND_PER_VISIT = Decimal("140000.00")


def build(u: Unit, encounter: Encounter, *, reason: str = "") -> Dossier:
    """Build (or rebuild) the visit's dossier; return it."""
    version = dossier_build(
        actor=u.officer,
        facility=u.facility,
        encounter=encounter,
        charges=u.charges[encounter.pk],
        reason=reason,
    )
    return Dossier.objects.get(pk=version.dossier_id)


def ready_dossiers(u: Unit, n: int, *, day: int = 20) -> list[Dossier]:
    """`n` READY dossiers of November 2026 at the unit."""
    return [build(u, visit(u, day=day)) for _ in range(n)]
