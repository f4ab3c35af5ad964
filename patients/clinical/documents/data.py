"""What the clinical documents show, as frozen dataclasses, and the builders that read them.

Each document is split in two, as `billing/pdf/receipt.py` is meant to be (STYLE.md): a builder here
reads the models with a fixed number of queries (select_related/prefetch/subqueries: the count does
not grow with the number of drug lines, results or diagnoses) and returns a frozen dataclass; a
pure `render_<doc>(data) -> bytes` in the sibling module lays it out, with no queries.

The builders do NOT check permissions and do NOT write the audit trail: the caller does both,
before calling them. The pages helper's views fetch the encounter with
`patients.clinical.selectors.encounter_get(user=..., pk=...)` (scoped, 404 when not visible,
audited), record a `document.print` audit row, and only then pass the encounter (or one of its
prescriptions/orders) here. Never call a builder with an object loaded by a client-supplied id
without that check.

The documents are statutory Vietnamese forms, so their labels are Vietnamese only (not gettext):
a prescription printed for an English-speaking user must still be the MoH form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils import translation

from ehealth.core.models import Facility
from ehealth.core.models.catalogs import CostGroup
from patients.choices import AddressScheme, IdentifierSystem, Sex
from patients.clinical.documents.layout import age_in_months, fmt_decimal, local_date
from patients.clinical_choices import (
    DiagnosisPhase,
    DischargeType,
    EncounterKind,
    OrderStatus,
    PrescriptionStatus,
    TreatmentResult,
    VisitType,
)
from patients.ethnicities import ethnicity_name
from patients.models import (
    Diagnosis,
    Encounter,
    PatientIdentifier,
    Prescription,
    PrescriptionItem,
    ResultValue,
    ServiceOrder,
    VitalSigns,
)

# --- Dataclasses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityInfo:
    """The issuing facility, for the header of every document."""

    name: str
    code: str
    address: str = ""
    phone: str = ""
    managing_body: str = ""


@dataclass(frozen=True)
class PatientInfo:
    """The administrative part of a form. `sex` is the label (Nam/Nữ); the card is the one
    presented for this encounter (falling back to the card on the patient's record)."""

    full_name: str
    birth_year: int
    sex: str
    birth_date: date | None = None
    address: str = ""
    record_number: str = ""
    identity_number: str = ""
    insurance_card_code: str = ""
    card_valid_from: date | None = None
    card_valid_to: date | None = None
    ethnicity: str = ""
    occupation: str = ""
    phone: str = ""
    guardian: str = ""


@dataclass(frozen=True)
class DiagnosisLine:
    icd_code: str
    text: str
    is_main: bool = False


@dataclass(frozen=True)
class DrugLine:
    """One numbered line of a prescription."""

    number: int
    name: str
    quantity: Decimal
    unit: str
    dose: Decimal
    dose_unit: str
    times_per_day: int
    days: int
    route: str
    active_ingredient: str = ""
    strength: str = ""
    dosage_form: str = ""
    instructions: str = ""


@dataclass(frozen=True)
class PrescriptionDoc:
    """Đơn thuốc: MoH prescription form (outpatient)."""

    facility: FacilityInfo
    patient: PatientInfo
    number: str
    prescribed_at: datetime
    doctor_name: str
    diagnoses: tuple[DiagnosisLine, ...]
    lines: tuple[DrugLine, ...]
    department: str = ""
    doctor_code: str = ""
    weight_kg: Decimal | None = None
    advice: str = ""
    follow_up_date: date | None = None
    is_draft: bool = False


@dataclass(frozen=True)
class ResultLine:
    """One measured value. `flag` is 'H', 'L', 'N' or '' (not numeric / no range)."""

    name: str
    value: str
    unit: str = ""
    code: str = ""
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    flag: str = ""

    @property
    def out_of_range(self) -> bool:
        return self.flag in ("H", "L")


@dataclass(frozen=True)
class ResultOrder:
    """One resulted service order and its values."""

    service_code: str
    service_name: str
    ordered_at: datetime
    values: tuple[ResultLine, ...] = ()
    resulted_at: datetime | None = None
    performing_department: str = ""
    performed_by: str = ""
    conclusion: str = ""
    description: str = ""


@dataclass(frozen=True)
class LabResultDoc:
    """Phiếu kết quả xét nghiệm of an encounter (all its resulted lab orders) or of one order."""

    facility: FacilityInfo
    patient: PatientInfo
    title: str
    orders: tuple[ResultOrder, ...]
    diagnoses: tuple[DiagnosisLine, ...]
    encounter_started_at: datetime
    number: str = ""
    department: str = ""
    ordering_doctor: str = ""


@dataclass(frozen=True)
class TransferPaperDoc:
    """Giấy chuyển cơ sở khám bệnh, chữa bệnh (XML13 content)."""

    facility: FacilityInfo
    patient: PatientInfo
    paper_number: str
    destination_code: str
    destination_name: str
    treated_from: datetime
    care_kind: str
    diagnoses: tuple[DiagnosisLine, ...]
    department: str = ""
    treated_to: datetime | None = None
    clinical_findings: str = ""
    results_summary: tuple[str, ...] = ()
    treatment_given: str = ""
    drugs_given: tuple[str, ...] = ()
    condition_at_transfer: str = ""
    reason: str = ""
    reason_kind: str = ""
    plan: str = ""
    transferred_at: datetime | None = None
    doctor_name: str = ""


@dataclass(frozen=True)
class DischargePaperDoc:
    """Giấy ra viện: the fields of XML7 (MA_YTE, SO_LUU_TRU, MA_KHOA_RV, NGAY_VAO, NGAY_RA,
    CHAN_DOAN_RV, PP_DIEUTRI, GHI_CHU, TEN_BS/MA_BS, NGAY_CT) plus the outcome of the stay."""

    facility: FacilityInfo
    patient: PatientInfo
    department_name: str
    department_code: str
    admitted_at: datetime
    diagnoses: tuple[DiagnosisLine, ...]
    discharged_at: datetime | None = None
    started_at: datetime | None = None
    claim_key: str = ""
    storage_number: str = ""
    treatment_method: str = ""
    treatment_summary: str = ""
    treatment_result: str = ""
    discharge_type: str = ""
    advice: str = ""
    follow_up_date: date | None = None
    treatment_days: int | None = None
    doctor_name: str = ""
    doctor_code: str = ""


# --- Reading helpers --------------------------------------------------------------------------

_ENCOUNTER_RELATED = (
    "facility",
    "department",
    "patient",
    "patient__province",
    "patient__commune",
)


def _encounter_prefetches(prefix: str = "") -> list[Prefetch]:
    return [
        Prefetch(
            f"{prefix}diagnoses",
            queryset=Diagnosis.objects.filter(voided_at__isnull=True).order_by("phase", "rank"),
        ),
        Prefetch(
            f"{prefix}patient__identifiers",
            queryset=PatientIdentifier.objects.filter(voided_at__isnull=True).order_by("id"),
        ),
    ]


def _encounters() -> QuerySet[Encounter]:
    """Encounters with what every document header needs: 3 queries with the prefetches."""
    return Encounter.objects.select_related(*_ENCOUNTER_RELATED).prefetch_related(
        *_encounter_prefetches()
    )


def _person(user) -> str:
    if user is None:
        return ""
    return user.full_name or user.username


def _facility(encounter: Encounter) -> FacilityInfo:
    f = encounter.facility
    return FacilityInfo(
        name=f.name,
        code=f.code,
        address=f.address,
        phone=f.phone,
        managing_body=f.managing_body,
    )


def _address(patient) -> str:
    if patient.address_scheme == AddressScheme.LEGACY:
        return patient.legacy_address
    parts = [patient.address_line]
    if patient.commune_id:
        parts.append(patient.commune.name)
    if patient.province_id:
        parts.append(patient.province.name)
    address = ", ".join(p for p in parts if p)
    return address or patient.legacy_address


def _patient(encounter: Encounter, *, on: date | None = None) -> PatientInfo:
    """The patient block, from the prefetched identifiers (no query)."""
    p = encounter.patient
    ids = list(p.identifiers.all())
    record = next(
        (
            i.value
            for i in ids
            if i.system == IdentifierSystem.MRN and i.facility_id == encounter.facility_id
        ),
        "",
    )
    cccd = next((i.value for i in ids if i.system == IdentifierSystem.CCCD), "")
    if not cccd:
        cccd = next((i.value for i in ids if i.system == IdentifierSystem.PASSPORT), "")
    card = encounter.insurance_card_code
    valid_from, valid_to = encounter.insurance_card_valid_from, encounter.insurance_card_valid_to
    if not card:
        card = next((i.value for i in ids if i.system == IdentifierSystem.BHYT), "")
        valid_from = valid_to = None
    guardian = ""
    if on is not None and p.birth_date is not None and age_in_months(p.birth_date, on) < 72:
        # The form asks for a parent or guardian of a child under 72 months.
        guardian = p.emergency_contact_name
        if guardian and p.emergency_contact_relation:
            guardian = f"{guardian} ({p.emergency_contact_relation})"
    with translation.override("vi"):
        sex = str(Sex(p.sex).label) if p.sex in Sex.values else p.sex
    return PatientInfo(
        full_name=p.full_name,
        birth_date=p.birth_date,
        birth_year=p.birth_year,
        sex=sex,
        address=_address(p),
        record_number=record,
        identity_number=cccd,
        insurance_card_code=card,
        card_valid_from=valid_from,
        card_valid_to=valid_to,
        ethnicity=ethnicity_name(p.ethnicity_code) if p.ethnicity_code else "",
        occupation=p.occupation,
        phone=p.phone,
        guardian=guardian,
    )


def _diagnoses(encounter: Encounter, phases: tuple[str, ...]) -> tuple[DiagnosisLine, ...]:
    """The live diagnoses of the first phase in `phases` that has any (prefetched, no query)."""
    live = list(encounter.diagnoses.all())
    for phase in phases:
        chosen = sorted((d for d in live if d.phase == phase), key=lambda d: d.rank)
        if chosen:
            return tuple(
                DiagnosisLine(icd_code=d.icd_code, text=d.text, is_main=d.rank == 0) for d in chosen
            )
    return ()


def _treatment_phases(encounter: Encounter) -> tuple[str, ...]:
    if encounter.kind == EncounterKind.INPATIENT:
        return (DiagnosisPhase.DISCHARGE, DiagnosisPhase.ENCOUNTER, DiagnosisPhase.ADMISSION)
    return (DiagnosisPhase.ENCOUNTER,)


def _label(choices, value: str) -> str:
    if not value:
        return ""
    with translation.override("vi"):
        return str(choices(value).label) if value in choices.values else value


def _result_orders() -> QuerySet[ServiceOrder]:
    """Orders with their service, people and values (2 queries)."""
    return (
        ServiceOrder.objects.select_related(
            "service", "performing_department", "ordered_by", "performed_by"
        )
        .prefetch_related(
            Prefetch(
                "values",
                queryset=ResultValue.objects.select_related("entered_by").order_by("id"),
            )
        )
        .order_by("ordered_at", "id")
    )


def _flag(v: ResultValue) -> str:
    """The stored flag; computed from the numeric value and range when the row has none."""
    if v.flag:
        return v.flag
    if v.numeric_value is None or (v.reference_low is None and v.reference_high is None):
        return ""
    if v.reference_low is not None and v.numeric_value < v.reference_low:
        return "L"
    if v.reference_high is not None and v.numeric_value > v.reference_high:
        return "H"
    return "N"


def _result_order(o: ServiceOrder) -> ResultOrder:
    values = list(o.values.all())
    performer = _person(o.performed_by) or next(
        (_person(v.entered_by) for v in values if v.entered_by_id), ""
    )
    return ResultOrder(
        service_code=o.service.code,
        service_name=o.service.name,
        ordered_at=o.ordered_at,
        resulted_at=o.resulted_at,
        performing_department=o.performing_department.name if o.performing_department else "",
        performed_by=performer,
        conclusion=o.result_conclusion,
        description=o.result_description,
        values=tuple(
            ResultLine(
                name=v.name,
                code=v.code,
                value=v.value,
                unit=v.unit,
                reference_low=v.reference_low,
                reference_high=v.reference_high,
                flag=_flag(v),
            )
            for v in values
        ),
    )


def _drug_line(number: int, item: PrescriptionItem) -> DrugLine:
    drug = item.drug
    return DrugLine(
        number=number,
        name=drug.name,
        active_ingredient=drug.active_ingredient,
        strength=drug.strength,
        dosage_form=drug.dosage_form,
        quantity=item.quantity,
        unit=drug.unit or item.dose_unit,
        dose=item.dose,
        dose_unit=item.dose_unit,
        times_per_day=item.times_per_day,
        days=item.days,
        route=item.route or drug.route,
        instructions=item.instructions,
    )


# --- Builders ---------------------------------------------------------------------------------


def prescription_doc(*, prescription: Prescription) -> PrescriptionDoc:
    """The prescription form of one prescription: 4 queries whatever the number of lines."""
    latest_weight = (
        VitalSigns.objects.filter(
            encounter_id=OuterRef("encounter_id"), voided_at__isnull=True, weight_kg__isnull=False
        )
        .order_by("-recorded_at", "-id")
        .values("weight_kg")[:1]
    )
    rx = (
        Prescription.objects.select_related(
            "prescribed_by", *(f"encounter__{r}" for r in _ENCOUNTER_RELATED)
        )
        .annotate(latest_weight=Subquery(latest_weight))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PrescriptionItem.objects.filter(voided_at__isnull=True)
                .select_related("drug")
                .order_by("id"),
            ),
            *_encounter_prefetches("encounter__"),
        )
        .get(pk=prescription.pk)
    )
    encounter = rx.encounter
    on = local_date(rx.prescribed_at)
    return PrescriptionDoc(
        facility=_facility(encounter),
        department=encounter.department.name if encounter.department else "",
        patient=_patient(encounter, on=on),
        number=f"{rx.pk:06d}",
        prescribed_at=rx.prescribed_at,
        doctor_name=_person(rx.prescribed_by),
        doctor_code=rx.prescribed_by.practitioner_code,
        weight_kg=rx.latest_weight,
        diagnoses=_diagnoses(encounter, _treatment_phases(encounter)),
        lines=tuple(_drug_line(n, item) for n, item in enumerate(rx.items.all(), start=1)),
        advice=rx.note or encounter.conclusion_note,
        follow_up_date=encounter.follow_up_date,
        is_draft=rx.status != PrescriptionStatus.ISSUED,
    )


