"""The rows a dossier is assembled from, and the assembly (no queries).

Plain records, filled from model instances by `read.dossier_data` (one encounter, the ORM) and
straight from `values_list` queries by `read.dossier_data_many` (a chunk of encounters: no model
instances, which cost more than the rest of the read). `assemble` turns them into a DossierData.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from insurance.claims.data.snapshot import (
    ZERO,
    CardPart,
    ChargeInput,
    CourseNote,
    DiagnosisPart,
    DossierData,
    DrugLine,
    EncounterPart,
    PatientPart,
    ResultLine,
    ServiceLine,
)


def practitioner_code(user) -> str:
    return getattr(user, "practitioner_code", "") if user is not None else ""


def _day_start(day: date) -> datetime:
    """Local midnight (Asia/Ho_Chi_Minh) of a service day."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@dataclass(slots=True)
class EncounterRow:
    pk: int
    facility_id: int
    kind: str
    visit_type: str
    arrival_mode: str
    claim_key: str
    started_at: datetime
    admitted_at: datetime | None
    ended_at: datetime | None
    reason: str
    treatment_method: str
    treatment_result: str
    discharge_type: str
    conclusion: str
    conclusion_note: str
    discharge_advice: str
    referral_from_code: str
    referral_paper_number: str
    transfer_to_code: str
    follow_up_date: date | None
    archive_number: str
    insurance_card_code: str
    insurance_card_valid_from: date | None
    insurance_card_valid_to: date | None
    registered_facility_code: str
    facility_code: str
    department_code: str  # "" without a department
    attending_code: str  # practitioner codes, "" without the person
    closed_by_code: str
    closed_by_name: str
    patient_id: int
    full_name: str
    birth_date: date | None
    birth_year: int
    sex: str
    nationality_code: str
    ethnicity_code: str
    occupation_code: str
    phone: str
    address_line: str
    commune_name: str  # "" without a commune
    province_name: str
    province_id: str | None
    commune_id: str | None


# The columns of `EncounterRow`, as `values_list` lookups from Encounter, in field order.
ENCOUNTER_VALUES = (
    "pk", "facility_id", "kind", "visit_type", "arrival_mode", "claim_key", "started_at",
    "admitted_at", "ended_at", "reason", "treatment_method", "treatment_result",
    "discharge_type", "conclusion", "conclusion_note", "discharge_advice", "referral_from_code",
    "referral_paper_number", "transfer_to_code", "follow_up_date", "archive_number",
    "insurance_card_code", "insurance_card_valid_from", "insurance_card_valid_to",
    "registered_facility_code", "facility__code", "department__code",
    "attending__practitioner_code", "closed_by__practitioner_code", "closed_by__full_name",
    "patient_id", "patient__full_name", "patient__birth_date", "patient__birth_year",
    "patient__sex", "patient__nationality_code", "patient__ethnicity_code",
    "patient__occupation_code", "patient__phone", "patient__address_line",
    "patient__commune__name", "patient__province__name", "patient__province_id",
    "patient__commune_id",
)  # fmt: skip
ENCOUNTER_NULLABLE_TEXT = (26, 27, 28, 29, 40, 41)  # joined columns: None when no row joins


@dataclass(slots=True)
class DiagnosisRow:
    phase: str
    icd_code: str
    text: str
    rank: int


@dataclass(slots=True)
class CatalogRow:
    """A service or supply of the catalog as a dossier line names it."""

    moh_code: str
    name: str
    unit: str = ""
    package: str = ""


@dataclass(slots=True)
class OrderRow:
    pk: int
    service_id: int
    service: CatalogRow
    status: str
    cancelled_at: datetime | None
    ordered_at: datetime
    ordered_by_code: str
    performed_at: datetime | None
    performed_by_code: str
    resulted_at: datetime | None
    result_description: str
    result_conclusion: str
    values: list[tuple[str, str, str, str]]  # (code, name, value, unit) of each result value


@dataclass(slots=True)
class ItemRow:
    """A prescription item with its drug and its prescription's doctor and time."""

    active_ingredient_code: str
    name: str
    unit: str
    strength: str
    route_code: str
    dosage_form: str
    registration_number: str
    dose: Decimal
    dose_unit: str
    times_per_day: int
    days: int
    instructions: str
    prescribed_by_code: str
    prescribed_at: datetime


@dataclass(slots=True)
class CardRow:
    registered_facility_code: str
    valid_from: date | None
    valid_to: date | None
    copay_exempt_from: date | None
    five_years_date: date | None
    region_code: str


@dataclass
class Loaded:
    """The rows one encounter's dossier is assembled from."""

    enc: EncounterRow
    charges: list[ChargeInput]
    paid_at: datetime | None
    idents: dict  # (system, facility id) -> value, the patient's live identifiers
    card: CardRow | None
    diagnoses: list[DiagnosisRow]  # live ones
    orders: dict[int, OrderRow]  # in the order of the record (encounter, ordered_at, id)
    rx_items: dict[int, ItemRow]
    services: dict[int, CatalogRow]
    supplies: dict[int, CatalogRow]
    notes: list[CourseNote]  # live progress notes, in time order
    consultations: list[CourseNote]
    icd_rows: dict[str, list[tuple[date, date | None]]]  # billable code -> (valid from, to)


