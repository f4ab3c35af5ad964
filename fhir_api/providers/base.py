"""Pieces shared by the read-only providers (Organization, Location, Encounter): parsing a search,
the searchset Bundle with its keyset `next` link, the audit detail of a search."""

from __future__ import annotations

from typing import Any

from fhir_api import registry
from fhir_api.http import Call
from fhir_api.includes import included, subset
from fhir_api.search.params import SearchRequest, cursor_encode, parse_search
from fhir_api.search.refine import SearchSpec, unsupported


def search_request(
    call: Call,
    items: list[tuple[str, str]],
    params: dict[str, registry.SearchParam],
    spec: SearchSpec | None = None,
    resource_type: str = "these",
) -> SearchRequest:
    """The parsed search (400 on an unknown parameter unless `Prefer: handling=lenient`, and on
    `:not`, `_lastUpdated`, `_sort`, `_total` where the search has no `spec` answering them)."""
    req = parse_search(items, {**registry.COMMON_PARAMS, **params}, lenient=call.lenient)
    unsupported(req, spec, resource_type)
    return req


def search_detail(call: Call, req: SearchRequest) -> dict[str, Any]:
    """What a search's audit row says: parameter names only (values may identify a patient)."""
    return {"params": sorted({c.param.name for c in req.criteria}), **call.principal.audit_detail}


def searchset(
    call: Call,
    resource_type: str,
    req: SearchRequest,
    entries: list[dict[str, Any]],
    *,
    total: int | None = None,
    next_after: int | None = None,
) -> dict[str, Any]:
    """A searchset Bundle; `next` carries a signed keyset cursor (no gaps, no duplicates)."""
    links = [{"relation": "self", "url": call.url(resource_type, req.echo)}]
    if next_after is not None:
        cursor = cursor_encode(next_after)
        links.append(
            {"relation": "next", "url": call.url(resource_type, [*req.echo, ("_cursor", cursor)])}
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if total is not None:
        bundle["total"] = total
    matches = [
        {
            "fullUrl": call.url(f"{resource_type}/{e['id']}"),
            "resource": subset(e, req.elements) if req.elements else e,
            "search": {"mode": "match"},
        }
        for e in entries
    ]
    more = included(call, resource_type, entries, req) if req.includes or req.revincludes else []
    if matches or more:
        bundle["entry"] = [*matches, *more]
    return bundle