def lab_result_doc(
    *, encounter: Encounter | None = None, order: ServiceOrder | None = None
) -> LabResultDoc:
    """The result sheet of one order, or of every resulted lab order of an encounter.

    5 queries whatever the number of orders and values.
    """
    if (encounter is None) == (order is None):
        raise TypeError("lab_result_doc takes exactly one of encounter= or order=")
    orders_qs = _result_orders().exclude(status=OrderStatus.CANCELLED)
    if order is not None:
        orders_qs = orders_qs.filter(pk=order.pk)
        encounter_id = order.encounter_id
    else:
        orders_qs = orders_qs.filter(
            encounter_id=encounter.pk, status=OrderStatus.RESULTED, service__group=CostGroup.LAB
        )
        encounter_id = encounter.pk
    enc = _encounters().get(pk=encounter_id)
    orders = list(orders_qs)
    all_lab = all(o.service.group == CostGroup.LAB for o in orders)
    doctors = list(dict.fromkeys(_person(o.ordered_by) for o in orders if o.ordered_by_id))
    first = orders[0].ordered_at if orders else enc.started_at
    return LabResultDoc(
        facility=_facility(enc),
        department=enc.department.name if enc.department else "",
        patient=_patient(enc, on=local_date(first)),
        title="Phiếu kết quả xét nghiệm" if all_lab else "Phiếu kết quả cận lâm sàng",
        number=f"{order.pk:06d}" if order is not None else "",
        orders=tuple(_result_order(o) for o in orders),
        diagnoses=_diagnoses(enc, _treatment_phases(enc)),
        encounter_started_at=enc.started_at,
        ordering_doctor=", ".join(doctors),
    )


