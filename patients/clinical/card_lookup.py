"""Health-insurance card lookup at reception: the interface, and the check of the card as typed.

`patients` sits below `insurance` (ARCHITECTURE.md), so it never imports it. The lookup in use is
named by the setting INSURANCE_CARD_LOOKUP (a dotted path to a function with the signature of
`card_check_as_typed`); the insurance app's portal client plugs in there, and reception calls
`insurance_card_lookup`, whichever implementation is configured.

Until the portal client exists the card is checked as typed: the code format (2-letter group,
benefit level, province, 10-digit social-insurance number) and the validity dates against the
day of the visit. A card that passes is 'unchecked' (not confirmed by the portal); one that fails
is 'invalid' with the reason in Vietnamese. Messages never repeat the card code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from patients.identifiers import validate_bhyt_card

VALID = "valid"
INVALID = "invalid"
UNCHECKED = "unchecked"


@dataclass(frozen=True)
class CardCheck:
    """Outcome of a card lookup. `status` is 'valid' (confirmed by the portal), 'invalid' or
    'unchecked' (well-formed and in date as typed, not confirmed)."""

    status: str
    message_vi: str = ""
    card_code: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    registered_facility_code: str = ""
    field: str = "insurance_card_code"

    @property
    def usable(self) -> bool:
        return self.status in (VALID, UNCHECKED)


def insurance_card_lookup(**kwargs) -> CardCheck:
    """Look the card up with the implementation named by settings.INSURANCE_CARD_LOOKUP."""
    return import_string(settings.INSURANCE_CARD_LOOKUP)(**kwargs)


def card_check_as_typed(
    *,
    card_code: str,
    patient=None,  # noqa: ARG001 - the portal client will check the holder's identity
    on: date,
    valid_from: date | None = None,
    valid_to: date | None = None,
    registered_facility_code: str = "",
) -> CardCheck:
    """Check a card as typed for a visit on `on`: format and validity dates, not confirmed."""
    try:
        code = validate_bhyt_card(card_code)
    except ValidationError as exc:
        return CardCheck(status=INVALID, message_vi=" ".join(exc.messages))
    common = {
        "card_code": code,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "registered_facility_code": (registered_facility_code or "").strip().upper(),
    }
    if valid_from and valid_to and valid_to < valid_from:
        return CardCheck(
            status=INVALID,
            message_vi=_("Ngày hết hạn của thẻ phải sau ngày bắt đầu."),
            field="insurance_card_valid_to",
            **common,
        )
    if valid_from and on < valid_from:
        return CardCheck(
            status=INVALID,
            message_vi=_("Thẻ BHYT chưa đến ngày có giá trị (từ %(day)s).")
            % {"day": valid_from.strftime("%d/%m/%Y")},
            field="insurance_card_valid_from",
            **common,
        )
    if valid_to and on > valid_to:
        return CardCheck(
            status=INVALID,
            message_vi=_("Thẻ BHYT đã hết hạn (đến %(day)s).")
            % {"day": valid_to.strftime("%d/%m/%Y")},
            field="insurance_card_valid_to",
            **common,
        )
    return CardCheck(status=UNCHECKED, **common)
