"""ClaimResponse: the insurer's answer to a BHYT claim dossier -> FHIR ClaimResponse.

One per dossier that has an answer (accepted, rejected, paid), with the same id as its Claim.
Pure functions: they read only the dossier (with its encounter loaded) and `Answer` (when the
gateway answered, and the settlement line of the reconciliation, if any). Read-only: answers come
from the insurer's gateway (`insurance.claims.sending`) and its settlement file
(`insurance.claims.reconciliation`).

Rules (documented in docs/fhir.md):

- `request` = Claim/<id>; `outcome`: `complete` (accepted, paid) or `error` (rejected).
- `disposition`: what the insurer said; `error[]`: one per rejection reason, its code in the
  local `bhxh-error` system, its message as display and text.
- `created` = when the gateway's answer came (else the dossier's last change).
- `total`: `submitted` = T_TONGCHI_BV, `eligible` = T_BHTT asked of the fund, `benefit` = the
  amount approved in the insurer's settlement (once reconciled).
- `payment` (paid dossiers): the approved amount, the day the settlement was imported, type
  `complete` (or `partial` when less than claimed was approved).
- `meta.versionId` = the dossier's row version; a dossier of a voided encounter is
  `entered-in-error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import fees_common as fc
from fhir_api.mappers.claim import claim_type
from fhir_api.mappers.coverage import PAYOR_DISPLAY
from insurance.claims.models import Dossier, DossierStatus

ANSWERED = (DossierStatus.ACCEPTED, DossierStatus.REJECTED, DossierStatus.PAID)
COMPLETE = (DossierStatus.ACCEPTED, DossierStatus.PAID)
ACCEPTED_TEXT = "Hồ sơ được chấp nhận."
PAID_TEXT = "Hồ sơ được chấp nhận và đã quyết toán."
REJECTED_TEXT = "Hồ sơ bị từ chối"


@dataclass(frozen=True)
class Answer:
    """What the domain knows of the insurer's answer beyond the dossier row."""

    answered_at: datetime | None = None  # the gateway's answer (BatchItem.answered_at)
    approved: Decimal | None = None  # SettlementLine.amount_approved (latest settlement)
    claimed: Decimal | None = None  # SettlementLine.amount_claimed (T_BHTT when reconciled)
    settled_at: datetime | None = None  # Settlement.imported_at


def outcome(dossier: Dossier) -> str:
    return "complete" if dossier.status in COMPLETE else "error"


def disposition(dossier: Dossier) -> str:
    if dossier.status == DossierStatus.REJECTED:
        reasons = "; ".join(
            str(r.get("message") or r.get("code") or "") for r in dossier.rejection_reasons or []
        )
        return f"{REJECTED_TEXT}: {reasons}" if reasons else f"{REJECTED_TEXT}."
    return PAID_TEXT if dossier.status == DossierStatus.PAID else ACCEPTED_TEXT


def _error(reason: dict[str, Any]) -> dict[str, Any]:
    code = str(reason.get("code") or "").strip()
    message = str(reason.get("message") or "").strip()
    concept: dict[str, Any] = {}
    if code:
        concept["coding"] = [dt.coding(systems.BHXH_ERROR_CS, code, message or None)]
    concept["text"] = message or code or REJECTED_TEXT
    return {"code": concept}


def _total(code: str, amount: Decimal) -> dict[str, Any]:
    return {
        "category": {"coding": [dt.coding(systems.ADJUDICATION_CS, code)]},
        "amount": fc.money(amount),
    }


def claim_response_to_json(dossier: Dossier, answer: Answer) -> dict[str, Any]:
    """The FHIR ClaimResponse of an answered dossier, as JSON (not yet validated)."""
    encounter = dossier.encounter
    data: dict[str, Any] = {"resourceType": "ClaimResponse"}
    if dossier.pk is not None:
        data["id"] = str(dossier.pk)
        data["meta"] = fc.meta(dossier.row_version, dossier.updated_at)
    data["status"] = "entered-in-error" if encounter.voided_at is not None else "active"
    data["type"] = claim_type(dossier)
    data["use"] = "claim"
    data["patient"] = fc.reference("Patient", encounter.patient_id)
    data["created"] = fc.local_iso(answer.answered_at or dossier.updated_at)
    data["insurer"] = {"display": PAYOR_DISPLAY}
    data["requestor"] = fc.reference("Organization", dossier.facility_id)
    data["request"] = fc.reference("Claim", dossier.pk)
    data["outcome"] = outcome(dossier)
    data["disposition"] = disposition(dossier)
    claimed = answer.claimed if answer.claimed is not None else dossier.total_fund
    totals = [_total("submitted", dossier.total_hospital), _total("eligible", claimed)]
    if answer.approved is not None:
        totals.append(_total("benefit", answer.approved))
    data["total"] = totals
    if dossier.status == DossierStatus.PAID and answer.approved is not None:
        payment: dict[str, Any] = {
            "type": {
                "coding": [
                    dt.coding(
                        systems.PAYMENT_TYPE_CS,
                        "complete" if answer.approved >= claimed else "partial",
                    )
                ]
            },
        }
        if answer.settled_at is not None:
            payment["date"] = timezone.localdate(answer.settled_at).isoformat()
        payment["amount"] = fc.money(answer.approved)
        data["payment"] = payment
    if dossier.status == DossierStatus.REJECTED:
        data["error"] = [_error(r) for r in dossier.rejection_reasons or []] or [
            _error({"message": REJECTED_TEXT})
        ]
    return data


def claim_response_to_fhir(dossier: Dossier, answer: Answer) -> FHIRResourceModel:
    """The FHIR ClaimResponse of an answered dossier, validated by the pinned FHIR models."""
    return validate(claim_response_to_json(dossier, answer), "ClaimResponse")