def _vitals_summary(v: VitalSigns | None) -> str:
    if v is None:
        return ""
    parts = []
    if v.pulse is not None:
        parts.append(f"Mạch {v.pulse} lần/phút")
    if v.systolic is not None and v.diastolic is not None:
        parts.append(f"Huyết áp {v.systolic}/{v.diastolic} mmHg")
    if v.temperature is not None:
        parts.append(f"Nhiệt độ {fmt_decimal(v.temperature)} °C")
    if v.respiratory_rate is not None:
        parts.append(f"Nhịp thở {v.respiratory_rate} lần/phút")
    if v.spo2 is not None:
        parts.append(f"SpO2 {v.spo2} %")
    return ", ".join(parts)


def _result_summary(o: ResultOrder) -> str:
    """'Công thức máu: Bạch cầu 15.2 G/L (cao); ... Kết luận: ...' (values as entered)."""
    parts = [f"{v.name} {v.value}{(' ' + v.unit) if v.unit else ''}{_mark(v)}" for v in o.values]
    summary = f"{o.service_name}: " + "; ".join(parts) if parts else o.service_name
    if o.conclusion:
        summary += f". Kết luận: {o.conclusion}" if parts else f": {o.conclusion}"
    return summary


def _mark(v: ResultLine) -> str:
    return {"H": " (cao)", "L": " (thấp)"}.get(v.flag, "")