def claim_diagnoses(enc, diagnoses) -> tuple[tuple[DiagnosisPart, ...], str]:
    """The claim's diagnoses (discharge phase for a stay when recorded, else the visit's) and
    the admission diagnosis text (CHAN_DOAN_VAO)."""
    from patients.clinical_choices import DiagnosisPhase

    phase = DiagnosisPhase.ENCOUNTER
    if enc.kind == "inpatient" and any(d.phase == DiagnosisPhase.DISCHARGE for d in diagnoses):
        phase = DiagnosisPhase.DISCHARGE
    ranked = sorted(diagnoses, key=lambda d: d.rank)
    claim_dx = tuple(
        DiagnosisPart(code=d.icd_code, text=d.text, rank=d.rank, phase=d.phase)
        for d in ranked
        if d.phase == phase
    )
    return claim_dx, "; ".join(d.text for d in ranked if d.phase == "admission")


def _accepted(codes: set[str], on: date, icd_rows: dict[str, list]) -> frozenset[str]:
    """The codes accepted by the catalog in force on `on` (billable rows, valid that day)."""
    return frozenset(
        code
        for code in codes
        for valid_from, valid_to in icd_rows.get(code, ())
        if valid_from <= on and (valid_to is None or valid_to >= on)
    )


def icd_by_code(rows) -> dict[str, list[tuple[date, date | None]]]:
    """Billable ICD-10 rows (code, valid_from, valid_to) by code."""
    by_code: dict[str, list[tuple[date, date | None]]] = {}
    for code, valid_from, valid_to in rows:
        by_code.setdefault(code, []).append((valid_from, valid_to))
    return by_code


def progress_note(text: str, stage: str, at: datetime, author_code: str | None) -> CourseNote:
    return CourseNote(text, stage, "", "", at, author_code or "")


def consultation_note(reason: str, conclusion: str, at: datetime, by: str | None) -> CourseNote:
    return CourseNote(reason or "Hội chẩn", "", conclusion, "", at, by or "")


def assemble(loaded: Loaded) -> DossierData:
    """The DossierData of one encounter from its rows (no queries)."""
    from patients.choices import IdentifierSystem
    from patients.clinical_choices import OrderStatus

    enc, charges, orders, rx_items = loaded.enc, loaded.charges, loaded.orders, loaded.rx_items
    services, supplies, card, idents = loaded.services, loaded.supplies, loaded.card, loaded.idents
    claim_dx, admission_dx = claim_diagnoses(enc, loaded.diagnoses)
    on = (enc.ended_at or enc.started_at).date()
    accepted = _accepted({d.code for d in claim_dx}, on, loaded.icd_rows)

    drugs, lines = [], []
    for c in charges:
        if c.source_kind == "drug":
            item = rx_items.get(c.source_id)
            drugs.append(
                DrugLine(
                    drug_code=(item.active_ingredient_code if item else ""),
                    name=item.name if item else c.item_name,
                    unit=(item.unit if item else c.unit),
                    strength=item.strength if item else "",
                    route_code=item.route_code if item else "",
                    dosage_form=item.dosage_form if item else "",
                    dose_text=(
                        f"{item.dose.normalize():f} {item.dose_unit} x {item.times_per_day} "
                        f"lần/ngày x {item.days} ngày"
                        if item
                        else ""
                    ),
                    usage=item.instructions if item else "",
                    registration_number=item.registration_number if item else "",
                    tender="",
                    cost_group=c.cost_group,
                    in_scope=c.in_scope,
                    bhyt_ratio=c.bhyt_ratio,
                    quantity=c.quantity,
                    unit_price=c.hospital_price,
                    money=c.money,
                    department_code=c.department_code,
                    doctor_code=item.prescribed_by_code if item else "",
                    ordered_at=item.prescribed_at if item else enc.started_at,
                    days=item.days if item else 0,
                )
            )
            continue
        order = orders.get(c.source_id) if c.source_kind == "service_order" else None
        service = services.get(c.service_id) if c.service_id else None
        supply = supplies.get(c.supply_id) if c.supply_id else None
        if order is not None:
            ordered_at, doctor = order.ordered_at, order.ordered_by_code
        elif c.source_kind == "examination":
            ordered_at, doctor = enc.started_at, enc.attending_code
        else:
            ordered_at = max(_day_start(c.service_date), enc.admitted_at or enc.started_at)
            doctor = enc.attending_code
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
                performer_code=order.performed_by_code if order else "",
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
            "reader_code": order.performed_by_code,
        }
        if not order.values:
            results.append(ResultLine(index_code="", index_name="", value="", unit="", **common))
        for code, name, value, unit in order.values:
            results.append(
                ResultLine(index_code=code, index_name=name, value=value, unit=unit, **common)
            )

    course = [*loaded.notes, *loaded.consultations]
    course.sort(key=lambda n: n.at)
    address = ", ".join(p for p in (enc.address_line, enc.commune_name, enc.province_name) if p)
    return DossierData(
        patient=PatientPart(
            record_number=idents.get((IdentifierSystem.MRN, enc.facility_id), ""),
            full_name=enc.full_name,
            cccd=idents.get((IdentifierSystem.CCCD, None), ""),
            birth_date=enc.birth_date,
            birth_year=enc.birth_year,
            sex_code=enc.sex or "3",  # Sex values are the QĐ 130 codes
            nationality_code=enc.nationality_code,
            ethnicity_code=enc.ethnicity_code,
            occupation_code=enc.occupation_code,
            address=address,
            province_code=enc.province_id or "",
            commune_code=enc.commune_id or "",
            phone=enc.phone,
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
            facility_code=enc.facility_code,
            department_code=enc.department_code,
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
            closing_doctor_code=enc.closed_by_code,
            closing_doctor_name=enc.closed_by_name,
            paid_at=loaded.paid_at,
        ),
        diagnoses=claim_dx,
        admission_diagnosis=admission_dx,
        drugs=tuple(drugs),
        services=tuple(lines),
        results=tuple(results),
        notes=tuple(course),
        accepted_icd=accepted,
    )
