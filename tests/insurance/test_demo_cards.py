"""The demo's BHYT cards (`insurance.cards.demo`): one per calendar year for every card code of the
registry, split as `card_split` does, registered where the patient was enrolled; once."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from insurance.cards import card_for_visit, card_split
from insurance.cards.demo import demo_cards_seed
from insurance.models import InsuranceCard
from patients.choices import IdentifierSystem
from tests.patients.factories import make_patient, unique_card


@pytest.mark.django_db
def test_every_card_code_gets_a_card_per_year_split_and_registered_once(facility):
    # given a carded patient enrolled at the facility, one without a card, a voided code
    code = unique_card(group="HT", level=3)
    carded = make_patient(identifiers={IdentifierSystem.BHYT: code}, created_at_facility=facility)
    make_patient()
    voided = make_patient(identifiers={IdentifierSystem.BHYT: unique_card()})
    voided.identifiers.update(voided_at=timezone.now(), void_reason="Nhập nhầm")
    this_year = timezone.localdate().year

    # when
    written = demo_cards_seed(years=2)

    # then three yearly cards of the carded patient, nothing for the others
    cards = list(InsuranceCard.objects.order_by("valid_from"))
    assert written == 3 and len(cards) == 3
    parts = card_split(code)
    for year, card in zip(range(this_year - 2, this_year + 1), cards, strict=True):
        assert card.patient == carded
        assert (card.valid_from, card.valid_to) == (date(year, 1, 1), date(year, 12, 31))
        assert (card.code, card.group_code, card.benefit_digit) == (code, "HT", 3)
        assert (card.province_code, card.social_insurance_number) == (
            parts.province_code,
            parts.social_insurance_number,
        )
        assert card.registered_facility_code == facility.code
    # billing finds the card of a day in each year
    assert card_for_visit(patient=carded, code=code, on=date(this_year - 1, 6, 1)) == cards[1]

    # and a second run adds nothing
    assert demo_cards_seed(years=2) == 0
    assert InsuranceCard.objects.count() == 3
