"""Coverage: a BHYT card (insurance.InsuranceCard) -> FHIR Coverage.

Pure functions: they read only the card given. Read-only: cards are recorded at reception
(`insurance.cards.records`).

Rules (documented in docs/fhir.md):

- `identifier`: the 15-character card code, system BHYT (`…/core/sid/bhyt`); `subscriberId` =
  the BHXH number (its last 10 characters).
- `status`: `active`; a voided card is `entered-in-error`. An expired card stays `active`: its
  `period` (valid_from .. valid_to) says until when it is valid.
- `type` = v3-ActCode `PUBLICPOL` (public health insurance); `relationship` = `self` (a BHYT card
  is personal); `beneficiary` → `Patient/<id>`.
- `payor` (1..* in R4) is the social insurance agency as a display-only reference (Bảo hiểm xã
  hội Việt Nam): it is not a resource this server serves, so it has no `reference`.
- `class`: type `group` = the beneficiary group code (mã đối tượng, characters 1–2), type `class`
  = the benefit level (mã quyền lợi, character 3, 1–5).
- extensions (local, UNCONFIRMED against VN Core): the registered primary-care facility (nơi
  ĐKKCB ban đầu, an identifier in the `ma-cskcb` system), the five-year date, the co-payment
  exemption date.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from insurance.models import InsuranceCard

PAYOR_DISPLAY = "Bảo hiểm xã hội Việt Nam"


def card_last_updated(card: InsuranceCard):
    moments = [m for m in (card.created_at, card.verified_at, card.voided_at) if m is not None]
    return max(moments) if moments else None


def _class(kind: str, value: str, name: str) -> dict[str, Any]:
    return {
        "type": {"coding": [dt.coding(systems.COVERAGE_CLASS_CS, kind)]},
        "value": value,
        "name": name,
    }


def coverage_to_json(card: InsuranceCard) -> dict[str, Any]:
    """The FHIR Coverage of a BHYT card, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "Coverage"}
    if card.pk is not None:
        data["id"] = str(card.pk)
        data["meta"] = {"versionId": str(card.version)}
        updated = card_last_updated(card)
        if updated is not None:
            data["meta"]["lastUpdated"] = timezone.localtime(updated).isoformat()
    extensions = []
    if card.registered_facility_code:
        identifier = dt.identifier(systems.FACILITY, card.registered_facility_code)
        extensions.append(
            dt.extension(systems.BHYT_REGISTERED_FACILITY_EXT, valueIdentifier=identifier)
        )
    if card.five_years_date:
        extensions.append(
            dt.extension(systems.BHYT_FIVE_YEARS_EXT, valueDate=card.five_years_date.isoformat())
        )
    if card.copay_exempt_from:
        extensions.append(
            dt.extension(
                systems.BHYT_COPAY_EXEMPT_EXT, valueDate=card.copay_exempt_from.isoformat()
            )
        )
    if extensions:
        data["extension"] = extensions
    data["identifier"] = [dt.identifier(systems.BHYT, card.code, use="official")]
    data["status"] = "entered-in-error" if card.voided_at is not None else "active"
    data["type"] = {
        "coding": [dt.coding(systems.ACT_CODE_CS, "PUBLICPOL", "public healthcare")],
        "text": "Bảo hiểm y tế",
    }
    if card.social_insurance_number:
        data["subscriberId"] = card.social_insurance_number
    data["beneficiary"] = {"reference": f"Patient/{card.patient_id}"}
    data["relationship"] = {"coding": [dt.coding(systems.SUBSCRIBER_RELATIONSHIP_CS, "self")]}
    period = {"start": card.valid_from.isoformat()}
    if card.valid_to is not None:
        period["end"] = card.valid_to.isoformat()
    data["period"] = period
    data["payor"] = [{"display": PAYOR_DISPLAY}]
    data["class"] = [
        _class("group", card.group_code, f"Mã đối tượng {card.group_code}"),
        _class("class", str(card.benefit_digit), f"Mức quyền lợi {card.benefit_digit}"),
    ]
    return data


def coverage_to_fhir(card: InsuranceCard) -> FHIRResourceModel:
    """The FHIR Coverage of a BHYT card, validated by the pinned FHIR models."""
    return validate(coverage_to_json(card), "Coverage")
