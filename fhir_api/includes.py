"""`_include`, `_revinclude` and `_elements` of a searchset, for every resource type at once.

Included resources are found by asking their own provider: `_include=Encounter:patient` searches
Patient by `_id` for the patients the page's encounters refer to; `_revinclude=Encounter:patient`
searches Encounter by `patient` for the page's patients. So what is included is exactly what the
caller could have searched for, with the same visibility, scopes (403 without them) and audit.
At most one page (`MAX_COUNT`) is included per `_include`/`_revinclude`; when there is more, an
OperationOutcome entry (search mode `outcome`) says so.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from fhir_api import registry
from fhir_api.fhir import resource_class
from fhir_api.http import Call
from fhir_api.outcomes import BadRequest
from fhir_api.search.params import MAX_COUNT, SearchRequest

# Search parameter -> the elements of a resource that hold its references (default: the
# parameter's name in camelCase). `patient` is the subject of clinical resources.
REFERENCE_ELEMENTS = {
    "patient": ("subject", "patient", "beneficiary"),
    "subject": ("subject",),
    "encounter": ("encounter", "context"),
    "organization": ("organization", "managingOrganization"),
    "general-practitioner": ("generalPractitioner",),
}
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ALWAYS_KEPT = ("resourceType", "id", "meta")


def reference_params(resource_type: str) -> list[str]:
    """The reference search parameters of a type (what `_include` may follow)."""
    resource = registry.get(resource_type)
    if resource is None:
        return []
    return sorted(n for n, p in resource.search_params.items() if p.type == "reference")


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.title() for part in rest)


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        for key, item in value.items():
            if key != "reference":
                found += _references(item)
        return found
    if isinstance(value, list):
        return [r for item in value for r in _references(item)]
    return []


def _named(value: Any, names: tuple[str, ...]) -> list[Any]:
    """The values of the elements called `names`, at any depth (Claim.item[].encounter too)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in names:
                found.append(item)
            else:
                found += _named(item, names)
    elif isinstance(value, list):
        for item in value:
            found += _named(item, names)
    return found


def _check(source: str, param: str, what: str) -> None:
    if registry.get(source) is None:
        raise BadRequest(f"{what}: {source} is not served here.", expression=what.split("=")[0])
    if param not in reference_params(source):
        known = ", ".join(reference_params(source)) or "none"
        raise BadRequest(
            f"{what}: '{param}' is not a reference search parameter of {source} (known: {known}).",
            expression=what.split("=")[0],
        )


def _search(call: Call, resource_type: str, items: list[tuple[str, str]]) -> tuple[list, bool]:
    """(resources, more) of a search of `resource_type` by the same caller."""
    resource = registry.get(resource_type)
    call.principal.require(resource_type, "search-type")
    sub = Call(request=call.request, principal=call.principal, base_url=call.base_url, prefer={})
    bundle = resource.provider.search_type(sub, [*items, ("_count", str(MAX_COUNT))]).body
    found = [e["resource"] for e in bundle.get("entry", [])]
    more = any(link["relation"] == "next" for link in bundle.get("link", []))
    return found, more


def _more_outcome(what: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "warning",
                    "code": "too-costly",
                    "diagnostics": f"{what}: only the first {MAX_COUNT} resources are included; "
                    "search them directly for the rest.",
                }
            ],
        },
        "search": {"mode": "outcome"},
    }


def included(
    call: Call, resource_type: str, matches: list[dict[str, Any]], req: SearchRequest
) -> list[dict[str, Any]]:
    """The entries (search mode `include`) that the request's _include/_revinclude add."""
    seen = {(m["resourceType"], m["id"]) for m in matches}
    out: list[dict[str, Any]] = []

    def add(resources: list[dict[str, Any]]) -> None:
        for r in resources:
            if (r["resourceType"], r["id"]) not in seen:
                seen.add((r["resourceType"], r["id"]))
                out.append(
                    {
                        "fullUrl": call.url(f"{r['resourceType']}/{r['id']}"),
                        "resource": r,
                        "search": {"mode": "include"},
                    }
                )

    for source, param, target in req.includes:
        what = f"_include={source}:{param}" + (f":{target}" if target else "")
        if source != resource_type:
            raise BadRequest(
                f"{what}: the source must be the searched type {resource_type}.",
                expression="_include",
            )
        _check(source, param, what)
        wanted: dict[str, list[str]] = defaultdict(list)
        elements = REFERENCE_ELEMENTS.get(param, (_camel(param),))
        for match in matches:
            for holder in _named(match, elements):
                for reference in _references(holder):
                    kind, _, rid = reference.rpartition("/")
                    kind = kind.rpartition("/")[2]
                    if rid and registry.get(kind) and (not target or kind == target):
                        if rid not in wanted[kind]:
                            wanted[kind].append(rid)
        for kind, ids in wanted.items():
            for start in range(0, len(ids), MAX_COUNT):
                found, _more = _search(
                    call, kind, [("_id", ",".join(ids[start : start + MAX_COUNT]))]
                )
                add(found)
    for source, param, target in req.revincludes:
        what = f"_revinclude={source}:{param}" + (f":{target}" if target else "")
        _check(source, param, what)
        if (target and target != resource_type) or not matches:
            continue
        refs = ",".join(f"{resource_type}/{m['id']}" for m in matches)
        found, more = _search(call, source, [(param, refs)])
        add(found)
        if more:
            out.append(_more_outcome(what))
    return out


@lru_cache(maxsize=64)
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """The elements of a type with a minimum cardinality of 1 (kept by `_elements` whatever is
    asked, as the specification says servers should)."""
    fields = resource_class(resource_type).model_fields
    return frozenset(
        info.alias or name
        for name, info in fields.items()
        if info.is_required() or (info.json_schema_extra or {}).get("element_required")
    )


def subset(resource: dict[str, Any], elements: tuple[str, ...]) -> dict[str, Any]:
    """`_elements`: the listed top-level elements, the mandatory ones, resourceType, id and meta,
    tagged SUBSETTED."""
    keep = {*elements, *_ALWAYS_KEPT, *mandatory_elements(resource["resourceType"])}
    kept = {k: v for k, v in resource.items() if k in keep}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept
