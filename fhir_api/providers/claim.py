"""Claim interactions: read and search over the BHYT claim dossiers (their current version).

Visibility (providers/_fees_common.py): a partner client sees its own unit's dossiers only; staff
those of the units where they manage claims (insurance.manage_claims), as the claims pages. A
dossier of a voided encounter is still served on read (`entered-in-error`) but never returned by
a search. The card (for Coverage/<id>) is a subquery of the page's query; the tables of the
current versions are one more query for the whole page. Every access is audited per patient.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform

from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.claim import ClaimTables, claim_to_json
from fhir_api.providers._fees_common import (
    read_one,
    read_result,
    search_result,
    visible_facility_ids,
)
from fhir_api.providers.base import search_request
from fhir_api.search import claim as claim_search
from insurance.claims.models import Dossier, DossierVersion
from insurance.claims.workspace import MANAGE_CLAIMS
from insurance.models import InsuranceCard

TYPE = "Claim"
CARD_ID = "_card_id"
ENCOUNTER_FIELDS = ("patient_id", "kind", "started_at", "ended_at", "voided_at")


def visible_dossiers(call: Call) -> QuerySet[Dossier]:
    """Dossiers (of voided encounters included) the caller may see, with their encounter."""
    return (
        Dossier.objects.filter(facility_id__in=visible_facility_ids(call, MANAGE_CLAIMS))
        .select_related("encounter")
        .only(
            *(f.name for f in Dossier._meta.concrete_fields),
            "encounter__id",
            "encounter__insurance_card_code",
            *(f"encounter__{name}" for name in ENCOUNTER_FIELDS),
        )
    )


def _with_card(qs: QuerySet[Dossier]) -> QuerySet[Dossier]:
    """The card the encounter used, as the Coverage provider serves it (not voided, latest)."""
    card = InsuranceCard.objects.filter(
        patient_id=OuterRef("encounter__patient_id"),
        code=OuterRef("encounter__insurance_card_code"),
        voided_at__isnull=True,
    ).order_by("-valid_from", "-id")
    return qs.annotate(**{CARD_ID: Subquery(card.values("pk")[:1])})


def _tables(dossiers: Sequence[Dossier]) -> dict[int, ClaimTables]:
    """The parsed XML1-3 of each dossier's current version (one query)."""
    rows = (
        DossierVersion.objects.filter(
            dossier_id__in=[d.pk for d in dossiers], number=F("dossier__current_version")
        )
        .annotate(
            xml1=KeyTextTransform("XML1", "tables"),
            xml2=KeyTextTransform("XML2", "tables"),
            xml3=KeyTextTransform("XML3", "tables"),
        )
        .values_list("dossier_id", "xml1", "xml2", "xml3")
    )
    return {pk: ClaimTables.parse(x1, x2, x3) for pk, x1, x2, x3 in rows}


def _page_json(page: Sequence[Dossier]) -> list[dict]:
    tables = _tables(page)
    return [
        claim_to_json(d, tables.get(d.pk, ClaimTables()), getattr(d, CARD_ID, None)) for d in page
    ]


def _patient_id(dossier: Dossier) -> int:
    return dossier.encounter.patient_id


class ClaimProvider:
    """The Claim resource over insurance.claims Dossier (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        dossier = read_one(
            call, TYPE, resource_id, _with_card(visible_dossiers(call)), action="fhir.claim.read",
            patient_id=_patient_id,
        )  # fmt: skip
        (body,) = _page_json([dossier])
        return read_result(body, dossier.row_version, dossier.updated_at)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, claim_search.PARAMS, claim_search.SPEC, TYPE)
        qs = visible_dossiers(call).filter(encounter__voided_at__isnull=True)
        return search_result(
            call,
            TYPE,
            req,
            qs,
            claim_search.SPEC,
            action="fhir.claim.search",
            patient_id=_patient_id,
            to_json=_page_json,
            prepare=_with_card,
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ClaimProvider(),
        interactions=("read", "search-type"),
        search_params=claim_search.PARAMS,
        spec=claim_search.SPEC,
    )
)
