"""The card lookup of reception through the insurer portal; never blocked by the portal."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from insurance.cards.records import (
    CODE_FIELD,
    REGION_CODES,
    CardParts,
    _card_upsert,
    card_ownership_problem,
    card_split,
)
from insurance.clients import portal as portal_api
from insurance.models import CardSource, CardVerification, InsuranceCard
from patients.clinical.card_lookup import INVALID, UNCHECKED, VALID, CardCheck, card_check_as_typed
from patients.models import Patient

# --- the portal lookup -----------------------------------------------------------------------

_clients: dict[tuple, portal_api.InsurerPortalClient] = {}


def portal_client() -> portal_api.InsurerPortalClient:
    """The client for the configured portal (one per configuration, so its token is reused)."""
    key = (
        settings.INSURER_PORTAL_URL,
        settings.INSURER_PORTAL_TIMEOUT,
        settings.INSURER_PORTAL_RETRIES,
        settings.INSURER_PORTAL_USERNAME,
        getattr(settings, "INSURER_PORTAL_BACKOFF", 0.2),
    )
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = portal_api.InsurerPortalClient(
            settings.INSURER_PORTAL_URL,
            timeout=settings.INSURER_PORTAL_TIMEOUT,
            retries=settings.INSURER_PORTAL_RETRIES,
            backoff=key[4],
            username=settings.INSURER_PORTAL_USERNAME,
            password=settings.INSURER_PORTAL_PASSWORD,
        )
    return client


def _cards_with_code(patient: Patient | None, code: str, on: date):
    if patient is None:
        return InsuranceCard.objects.none()
    return InsuranceCard.objects.filter(
        patient=patient, code=code, voided_at__isnull=True, valid_from__lte=on
    ).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))


@transaction.atomic
def _verification_set(*, cards, verification: str, actor, lookup_id: int | None) -> None:
    now = timezone.now()
    for card in cards.select_for_update(no_key=True):
        if card.verification == verification:
            continue
        card.verification = verification
        card.verified_at = now
        card.version += 1
        card.save(update_fields=["verification", "verified_at", "version"])
        audit_record(
            actor=actor,
            action="insurance_card.verify",
            target=card,
            patient_id=card.patient_id,
            detail={"verification": verification, "lookup_id": lookup_id, "version": card.version},
        )


def _record_quietly(**kwargs) -> InsuranceCard | None:
    """Record the card seen at reception; a refusal leaves reception's answer to the caller."""
    try:
        with transaction.atomic():
            return _card_upsert(**kwargs)
    except ValidationError:
        return None


