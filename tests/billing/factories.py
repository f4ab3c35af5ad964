"""Arrangements for the billing tests: priced catalog items, mappings, cards, cashiers, encounters
with orders, prescriptions and stays (synthetic data, written straight to the database)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from billing.models import ServiceMapping
from ehealth.core.models import (
    Department,
    Drug,
    DrugPrice,
    Facility,
    MedicalService,
    Role,
    ServicePrice,
)
from ehealth.core.models.catalogs import CostGroup
from insurance.cards import card_split
from insurance.models import InsuranceCard
from patients.clinical_choices import (
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
)
from patients.models import Encounter, Patient, Prescription, PrescriptionItem, ServiceOrder
from patients.validation import VN_TZ
from tests.clinical.factories import make_encounter
from tests.core.factories import DepartmentFactory, make_staff
from tests.patients.factories import unique_card

_serial = itertools.count(1)
PRICE_FROM = date(2024, 1, 1)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A moment of a local (Asia/Ho_Chi_Minh) day."""
    return datetime.combine(day, time(hour, minute), tzinfo=VN_TZ)


def make_service(
    *,
    group: int = CostGroup.LAB,
    price: str | Decimal | None = "100000",
    bhyt_price: str | Decimal | None = None,
    valid_from: date = PRICE_FROM,
    valid_to: date | None = None,
    facility: Facility | None = None,
    code: str | None = None,
    name: str | None = None,
) -> MedicalService:
    """A catalog service, priced (BHYT price = hospital price unless given) unless price is None."""
    n = next(_serial)
    service = MedicalService.objects.create(
        code=code or f"TST.{group}.{n:04d}",
        name=name or f"Dịch vụ thử {n}",
        unit="lần",
        group=group,
    )
    if price is not None:
        add_service_price(
            service,
            price=price,
            bhyt_price=bhyt_price if bhyt_price is not None else price,
            valid_from=valid_from,
            valid_to=valid_to,
            facility=facility,
        )
    return service


