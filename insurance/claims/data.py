"""The record snapshot a dossier is built from (issue 5 "built only from the record").

`DossierData` and its parts are plain frozen dataclasses: the builders (`builders.py`) and the
validator (`validation.py`) are pure functions of them. `dossier_data(encounter=...)` fills one
from the clinical models (`patients/models/*`) with a fixed number of queries, whatever the
number of lines. The money of each line comes from billing's charge lines with the benefit
engine's split (`ChargeInput`, one per `billing.ChargeLine`; brief 3.7 names in the comments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

ZERO = Decimal(0)


@dataclass(frozen=True)
class PatientPart:
    record_number: str  # MA_BN: the patient's record number at the facility
    full_name: str  # HO_TEN
    cccd: str  # SO_CCCD
    birth_date: date | None  # NGAY_SINH
    birth_year: int
    sex_code: str  # GIOI_TINH: 1 male, 2 female, 3 unknown
    nationality_code: str = ""
    ethnicity_code: str = ""
    occupation_code: str = ""
    address: str = ""  # DIA_CHI
    province_code: str = ""  # MATINH_CU_TRU
    district_code: str = ""  # MAHUYEN_CU_TRU: no districts since 07/2025 (brief 9, UNCONFIRMED)
    commune_code: str = ""  # MAXA_CU_TRU
    phone: str = ""


@dataclass(frozen=True)
class CardPart:
    code: str  # MA_THE_BHYT
    registered_facility_code: str  # MA_DKBD
    valid_from: date | None  # GT_THE_TU
    valid_to: date | None  # GT_THE_DEN
    copay_exempt_from: date | None = None  # NGAY_MIEN_CCT
    five_years_date: date | None = None  # NAM_NAM_LIEN_TUC
    region_code: str = ""  # MA_KHUVUC


@dataclass(frozen=True)
class EncounterPart:
    claim_key: str  # MA_LK
    facility_code: str  # MA_CSKCB
    department_code: str  # MA_KHOA
    visit_type: str  # MA_LOAI_KCB
    inpatient: bool
    arrival_mode: str
    started_at: datetime  # NGAY_VAO
    admitted_at: datetime | None  # NGAY_VAO_NOI_TRU
    ended_at: datetime | None  # NGAY_RA
    reason: str = ""  # LY_DO_VV / LY_DO_VNT
    treatment_method: str = ""  # PP_DIEU_TRI
    treatment_result: str = ""  # KET_QUA_DTRI
    discharge_type: str = ""  # MA_LOAI_RV
    conclusion: str = ""
    note: str = ""  # GHI_CHU
    referral_from_code: str = ""  # MA_NOI_DI
    referral_paper_number: str = ""  # GIAY_CHUYEN_TUYEN
    transfer_to_code: str = ""  # MA_NOI_DEN
    follow_up_date: date | None = None  # NGAY_TAI_KHAM
    archive_number: str = ""  # SO_LUU_TRU / MA_HSBA
    closing_doctor_code: str = ""  # XML7 MA_BS
    closing_doctor_name: str = ""  # XML7 TEN_BS
    paid_at: datetime | None = None  # NGAY_TTOAN


@dataclass(frozen=True)
class DiagnosisPart:
    code: str
    text: str
    rank: int  # 0 = main
    phase: str


@dataclass(frozen=True)
class Money:
    """The split of one line (brief 3.7): THANH_TIEN_BV = T_BHTT + T_BNCCT + T_BNTT + T_NGUONKHAC."""

    hospital_amount: Decimal  # THANH_TIEN_BV
    bhyt_amount: Decimal  # THANH_TIEN_BH
    benefit_rate: Decimal  # MUC_HUONG
    fund: Decimal  # T_BHTT
    copay: Decimal  # T_BNCCT
    self_pay: Decimal  # T_BNTT
    other_nsnn: Decimal = ZERO
    other_vtnn: Decimal = ZERO
    other_vttn: Decimal = ZERO
    other_cl: Decimal = ZERO

    @property
    def other(self) -> Decimal:  # T_NGUONKHAC
        return self.other_nsnn + self.other_vtnn + self.other_vttn + self.other_cl


@dataclass(frozen=True)
class DrugLine:
    """One XML2 line (brief 3.4)."""

    drug_code: str  # MA_THUOC: active-ingredient code (DMDC)
    name: str
    unit: str
    strength: str
    route_code: str
    dosage_form: str
    dose_text: str  # LIEU_DUNG
    usage: str  # CACH_DUNG
    registration_number: str
    tender: str  # TT_THAU
    cost_group: int  # MA_NHOM (4)
    in_scope: bool  # PHAM_VI 1/2
    bhyt_ratio: Decimal  # TYLE_TT_BH
    quantity: Decimal
    unit_price: Decimal  # DON_GIA
    money: Money
    department_code: str
    doctor_code: str
    ordered_at: datetime  # NGAY_YL
    performed_at: datetime | None = None  # NGAY_TH_YL
    days: int = 0  # for SO_NGAY_DTRI of MA_LOAI_KCB 05
    payment_method: int = 1  # MA_PTTT: 1 fee-for-service
    funding_source: int = 1  # NGUON_CTRA: 1 BHYT


@dataclass(frozen=True)
class ServiceLine:
    """One XML3 line: a service (DVKT) or a supply (VTYT) (brief 3.5)."""

    service_code: str  # MA_DICH_VU
    supply_code: str  # MA_VAT_TU
    name: str  # TEN_DICH_VU
    supply_name: str  # TEN_VAT_TU
    cost_group: int  # MA_NHOM
    package: str  # GOI_VTYT
    unit: str
    in_scope: bool
    quantity: Decimal
    hospital_price: Decimal  # DON_GIA_BV
    bhyt_price: Decimal  # DON_GIA_BH
    service_ratio: Decimal  # TYLE_TT_DV
    bhyt_ratio: Decimal  # TYLE_TT_BH
    money: Money
    department_code: str
    doctor_code: str
    ordered_at: datetime  # NGAY_YL
    performed_at: datetime | None = None  # NGAY_TH_YL
    resulted_at: datetime | None = None  # NGAY_KQ
    performer_code: str = ""  # NGUOI_THUC_HIEN
    bed_code: str = ""  # MA_GIUONG
    cap: Decimal | None = None  # T_TRANTT
    payment_method: int = 1

    @property
    def is_supply(self) -> bool:
        return bool(self.supply_code) or self.cost_group == 10


@dataclass(frozen=True)
class ResultLine:
    """One XML4 line: a measured value or a described result (brief 3.6)."""

    service_code: str
    index_code: str
    index_name: str
    value: str
    unit: str
    description: str
    conclusion: str
    resulted_at: datetime | None
    reader_code: str


@dataclass(frozen=True)
class CourseNote:
    """One XML5 line: a progress note or a consultation (brief 3.6)."""

    text: str
    stage: str
    consultation: str
    surgery: str
    at: datetime
    author_code: str


@dataclass(frozen=True)
class DossierData:
    """Everything one dossier needs, read once from the record."""

    patient: PatientPart
    card: CardPart
    encounter: EncounterPart
    diagnoses: tuple[DiagnosisPart, ...] = ()
    admission_diagnosis: str = ""  # CHAN_DOAN_VAO
    drugs: tuple[DrugLine, ...] = ()
    services: tuple[ServiceLine, ...] = ()
    results: tuple[ResultLine, ...] = ()
    notes: tuple[CourseNote, ...] = ()
    accepted_icd: frozenset[str] = field(default_factory=frozenset)

    @property
    def main_diagnosis(self) -> DiagnosisPart | None:
        return next((d for d in self.diagnoses if d.rank == 0), None)

    @property
    def secondary_diagnoses(self) -> tuple[DiagnosisPart, ...]:
        return tuple(sorted((d for d in self.diagnoses if d.rank > 0), key=lambda d: d.rank))


@dataclass(frozen=True)
class ChargeInput:
    """A priced, split charge line as billing keeps it (`billing.ChargeLine` columns)."""

    source_kind: str  # examination / service_order / drug / supply / bed_day
    source_id: int
    service_date: date
    cost_group: int
    quantity: Decimal
    hospital_price: Decimal
    bhyt_price: Decimal | None
    money: Money
    service_ratio: Decimal = Decimal(100)
    bhyt_ratio: Decimal = Decimal(100)
    in_scope: bool = True
    item_code: str = ""
    item_name: str = ""
    unit: str = ""
    department_code: str = ""
    service_id: int | None = None
    drug_id: int | None = None
    supply_id: int | None = None


# --- Reading the record ---------------------------------------------------------------------

# MA_DOITUONG_KCB per arrival. QĐ 3276/2025's 27 codes were not read (brief 3.3): only
# 2 = emergency is known; the others follow QĐ 4210's MA_LYDO_VVIEN (1 correct route,
# 3 wrong route). UNCONFIRMED.
VISIT_CATEGORY = {
    "emergency": "2",
    "registered": "1",
    "follow_up": "1",
    "referral": "1",
    "transfer_in": "1",
    "self_referred": "3",
}


def _code(user) -> str:
    return getattr(user, "practitioner_code", "") if user is not None else ""


def _day_start(day: date) -> datetime:
    """Local midnight (Asia/Ho_Chi_Minh) of a service day."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def charges_from_billing(*, encounter_id: int) -> tuple[list[ChargeInput], datetime | None]:
    """The active, split charge lines of the encounter's invoice, and when it was settled.

    Reads through billing's selectors (ARCHITECTURE: claims reads charges via billing). Billing
    keeps only the total of other sources; it is reported as T_NGUONKHAC_CL (UNCONFIRMED).
    """
    from billing.selectors import invoice_for_encounter, invoice_lines

    invoice = invoice_for_encounter(encounter_id=encounter_id)
    if invoice is None:
        return [], None
    charges = [
        ChargeInput(
            source_kind=line.source_kind,
            source_id=line.source_id,
            service_date=line.service_date,
            cost_group=line.cost_group,
            quantity=line.quantity,
            hospital_price=line.hospital_price,
            bhyt_price=line.bhyt_price,
            money=Money(
                hospital_amount=line.hospital_amount,
                bhyt_amount=line.bhyt_amount,
                benefit_rate=line.benefit_rate or ZERO,
                fund=line.fund,
                copay=line.copay,
                self_pay=line.self_pay,
                other_cl=line.other,
            ),
            service_ratio=line.service_ratio,
            bhyt_ratio=line.bhyt_ratio,
            in_scope=line.in_scope,
            item_code=line.item_code,
            item_name=line.item_name,
            unit=line.unit,
            department_code=line.department.code if line.department_id else "",
            service_id=line.service_id,
            drug_id=line.drug_id,
            supply_id=line.supply_id,
        )
        for line in invoice_lines(invoice=invoice).select_related("department")
        if line.status == "active"
    ]
    return charges, invoice.settled_at


