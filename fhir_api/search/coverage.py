"""Coverage search: parameter -> ORM lookup over the BHYT cards the caller may see.

`payor` is not offered: every card has the same payor (the social insurance agency, shown as a
display-only reference), so it would select nothing or everything.
"""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest

from fhir_api import systems
from fhir_api.registry import SearchParam
from fhir_api.search.common import NOTHING, int_id, reference_id, token_code_q
from fhir_api.search.params import Criterion, Token
from fhir_api.search.refine import SearchSpec
from insurance.models import InsuranceCard

PARAMS = {
    "patient": SearchParam(
        "patient",
        "reference",
        "Patient/<id> (or the id alone): the patient's BHYT cards.",
        "http://hl7.org/fhir/SearchParameter/Coverage-patient",
    ),
    "beneficiary": SearchParam(
        "beneficiary",
        "reference",
        "Patient/<id>: same as patient.",
        "http://hl7.org/fhir/SearchParameter/Coverage-beneficiary",
    ),
    "identifier": SearchParam(
        "identifier",
        "token",
        f"The card code: {systems.BHYT}|<15 characters> (case ignored).",
        "http://hl7.org/fhir/SearchParameter/Coverage-identifier",
    ),
}


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def _reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def coverage_filter(
    qs: QuerySet[InsuranceCard], criteria: list[Criterion]
) -> QuerySet[InsuranceCard]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        for value in c.values:
            name = c.param.name
            if name == "_id":
                q |= _id_q(value)
            elif name in ("patient", "beneficiary"):
                q |= _reference_q(value, "Patient", "patient_id")
            elif name == "identifier":
                q |= token_code_q(value, systems.BHYT, "code", upper=True)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=coverage_filter,
    # as mappers.coverage.card_last_updated: the latest of created, verified, voided
    last_updated=Greatest(
        F("created_at"),
        Coalesce(F("verified_at"), F("created_at")),
        Coalesce(F("voided_at"), F("created_at")),
    ),
)
