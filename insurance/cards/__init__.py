"""BHYT cards of a patient over time, their eligibility on a day, and the lookup on the insurer portal.

- `card_record`: records a card presented by the patient (domain brief 1.1): the code is checked
  and split into group, benefit digit, province and social insurance (BHXH) number; it must be the
  patient's: the BHXH number matches the patient's own `bhxh` identifier when there is one, and no
  other patient holds the card or the BHXH number in the registry (`identifier_city_unique` on
  PatientIdentifier backs this against races: the card's identifiers are added to the registry).
- `card_check_eligibility`: at reception and again before settlement: wrong person, not yet valid,
  expired, with the grace rule of brief 1.3 (a card that expires during treatment is still paid
  until discharge, at most `card_expiry_grace_days` days after expiry: a dated BenefitParameter).
- `portal_card_lookup`: the card lookup of reception (setting INSURANCE_CARD_LOOKUP) through the
  insurer portal client. When the portal is down, times out or answers something unreadable,
  reception goes on with the card as presented: status 'unchecked', the card flagged for re-check
  (CardVerification.RECHECK); an unreadable answer changes no card's status.
- `card_for_visit` / `card_context`: the card billing uses for a day, as the benefit engine's input.

Messages are Vietnamese and never repeat the card code or the patient's name.
"""

from insurance.cards.eligibility import (
    DEFAULT_GRACE_DAYS,
    GRACE_KEY,
    card_check_eligibility,
    card_for_visit,
    card_grace_days,
)
from insurance.cards.lookup import card_recheck, portal_card_lookup, portal_client
from insurance.cards.records import (
    CardParts,
    card_context,
    card_ownership_problem,
    card_record,
    card_split,
)

__all__ = [
    "DEFAULT_GRACE_DAYS",
    "GRACE_KEY",
    "CardParts",
    "card_check_eligibility",
    "card_context",
    "card_for_visit",
    "card_grace_days",
    "card_ownership_problem",
    "card_recheck",
    "card_record",
    "card_split",
    "portal_card_lookup",
    "portal_client",
]
