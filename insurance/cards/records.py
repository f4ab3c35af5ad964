"""Recording the cards a patient holds: the code split, ownership through the registry, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from insurance.benefits.types import CardContext
from insurance.models import CardSource, CardVerification, InsuranceCard
from patients.choices import IdentifierSystem
from patients.guards import require_own_record
from patients.identifiers import validate_bhyt_card
from patients.models import Patient, PatientIdentifier

CARD_PERMS = ("patients.checkin_encounter", "patients.change_patient")
CODE_FIELD = "insurance_card_code"
REGION_CODES = ("K1", "K2", "K3")


@dataclass(frozen=True)
class CardParts:
    """The four parts of a 15-character card code (domain brief 1.1)."""

    code: str
    group_code: str
    benefit_digit: int
    province_code: str
    social_insurance_number: str


def card_split(code: str) -> CardParts:
    """Check the code (ValidationError in Vietnamese) and split it."""
    code = validate_bhyt_card(code)
    return CardParts(code, code[:2], int(code[2]), code[3:5], code[5:15])


# --- whose card is it? -----------------------------------------------------------------------


def card_ownership_problem(*, patient: Patient, parts: CardParts) -> str:
    """'' when the card may be the patient's; otherwise why not (Vietnamese, no identifiers)."""
    idents = list(
        PatientIdentifier.objects.filter(voided_at__isnull=True)
        .filter(
            Q(system=IdentifierSystem.BHYT, value=parts.code)
            | Q(system=IdentifierSystem.SOCIAL_INSURANCE, value=parts.social_insurance_number)
            | Q(patient=patient, system=IdentifierSystem.SOCIAL_INSURANCE)
        )
        .values_list("patient_id", "system", "value")
    )
    for pid, system, value in idents:
        if pid == patient.pk:
            if (
                system == IdentifierSystem.SOCIAL_INSURANCE
                and value != parts.social_insurance_number
            ):
                return _(
                    "Mã số BHXH trên thẻ (ký tự 6–15) không khớp mã số BHXH của người bệnh: "
                    "thẻ không phải của người bệnh này."
                )
        else:
            if system == IdentifierSystem.BHYT:
                return _(
                    "Mã thẻ BHYT này đã được đăng ký cho một người bệnh khác (hồ sơ số %(id)s)."
                ) % {"id": pid}
            return _("Mã số BHXH của thẻ đã thuộc về một người bệnh khác (hồ sơ số %(id)s).") % {
                "id": pid
            }
    other = (
        InsuranceCard.objects.filter(code=parts.code, voided_at__isnull=True)
        .exclude(patient=patient)
        .values_list("patient_id", flat=True)
        .first()
    )
    if other is not None:
        return _("Thẻ BHYT này đã được ghi cho một người bệnh khác (hồ sơ số %(id)s).") % {
            "id": other
        }
    return ""


def _registry_identifiers_ensure(*, patient: Patient, parts: CardParts) -> None:
    """Give the patient the card's BHXH number and (if none) card code in the registry, so the
    registry's city-wide unique index refuses the same card on two patients, even concurrently."""
    live = set(
        PatientIdentifier.objects.filter(
            patient=patient,
            voided_at__isnull=True,
            system__in=[IdentifierSystem.BHYT, IdentifierSystem.SOCIAL_INSURANCE],
        ).values_list("system", flat=True)
    )
    rows = []
    if IdentifierSystem.SOCIAL_INSURANCE not in live:
        rows.append(
            PatientIdentifier(
                patient=patient,
                system=IdentifierSystem.SOCIAL_INSURANCE,
                value=parts.social_insurance_number,
            )
        )
    if IdentifierSystem.BHYT not in live:
        rows.append(
            PatientIdentifier(patient=patient, system=IdentifierSystem.BHYT, value=parts.code)
        )
    if not rows:
        return
    try:
        with transaction.atomic():
            PatientIdentifier.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise ValidationError(
            {"code": [_("Thẻ BHYT này vừa được đăng ký cho một người bệnh khác.")]}
        ) from exc


# --- recording a card ------------------------------------------------------------------------


