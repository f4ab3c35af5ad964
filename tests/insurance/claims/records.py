"""Records of two claimable encounters, written straight to the test database (synthetic data).

The charge lines (money) are made by hand here as billing would keep them after the benefit
engine's split, with the values worked out from the domain brief 3.7 and 7 (see each line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ehealth.core.models import Drug, MedicalService, Role, Supply
from ehealth.core.models.catalogs import CostGroup
from insurance.claims.data import ChargeInput, Money
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
    ProgressNote,
    ResultValue,
    ServiceOrder,
)
from tests.clinical.factories import make_encounter, make_icd
from tests.core.factories import DepartmentFactory, FacilityFactory, ProvinceFactory, make_staff
from tests.patients.factories import AdminUnitFactory, make_patient

VN = ZoneInfo("Asia/Ho_Chi_Minh")
D = Decimal


def local(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


def money(bv, bh, rate, fund, copay, self_pay, other_cl="0") -> Money:
    return Money(D(bv), D(bh), D(rate), D(fund), D(copay), D(self_pay), other_cl=D(other_cl))


@dataclass
class Scenario:
    facility: object
    officer: object
    doctor: object
    encounter: Encounter
    charges: list[ChargeInput]


def _unit():
    province = ProvinceFactory(code="48", name="Thành phố Đà Nẵng")
    facility = FacilityFactory(
        code="48901", name="Bệnh viện Thử nghiệm Hải Châu", province=province
    )
    officer = make_staff(facility, Role.INSURANCE_OFFICER)
    doctor = make_staff(
        facility, Role.DOCTOR, full_name="Lê Văn Cường", practitioner_code="000123/DNA-CCHN"
    )
    return province, facility, officer, doctor


def _patient(facility, province, *, card: str, **card_fields):
    commune = AdminUnitFactory(code="20194", province=province, name="Phường Hải Châu")
    patient = make_patient(
        None,
        full_name="Trần Thị Bình",
        sex=Sex.FEMALE,
        birth_date=date(1990, 3, 4),
        phone="0905111222",
        address_line="12 Lê Duẩn",
        province=province,
        commune=commune,
        ethnicity_code="01",
        identifiers={IdentifierSystem.CCCD: "048190000123"},
    )
    PatientIdentifier.objects.create(
        patient=patient, system=IdentifierSystem.MRN, value="BN-000042", facility=facility
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
        registered_facility_code="48901",
        **card_fields,
    )
    return patient


def outpatient_visit() -> Scenario:
    """A DN4 (80%) visit on 20/11/2026: examination, blood count, paracetamol.

    In-scope total 140,000 < 15% of the base salary (379,500 from 01/07/2026; 351,000 before):
    MUC_HUONG 100 (brief 2.2, 7 vector 1/3). The blood count costs 90,000 at the hospital price
    and 80,000 at the BHYT price: T_BNTT 10,000 (brief 3.7, 7 vector 6).
    """
    province, facility, officer, doctor = _unit()
    department = DepartmentFactory(facility=facility, code="K02", name="Khoa Khám bệnh")
    patient = _patient(facility, province, card="DN4480123456789")
    encounter = make_encounter(
        facility=facility,
        patient=patient,
        kind=EncounterKind.OUTPATIENT,
        status=EncounterStatus.CONCLUDED,
        started_at=local(2026, 11, 20, 8, 15),
        ended_at=local(2026, 11, 20, 9, 40),
        attending=doctor,
        closed_by=doctor,
        department=department,
        arrival_mode=ArrivalMode.REGISTERED,
        insurance_card_code="DN4480123456789",
        insurance_card_valid_from=date(2026, 1, 1),
        insurance_card_valid_to=date(2026, 12, 31),
        registered_facility_code="48901",
        reason="Sốt, ho 3 ngày",
        conclusion="home",
        conclusion_note="Uống thuốc theo đơn",
    )
    for code, text, rank in (("J06.9", "Nhiễm trùng hô hấp trên cấp", 0), ("I10", "Tăng huyết áp vô căn", 1)):  # fmt: skip
        make_icd(code, text)
        Diagnosis.objects.create(
            encounter=encounter,
            phase=DiagnosisPhase.ENCOUNTER,
            icd_code=code,
            text=text,
            rank=rank,
            recorded_by=doctor,
            recorded_at=local(2026, 11, 20, 8, 30),
        )
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
    order = ServiceOrder.objects.create(
        encounter=encounter,
        service=cbc,
        status=OrderStatus.RESULTED,
        ordered_by=doctor,
        ordered_at=local(2026, 11, 20, 8, 30),
        performed_at=local(2026, 11, 20, 8, 45),
        performed_by=doctor,
        resulted_at=local(2026, 11, 20, 9, 10),
        result_conclusion="Bình thường",
    )
    ResultValue.objects.create(
        order=order,
        code="WBC",
        name="Số lượng bạch cầu",
        value="7.5",
        unit="G/L",
        entered_by=doctor,
        entered_at=local(2026, 11, 20, 9, 10),
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
    rx = Prescription.objects.create(
        encounter=encounter,
        status=PrescriptionStatus.ISSUED,
        prescribed_by=doctor,
        prescribed_at=local(2026, 11, 20, 9, 20),
    )
    item = PrescriptionItem.objects.create(
        prescription=rx,
        drug=drug,
        dose=D(1),
        dose_unit="viên",
        route="Uống",
        times_per_day=2,
        days=5,
        quantity=D(10),
        instructions="Uống sau ăn",
    )
    day = date(2026, 11, 20)
    charges = [
        ChargeInput("examination", encounter.pk, day, 13, D(1), D(50000), D(50000),
                    money(50000, 50000, 100, 50000, 0, 0), department_code="K02",
                    service_id=exam.pk),
        ChargeInput("service_order", order.pk, day, 1, D(1), D(90000), D(80000),
                    money(90000, 80000, 100, 80000, 0, 10000), department_code="K02",
                    service_id=cbc.pk),
        ChargeInput("drug", item.pk, day, 4, D(10), D(1000), D(1000),
                    money(10000, 10000, 100, 10000, 0, 0), department_code="K02",
                    drug_id=drug.pk),
    ]  # fmt: skip
    return Scenario(facility, officer, doctor, encounter, charges)


def inpatient_stay() -> Scenario:
    """An HT3 (95%) emergency stay 10–14/11/2026: 4 bed-days, 2 catheters, ceftriaxone, and a
    vitamin outside the benefit list (brief 7 vector 4: 95% of the in-scope amount)."""
    province, facility, officer, doctor = _unit()
    department = DepartmentFactory(facility=facility, code="K03", name="Khoa Nội tổng hợp")
    patient = _patient(
        facility, province, card="HT3480987654321", region_code="K1",
        five_years_date=date(2020, 5, 1),
    )  # fmt: skip
    encounter = make_encounter(
        facility=facility,
        patient=patient,
        kind=EncounterKind.INPATIENT,
        status=EncounterStatus.DISCHARGED,
        started_at=local(2026, 11, 10, 10, 0),
        ended_at=local(2026, 11, 14, 9, 0),
        attending=doctor,
        closed_by=doctor,
        department=department,
        arrival_mode=ArrivalMode.EMERGENCY,
        insurance_card_code="HT3480987654321",
        insurance_card_valid_from=date(2026, 1, 1),
        insurance_card_valid_to=date(2026, 12, 31),
        registered_facility_code="48901",
        reason="Sốt cao, khó thở",
        treatment_method="Kháng sinh đường tĩnh mạch",
        treatment_result="2",
        discharge_type="1",
        discharge_advice="Tái khám sau 7 ngày",
        follow_up_date=date(2026, 11, 21),
        archive_number="LT-2026-0042",
    )
    make_icd("J18.9", "Viêm phổi, không đặc hiệu")
    make_icd("E11.9", "Đái tháo đường típ 2 không biến chứng")
    for phase, code, text, rank in (
        (DiagnosisPhase.ADMISSION, "J18.9", "Viêm phổi, không đặc hiệu", 0),
        (DiagnosisPhase.DISCHARGE, "J18.9", "Viêm phổi, không đặc hiệu", 0),
        (DiagnosisPhase.DISCHARGE, "E11.9", "Đái tháo đường típ 2 không biến chứng", 1),
    ):
        Diagnosis.objects.create(
            encounter=encounter, phase=phase, icd_code=code, text=text, rank=rank,
            recorded_by=doctor, recorded_at=local(2026, 11, 10, 10, 30),
        )  # fmt: skip
    for at, text in (
        (local(2026, 11, 11, 8, 0), "Còn sốt 38,5°C, ran nổ đáy phổi phải"),
        (local(2026, 11, 13, 8, 0), "Hết sốt, phổi giảm ran"),
    ):
        ProgressNote.objects.create(
            encounter=encounter, noted_at=at, author=doctor, clinical_course=text,
            disease_stage="Ổn định" if "Hết" in text else "Cấp",
        )  # fmt: skip
    bed = MedicalService.objects.create(
        code="GB.NOI1", name="Ngày giường bệnh Nội khoa loại 1", group=CostGroup.INPATIENT_BED,
        unit="ngày", moh_code="K03.1911",
    )  # fmt: skip
    catheter = Supply.objects.create(
        code="VT.KL", name="Kim luồn tĩnh mạch", unit="cái", moh_code="N03.05.010"
    )
    ceftriaxone = Drug.objects.create(
        code="TH.CEF1", name="Ceftriaxone 1g", unit="lọ", active_ingredient="Ceftriaxone",
        active_ingredient_code="40.211", strength="1g", dosage_form="Bột pha tiêm",
        route="Tiêm tĩnh mạch", route_code="2.10", registration_number="VD-22222-21",
    )  # fmt: skip
    vitamin = Drug.objects.create(
        code="TH.VITC", name="Vitamin C 500mg", unit="viên", active_ingredient="Acid ascorbic",
        active_ingredient_code="40.1000", strength="500mg", route="Uống", route_code="1.01",
    )  # fmt: skip
    rx = Prescription.objects.create(
        encounter=encounter, status=PrescriptionStatus.ISSUED, prescribed_by=doctor,
        prescribed_at=local(2026, 11, 10, 11, 0),
    )  # fmt: skip
    items = [
        PrescriptionItem.objects.create(
            prescription=rx,
            drug=drug,
            dose=D(1),
            dose_unit=unit,
            route=route,
            times_per_day=2,
            days=4,
            quantity=D(qty),
        )  # fmt: skip
        for drug, unit, route, qty in (
            (ceftriaxone, "lọ", "Tiêm tĩnh mạch", 8),
            (vitamin, "viên", "Uống", 10),
        )
    ]
    charges = [
        # 4 bed-days × 300,000 = 1,200,000; 95%: fund 1,140,000, co-pay 60,000.
        ChargeInput("bed_day", department.pk, date(2026, 11, 10), 15, D(4), D(300000),
                    D(300000), money(1200000, 1200000, 95, 1140000, 60000, 0),
                    department_code="K03", service_id=bed.pk),
        # 2 catheters × 25,000 = 50,000; fund 47,500, co-pay 2,500.
        ChargeInput("supply", 1, date(2026, 11, 11), 10, D(2), D(25000), D(25000),
                    money(50000, 50000, 95, 47500, 2500, 0), department_code="K03",
                    supply_id=catheter.pk),
        # 8 vials × 35,000 = 280,000; fund 266,000, co-pay 14,000.
        ChargeInput("drug", items[0].pk, date(2026, 11, 10), 4, D(8), D(35000), D(35000),
                    money(280000, 280000, 95, 266000, 14000, 0), department_code="K03",
                    drug_id=ceftriaxone.pk),
        # Outside the benefit list: 10 × 2,000 = 20,000 all self-paid (T_BNTT).
        ChargeInput("drug", items[1].pk, date(2026, 11, 10), 4, D(10), D(2000), None,
                    money(20000, 0, 95, 0, 0, 20000), in_scope=False, department_code="K03",
                    drug_id=vitamin.pk),
    ]  # fmt: skip
    return Scenario(facility, officer, doctor, encounter, charges)
