"""Pieces shared by the read-only providers (Organization, Location, Encounter): parsing a search,
the searchset Bundle with its keyset `next` link, the audit detail of a search."""

from __future__ import annotations

from typing import Any

from fhir_api import registry
from fhir_api.http import Call
from fhir_api.search.params import SearchRequest, cursor_encode, parse_search


def search_request(
    call: Call, items: list[tuple[str, str]], params: dict[str, registry.SearchParam]
) -> SearchRequest:
    """The parsed search (400 on an unknown parameter unless `Prefer: handling=lenient`)."""
    return parse_search(items, {**registry.COMMON_PARAMS, **params}, lenient=call.lenient)


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
    if entries:
        bundle["entry"] = [
            {
                "fullUrl": call.url(f"{resource_type}/{e['id']}"),
                "resource": e,
                "search": {"mode": "match"},
            }
            for e in entries
        ]
    return bundle
