"""Invoices: the benefit engine's split per line and per cost group, the card of the visit, a card
that is not the patient's, rebuilds, and a query count that does not grow with the lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.charges import charges_derive
from billing.invoices import invoice_build, visit_route
from billing.models import ChargeLine, Invoice, InvoiceStatus
from ehealth.core.models import AuditEvent
from ehealth.core.models.catalogs import CostGroup
from patients.clinical_choices import ArrivalMode
from tests.billing.factories import (
    at,
    card_for,
    cashier_at,
    exam_service,
    make_drug,
    make_service,
    order,
    prescription,
    visit,
)
from tests.patients.factories import make_patient

DAY = date(2025, 9, 15)


def _billed_visit(facility, doctor, *, card=True, lab_price="949400", arrival=None):
    """A visit with an examination (50,600) and a lab test: 1,000,000 in all by default."""
    exam_service(facility, price="50600")
    patient = make_patient(facility)
    code = card_for(patient).code if card else ""
    enc = visit(
        facility,
        patient=patient,
        started_at=at(DAY),
        card_code=code,
        arrival_mode=arrival or ArrivalMode.REGISTERED,
    )
    order(enc, make_service(group=CostGroup.LAB, price=lab_price), doctor)
    charges_derive(encounter_id=enc.pk)
    return enc


@pytest.mark.django_db
def test_no_card_everything_is_self_pay(facility, doctor):
    # given
    enc = _billed_visit(facility, doctor, card=False)

    # when
    invoice = invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)

    # then
    assert invoice.total_hospital == Decimal("1000000.00")
    assert invoice.total_fund == 0 and invoice.total_self_pay == Decimal("1000000.00")
    assert (
        invoice.patient_amount == Decimal("1000000.00")
        and invoice.amount_due == invoice.patient_amount
    )
    assert invoice.benefit_rate is None and invoice.card_code == ""
    assert invoice.status == InvoiceStatus.OPEN and invoice.version == 1


@pytest.mark.django_db
def test_card_80_percent_correct_route_splits_fund_and_copay_per_line_and_group(facility, doctor):
    # given: brief test vector 2 (DN4, correct route, outpatient, 1,000,000 >= 15 % threshold)
    enc = _billed_visit(facility, doctor)

    # when
    invoice = invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)

    # then
    assert invoice.benefit_rate == Decimal(80) and invoice.route == "correct"
    assert (invoice.total_fund, invoice.total_copay, invoice.total_self_pay) == (
        Decimal("800000.00"),
        Decimal("200000.00"),
        Decimal("0.00"),
    )
    lines = list(ChargeLine.objects.filter(encounter=enc))
    for line in lines:
        assert line.invoice_id == invoice.pk
        assert line.hospital_amount == line.fund + line.copay + line.self_pay + line.other
    groups = {g["cost_group"]: g for g in invoice.groups}
    assert set(groups) == {CostGroup.LAB, CostGroup.EXAMINATION}
    assert groups[CostGroup.EXAMINATION]["hospital_amount"] == "50600.00"
    assert groups[CostGroup.EXAMINATION]["fund"] == "40480.00"
    assert groups[CostGroup.LAB]["copay"] == "189880.00"


@pytest.mark.django_db
def test_small_visit_under_15_percent_is_paid_in_full(facility, doctor):
    # given: brief test vector 1: 300,000 < 351,000
    enc = _billed_visit(facility, doctor, lab_price="249400")

    # when
    invoice = invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)

    # then
    assert invoice.benefit_rate == Decimal(100)
    assert invoice.total_fund == Decimal("300000.00") and invoice.patient_amount == 0
    assert invoice.status == InvoiceStatus.PAID  # nothing to collect


@pytest.mark.django_db
def test_out_of_scope_drug_is_self_pay(facility, doctor):
    # given
    enc = _billed_visit(facility, doctor)
    prescription(enc, doctor, [(make_drug(price="10000", in_bhyt_list=False), "3")])
    charges_derive(encounter_id=enc.pk)

    # when
    invoice = invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)

    # then
    drug_line = ChargeLine.objects.get(encounter=enc, cost_group=CostGroup.DRUG)
    assert drug_line.self_pay == Decimal("30000.00") and drug_line.fund == 0
    assert invoice.total_self_pay == Decimal("30000.00")


@pytest.mark.django_db
def test_card_of_another_patient_is_refused_and_nothing_written(facility, doctor):
    # given: the visit carries a card recorded for someone else
    exam_service(facility)
    someone_else = make_patient(facility, full_name="Lê Văn Cường")
    enc = visit(facility, started_at=at(DAY), card_code=card_for(someone_else).code)
    charges_derive(encounter_id=enc.pk)

    # when
    with pytest.raises(ValidationError) as exc:
        invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)

    # then
    assert "insurance_card_code" in exc.value.message_dict
    assert "người bệnh khác" in " ".join(exc.value.messages)
    assert not Invoice.objects.filter(encounter=enc).exists()
    assert ChargeLine.objects.get(encounter=enc).invoice_id is None


@pytest.mark.django_db
def test_rebuild_bumps_version_and_follows_new_charges(facility, doctor):
    # given
    enc = _billed_visit(facility, doctor, card=False)
    cashier = cashier_at(facility)
    first = invoice_build(actor=cashier, facility=facility, encounter=enc)
    order(enc, make_service(price="20000"), doctor)
    charges_derive(encounter_id=enc.pk)

    # when
    second = invoice_build(actor=cashier, facility=facility, encounter=enc)

    # then
    assert second.pk == first.pk and second.version == 2
    assert second.total_hospital == Decimal("1020000.00")
    assert AuditEvent.objects.filter(action="invoice.build", target_id=str(first.pk)).count() == 2


@pytest.mark.django_db
def test_only_billing_staff_build_invoices(facility, doctor):
    # given
    enc = _billed_visit(facility, doctor)

    # when / then
    with pytest.raises(PermissionDenied):
        invoice_build(actor=doctor, facility=facility, encounter=enc)
    assert not Invoice.objects.filter(encounter=enc).exists()


@pytest.mark.django_db
def test_invoice_of_another_facility_is_not_found(facility, other_facility, doctor):
    # given
    from django.http import Http404

    enc = _billed_visit(facility, doctor)

    # when / then
    with pytest.raises(Http404):
        invoice_build(actor=cashier_at(other_facility), facility=other_facility, encounter=enc)


def _visit_with_lines(facility, doctor, n: int):
    exam_service(facility)
    patient = make_patient(facility)
    enc = visit(facility, patient=patient, started_at=at(DAY), card_code=card_for(patient).code)
    lab = make_service(price="10000")
    for _ in range(n - 1):
        order(enc, lab, doctor)
    charges_derive(encounter_id=enc.pk)
    assert ChargeLine.objects.filter(encounter=enc).count() == n
    return enc


@pytest.mark.django_db
def test_invoice_build_query_count_does_not_grow_with_lines(facility, doctor):
    # given
    cashier = cashier_at(facility)
    small = _visit_with_lines(facility, doctor, 10)
    big = _visit_with_lines(facility, doctor, 200)
    invoice_build(actor=cashier, facility=facility, encounter=small)  # warm caches

    # when
    counts = []
    for enc in (small, big):
        with CaptureQueriesContext(connection) as ctx:
            invoice_build(actor=cashier, facility=facility, encounter=enc)
        counts.append(len(ctx.captured_queries))

    # then: the 10-line rebuild and the 200-line first build run the same number of queries
    assert counts[0] == counts[1], counts
    assert Invoice.objects.get(encounter=big).total_hospital == Decimal("2040600.00")


@pytest.mark.parametrize(
    ("arrival", "card_facility", "expected"),
    [
        (ArrivalMode.EMERGENCY, "", "emergency"),
        (ArrivalMode.REFERRAL, "", "referral"),
        (ArrivalMode.TRANSFER_IN, "", "referral"),
        (ArrivalMode.REGISTERED, "", "correct"),
        (ArrivalMode.FOLLOW_UP, "", "correct"),
        (ArrivalMode.SELF_REFERRED, "48001", "correct"),
        (ArrivalMode.SELF_REFERRED, "48002", "self_referred"),
    ],
)
def test_visit_route_from_arrival_mode(arrival, card_facility, expected):
    assert (
        visit_route(arrival_mode=arrival, card_facility_code=card_facility, facility_code="48001")
        == expected
    )


@pytest.mark.django_db
def test_cost_statement_data_columns_add_up(facility, doctor, django_assert_max_num_queries):
    # given
    from billing.pdf.data import CostStatementDoc
    from billing.selectors import cost_statement_data

    enc = _billed_visit(facility, doctor)
    prescription(enc, doctor, [(make_drug(price="10000", in_bhyt_list=False), "3")])
    charges_derive(encounter_id=enc.pk)
    invoice = invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)

    # when
    with django_assert_max_num_queries(6):
        doc = cost_statement_data(invoice=invoice)

    # then: a block for the card at 80 %, a block for what the fund does not cover
    assert isinstance(doc, CostStatementDoc)
    assert [(b.card_code, b.benefit_rate) for b in doc.blocks] == [
        (invoice.card_code, Decimal(80)),
        ("", None),
    ]
    assert doc.totals.hospital_amount == invoice.total_hospital == Decimal("1030000.00")
    assert doc.totals.fund == invoice.total_fund and doc.totals.self_pay == Decimal("30000.00")
    assert doc.visit_number == enc.claim_key and doc.card_code == invoice.card_code
    assert doc.route == "correct" and not doc.inpatient


@pytest.mark.django_db
def test_cost_statement_of_a_stay_renders_to_pdf(facility):
    # given
    from billing.pdf.cost_statement import render_cost_statement
    from billing.selectors import cost_statement_data
    from tests.billing.factories import billed_stay_invoice

    invoice = billed_stay_invoice(facility, cashier=cashier_at(facility))

    # when
    doc = cost_statement_data(invoice=invoice)
    pdf = render_cost_statement(doc)

    # then
    assert doc.inpatient and doc.treatment_days is None
    assert doc.totals.hospital_amount == Decimal("900000.00")
    assert pdf.startswith(b"%PDF")
