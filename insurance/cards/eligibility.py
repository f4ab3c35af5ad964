"""Eligibility of a recorded card on a day: wrong person, not yet valid, expired, grace (brief 1.3)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from insurance.cards.records import CODE_FIELD, card_ownership_problem, card_split
from insurance.models import BenefitParameter, CardVerification, InsuranceCard
from patients.clinical.card_lookup import INVALID, UNCHECKED, VALID, CardCheck
from patients.identifiers import validate_bhyt_card
from patients.models import Patient

# Brief 1.3 (NĐ 188/2025 Art. 50 cl. 4): days a card that expired during treatment stays payable.
# A BenefitParameter row with this key (dated) overrides the default; the date the cap applies
# from for older episodes is UNCONFIRMED, so the default holds for every date.
GRACE_KEY = "card_expiry_grace_days"
DEFAULT_GRACE_DAYS = 15


def card_grace_days(*, on: date) -> int:
    """The grace after expiry in force on `on` (the card's expiry day)."""
    row = (
        BenefitParameter.objects.filter(key=GRACE_KEY, qualifier="", valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("-valid_from")
        .values_list("value", flat=True)
        .first()
    )
    return DEFAULT_GRACE_DAYS if row is None else int(row)


def _as_date(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


# --- eligibility -----------------------------------------------------------------------------


def card_check_eligibility(
    *,
    card: InsuranceCard,
    patient: Patient,
    on: date,
    admitted_at: date | datetime | None = None,
) -> CardCheck:
    """May this card pay for `patient`'s care on `on`? `admitted_at` (start of the treatment)
    brings the grace rule: a card that expired during treatment stays payable until discharge,
    at most `card_grace_days` days after its expiry."""
    common = {
        "card_code": card.code,
        "valid_from": card.valid_from,
        "valid_to": card.valid_to,
        "registered_facility_code": card.registered_facility_code,
    }

    def invalid(message: str, field: str = CODE_FIELD) -> CardCheck:
        return CardCheck(status=INVALID, message_vi=message, field=field, **common)

    if card.voided_at is not None:
        return invalid(_("Thẻ BHYT này đã bị hủy trong hệ thống."))
    if card.patient_id != patient.pk:
        return invalid(_("Thẻ BHYT này không phải của người bệnh này."))
    problem = card_ownership_problem(patient=patient, parts=card_split(card.code))
    if problem:
        return invalid(problem)
    if card.verification == CardVerification.INVALID:
        return invalid(
            _("Cổng BHXH đã báo thẻ này không hợp lệ: cần tra cứu lại hoặc dùng thẻ khác.")
        )
    if on < card.valid_from:
        return invalid(
            _("Thẻ BHYT chưa đến ngày có giá trị (từ %(day)s).")
            % {"day": card.valid_from.strftime("%d/%m/%Y")},
            "insurance_card_valid_from",
        )
    status = VALID if card.verification == CardVerification.VALID else UNCHECKED
    message = ""
    if card.verification == CardVerification.RECHECK:
        message = _("Thẻ chưa được cổng BHXH xác nhận (cổng không phản hồi): cần tra cứu lại.")
    if card.valid_to is not None and on > card.valid_to:
        grace = card_grace_days(on=card.valid_to)
        last_day = card.valid_to + timedelta(days=grace)
        started = _as_date(admitted_at)
        if started is None or started > card.valid_to:
            return invalid(
                _("Thẻ BHYT đã hết hạn (đến %(day)s).")
                % {"day": card.valid_to.strftime("%d/%m/%Y")},
                "insurance_card_valid_to",
            )
        if on > last_day:
            return invalid(
                _(
                    "Thẻ BHYT hết hạn ngày %(day)s trong thời gian điều trị; quỹ chỉ thanh toán "
                    "tối đa %(grace)s ngày sau khi hết hạn (đến %(last)s)."
                )
                % {
                    "day": card.valid_to.strftime("%d/%m/%Y"),
                    "grace": grace,
                    "last": last_day.strftime("%d/%m/%Y"),
                },
                "insurance_card_valid_to",
            )
        message = " ".join(
            m
            for m in (
                _(
                    "Thẻ BHYT hết hạn ngày %(day)s trong thời gian điều trị: quỹ vẫn thanh toán "
                    "đến khi ra viện, tối đa đến %(last)s."
                )
                % {
                    "day": card.valid_to.strftime("%d/%m/%Y"),
                    "last": last_day.strftime("%d/%m/%Y"),
                },
                message,
            )
            if m
        )
    return CardCheck(status=status, message_vi=message, **common)


def card_for_visit(
    *, patient: Patient, code: str, on: date, admitted_at: date | datetime | None = None
) -> InsuranceCard | None:
    """The patient's live card with this code that pays for care on `on` (None if none does).

    A card the portal declared invalid pays nothing. With `admitted_at`, a card that expired
    during the treatment still counts within the grace days (brief 1.3).
    """
    try:
        code = validate_bhyt_card(code)
    except ValidationError:
        return None
    cards = list(
        InsuranceCard.objects.filter(
            patient=patient, code=code, voided_at__isnull=True, valid_from__lte=on
        )
        .exclude(verification=CardVerification.INVALID)
        .order_by("-valid_from")
    )
    for card in cards:
        if card.valid_to is None or card.valid_to >= on:
            return card
    started = _as_date(admitted_at)
    if started is not None:
        for card in cards:
            if (
                started
                <= card.valid_to
                <= on
                <= card.valid_to + timedelta(days=card_grace_days(on=card.valid_to))
            ):
                return card
    return None
