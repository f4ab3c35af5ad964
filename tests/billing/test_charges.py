"""Charge derivation: idempotence, price by date, multiple examinations, drops with a trace,
bed-days per local day and department, missing prices refused with nothing written."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.charges import bed_days, charges_derive, examination_ratio
from billing.models import ChargeLine, ChargeSource, ChargeStatus
from ehealth.core.catalogs import price_in_force
from ehealth.core.models import AuditEvent
from ehealth.core.models.catalogs import CostGroup
from ehealth.core.reference import ILLUSTRATIVE_SOURCE
from patients.clinical_choices import EncounterStatus, PrescriptionStatus
from patients.validation import VN_TZ
from tests.billing.factories import (
    add_service_price,
    at,
    bed_service,
    cancel_order,
    exam_service,
    make_drug,
    make_service,
    order,
    prescription,
    stay,
    visit,
)
from tests.core.factories import DepartmentFactory
from tests.patients.factories import make_patient

DAY = date(2025, 9, 15)


def _lines(encounter, **filters):
    return list(ChargeLine.objects.filter(encounter=encounter, **filters).order_by("id"))


@pytest.mark.django_db
def test_outpatient_charges_examination_orders_and_issued_drugs(facility, doctor):
    # given
    exam_service(facility, price="50600")
    lab = make_service(group=CostGroup.LAB, price="120000")
    drug = make_drug(price="3000")
    draft_drug = make_drug(price="9000")
    enc = visit(facility, started_at=at(DAY))
    order(enc, lab, doctor, quantity="2")
    prescription(enc, doctor, [(drug, "10")])
    prescription(enc, doctor, [(draft_drug, "4")], status=PrescriptionStatus.DRAFT)

    # when
    report = charges_derive(encounter_id=enc.pk)

    # then
    by_kind = {line.source_kind: line for line in _lines(enc)}
    assert report.created == 3 and report.active_lines == 3
    assert set(by_kind) == {ChargeSource.EXAMINATION, ChargeSource.SERVICE_ORDER, ChargeSource.DRUG}
    exam = by_kind[ChargeSource.EXAMINATION]
    assert (exam.cost_group, exam.hospital_price, exam.service_ratio) == (
        CostGroup.EXAMINATION,
        Decimal("50600.00"),
        Decimal(100),
    )
    assert by_kind[ChargeSource.SERVICE_ORDER].quantity == Decimal(2)
    assert by_kind[ChargeSource.DRUG].cost_group == CostGroup.DRUG
    assert by_kind[ChargeSource.DRUG].drug_id == drug.pk
    assert all(line.service_date == DAY for line in by_kind.values())


@pytest.mark.django_db
def test_running_twice_changes_nothing(facility, doctor):
    # given
    exam_service(facility)
    enc = visit(facility, started_at=at(DAY))
    order(enc, make_service(), doctor)
    charges_derive(encounter_id=enc.pk)
    before = [(c.pk, c.updated_at, c.hospital_price) for c in _lines(enc)]
    audits = AuditEvent.objects.filter(action="charges.derive").count()

    # when
    report = charges_derive(encounter_id=enc.pk)

    # then
    assert (report.created, report.updated, report.dropped, report.unchanged) == (0, 0, 0, 2)
    assert [(c.pk, c.updated_at, c.hospital_price) for c in _lines(enc)] == before
    assert AuditEvent.objects.filter(action="charges.derive").count() == audits


@pytest.mark.django_db
def test_price_is_the_one_in_force_on_the_day_of_service(facility, doctor):
    # given: the price changes on 01/10/2025
    exam_service(facility)
    lab = make_service(price=None)
    add_service_price(lab, price="100000", valid_from=date(2024, 1, 1), valid_to=date(2025, 9, 30))
    add_service_price(lab, price="130000", valid_from=date(2025, 10, 1))
    enc = stay(facility, department=DepartmentFactory(facility=facility), admitted_at=at(DAY))
    bed_service(facility)
    before = order(enc, lab, doctor, ordered_at=at(date(2025, 9, 30), 23, 30))
    after = order(enc, lab, doctor, ordered_at=at(date(2025, 10, 1), 0, 30))

    # when
    charges_derive(encounter_id=enc.pk)

    # then: local days (23:30 and 00:30 in Vietnam straddle the change)
    prices = {
        c.source_id: c.hospital_price for c in _lines(enc, source_kind=ChargeSource.SERVICE_ORDER)
    }
    assert prices == {before.pk: Decimal("100000.00"), after.pk: Decimal("130000.00")}


@pytest.mark.django_db
def test_facility_price_wins_over_city_price_like_price_in_force(facility, other_facility, doctor):
    # given
    exam_service(facility)
    lab = make_service(price="100000")
    add_service_price(lab, price="90000", valid_from=date(2025, 1, 1), facility=facility)
    add_service_price(lab, price="80000", valid_from=date(2025, 1, 1), facility=other_facility)
    enc = visit(facility, started_at=at(DAY))
    order(enc, lab, doctor)

    # when
    charges_derive(encounter_id=enc.pk)

    # then
    line = _lines(enc, source_kind=ChargeSource.SERVICE_ORDER)[0]
    expected = price_in_force(item=lab, facility=facility, on=DAY)
    assert line.hospital_price == expected.hospital_price == Decimal("90000.00")


@pytest.mark.parametrize(
    ("rank", "ratio"), [(1, 100), (2, 30), (3, 30), (4, 30), (5, 10), (6, 0), (9, 0)]
)
def test_examination_ratio_by_rank_of_the_day(rank, ratio):
    assert examination_ratio(rank) == Decimal(ratio)


@pytest.mark.django_db
def test_same_day_examinations_pay_100_30_30_30_10_0(facility):
    # given: six visits of one patient on one local day, one on the next day
    exam_service(facility)
    patient = make_patient(facility)
    visits = [visit(facility, patient=patient, started_at=at(DAY, 7 + i)) for i in range(6)]
    next_day = visit(facility, patient=patient, started_at=at(DAY + timedelta(days=1), 8))

    # when
    for enc in [*visits, next_day]:
        charges_derive(encounter_id=enc.pk)

    # then
    ratios = [_lines(enc)[0].service_ratio for enc in visits]
    assert ratios == [Decimal(r) for r in (100, 30, 30, 30, 10, 0)]
    assert _lines(next_day)[0].service_ratio == Decimal(100)


@pytest.mark.django_db
def test_a_cancelled_visit_no_longer_counts_and_drops_its_examination(facility):
    # given
    exam_service(facility)
    patient = make_patient(facility)
    first = visit(facility, patient=patient, started_at=at(DAY, 8))
    second = visit(facility, patient=patient, started_at=at(DAY, 10))
    charges_derive(encounter_id=first.pk)
    charges_derive(encounter_id=second.pk)
    assert _lines(second)[0].service_ratio == Decimal(30)

    # when: the first visit is cancelled
    first.status = EncounterStatus.CANCELLED
    first.save()
    charges_derive(encounter_id=first.pk)
    report = charges_derive(encounter_id=second.pk)

    # then
    dropped = _lines(first)[0]
    assert dropped.status == ChargeStatus.DROPPED and dropped.dropped_at is not None
    assert dropped.drop_reason
    assert report.updated == 1 and _lines(second)[0].service_ratio == Decimal(100)


@pytest.mark.django_db
def test_cancelled_order_drops_its_charge_with_a_trace(facility, doctor):
    # given
    exam_service(facility)
    enc = visit(facility, started_at=at(DAY))
    lab = order(enc, make_service(price="70000"), doctor)
    charges_derive(encounter_id=enc.pk)

    # when
    cancel_order(lab, doctor)
    report = charges_derive(encounter_id=enc.pk)
    again = charges_derive(encounter_id=enc.pk)

    # then: kept, marked dropped, with time and reason; a second run changes nothing
    line = ChargeLine.objects.get(encounter=enc, source_kind=ChargeSource.SERVICE_ORDER)
    assert report.dropped == 1
    assert line.status == ChargeStatus.DROPPED
    assert line.dropped_at is not None and "huỷ" in line.drop_reason
    assert line.hospital_amount == 0
    assert (again.created, again.updated, again.dropped) == (0, 0, 0)


@pytest.mark.django_db
def test_voided_drug_line_is_dropped(facility, doctor):
    # given
    exam_service(facility)
    enc = visit(facility, started_at=at(DAY))
    rx = prescription(enc, doctor, [(make_drug(), "6"), (make_drug(), "2")])
    charges_derive(encounter_id=enc.pk)
    item = rx.items.first()

    # when
    item.voided_at, item.voided_by, item.void_reason = at(DAY, 11), doctor, "Kê nhầm"
    item.save()
    charges_derive(encounter_id=enc.pk)

    # then
    line = ChargeLine.objects.get(source_kind=ChargeSource.DRUG, source_id=item.pk)
    assert line.status == ChargeStatus.DROPPED
    assert len(_lines(enc, status=ChargeStatus.ACTIVE)) == 2  # exam + the other drug


@pytest.mark.django_db
def test_missing_price_is_refused_naming_item_and_day_and_nothing_is_written(facility, doctor):
    # given: the lab test has no price on the day of service (its price starts later)
    exam_service(facility)
    lab = make_service(price="100000", valid_from=date(2025, 10, 1), code="TST.NOPRICE")
    enc = visit(facility, started_at=at(DAY))
    order(enc, lab, doctor)

    # when
    with pytest.raises(ValidationError) as exc:
        charges_derive(encounter_id=enc.pk)

    # then
    message = " ".join(exc.value.messages)
    assert "TST.NOPRICE" in message and "15/09/2025" in message and "Chưa có giá" in message
    assert ChargeLine.objects.filter(encounter=enc).count() == 0


@pytest.mark.django_db
def test_illustrative_prices_are_not_billed(facility, doctor, settings):
    # given
    settings.BILLING_ACCEPT_ILLUSTRATIVE_PRICES = False
    exam_service(facility)
    enc = visit(facility, started_at=at(DAY))
    prescription(enc, doctor, [(make_drug(source=f"{ILLUSTRATIVE_SOURCE}; x"), "1")])

    # when / then
    with pytest.raises(ValidationError):
        charges_derive(encounter_id=enc.pk)
    assert not ChargeLine.objects.filter(encounter=enc).exists()


def test_bed_days_are_local_calendar_days_in_the_department_at_end_of_day():
    # given: admitted 23:00 on the 1st (16:00 UTC), moved to department 2 on the 2nd,
    # discharged 09:00 on the 3rd
    admitted = datetime(2025, 9, 1, 23, 0, tzinfo=VN_TZ)
    moved = datetime(2025, 9, 2, 15, 0, tzinfo=VN_TZ)
    ended = datetime(2025, 9, 3, 9, 0, tzinfo=VN_TZ)

    # when
    result = bed_days(
        admitted_at=admitted, ended_at=ended, first_department_id=1, moves=[(moved, 2)]
    )

    # then
    assert result == [(date(2025, 9, 1), 1), (date(2025, 9, 2), 2), (date(2025, 9, 3), 2)]


@pytest.mark.django_db
def test_stay_bed_days_priced_per_department_and_day(facility, doctor):
    # given
    from patients.models import Transfer

    dep_a, dep_b = DepartmentFactory(facility=facility), DepartmentFactory(facility=facility)
    bed_a = bed_service(facility, dep_a, price="300000")
    bed_b = bed_service(facility, dep_b, price=None)
    add_service_price(bed_b, price="400000", valid_from=date(2024, 1, 1), valid_to=date(2025, 9, 2))
    add_service_price(bed_b, price="450000", valid_from=date(2025, 9, 3))
    enc = stay(
        facility,
        department=dep_b,
        admitted_at=at(date(2025, 9, 1), 10),
        ended_at=at(date(2025, 9, 3), 9),
    )
    Transfer.objects.create(
        encounter=enc,
        from_department=dep_a,
        to_department=dep_b,
        moved_at=at(date(2025, 9, 2), 8),
        moved_by=doctor,
        reason="Chuyển khoa",
    )

    # when
    charges_derive(encounter_id=enc.pk)
    again = charges_derive(encounter_id=enc.pk)

    # then
    beds = [
        (c.service_date, c.department_id, c.service_id, c.hospital_price, c.cost_group)
        for c in _lines(enc, source_kind=ChargeSource.BED_DAY)
    ]
    assert beds == [
        (date(2025, 9, 1), dep_a.pk, bed_a.pk, Decimal("300000.00"), CostGroup.INPATIENT_BED),
        (date(2025, 9, 2), dep_b.pk, bed_b.pk, Decimal("400000.00"), CostGroup.INPATIENT_BED),
        (date(2025, 9, 3), dep_b.pk, bed_b.pk, Decimal("450000.00"), CostGroup.INPATIENT_BED),
    ]
    assert not _lines(enc, source_kind=ChargeSource.EXAMINATION)  # stays have no exam line
    assert again.changed is False


@pytest.mark.django_db
def test_open_stay_is_charged_up_to_today(facility):
    # given
    from django.utils import timezone

    dep = DepartmentFactory(facility=facility)
    bed_service(facility)  # facility-wide bed-day service
    today = timezone.localdate(timezone=VN_TZ)
    enc = stay(facility, department=dep, admitted_at=at(today - timedelta(days=2), 8))

    # when
    charges_derive(encounter_id=enc.pk)

    # then
    assert [c.service_date for c in _lines(enc)] == [
        today - timedelta(days=2 - i) for i in range(3)
    ]


@pytest.mark.django_db
def test_derive_needs_the_billing_permission_when_an_actor_is_given(facility, doctor):
    # given
    from django.core.exceptions import PermissionDenied

    exam_service(facility)
    enc = visit(facility, started_at=at(DAY))

    # when / then
    with pytest.raises(PermissionDenied):
        charges_derive(encounter_id=enc.pk, actor=doctor)
    assert not ChargeLine.objects.filter(encounter=enc).exists()