def add_service_price(service, *, price, bhyt_price=None, valid_from, valid_to=None, facility=None):
    return ServicePrice.objects.create(
        item=service,
        facility=facility,
        hospital_price=Decimal(price),
        bhyt_price=None if bhyt_price is None else Decimal(bhyt_price),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def make_drug(
    *,
    price: str | None = "5000",
    bhyt_price: str | None = None,
    in_bhyt_list: bool | None = True,
    valid_from: date = PRICE_FROM,
    source: str = "",
) -> Drug:
    n = next(_serial)
    drug = Drug.objects.create(
        code=f"TH.TST{n:04d}", name=f"Thuốc thử {n}", unit="viên", in_bhyt_list=in_bhyt_list
    )
    if price is not None:
        DrugPrice.objects.create(
            item=drug,
            hospital_price=Decimal(price),
            bhyt_price=Decimal(bhyt_price if bhyt_price is not None else price),
            valid_from=valid_from,
            source=source,
        )
    return drug


def map_service(
    facility: Facility, purpose: str, service: MedicalService, department: Department | None = None
) -> ServiceMapping:
    return ServiceMapping.objects.create(
        facility=facility, department=department, purpose=purpose, service=service
    )


def exam_service(facility: Facility, price: str = "50600") -> MedicalService:
    """The facility's examination service (cost group 13), mapped facility-wide (made once)."""
    found = ServiceMapping.objects.filter(
        facility=facility, department=None, purpose=ServiceMapping.Purpose.EXAMINATION
    ).first()
    if found is not None:
        return found.service
    service = make_service(group=CostGroup.EXAMINATION, price=price)
    map_service(facility, ServiceMapping.Purpose.EXAMINATION, service)
    return service


def bed_service(
    facility: Facility, department: Department | None = None, price: str = "327100"
) -> MedicalService:
    """A bed-day service (cost group 15) mapped to the department (or facility-wide)."""
    service = make_service(group=CostGroup.INPATIENT_BED, price=price)
    map_service(facility, ServiceMapping.Purpose.BED_DAY, service, department)
    return service


def cashier_at(facility: Facility):
    return make_staff(facility, Role.CASHIER)


def approver_at(facility: Facility):
    return make_staff(facility, Role.UNIT_ADMIN)


def visit(
    facility: Facility,
    *,
    patient: Patient | None = None,
    started_at: datetime | None = None,
    card_code: str = "",
    **fields,
) -> Encounter:
    """An outpatient visit in examination (a doctor is the one who ordered)."""
    return make_encounter(
        facility=facility,
        patient=patient,
        status=fields.pop("status", EncounterStatus.IN_EXAMINATION),
        started_at=started_at,
        insurance_card_code=card_code,
        **fields,
    )


def stay(
    facility: Facility,
    *,
    department: Department,
    admitted_at: datetime,
    ended_at: datetime | None = None,
    patient: Patient | None = None,
    **fields,
) -> Encounter:
    """An inpatient stay in `department`; discharged when `ended_at` is given."""
    status = EncounterStatus.DISCHARGED if ended_at else EncounterStatus.ADMITTED
    return make_encounter(
        facility=facility,
        patient=patient,
        kind=EncounterKind.INPATIENT,
        status=status,
        started_at=admitted_at,
        ended_at=ended_at,
        department=department,
        **fields,
    )


def order(encounter: Encounter, service: MedicalService, by, *, quantity="1", **fields):
    return ServiceOrder.objects.create(
        encounter=encounter,
        service=service,
        quantity=Decimal(quantity),
        ordered_by=by,
        ordered_at=fields.pop("ordered_at", encounter.started_at),
        **fields,
    )


def cancel_order(o: ServiceOrder, by) -> None:
    o.status, o.cancelled_at, o.cancelled_by = OrderStatus.CANCELLED, o.ordered_at, by
    o.cancel_reason = "Chỉ định nhầm"
    o.save()


def prescription(
    encounter: Encounter,
    by,
    drugs: list[tuple[Drug, str]],
    *,
    status: str = PrescriptionStatus.ISSUED,
    for_day: date | None = None,
) -> Prescription:
    rx = Prescription.objects.create(
        encounter=encounter,
        status=status,
        prescribed_by=by,
        prescribed_at=encounter.started_at,
        for_day=for_day,
    )
    for drug, qty in drugs:
        PrescriptionItem.objects.create(
            prescription=rx,
            drug=drug,
            dose=Decimal(1),
            dose_unit="viên",
            route="uống",
            times_per_day=2,
            days=5,
            quantity=Decimal(qty),
        )
    return rx


def card_for(
    patient: Patient,
    *,
    group: str = "DN",
    level: int = 4,
    valid_from: date = date(2025, 1, 1),
    valid_to: date | None = date(2027, 12, 31),
    registered_facility_code: str = "",
    **fields,
) -> InsuranceCard:
    """A card of the patient recorded straight in the database (the cards service is tested by
    the insurance tests)."""
    parts = card_split(unique_card(group=group, level=level))
    return InsuranceCard.objects.create(
        patient=patient,
        code=parts.code,
        group_code=parts.group_code,
        benefit_digit=parts.benefit_digit,
        province_code=parts.province_code,
        social_insurance_number=parts.social_insurance_number,
        valid_from=valid_from,
        valid_to=valid_to,
        registered_facility_code=registered_facility_code,
        **fields,
    )


def other_department(facility: Facility) -> Department:
    return DepartmentFactory(facility=facility)


def days(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def billed_visit_invoice(facility: Facility, *, doctor, cashier, lab_price: str = "949400"):
    """An outpatient visit without card: examination 50,600 + a lab test; its invoice built
    (1,000,000 owed by default)."""
    from billing.charges import charges_derive
    from billing.invoices import invoice_build

    exam_service(facility, price="50600")
    enc = visit(facility, started_at=at(date(2025, 9, 15)))
    order(enc, make_service(price=lab_price), doctor)
    charges_derive(encounter_id=enc.pk)
    return invoice_build(actor=cashier, facility=facility, encounter=enc)


def billed_stay_invoice(facility: Facility, *, cashier, bed_price: str = "300000", nights: int = 2):
    """A discharged stay without card, `nights` + 1 bed-days at `bed_price`; its invoice built."""
    from billing.charges import charges_derive
    from billing.invoices import invoice_build

    department = DepartmentFactory(facility=facility)
    bed_service(facility, department, price=bed_price)
    start = date(2025, 9, 1)
    enc = stay(
        facility,
        department=department,
        admitted_at=at(start, 10),
        ended_at=at(start + timedelta(days=nights), 9),
    )
    charges_derive(encounter_id=enc.pk)
    return invoice_build(actor=cashier, facility=facility, encounter=enc)
