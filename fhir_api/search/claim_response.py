"""ClaimResponse search: parameter -> ORM lookup over the answered dossiers the caller may see.

The answer's moment and the reconciled amounts are not on the dossier row: `answer_annotations`
adds them as subqueries (one query for a whole page); `created` searches the annotated moment.
"""

from __future__ import annotations

from django.db.models import DateTimeField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from fhir_api.mappers.claim_response import COMPLETE
from fhir_api.registry import SearchParam
from fhir_api.search.charge_item import id_q, instant_range, reference_q
from fhir_api.search.common import EVERYTHING, NOTHING
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from insurance.claims.batch_models import ANSWERED_ITEM_STATES, BatchItem, SettlementLine
from insurance.claims.models import Dossier, DossierStatus

_SP = "http://hl7.org/fhir/SearchParameter/"
OUTCOME_CS = "http://hl7.org/fhir/remittance-outcome"
PARAMS = {
    "patient": SearchParam(
        "patient", "reference", "Patient/<id> (or the id alone).", f"{_SP}ClaimResponse-patient"
    ),
    "request": SearchParam(
        "request",
        "reference",
        "Claim/<id>: the answer to one claim.",
        f"{_SP}ClaimResponse-request",
    ),
    "outcome": SearchParam(
        "outcome",
        "token",
        "complete (accepted or paid) or error (rejected).",
        f"{_SP}ClaimResponse-outcome",
    ),
    "created": SearchParam(
        "created",
        "date",
        "When the insurer's answer came (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        f"{_SP}ClaimResponse-created",
    ),
}

ANSWERED_AT, CREATED = "_answered_at", "_created"
APPROVED, CLAIMED, SETTLED_AT = "_approved", "_claimed", "_settled_at"
_CREATED_RANGE = instant_range(CREATED)


def answer_annotations() -> dict:
    """The gateway's last answer and the latest settlement line of each dossier, as columns."""
    answered = BatchItem.objects.filter(
        dossier=OuterRef("pk"), state__in=ANSWERED_ITEM_STATES, answered_at__isnull=False
    ).order_by("-answered_at", "-id")
    settled = SettlementLine.objects.filter(dossier=OuterRef("pk")).order_by(
        "-settlement__imported_at", "-settlement_id"
    )
    return {
        ANSWERED_AT: Subquery(answered.values("answered_at")[:1], output_field=DateTimeField()),
        CREATED: Coalesce(
            Subquery(answered.values("answered_at")[:1], output_field=DateTimeField()),
            "updated_at",
        ),
        APPROVED: Subquery(settled.values("amount_approved")[:1]),
        CLAIMED: Subquery(settled.values("amount_claimed")[:1]),
        SETTLED_AT: Subquery(settled.values("settlement__imported_at")[:1]),
    }


def _outcome_q(token: Token) -> Q:
    if token.system not in (None, OUTCOME_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    if token.code == "complete":
        return Q(status__in=COMPLETE)
    if token.code == "error":
        return Q(status=DossierStatus.REJECTED)
    return NOTHING


def claim_response_filter(qs: QuerySet[Dossier], criteria: list[Criterion]) -> QuerySet[Dossier]:
    """Apply the parsed criteria to dossiers carrying `answer_annotations`."""
    for c in criteria:
        q = NOTHING
        name = c.param.name
        for value in c.values:
            if name == "_id":
                q |= id_q(value)
            elif name == "patient":
                q |= reference_q(value, "Patient", "encounter__patient_id")
            elif name == "request":
                q |= reference_q(value, "Claim", "pk")
            elif name == "outcome":
                q |= _outcome_q(value)
            elif name == "created":
                q |= date_q(value, _CREATED_RANGE)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=claim_response_filter,
    last_updated="updated_at",  # meta.lastUpdated: the dossier's last change
    sorts={"created": F(CREATED)},
)