def dossier_data(
    *,
    encounter,
    charges: list[ChargeInput] | None = None,
    paid_at: datetime | None = None,
) -> DossierData:
    """Read one encounter's record into a DossierData with a fixed number of queries.

    `charges` default to billing's split charge lines (`charges_from_billing`); tests and the
    benchmark may pass them in.
    """
    from ehealth.core.models import IcdCode, MedicalService, Supply
    from insurance.models import InsuranceCard
    from patients.choices import IdentifierSystem
    from patients.clinical_choices import DiagnosisPhase, OrderStatus
    from patients.models import (
        Consultation,
        Diagnosis,
        Encounter,
        PatientIdentifier,
        PrescriptionItem,
        ProgressNote,
        ServiceOrder,
    )

    enc = Encounter.objects.select_related(
        "patient__province", "patient__commune", "facility", "department", "attending", "closed_by"
    ).get(pk=encounter.pk)
    if charges is None:
        charges, paid_at = charges_from_billing(encounter_id=enc.pk)
    patient = enc.patient
    idents = {
        (i.system, i.facility_id): i.value
        for i in PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True)
    }
    card = (
        InsuranceCard.objects.filter(
            patient=patient, code=enc.insurance_card_code, voided_at__isnull=True
        )
        .order_by("-valid_from")
        .first()
    )
    diagnoses = list(Diagnosis.objects.filter(encounter=enc, voided_at__isnull=True))
    orders = {
        o.pk: o
        for o in ServiceOrder.objects.filter(encounter=enc)
        .select_related("service", "ordered_by", "performed_by", "performing_department")
        .prefetch_related("values")
    }
    rx_items = {
        i.pk: i
        for i in PrescriptionItem.objects.filter(prescription__encounter=enc).select_related(
            "drug", "prescription__prescribed_by"
        )
    }
    service_ids = {c.service_id for c in charges if c.service_id} - {
        o.service_id for o in orders.values()
    }
    services = {s.pk: s for s in MedicalService.objects.filter(pk__in=service_ids)}
    services.update({o.service_id: o.service for o in orders.values()})
    supplies = {
        s.pk: s for s in Supply.objects.filter(pk__in={c.supply_id for c in charges if c.supply_id})
    }
    notes = list(
        ProgressNote.objects.filter(encounter=enc, voided_at__isnull=True).select_related("author")
    )
    consultations = list(Consultation.objects.filter(encounter=enc).select_related("requested_by"))

    # Diagnoses of the claim: discharge phase for a stay when recorded, else the visit's.
    phase = DiagnosisPhase.ENCOUNTER
    if enc.kind == "inpatient" and any(d.phase == DiagnosisPhase.DISCHARGE for d in diagnoses):
        phase = DiagnosisPhase.DISCHARGE
    claim_dx = tuple(
        DiagnosisPart(code=d.icd_code, text=d.text, rank=d.rank, phase=d.phase)
        for d in sorted(diagnoses, key=lambda d: d.rank)
        if d.phase == phase
    )
    admission_dx = "; ".join(
        d.text for d in sorted(diagnoses, key=lambda d: d.rank) if d.phase == "admission"
    )
    on = (enc.ended_at or enc.started_at).date()
    codes = {d.code for d in claim_dx}
    accepted = frozenset(
        IcdCode.objects.filter(code__in=codes, billable=True, valid_from__lte=on)
        .exclude(valid_to__lt=on)
        .values_list("code", flat=True)
    )

    drugs, lines = [], []
    for c in charges:
        item = rx_items.get(c.source_id) if c.source_kind == "drug" else None
        order = orders.get(c.source_id) if c.source_kind == "service_order" else None
        if c.source_kind == "drug":
            drug = item.drug if item else None
            drugs.append(
                DrugLine(
                    drug_code=(drug.active_ingredient_code if drug else ""),
                    name=drug.name if drug else c.item_name,
                    unit=(drug.unit if drug else c.unit),
                    strength=drug.strength if drug else "",
                    route_code=drug.route_code if drug else "",
                    dosage_form=drug.dosage_form if drug else "",
                    dose_text=(
                        f"{item.dose.normalize():f} {item.dose_unit} x {item.times_per_day} "
                        f"lần/ngày x {item.days} ngày"
                        if item
                        else ""
                    ),
                    usage=item.instructions if item else "",
                    registration_number=drug.registration_number if drug else "",
                    tender="",
                    cost_group=c.cost_group,
                    in_scope=c.in_scope,
                    bhyt_ratio=c.bhyt_ratio,
                    quantity=c.quantity,
                    unit_price=c.hospital_price,
                    money=c.money,
                    department_code=c.department_code,
                    doctor_code=_code(item.prescription.prescribed_by) if item else "",
                    ordered_at=item.prescription.prescribed_at if item else enc.started_at,
                    days=item.days if item else 0,
                )
            )
            continue
        service = services.get(c.service_id) if c.service_id else None
        supply = supplies.get(c.supply_id) if c.supply_id else None
        if order is not None:
            ordered_at, doctor = order.ordered_at, _code(order.ordered_by)
        elif c.source_kind == "examination":
            ordered_at, doctor = enc.started_at, _code(enc.attending)
        else:
            ordered_at = max(_day_start(c.service_date), enc.admitted_at or enc.started_at)
            doctor = _code(enc.attending)
        lines.append(
            ServiceLine(
                service_code=(service.moh_code if service else ""),
                supply_code=(supply.moh_code if supply else ""),
                name=(service.name if service else ""),
                supply_name=(supply.name if supply else ""),
                package=(supply.package if supply else ""),
                cost_group=c.cost_group,
                unit=c.unit or (service.unit if service else ""),
                in_scope=c.in_scope,
                quantity=c.quantity,
                hospital_price=c.hospital_price,
                bhyt_price=c.bhyt_price if c.bhyt_price is not None else ZERO,
                service_ratio=c.service_ratio,
                bhyt_ratio=c.bhyt_ratio,
                money=c.money,
                department_code=c.department_code,
                doctor_code=doctor,
                ordered_at=ordered_at,
                performed_at=order.performed_at if order else None,
                resulted_at=order.resulted_at if order else None,
                performer_code=_code(order.performed_by) if order else "",
            )
        )

    results = []
    for order in orders.values():
        if order.status != OrderStatus.RESULTED or order.cancelled_at:
            continue
        common = {
            "service_code": order.service.moh_code,
            "description": order.result_description,
            "conclusion": order.result_conclusion,
            "resulted_at": order.resulted_at,
            "reader_code": _code(order.performed_by),
        }
        values = list(order.values.all())
        if not values:
            results.append(ResultLine(index_code="", index_name="", value="", unit="", **common))
        for v in values:
            results.append(
                ResultLine(
                    index_code=v.code, index_name=v.name, value=v.value, unit=v.unit, **common
                )
            )

    course = [
        CourseNote(
            text=n.clinical_course,
            stage=n.disease_stage,
            consultation="",
            surgery="",
            at=n.noted_at,
            author_code=_code(n.author),
        )
        for n in notes
    ] + [
        CourseNote(
            text=c.reason or "Hội chẩn",
            stage="",
            consultation=c.conclusion,
            surgery="",
            at=c.held_at,
            author_code=_code(c.requested_by),
        )
        for c in consultations
    ]
    course.sort(key=lambda n: n.at)

    address = ", ".join(
        p
        for p in (
            patient.address_line,
            patient.commune.name if patient.commune_id else "",
            patient.province.name if patient.province_id else "",
        )
        if p
    )
    return DossierData(
        patient=PatientPart(
            record_number=idents.get((IdentifierSystem.MRN, enc.facility_id), ""),
            full_name=patient.full_name,
            cccd=idents.get((IdentifierSystem.CCCD, None), ""),
            birth_date=patient.birth_date,
            birth_year=patient.birth_year,
            sex_code=patient.sex or "3",  # Sex values are the QĐ 130 codes
            nationality_code=patient.nationality_code,
            ethnicity_code=patient.ethnicity_code,
            occupation_code=patient.occupation_code,
            address=address,
            province_code=patient.province_id or "",
            commune_code=patient.commune_id or "",
            phone=patient.phone,
        ),
        card=CardPart(
            code=enc.insurance_card_code,
            registered_facility_code=enc.registered_facility_code
            or (card.registered_facility_code if card else ""),
            valid_from=enc.insurance_card_valid_from or (card.valid_from if card else None),
            valid_to=enc.insurance_card_valid_to or (card.valid_to if card else None),
            copay_exempt_from=card.copay_exempt_from if card else None,
            five_years_date=card.five_years_date if card else None,
            region_code=card.region_code if card else "",
        ),
        encounter=EncounterPart(
            claim_key=enc.claim_key,
            facility_code=enc.facility.code,
            department_code=enc.department.code if enc.department_id else "",
            visit_type=enc.visit_type,
            inpatient=enc.kind == "inpatient",
            arrival_mode=enc.arrival_mode,
            started_at=enc.started_at,
            admitted_at=enc.admitted_at,
            ended_at=enc.ended_at,
            reason=enc.reason,
            treatment_method=enc.treatment_method,
            treatment_result=enc.treatment_result,
            discharge_type=enc.discharge_type,
            conclusion=enc.conclusion,
            note=enc.discharge_advice or enc.conclusion_note,
            referral_from_code=enc.referral_from_code,
            referral_paper_number=enc.referral_paper_number,
            transfer_to_code=enc.transfer_to_code,
            follow_up_date=enc.follow_up_date,
            archive_number=enc.archive_number,
            closing_doctor_code=_code(enc.closed_by),
            closing_doctor_name=enc.closed_by.full_name if enc.closed_by_id else "",
            paid_at=paid_at,
        ),
        diagnoses=claim_dx,
        admission_diagnosis=admission_dx,
        drugs=tuple(drugs),
        services=tuple(lines),
        results=tuple(results),
        notes=tuple(course),
        accepted_icd=accepted,
    )
