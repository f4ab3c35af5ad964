"""Every billing write leaves an audit entry in its own transaction: who, what, which record, ids
and amounts only (never a name or a card code)."""

from __future__ import annotations

import json

import pytest

from billing.charges import charges_derive
from billing.invoices import invoice_build
from billing.services import (
    deposit_take,
    payment_take,
    payment_void,
    refund_request,
    shift_close,
    shift_open,
    stay_settle,
)
from ehealth.core.models import AuditEvent
from tests.billing.factories import (
    at,
    billed_stay_invoice,
    card_for,
    cashier_at,
    exam_service,
    make_service,
    order,
    visit,
)
from tests.patients.factories import make_patient


@pytest.mark.django_db
def test_each_billing_write_is_audited_with_ids_and_amounts_only(facility, doctor):
    # given
    from datetime import date

    cashier = cashier_at(facility)
    patient = make_patient(facility, full_name="Phạm Thị Dung")
    card = card_for(patient)
    exam_service(facility)
    enc = visit(facility, patient=patient, started_at=at(date(2025, 9, 15)), card_code=card.code)
    order(enc, make_service(price="949400"), doctor)

    # when: the whole desk flow
    charges_derive(encounter_id=enc.pk, actor=cashier)
    invoice = invoice_build(actor=cashier, facility=facility, encounter=enc)
    shift = shift_open(actor=cashier, facility=facility, opening_float="100000")
    kw = {"actor": cashier, "facility": facility, "shift": shift, "method": "cash"}
    payment = payment_take(invoice=invoice, amount="50000", idempotency_key="a1", **kw)
    payment_void(actor=cashier, facility=facility, payment=payment, reason="Nhầm")
    payment_take(invoice=invoice, amount="200000", idempotency_key="a2", **kw)
    refund_request(invoice=invoice, amount="10000", reason="Thu thừa", idempotency_key="a3", **kw)
    stay_invoice = billed_stay_invoice(facility, cashier=cashier)
    deposit_take(encounter=stay_invoice.encounter, amount="1000000", idempotency_key="a4", **kw)
    stay_settle(invoice=stay_invoice, idempotency_key="a5", **kw)
    shift_close(actor=cashier, facility=facility, shift=shift, counted={"cash": "1000000"})

    # then
    events = list(AuditEvent.objects.filter(actor=cashier).order_by("id"))
    actions = [e.action for e in events]
    for action in (
        "charges.derive",
        "invoice.build",
        "shift.open",
        "payment.take",
        "payment.void",
        "refund.request",
        "deposit.take",
        "stay.settle",
        "shift.close",
    ):
        assert action in actions, action
    take = next(e for e in events if e.action == "payment.take")
    assert take.patient_id == patient.pk and take.detail["amount"] == "50000.00"
    assert take.detail["invoice_id"] == invoice.pk and take.detail["facility_id"] == facility.pk
    dumped = json.dumps([e.detail for e in events], ensure_ascii=False)
    assert "Phạm Thị Dung" not in dumped and card.code not in dumped
