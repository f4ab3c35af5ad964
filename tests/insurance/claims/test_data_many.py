"""`dossier_data_many` reads many encounters at once and gives what `dossier_data` gives for each.

The records of `records.py` (and a second visit of the same patient, and a visit of another
patient) are billed the way billing keeps them (a live invoice with split charge lines, plus a
dropped line and a cancelled invoice that must not be read), so both readers take the charges
from billing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import ChargeLine, Invoice
from ehealth.core.models import Department, MedicalService
from ehealth.core.models.catalogs import CostGroup
from insurance.claims.data import ChargeInput, dossier_data, dossier_data_many
from patients.clinical_choices import (
    ArrivalMode,
    DiagnosisPhase,
    EncounterKind,
    EncounterStatus,
    OrderStatus,
)
from patients.models import Diagnosis, ResultValue, ServiceOrder
from tests.clinical.factories import make_encounter, make_icd
from tests.insurance.claims.records import D, inpatient_stay, local, money, outpatient_visit
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def bill(encounter, charges: list[ChargeInput], *, settled_at=None) -> Invoice:
    """The live invoice of the encounter with its split lines, as billing writes them."""
    departments = {d.code: d for d in Department.objects.filter(facility_id=encounter.facility_id)}
    total = {k: sum((getattr(c.money, k) for c in charges), Decimal(0)) for k in ("hospital_amount", "bhyt_amount", "fund", "copay", "self_pay", "other")}  # fmt: skip
    invoice = Invoice.objects.create(
        encounter=encounter,
        facility_id=encounter.facility_id,
        patient_id=encounter.patient_id,
        status="settled" if settled_at else "paid",
        total_hospital=total["hospital_amount"],
        total_bhyt=total["bhyt_amount"],
        total_fund=total["fund"],
        total_copay=total["copay"],
        total_self_pay=total["self_pay"],
        total_other=total["other"],
        patient_amount=total["copay"] + total["self_pay"],
        settled_at=settled_at,
    )
    for c in charges:
        ChargeLine.objects.create(
            encounter=encounter,
            facility_id=encounter.facility_id,
            invoice=invoice,
            source_kind=c.source_kind,
            source_id=c.source_id,
            service_date=c.service_date,
            department=departments.get(c.department_code),
            service_id=c.service_id,
            drug_id=c.drug_id,
            supply_id=c.supply_id,
            item_code=c.item_code or f"ITEM{c.source_id}",
            item_name=c.item_name or "Mục chi phí",
            unit=c.unit,
            cost_group=c.cost_group,
            quantity=c.quantity,
            hospital_price=c.hospital_price,
            bhyt_price=c.bhyt_price,
            service_ratio=c.service_ratio,
            bhyt_ratio=c.bhyt_ratio,
            in_scope=c.in_scope,
            hospital_amount=c.money.hospital_amount,
            bhyt_amount=c.money.bhyt_amount,
            benefit_rate=c.money.benefit_rate,
            fund=c.money.fund,
            copay=c.money.copay,
            self_pay=c.money.self_pay,
            other=c.money.other,
        )
    return invoice


def stale_billing(encounter, service) -> None:
    """A dropped line on the live invoice and a cancelled invoice with a line: neither is read."""
    live = Invoice.objects.get(encounter=encounter)
    old = Invoice.objects.create(
        encounter=encounter,
        facility_id=encounter.facility_id,
        patient_id=encounter.patient_id,
        status="cancelled",
    )
    for n, (invoice, status) in enumerate(((live, "dropped"), (old, "active")), start=1):
        ChargeLine.objects.create(
            encounter=encounter,
            facility_id=encounter.facility_id,
            invoice=invoice,
            source_kind="service_order",
            source_id=900_000 + n,
            service_date=date(2026, 11, 10),
            service=service,
            item_code="XN.CU",
            item_name="Dòng cũ",
            cost_group=CostGroup.LAB,
            quantity=D(1),
            hospital_price=D(1000),
            status=status,
            dropped_at=encounter.started_at if status == "dropped" else None,
            drop_reason="Chỉ định đã huỷ" if status == "dropped" else "",
        )


def second_visit(s):
    """A later outpatient visit of the same patient at the same unit: one diagnosis, a resulted
    lab order with two values, its examination."""
    make_icd("K29.7", "Viêm dạ dày, không đặc hiệu")
    department = Department.objects.get(facility=s.facility, code="K03")
    visit = make_encounter(
        facility=s.facility,
        patient=s.encounter.patient,
        kind=EncounterKind.OUTPATIENT,
        status=EncounterStatus.CONCLUDED,
        started_at=local(2026, 11, 25, 14, 0),
        ended_at=local(2026, 11, 25, 15, 5),
        attending=s.doctor,
        closed_by=s.doctor,
        department=department,
        arrival_mode=ArrivalMode.FOLLOW_UP,
        insurance_card_code=s.encounter.insurance_card_code,
        reason="Đau thượng vị",
        conclusion="home",
    )
    Diagnosis.objects.create(
        encounter=visit, phase=DiagnosisPhase.ENCOUNTER, icd_code="K29.7",
        text="Viêm dạ dày, không đặc hiệu", rank=0, recorded_by=s.doctor,
        recorded_at=local(2026, 11, 25, 14, 20),
    )  # fmt: skip
    exam = MedicalService.objects.create(
        code="KB.TIEUHOA", name="Khám Tiêu hoá", group=CostGroup.EXAMINATION, unit="lần",
        moh_code="02.1899",
    )  # fmt: skip
    lab = MedicalService.objects.create(
        code="XN.SH", name="Định lượng sinh hoá", group=CostGroup.LAB, unit="lần",
        moh_code="23.0075.1494",
    )  # fmt: skip
    order = ServiceOrder.objects.create(
        encounter=visit, service=lab, status=OrderStatus.RESULTED, ordered_by=s.doctor,
        ordered_at=local(2026, 11, 25, 14, 25), performed_by=s.doctor,
        performed_at=local(2026, 11, 25, 14, 30), resulted_at=local(2026, 11, 25, 14, 55),
    )  # fmt: skip
    for code, value in (("GLU", "5.6"), ("URE", "4.1")):
        ResultValue.objects.create(
            order=order, code=code, name=code, value=value, unit="mmol/L", entered_by=s.doctor,
            entered_at=local(2026, 11, 25, 14, 55),
        )  # fmt: skip
    day = date(2026, 11, 25)
    bill(
        visit,
        [
            ChargeInput("examination", visit.pk, day, 13, D(1), D(50000), D(50000),
                        money(50000, 50000, 95, 47500, 2500, 0), department_code="K03",
                        service_id=exam.pk),
            ChargeInput("service_order", order.pk, day, 1, D(1), D(30000), D(30000),
                        money(30000, 30000, 95, 28500, 1500, 0), department_code="K03",
                        service_id=lab.pk),
        ],
    )  # fmt: skip
    return visit


def other_patients_visit(s):
    """A visit of another patient at the same unit, without a card on record, nothing billed."""
    patient = make_patient(s.facility, full_name="Nguyễn Văn An", birth_date=date(1975, 6, 1))
    visit = make_encounter(
        facility=s.facility,
        patient=patient,
        kind=EncounterKind.OUTPATIENT,
        status=EncounterStatus.CONCLUDED,
        started_at=local(2026, 11, 12, 8, 0),
        ended_at=local(2026, 11, 12, 8, 40),
        attending=s.doctor,
        arrival_mode=ArrivalMode.REGISTERED,
        insurance_card_code="GD4480555666777",
        insurance_card_valid_from=date(2026, 1, 1),
    )
    Diagnosis.objects.create(
        encounter=visit, phase=DiagnosisPhase.ENCOUNTER, icd_code="J18.9",
        text="Viêm phổi, không đặc hiệu", rank=0, recorded_by=s.doctor,
        recorded_at=local(2026, 11, 12, 8, 20),
    )  # fmt: skip
    return visit


@pytest.mark.parametrize("scenario", [outpatient_visit, inpatient_stay])
def test_one_encounter_reads_the_same_as_dossier_data(scenario):
    # given: the record billed as billing keeps it, with lines that must not be read
    s = scenario()
    settled = s.encounter.ended_at + timedelta(hours=1)
    bill(s.encounter, s.charges, settled_at=settled)
    stale_billing(s.encounter, MedicalService.objects.order_by("pk").first())
    # when
    (many,) = dossier_data_many(encounter_ids=[s.encounter.pk])
    # then: equal to the one-encounter reader, and to the charges as the test wrote them
    assert many == dossier_data(encounter=s.encounter)
    in_bill_order = sorted(s.charges, key=lambda c: (c.cost_group, c.service_date))
    assert many == dossier_data(encounter=s.encounter, charges=in_bill_order, paid_at=settled)
    assert len(many.drugs) + len(many.services) == len(s.charges)


def test_several_encounters_read_together_each_as_dossier_data_in_the_order_asked():
    # given: a stay, a later visit of the same patient, a visit of another patient
    s = inpatient_stay()
    bill(s.encounter, s.charges, settled_at=s.encounter.ended_at)
    stale_billing(s.encounter, MedicalService.objects.order_by("pk").first())
    later = second_visit(s)
    other = other_patients_visit(s)
    ids = [later.pk, s.encounter.pk, other.pk]
    # when
    many = dossier_data_many(encounter_ids=[*ids, 987_654_321])  # an unknown id is left out
    # then
    singles = [dossier_data(encounter=e) for e in (later, s.encounter, other)]
    assert [d.encounter.claim_key for d in many] == [d.encounter.claim_key for d in singles]
    assert many == singles
    # the three are different dossiers (nothing of one leaked into another)
    assert [len(d.notes) for d in many] == [0, 2, 0]
    assert [len(d.results) for d in many] == [2, 0, 0]
    assert [d.main_diagnosis.code for d in many] == ["K29.7", "J18.9", "J18.9"]
    assert [d.encounter.paid_at is not None for d in many] == [False, True, False]
    assert many[2].services == () and many[2].drugs == ()


def test_the_number_of_queries_does_not_grow_with_the_encounters():
    # given
    s = inpatient_stay()
    bill(s.encounter, s.charges, settled_at=s.encounter.ended_at)
    later = second_visit(s)
    other = other_patients_visit(s)
    # when
    with CaptureQueriesContext(connection) as two:
        dossier_data_many(encounter_ids=[s.encounter.pk, later.pk])
    with CaptureQueriesContext(connection) as three:
        dossier_data_many(encounter_ids=[s.encounter.pk, later.pk, other.pk])
    # then: one query per kind of row, whatever the number of encounters and lines
    assert len(two) == len(three) == 14