def _card_upsert(
    *,
    actor,
    patient: Patient,
    parts: CardParts,
    valid_from: date,
    valid_to: date | None,
    registered_facility_code: str = "",
    region_code: str = "",
    five_years_date: date | None = None,
    copay_exempt_from: date | None = None,
    source: str = CardSource.TYPED,
    verification: str = CardVerification.UNCHECKED,
    facility_id: int | None = None,
) -> InsuranceCard:
    """Create the card, or update the patient's live card with the same code and start date."""
    problem = card_ownership_problem(patient=patient, parts=parts)
    if problem:
        raise ValidationError({"code": [problem]})
    _registry_identifiers_ensure(patient=patient, parts=parts)
    now = timezone.now()
    values = {
        "group_code": parts.group_code,
        "benefit_digit": parts.benefit_digit,
        "province_code": parts.province_code,
        "social_insurance_number": parts.social_insurance_number,
        "valid_to": valid_to,
        "registered_facility_code": registered_facility_code,
        "region_code": region_code,
        "five_years_date": five_years_date,
        "copay_exempt_from": copay_exempt_from,
        "source": source,
        "verification": verification,
        "verified_at": now
        if verification in (CardVerification.VALID, CardVerification.INVALID)
        else None,
    }
    card = (
        InsuranceCard.objects.select_for_update(no_key=True)
        .filter(patient=patient, code=parts.code, valid_from=valid_from, voided_at__isnull=True)
        .first()
    )
    created = card is None
    if created:
        try:
            with transaction.atomic():
                card = InsuranceCard.objects.create(
                    patient=patient,
                    code=parts.code,
                    valid_from=valid_from,
                    recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
                    **values,
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"code": [_("Thẻ BHYT này vừa được ghi cho một người bệnh khác.")]}
            ) from exc
    else:
        for name, value in values.items():
            setattr(card, name, value)
        card.version += 1
        card.save(update_fields=[*values, "version"])
    audit_record(
        actor=actor,
        action="insurance_card.record",
        target=card,
        patient_id=patient.pk,
        detail={
            "facility_id": facility_id,
            "created": created,
            "source": source,
            "verification": verification,
            "version": card.version,
        },
    )
    return card


@transaction.atomic
def card_record(
    *,
    actor,
    facility: Facility,
    patient: Patient,
    code: str,
    valid_from: date,
    valid_to: date | None = None,
    registered_facility_code: str = "",
    region_code: str = "",
    five_years_date: date | None = None,
    copay_exempt_from: date | None = None,
    source: str = CardSource.TYPED,
    verification: str = CardVerification.UNCHECKED,
) -> InsuranceCard:
    """Record a card the patient holds (as presented, or as the portal returned it); audited.

    Refuses, with Vietnamese messages beside the field: a malformed code, reversed dates, a card
    whose BHXH number is not the patient's, a card or BHXH number held by another patient.
    """
    if not any(permissions.has_perm_at(actor, p, facility.pk) for p in CARD_PERMS):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))
    require_own_record(patient, facility)
    errors: dict[str, list[str]] = {}
    try:
        parts = card_split(code)
    except ValidationError as exc:
        errors["code"] = exc.messages
        parts = None
    if valid_from is None:
        errors.setdefault("valid_from", []).append(_("Cần ngày thẻ bắt đầu có giá trị."))
    elif valid_to is not None and valid_to < valid_from:
        errors.setdefault("valid_to", []).append(_("Ngày hết hạn của thẻ phải sau ngày bắt đầu."))
    registered = (registered_facility_code or "").strip().upper()
    if registered and (len(registered) != 5 or not registered.isalnum()):
        errors.setdefault("registered_facility_code", []).append(
            _("Mã cơ sở KCB gồm đúng 5 ký tự.")
        )
    region = (region_code or "").strip().upper()
    if region and region not in REGION_CODES:
        errors.setdefault("region_code", []).append(_("Mã khu vực là K1, K2 hoặc K3."))
    if errors:
        raise ValidationError(errors)
    return _card_upsert(
        actor=actor,
        patient=patient,
        parts=parts,
        valid_from=valid_from,
        valid_to=valid_to,
        registered_facility_code=registered,
        region_code=region,
        five_years_date=five_years_date,
        copay_exempt_from=copay_exempt_from,
        source=source,
        verification=verification,
        facility_id=facility.pk,
    )


def card_context(card: InsuranceCard) -> CardContext:
    """The card as the benefit engine sees it."""
    return CardContext(
        group_code=card.group_code,
        benefit_digit=card.benefit_digit,
        valid_from=card.valid_from,
        valid_to=card.valid_to,
        five_years_date=card.five_years_date,
        copay_exempt_from=card.copay_exempt_from,
        registered_facility_code=card.registered_facility_code,
    )
