"""The record snapshot a dossier is built from (issue 5 "built only from the record").

`DossierData` and its parts are plain frozen dataclasses: the builders (`builders.py`) and the
validator (`validation.py`) are pure functions of them. The money of each line comes from
billing's charge lines with the benefit engine's split (`ChargeInput`, one per
`billing.ChargeLine`; brief 3.7 names in the comments). Reading them: `insurance.claims.data.read`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

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