def transfer_paper_doc(*, encounter: Encounter) -> TransferPaperDoc:
    """The transfer paper of an encounter concluded (or discharged) with a transfer.

    8 queries whatever the number of results, prescriptions and diagnoses.
    """
    destination = Facility.objects.filter(code=OuterRef("transfer_to_code")).values("name")[:1]
    enc = (
        _encounters()
        .select_related("closed_by", "attending")
        .annotate(destination_name=Subquery(destination))
        .prefetch_related(
            Prefetch(
                "prescriptions",
                queryset=Prescription.objects.exclude(status=PrescriptionStatus.CANCELLED).order_by(
                    "prescribed_at", "id"
                ),
            ),
            Prefetch(
                "prescriptions__items",
                queryset=PrescriptionItem.objects.filter(voided_at__isnull=True)
                .select_related("drug")
                .order_by("id"),
            ),
        )
        .get(pk=encounter.pk)
    )
    orders = list(_result_orders().filter(encounter_id=enc.pk, status=OrderStatus.RESULTED))
    vitals = (
        VitalSigns.objects.filter(encounter_id=enc.pk, voided_at__isnull=True)
        .order_by("-recorded_at", "-id")
        .first()
    )
    drugs: list[str] = []
    for rx in enc.prescriptions.all():
        for item in rx.items.all():
            name = _drug_title(item.drug)
            if name not in drugs:
                drugs.append(name)
    inpatient = enc.kind == EncounterKind.INPATIENT
    with translation.override("vi"):
        care_kind = str(VisitType(enc.visit_type).label) if enc.visit_type else ""
    findings = "\n".join(t for t in (enc.history, enc.examination_findings) if t)
    reason_kind = ""
    if enc.discharge_type in (
        DischargeType.TRANSFERRED_MEDICAL,
        DischargeType.TRANSFERRED_ON_REQUEST,
    ):
        reason_kind = _label(DischargeType, enc.discharge_type)
    return TransferPaperDoc(
        facility=_facility(enc),
        department=enc.department.name if enc.department else "",
        patient=_patient(enc),
        paper_number=enc.transfer_paper_number,
        destination_code=enc.transfer_to_code,
        destination_name=enc.destination_name or "",
        treated_from=enc.admitted_at if inpatient and enc.admitted_at else enc.started_at,
        treated_to=enc.ended_at,
        care_kind=care_kind,
        clinical_findings=findings,
        results_summary=tuple(_result_summary(_result_order(o)) for o in orders),
        diagnoses=_diagnoses(enc, _treatment_phases(enc)),
        treatment_given=enc.treatment_summary if inpatient else enc.treatment_method,
        drugs_given=tuple(drugs),
        condition_at_transfer=_vitals_summary(vitals),
        reason=enc.transfer_reason,
        reason_kind=reason_kind,
        plan=enc.discharge_advice if inpatient else enc.conclusion_note,
        transferred_at=enc.ended_at,
        doctor_name=_person(enc.closed_by or enc.attending),
    )


