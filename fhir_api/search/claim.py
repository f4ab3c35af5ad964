"""Claim search: parameter -> ORM lookup over the claim dossiers the caller may see."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from fhir_api import systems
from fhir_api.mappers.claim import DRAFT_STATUSES
from fhir_api.registry import SearchParam
from fhir_api.search.charge_item import id_q, instant_range, reference_q
from fhir_api.search.common import EVERYTHING, NOTHING, token_code_q
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from insurance.claims.models import Dossier

_SP = "http://hl7.org/fhir/SearchParameter/"
STATUS_CS = "http://hl7.org/fhir/fm-status"
PARAMS = {
    "patient": SearchParam(
        "patient", "reference", "Patient/<id> (or the id alone).", f"{_SP}Claim-patient"
    ),
    "created": SearchParam(
        "created",
        "date",
        "When the dossier was first built (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        f"{_SP}Claim-created",
    ),
    "status": SearchParam(
        "status",
        "token",
        "draft (being prepared: draft, with errors) or active (ready and after).",
        f"{_SP}Claim-status",
    ),
    "identifier": SearchParam(
        "identifier",
        "token",
        f"MA_LK: {systems.MA_LK}|<MA_LK> or the code alone.",
        f"{_SP}Claim-identifier",
    ),
    "encounter": SearchParam(
        "encounter",
        "reference",
        "Encounter/<id> (or the id alone): the dossier of one visit or stay.",
        f"{_SP}Claim-encounter",
    ),
    "provider": SearchParam(
        "provider", "reference", "Organization/<id>: the unit's dossiers.", f"{_SP}Claim-provider"
    ),
}

_CREATED = instant_range("created_at")


def _status_q(token: Token) -> Q:
    if token.system not in (None, STATUS_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    if token.code == "draft":
        return Q(status__in=DRAFT_STATUSES)
    if token.code == "active":
        return ~Q(status__in=DRAFT_STATUSES)
    return NOTHING  # cancelled never occurs; entered-in-error is never returned by a search


def claim_filter(qs: QuerySet[Dossier], criteria: list[Criterion]) -> QuerySet[Dossier]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        name = c.param.name
        for value in c.values:
            if name == "_id":
                q |= id_q(value)
            elif name == "patient":
                q |= reference_q(value, "Patient", "encounter__patient_id")
            elif name == "encounter":
                q |= reference_q(value, "Encounter", "encounter_id")
            elif name == "provider":
                q |= reference_q(value, "Organization", "facility_id")
            elif name == "status":
                q |= _status_q(value)
            elif name == "created":
                q |= date_q(value, _CREATED)
            elif name == "identifier":
                q |= token_code_q(value, systems.MA_LK, "claim_key", upper=True)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=claim_filter,
    last_updated="updated_at",  # meta.lastUpdated: the dossier's last change
    sorts={"created": F("created_at")},
)
