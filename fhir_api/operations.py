"""Operations: `Patient/[id]/$everything` and `[type]/$validate`, `[type]/[id]/$validate`.

`$everything` asks each registered type that has a `patient` (or `beneficiary`) reference search
parameter for the patient's resources, through its own provider, page after page: the same
visibility, scopes and audit as a search. Types the token may not search are left out and named in
an OperationOutcome entry. `_type`, `_since` and `_count` (the size of the answer, capped at
EVERYTHING_MAX; over it an OperationOutcome entry says to use `Patient/[id]/$export`) are taken.

`$validate` runs the type's own create (or, with an id, update) on the resource inside a
transaction that is always rolled back: the answer holds exactly the errors a write would get
(structure, mapping, the domain's validation), and nothing is written. A type that takes no
writes is checked against the FHIR structure only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction

from ehealth.core.audit import audit_record
from fhir_api import registry
from fhir_api.fhir import PydanticValidationError, validate
from fhir_api.http import Call, FhirResult, read_any_json, replay_call
from fhir_api.outcomes import (
    BadRequest,
    FhirError,
    Forbidden,
    Issue,
    MethodNotAllowed,
    NotFound,
    operation_outcome,
    outcome_for_exception,
    pydantic_issues,
)
from fhir_api.scopes import scopes_allow
from fhir_api.search.params import MAX_COUNT

EVERYTHING_MAX = 5000
_PATIENT_PARAMS = ("patient", "beneficiary", "subject")


# --- $everything -------------------------------------------------------------------------------


def _patient_param(resource: registry.ResourceDef) -> str | None:
    for name in _PATIENT_PARAMS:
        param = resource.search_params.get(name)
        if param is not None and param.type == "reference":
            return name
    return None


def compartment_types() -> list[tuple[str, str]]:
    """(type, parameter) of each served type that can be searched by patient."""
    out = []
    for resource in registry.all_resources():
        name = _patient_param(resource)
        if resource.type != "Patient" and name and "search-type" in resource.interactions:
            out.append((resource.type, name))
    return out


def _may_search(call: Call, resource_type: str) -> bool:
    if call.principal.kind == "staff":
        return True
    return scopes_allow(call.principal.scopes, resource_type, "s")


def _since(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise BadRequest(
            "_since must be an instant with a time zone (e.g. 2026-03-01T00:00:00+07:00).",
            expression="_since",
        )
    return value


def _updated_since(resource: dict[str, Any], since: datetime | None) -> bool:
    if since is None:
        return True
    stamp = (resource.get("meta") or {}).get("lastUpdated")
    return stamp is None or datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= since


def everything(call: Call, resource_id: str, items: list[tuple[str, str]]) -> FhirResult:
    """The patient and every resource of their compartment the caller may see."""
    params = dict(items)
    unknown = sorted(set(params) - {"_type", "_since", "_count", "_format"})
    if unknown and not call.lenient:
        raise BadRequest(f"$everything does not take '{unknown[0]}'.", expression=unknown[0])
    since = _since(params["_since"]) if params.get("_since") else None
    limit = EVERYTHING_MAX
    if params.get("_count"):
        if not params["_count"].isdigit():
            raise BadRequest("_count must be a non-negative integer.", expression="_count")
        limit = min(int(params["_count"]), EVERYTHING_MAX)
    types = compartment_types()
    if params.get("_type"):
        wanted = [t.strip() for t in params["_type"].split(",") if t.strip()]
        served = dict(types) | {"Patient": ""}
        for t in wanted:
            if t not in served:
                raise BadRequest(
                    f"_type: {t} is not a type of the patient compartment served here.",
                    expression="_type",
                )
        types = [(t, p) for t, p in types if t in wanted]
    call.principal.require("Patient", "read")
    patient = registry.get("Patient").provider.read(call, resource_id).body
    entries: list[dict[str, Any]] = [_entry(call, patient)]
    skipped: list[str] = []
    truncated = False
    for resource_type, param in types:
        if not _may_search(call, resource_type):
            skipped.append(resource_type)
            continue
        for resource in _all(call, resource_type, [(param, f"Patient/{patient['id']}")]):
            if not _updated_since(resource, since):
                continue
            if len(entries) >= limit:
                truncated = True
                break
            entries.append(_entry(call, resource))
        if truncated:
            break
    if params.get("_type") and "Patient" not in params["_type"].split(","):
        entries = entries[1:]
    outcomes = []
    if skipped:
        outcomes.append(
            Issue(
                "suppressed",
                "Left out, the token has no search scope for: " + ", ".join(skipped) + ".",
                severity="information",
            )
        )
    if truncated:
        outcomes.append(
            Issue(
                "too-costly",
                f"Only the first {limit} resources are given; use Patient/{patient['id']}/$export "
                "for the whole record.",
                severity="warning",
            )
        )
    if outcomes:
        entries.append({"resource": operation_outcome(outcomes), "search": {"mode": "outcome"}})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": sum(1 for e in entries if e["search"]["mode"] == "match"),
        "link": [
            {"relation": "self", "url": call.url(f"Patient/{patient['id']}/$everything", items)}
        ],
        "entry": entries,
    }
    return FhirResult(200, bundle)


def _entry(call: Call, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": call.url(f"{resource['resourceType']}/{resource['id']}"),
        "resource": resource,
        "search": {"mode": "match"},
    }


def _all(call: Call, resource_type: str, items: list[tuple[str, str]]):
    """Every resource a search finds, following its keyset `next` links."""
    provider = registry.get(resource_type).provider
    cursor: str | None = None
    while True:
        page_items = [*items, ("_count", str(MAX_COUNT))]
        if cursor:
            page_items.append(("_cursor", cursor))
        bundle = provider.search_type(call, page_items).body
        for entry in bundle.get("entry", []):
            if entry.get("search", {}).get("mode", "match") == "match":
                yield entry["resource"]
        nxt = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        if not nxt:
            return
        cursor = dict(parse_qsl(urlsplit(nxt[0]).query)).get("_cursor")
        if not cursor:
            return


# --- $validate ---------------------------------------------------------------------------------


class _RollBack(Exception):
    """Raised to undo a trial write."""


def _resource_of(call: Call, resource_type: str) -> tuple[dict[str, Any], str]:
    """(resource, mode) from the body: the resource itself, or a Parameters with `resource`."""
    data = read_any_json(call.request)
    mode = ""
    if data.get("resourceType") == "Parameters":
        resource = None
        for part in data.get("parameter") or []:
            if part.get("name") == "resource":
                resource = part.get("resource")
            elif part.get("name") == "mode":
                mode = str(part.get("valueCode") or "")
        if not isinstance(resource, dict):
            raise BadRequest(
                "The Parameters hold no 'resource' to validate.", expression="Parameters.parameter"
            )
        data = resource
    if data.get("resourceType") != resource_type:
        raise BadRequest(
            f"Expected a {resource_type} to validate, got {data.get('resourceType')!r}.",
            expression="resourceType",
        )
    if mode and mode not in ("create", "update"):
        raise BadRequest(f"$validate mode '{mode}' is not supported.", expression="mode")
    return data, mode


def validate_resource(call: Call, resource_type: str, resource_id: str = "") -> FhirResult:
    resource_def = registry.get(resource_type)
    resource, mode = _resource_of(call, resource_type)
    mode = mode or ("update" if resource_id else "create")
    if mode == "update" and not resource_id:
        resource_id = str(resource.get("id") or "")
        if not resource_id:
            raise BadRequest("mode update needs the resource's id.", expression="id")
    issues = _trial(call, resource_def, resource, mode, resource_id)
    audit_record(
        actor=call.principal.user,
        action="fhir.validate",
        detail={
            "type": resource_type,
            "mode": mode,
            "errors": len([i for i in issues if i.severity == "error"]),
            **call.principal.audit_detail,
        },
    )
    if not issues:
        issues = [Issue("informational", "No issues found.", severity="information")]
    return FhirResult(200, operation_outcome(issues))


def _trial(
    call: Call, resource_def: registry.ResourceDef, resource: dict[str, Any], mode: str, rid: str
) -> list[Issue]:
    interaction = mode
    if interaction not in resource_def.interactions:
        try:
            validate(resource, resource_def.type)
        except PydanticValidationError as exc:
            return pydantic_issues(exc, resource_def.type)
        return []
    call.principal.require(resource_def.type, interaction)
    headers = {}
    if interaction == "update":
        version = (resource.get("meta") or {}).get("versionId")
        headers["If-Match"] = f'W/"{version}"' if version else ""
    sub = replay_call(
        call, method="POST" if mode == "create" else "PUT", resource=resource, headers=headers
    )
    try:
        with transaction.atomic():
            if interaction == "create":
                resource_def.provider.create(sub)
            else:
                if not headers["If-Match"]:
                    current = resource_def.provider.read(sub, rid)
                    sub.request.META["HTTP_IF_MATCH"] = current.headers.get("ETag", "")
                resource_def.provider.update(sub, rid)
            raise _RollBack
    except _RollBack:
        return []
    except Exception as exc:  # noqa: BLE001 - the errors are the answer
        error = outcome_for_exception(
            exc, field_paths=getattr(resource_def.provider, "field_paths", None)
        )
        if error.status >= 500:
            raise error from exc
        if isinstance(error, Forbidden | NotFound):
            raise error from exc
        return error.issues


def operation_not_found(resource_type: str, name: str) -> FhirError:
    return MethodNotAllowed(
        f"${name} is not an operation of {resource_type} here.", expression=f"${name}"
    )
