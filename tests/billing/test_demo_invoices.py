"""The demo's invoices (`billing.demo`, called by `seed_demo_insurance`): built as the cashier and
left unpaid; an encounter that cannot be priced is skipped and counted, never failing the seed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from billing.demo import demo_invoices_build, desk_encounters
from billing.models import ChargeLine, Invoice, InvoiceStatus
from ehealth.core.models.catalogs import CostGroup
from ehealth.core.reference import ILLUSTRATIVE_SOURCE
from patients.clinical_choices import EncounterStatus
from patients.validation import VN_TZ
from tests.billing.factories import (
    at,
    card_for,
    cashier_at,
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

DAY = date(2026, 3, 10)


@pytest.mark.django_db
def test_unpriced_encounters_are_skipped_and_counted_the_others_billed_unpaid(
    settings, facility, doctor
):
    # given illustrative prices not billed, and three concluded visits
    settings.BILLING_ACCEPT_ILLUSTRATIVE_PRICES = False
    cashier = cashier_at(facility)
    exam_service(facility, price="50600")
    lab = make_service(group=CostGroup.LAB, price="120000")
    patient = make_patient()
    card = card_for(patient, group="HT", level=3, valid_from=date(2026, 1, 1))
    priced = visit(
        facility,
        patient=patient,
        started_at=at(DAY),
        card_code=card.code,
        status=EncounterStatus.CONCLUDED,
    )
    order(priced, lab, doctor)
    unpriced = visit(facility, started_at=at(DAY), status=EncounterStatus.CONCLUDED)
    prescription(unpriced, doctor, [(make_drug(source=f"{ILLUSTRATIVE_SOURCE}; x"), "2")])
    no_card = visit(facility, started_at=at(DAY, 10), status=EncounterStatus.CONCLUDED)

    # when
    result = demo_invoices_build(
        actor=cashier, facility=facility, encounters=[priced, unpriced, no_card]
    )

    # then the priced visits are billed, unpaid where the patient owes something
    assert (result.built, result.uncharged, result.refused) == (2, 1, 0)
    assert result.billed == {priced.pk, no_card.pk}
    assert not Invoice.objects.filter(encounter=unpriced).exists()
    assert not ChargeLine.objects.filter(encounter=unpriced).exists()  # nothing half-written
    with_card = Invoice.objects.get(encounter=priced)
    assert with_card.card == card and with_card.benefit_rate is not None  # split by the card
    assert with_card.built_by == cashier
    assert Invoice.objects.get(encounter=no_card).status == InvoiceStatus.OPEN

    # and a second run leaves the built invoices alone
    again = demo_invoices_build(actor=cashier, facility=facility, encounters=[priced, no_card])
    assert (again.built, again.already) == (0, 2)
    assert Invoice.objects.get(encounter=priced).version == 1


@pytest.mark.django_db
def test_the_desk_encounters_are_todays_concluded_visits_and_this_weeks_discharges(facility):
    # given
    now = timezone.now().astimezone(VN_TZ)
    today = now.date()
    concluded = visit(facility, started_at=now, status=EncounterStatus.CONCLUDED)
    visit(facility, started_at=now)  # still in examination
    visit(facility, started_at=at(today - timedelta(days=1)), status=EncounterStatus.CONCLUDED)
    ward = DepartmentFactory(facility=facility)
    recent = stay(
        facility,
        department=ward,
        admitted_at=now - timedelta(days=4),
        ended_at=now - timedelta(days=2),
    )
    stay(
        facility,
        department=ward,
        admitted_at=now - timedelta(days=14),
        ended_at=now - timedelta(days=10),
    )

    # when
    picked = list(desk_encounters(facility=facility))

    # then
    assert picked == [recent, concluded]