def _drug_title(drug) -> str:
    name = drug.name
    if drug.strength and drug.strength not in name:
        name = f"{name} {drug.strength}"
    return name


def discharge_paper_doc(*, encounter: Encounter) -> DischargePaperDoc:
    """The discharge paper (Giấy ra viện) of an inpatient stay: 3 queries."""
    enc = _encounters().select_related("closed_by", "attending").get(pk=encounter.pk)
    doctor = enc.closed_by or enc.attending
    return DischargePaperDoc(
        facility=_facility(enc),
        patient=_patient(enc),
        department_name=enc.department.name if enc.department else "",
        department_code=enc.department.code if enc.department else "",
        claim_key=enc.claim_key,
        started_at=enc.started_at,
        admitted_at=enc.admitted_at or enc.started_at,
        discharged_at=enc.ended_at,
        diagnoses=_diagnoses(
            enc, (DiagnosisPhase.DISCHARGE, DiagnosisPhase.ENCOUNTER, DiagnosisPhase.ADMISSION)
        ),
        treatment_method=enc.treatment_method,
        treatment_summary=enc.treatment_summary,
        treatment_result=_label(TreatmentResult, enc.treatment_result),
        discharge_type=_label(DischargeType, enc.discharge_type),
        advice=enc.discharge_advice,
        follow_up_date=enc.follow_up_date,
        treatment_days=enc.treatment_days,
        doctor_name=_person(doctor),
        doctor_code=doctor.practitioner_code if doctor else "",
    )