def portal_card_lookup(
    *,
    card_code: str,
    patient: Patient | None = None,
    on: date,
    valid_from: date | None = None,
    valid_to: date | None = None,
    registered_facility_code: str = "",
    actor=None,
) -> CardCheck:
    """Reception's card check through the insurer portal (signature of `card_check_as_typed`).

    Never blocks reception because of the portal: down, timed out or unreadable -> the card as
    presented ('unchecked'), flagged for re-check when the portal did not answer.
    """
    typed = card_check_as_typed(
        card_code=card_code,
        patient=patient,
        on=on,
        valid_from=valid_from,
        valid_to=valid_to,
        registered_facility_code=registered_facility_code,
    )
    if not typed.card_code:  # malformed code: nothing to ask the portal
        return typed
    parts = card_split(typed.card_code)
    if patient is not None:
        problem = card_ownership_problem(patient=patient, parts=parts)
        if problem:
            return CardCheck(status=INVALID, message_vi=problem, card_code=parts.code)
    existing = _cards_with_code(patient, parts.code, on).order_by("-valid_from").first()
    answer = portal_client().card_lookup(
        card_code=parts.code,
        full_name=getattr(patient, "full_name", ""),
        birth_date=getattr(patient, "birth_date", None),
        birth_year=getattr(patient, "birth_year", None),
        patient=patient,
        card=existing,
        actor=actor,
    )
    outcome = answer.outcome

    if outcome == portal_api.VALID:
        check = _portal_valid_check(answer, parts=parts, on=on)
        if patient is not None and check.status == VALID:
            _record_quietly(
                actor=actor,
                patient=patient,
                parts=parts,
                valid_from=answer.valid_from,
                valid_to=answer.valid_to,
                registered_facility_code=answer.registered_facility_code,
                region_code=answer.region_code if answer.region_code in REGION_CODES else "",
                five_years_date=answer.five_years_date,
                copay_exempt_from=answer.copay_exempt_from,
                source=CardSource.PORTAL,
                verification=CardVerification.VALID,
            )
        return check

    if outcome in (portal_api.INVALID, portal_api.WRONG_PERSON, portal_api.EXPIRED):
        _verification_set(
            cards=_cards_with_code(patient, parts.code, on),
            verification=CardVerification.INVALID,
            actor=actor,
            lookup_id=answer.lookup_id,
        )
        return CardCheck(
            status=INVALID,
            message_vi=answer.message_vi,
            card_code=parts.code,
            valid_from=answer.valid_from or valid_from,
            valid_to=answer.valid_to or valid_to,
            registered_facility_code=typed.registered_facility_code,
            field="insurance_card_valid_to" if outcome == portal_api.EXPIRED else CODE_FIELD,
        )

    # The portal did not confirm: reception goes on with the card as presented.
    if not typed.usable:
        return typed
    if outcome == portal_api.NOT_IN_PORTAL:
        verification, note = CardVerification.UNCHECKED, answer.message_vi
    elif outcome == portal_api.MALFORMED:
        verification = None  # an unreadable answer changes no status
        note = _(
            "Cổng BHXH trả lời không đúng định dạng: tiếp nhận theo thẻ xuất trình; câu trả lời "
            "đã được lưu để kiểm tra."
        )
    else:  # UNREACHABLE, REJECTED
        verification = CardVerification.RECHECK
        note = _(
            "Cổng BHXH không phản hồi: tiếp nhận theo thẻ xuất trình, thẻ được đánh dấu cần "
            "tra cứu lại."
        )
        if outcome == portal_api.REJECTED:
            note = f"{answer.message_vi} {note}"
    if patient is not None:
        if verification is not None:
            _verification_set(
                cards=_cards_with_code(patient, parts.code, on),
                verification=verification,
                actor=actor,
                lookup_id=answer.lookup_id,
            )
        if valid_from is not None and not _cards_with_code(patient, parts.code, on).exists():
            _record_quietly(
                actor=actor,
                patient=patient,
                parts=parts,
                valid_from=valid_from,
                valid_to=valid_to,
                registered_facility_code=typed.registered_facility_code,
                verification=verification or CardVerification.UNCHECKED,
            )
    return CardCheck(
        status=UNCHECKED,
        message_vi=note,
        card_code=typed.card_code,
        valid_from=typed.valid_from,
        valid_to=typed.valid_to,
        registered_facility_code=typed.registered_facility_code,
    )


def _portal_valid_check(
    answer: portal_api.PortalAnswer, *, parts: CardParts, on: date
) -> CardCheck:
    common = {
        "card_code": parts.code,
        "valid_from": answer.valid_from,
        "valid_to": answer.valid_to,
        "registered_facility_code": answer.registered_facility_code,
    }
    if answer.card_code and answer.card_code != parts.code:
        return CardCheck(
            status=INVALID,
            message_vi=_("Cổng BHXH trả về một thẻ khác mã thẻ xuất trình: nhập mã thẻ mới."),
            **common,
        )
    if on < answer.valid_from:
        return CardCheck(
            status=INVALID,
            message_vi=_("Thẻ BHYT chưa đến ngày có giá trị (từ %(day)s).")
            % {"day": answer.valid_from.strftime("%d/%m/%Y")},
            field="insurance_card_valid_from",
            **common,
        )
    if answer.valid_to and on > answer.valid_to:
        return CardCheck(
            status=INVALID,
            message_vi=_("Thẻ BHYT đã hết hạn (đến %(day)s).")
            % {"day": answer.valid_to.strftime("%d/%m/%Y")},
            field="insurance_card_valid_to",
            **common,
        )
    message = answer.message_vi if answer.portal_code != "000" else ""
    return CardCheck(status=VALID, message_vi=message, **common)


def card_recheck(*, card: InsuranceCard, on: date, actor=None) -> CardCheck:
    """Look a recorded card up again (a card flagged for re-check, or before settlement)."""
    return portal_card_lookup(
        card_code=card.code,
        patient=card.patient,
        on=on,
        valid_from=card.valid_from,
        valid_to=card.valid_to,
        registered_facility_code=card.registered_facility_code,
        actor=actor,
    )
