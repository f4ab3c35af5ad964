"""Reception's "check card" button: look the BHYT card up before the visit is opened.

The same lookup as check-in (`insurance_card_lookup`, whichever implementation
settings.INSURANCE_CARD_LOOKUP names), for the patient at the desk so that a card of another
person is caught, but no encounter or queue ticket is written. The lookup of a patient's card is a
read of their data, so it is audited ('insurance_card.check', the patient's id and the status
only: never the card code). Input the lookup cannot use (no code, a code of the wrong shape, dates
upside down, a facility code that is not 5 characters) is refused with a ValidationError naming the
field, before anything is asked of the portal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from patients.clinical.card_lookup import CardCheck, insurance_card_lookup
from patients.clinical.common import local_day, require_perm
from patients.clinical.reception import CHECKIN_PERM
from patients.identifiers import validate_bhyt_card
from patients.models import Patient
from patients.normalize import clean_text

_FACILITY_CODE_RE = re.compile(r"^[0-9A-Z]{5}$")


@dataclass
class CardCheckInput:
    """The card fields of the reception form."""

    insurance_card_code: str = ""
    insurance_card_valid_from: date | None = None
    insurance_card_valid_to: date | None = None
    registered_facility_code: str = ""


def _input_errors(data: CardCheckInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not clean_text(data.insurance_card_code):
        errors["insurance_card_code"] = [_("Nhập mã thẻ BHYT (15 ký tự) để kiểm tra.")]
    else:
        try:
            validate_bhyt_card(data.insurance_card_code)
        except ValidationError as exc:
            errors["insurance_card_code"] = list(exc.messages)
    start, end = data.insurance_card_valid_from, data.insurance_card_valid_to
    if start and end and end < start:
        errors["insurance_card_valid_to"] = [_("Ngày hết hạn của thẻ phải sau ngày bắt đầu.")]
    registered = clean_text(data.registered_facility_code).upper()
    if registered and not _FACILITY_CODE_RE.match(registered):
        errors["registered_facility_code"] = [_("Mã cơ sở KCB gồm đúng 5 ký tự.")]
    return errors


def card_check_at_reception(
    *, actor, facility: Facility, patient: Patient, data: CardCheckInput
) -> CardCheck:
    """Look up `patient`'s card for a visit today, without opening it; the lookup is audited."""
    require_perm(actor, CHECKIN_PERM, facility.pk)
    errors = _input_errors(data)
    if errors:
        raise ValidationError(errors)
    check = insurance_card_lookup(
        card_code=data.insurance_card_code,
        patient=patient,
        on=local_day(timezone.now()),
        valid_from=data.insurance_card_valid_from,
        valid_to=data.insurance_card_valid_to,
        registered_facility_code=clean_text(data.registered_facility_code).upper(),
    )
    audit_record(
        actor=actor,
        action="insurance_card.check",
        target=patient,
        patient_id=patient.pk,
        detail={"facility_id": facility.pk, "status": check.status},
    )
    return check
