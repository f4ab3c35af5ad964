"""ClaimResponse interactions: read and search over the insurer's answers to claim dossiers.

One per dossier that has an answer (accepted, rejected, paid), with the id of its Claim; a
dossier without one answers 404. Visibility as Claim (providers/claim.py). The moment of the
answer and the reconciled amounts are subqueries of the page's query (no query per dossier).
Every access is audited per patient.
"""

from __future__ import annotations

from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.claim_response import ANSWERED, Answer, claim_response_to_json
from fhir_api.providers._fees_common import read_one, read_result, search_result
from fhir_api.providers.base import search_request
from fhir_api.providers.claim import visible_dossiers
from fhir_api.search import claim_response as response_search
from insurance.claims.models import Dossier

TYPE = "ClaimResponse"


def _answered(call: Call):
    return (
        visible_dossiers(call)
        .filter(status__in=ANSWERED)
        .annotate(**response_search.answer_annotations())
    )


def _to_json(dossier: Dossier) -> dict:
    answer = Answer(
        answered_at=getattr(dossier, response_search.ANSWERED_AT, None),
        approved=getattr(dossier, response_search.APPROVED, None),
        claimed=getattr(dossier, response_search.CLAIMED, None),
        settled_at=getattr(dossier, response_search.SETTLED_AT, None),
    )
    return claim_response_to_json(dossier, answer)


def _patient_id(dossier: Dossier) -> int:
    return dossier.encounter.patient_id


class ClaimResponseProvider:
    """The ClaimResponse resource over answered insurance.claims Dossiers (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        dossier = read_one(
            call, TYPE, resource_id, _answered(call), action="fhir.claimresponse.read",
            patient_id=_patient_id,
        )  # fmt: skip
        return read_result(_to_json(dossier), dossier.row_version, dossier.updated_at)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, response_search.PARAMS, response_search.SPEC, TYPE)
        qs = _answered(call).filter(encounter__voided_at__isnull=True)
        return search_result(
            call,
            TYPE,
            req,
            qs,
            response_search.SPEC,
            action="fhir.claimresponse.search",
            patient_id=_patient_id,
            to_json=lambda page: [_to_json(d) for d in page],
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ClaimResponseProvider(),
        interactions=("read", "search-type"),
        search_params=response_search.PARAMS,
        spec=response_search.SPEC,
    )
)
