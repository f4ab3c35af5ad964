"""Two desks pay the same invoice at the same moment, against the real PostgreSQL server: one
payment and one clear refusal. A retried request racing its original pays once."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing.models import Invoice, Payment
from billing.services import payment_take, shift_open
from ehealth.core.models import Role
from tests.billing.factories import billed_visit_invoice
from tests.core.factories import FacilityFactory, make_staff

OWED = Decimal("1000000.00")


def _race(calls):
    """Run the calls in threads released together; return (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except ValidationError as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


@pytest.fixture
def two_desks(transactional_db):
    facility = FacilityFactory()
    doctor = make_staff(facility, Role.DOCTOR)
    desks = []
    for _ in range(2):
        cashier = make_staff(facility, Role.CASHIER)
        desks.append((cashier, shift_open(actor=cashier, facility=facility)))
    invoice = billed_visit_invoice(facility, doctor=doctor, cashier=desks[0][0])
    return facility, desks, invoice


def _payment_call(facility, desk, invoice, key):
    cashier, shift = desk
    return lambda: payment_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount=OWED,
        method="cash",
        idempotency_key=key,
    )


@pytest.mark.django_db(transaction=True)
def test_two_desks_paying_at_once_give_one_payment_and_one_refusal(two_desks):
    # given
    facility, desks, invoice = two_desks

    # when
    results, errors = _race(
        [_payment_call(facility, desk, invoice, f"desk-{i}") for i, desk in enumerate(desks)]
    )

    # then
    assert len(results) == 1 and len(errors) == 1
    assert "đã được thanh toán đủ" in " ".join(errors[0].messages)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).paid_amount == OWED


@pytest.mark.django_db(transaction=True)
def test_a_retry_racing_its_original_pays_once(two_desks):
    # given: the same request (same key) sent twice at once from one desk
    facility, desks, invoice = two_desks
    call = _payment_call(facility, desks[0], invoice, "same-request")

    # when
    results, errors = _race([call, call])

    # then
    assert errors == []
    assert len(results) == 2 and results[0].pk == results[1].pk
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).paid_amount == OWED
