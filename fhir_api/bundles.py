"""Batch and transaction Bundles (`POST [base]`), FHIR R4 §3.1.0.11 (http.html#transaction).

Each entry is one interaction (`request.method` + `request.url`) handed to the registry's provider
exactly as if it had come alone: the same scopes, validation, permissions and audit. A synthetic
request carries the entry's resource and its `ifNoneExist` / `ifMatch` as the headers providers
read.

- batch: entries are independent; each runs in its own savepoint and a failed one answers its own
  status and OperationOutcome in the response Bundle while the others stand.
- transaction: all or nothing, in one database transaction. Entries run in the order the
  specification gives (DELETE, POST, PUT, GET); creates whose resources refer to another entry's
  `fullUrl` (`urn:uuid:...`) run after it (a reference cycle is refused) and every such reference
  is rewritten to the created `Type/id` before the resource reaches its provider. The first failed
  entry rolls everything back and the answer is its error, its element paths prefixed with
  `Bundle.entry[i]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction
from django.utils.http import parse_http_date

from fhir_api import registry
from fhir_api.fhir import PydanticValidationError, validate
from fhir_api.http import Call, FhirResult, read_json_object, replay_call
from fhir_api.outcomes import (
    BadRequest,
    FhirError,
    Issue,
    MethodNotAllowed,
    NotFound,
    operation_outcome,
    outcome_for_exception,
    pydantic_issues,
)

MAX_ENTRIES = 1000
# What `POST [base]` does, as the CapabilityStatement's rest.interaction lists it.
SYSTEM_INTERACTIONS = ("transaction", "batch")
_METHOD_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
}


@dataclass
class Entry:
    """One parsed entry: what to do, on which type and id, with what."""

    index: int
    method: str
    resource_type: str
    interaction: str
    resource_id: str = ""
    version_id: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    resource: dict[str, Any] | None = None
    full_url: str = ""
    if_none_exist: str = ""
    if_match: str = ""
    _sent_references: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def sent_references(self) -> list[str]:
        """Every `reference` string of the resource as sent (before any is resolved), once."""
        if self._sent_references is None:
            self._sent_references = _references(self.resource)
        return self._sent_references


def bundle_process(call: Call) -> FhirResult:
    """Run a batch or transaction Bundle posted to the base; the response Bundle."""
    data = read_json_object(call.request, "Bundle")
    kind = data.get("type")
    if kind not in ("batch", "transaction"):
        raise BadRequest(
            f"Only batch and transaction Bundles are processed at the base, not {kind!r}.",
            expression="Bundle.type",
        )
    raw_entries = data.get("entry") or []
    if not isinstance(raw_entries, list):
        raise BadRequest("Bundle.entry must be a list.", expression="Bundle.entry")
    if len(raw_entries) > MAX_ENTRIES:
        raise BadRequest(
            f"A Bundle holds at most {MAX_ENTRIES} entries here, not {len(raw_entries)}.",
            expression="Bundle.entry",
        )
    if kind == "transaction":
        entries = [_entry(call, i, raw) for i, raw in enumerate(raw_entries)]
        _check_bundle(data)
        return FhirResult(200, _transaction(call, entries))
    return FhirResult(200, _batch(call, raw_entries))


def _check_bundle(data: dict[str, Any]) -> None:
    """The Bundle itself, apart from its entries' resources (each validated by its provider)."""
    shell = {
        **data,
        "entry": [{k: v for k, v in e.items() if k != "resource"} for e in data.get("entry") or []],
    }
    try:
        validate(shell, "Bundle")
    except PydanticValidationError as exc:
        raise BadRequest(issues=pydantic_issues(exc, "Bundle")) from None


# --- parsing -----------------------------------------------------------------------------------


def _entry(call: Call, index: int, raw: Any) -> Entry:
    path = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise BadRequest("An entry must be a JSON object.", expression=path)
    request = raw.get("request")
    if not isinstance(request, dict):
        raise BadRequest("The entry has no request (method and url).", expression=f"{path}.request")
    method = str(request.get("method") or "").upper()
    url = str(request.get("url") or "")
    if method not in _METHOD_ORDER or method in ("PATCH", "HEAD"):
        raise MethodNotAllowed(
            f"request.method {method or '(none)'} is not supported in a Bundle.",
            expression=f"{path}.request.method",
        )
    if not url:
        raise BadRequest("request.url is missing.", expression=f"{path}.request.url")
    if url.startswith(call.base_url):
        url = url[len(call.base_url) :]
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise BadRequest(
            "request.url must be relative to this server's base.", expression=f"{path}.request.url"
        )
    segments = [s for s in parts.path.strip("/").split("/") if s]
    query = parse_qsl(parts.query, keep_blank_values=True)
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise BadRequest("entry.resource must be a resource.", expression=f"{path}.resource")
    entry = Entry(
        index=index,
        method=method,
        resource_type=segments[0] if segments else "",
        interaction="",
        query=query,
        resource=resource,
        full_url=str(raw.get("fullUrl") or ""),
        if_none_exist=str(request.get("ifNoneExist") or ""),
        if_match=str(request.get("ifMatch") or ""),
    )
    entry.interaction, entry.resource_id, entry.version_id = _interaction(entry, segments, path)
    resource_def = registry.get(entry.resource_type)
    if resource_def is None:
        raise NotFound(
            f"Resource type '{entry.resource_type}' is not served.",
            expression=f"{path}.request.url",
        )
    if entry.interaction not in resource_def.interactions:
        raise MethodNotAllowed(
            f"{entry.interaction} is not supported on {entry.resource_type}.",
            expression=f"{path}.request.method",
        )
    if method in ("POST", "PUT"):
        if resource is None:
            raise BadRequest(f"{method} needs entry.resource.", expression=f"{path}.resource")
        if resource.get("resourceType") != entry.resource_type:
            raise BadRequest(
                f"entry.resource is a {resource.get('resourceType')!r}, the url names "
                f"{entry.resource_type}.",
                expression=f"{path}.resource.resourceType",
            )
    call.principal.require(entry.resource_type, entry.interaction)
    return entry


def _interaction(entry: Entry, segments: list[str], path: str) -> tuple[str, str, str]:
    """(interaction, id, version) of an entry's method and url."""
    method, n = entry.method, len(segments)
    if method == "GET":
        if n == 1:
            return "search-type", "", ""
        if n == 2:
            return "read", segments[1], ""
        if n == 4 and segments[2] == "_history":
            return "vread", segments[1], segments[3]
    elif method == "POST" and n == 1 and not entry.query:
        return "create", "", ""
    elif method == "PUT" and n == 2 and not entry.query:
        return "update", segments[1], ""
    elif method == "DELETE" and n == 2 and not entry.query:
        return "delete", segments[1], ""
    raise BadRequest(
        f"{method} {'/'.join(segments)}{'?…' if entry.query else ''} is not an interaction "
        "served in a Bundle (conditional update and delete are not supported).",
        expression=f"{path}.request.url",
    )


# --- running -----------------------------------------------------------------------------------


def _run(call: Call, entry: Entry) -> FhirResult:
    provider = registry.get(entry.resource_type).provider
    sub = replay_call(
        call,
        method=entry.method,
        resource=entry.resource,
        headers={"If-None-Exist": entry.if_none_exist, "If-Match": entry.if_match},
        query=entry.query,
    )
    if entry.interaction == "search-type":
        return provider.search_type(sub, entry.query)
    if entry.interaction == "read":
        return provider.read(sub, entry.resource_id)
    if entry.interaction == "vread":
        return provider.vread(sub, entry.resource_id, entry.version_id)
    if entry.interaction == "create":
        return provider.create(sub)
    if entry.interaction == "update":
        return provider.update(sub, entry.resource_id)
    return provider.delete(sub, entry.resource_id)


def _response_entry(result: FhirResult, call: Call) -> dict[str, Any]:
    response: dict[str, Any] = {"status": f"{result.status} {_REASONS.get(result.status, '')}"}
    response["status"] = response["status"].strip()
    headers = result.headers
    location = headers.get("Location") or headers.get("Content-Location")
    if location:
        response["location"] = location.removeprefix(call.base_url)
    if "ETag" in headers:
        response["etag"] = headers["ETag"]
    if "Last-Modified" in headers:
        seconds = parse_http_date(headers["Last-Modified"])
        response["lastModified"] = datetime.fromtimestamp(seconds, UTC).isoformat()
    out: dict[str, Any] = {}
    if result.body is not None:
        body = result.body
        if body.get("resourceType") not in (None, "OperationOutcome") and body.get("id"):
            out["fullUrl"] = call.url(f"{body['resourceType']}/{body['id']}")
        out["resource"] = body
    out["response"] = response
    return out


def _error_entry(error: FhirError) -> dict[str, Any]:
    status = f"{error.status} {_REASONS.get(error.status, '')}".strip()
    return {"response": {"status": status, "outcome": operation_outcome(error.issues)}}


def _batch(call: Call, raw_entries: list[Any]) -> dict[str, Any]:
    out = []
    for index, raw in enumerate(raw_entries):
        try:
            entry = _entry(call, index, raw)
            with transaction.atomic():
                result = _run(call, entry)
            out.append(_response_entry(result, call))
        except Exception as exc:  # noqa: BLE001 - each entry answers its own error
            paths = getattr(_provider_of(raw), "field_paths", None)
            out.append(_error_entry(outcome_for_exception(exc, field_paths=paths)))
    return {"resourceType": "Bundle", "type": "batch-response", "entry": out}


def _provider_of(raw: Any):
    try:
        url = str(raw["request"]["url"])
    except (KeyError, TypeError):
        return None
    resource = registry.get(urlsplit(url).path.strip("/").split("/")[0])
    return resource.provider if resource else None


def _transaction(call: Call, entries: list[Entry]) -> dict[str, Any]:
    _check_full_urls(entries)
    order = _ordered(entries)
    mapping: dict[str, str] = {}
    results: dict[int, FhirResult] = {}
    with transaction.atomic():
        call.deferred = []
        try:
            _transaction_steps(call, order, mapping, results)
        finally:
            call.deferred = None
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [_response_entry(results[e.index], call) for e in entries],
    }


def _deferred_run(call: Call) -> None:
    """Run the work the batches handed over (`Call.deferred`: record and queue numbers, given
    under their unit's and rooms' row locks, so late that those are held only until the
    commit); before any entry that might read what it writes, and at the end."""
    work, call.deferred = call.deferred, []
    try:
        for item in work:
            item()
    except Exception as exc:  # noqa: BLE001 - answered for the whole transaction
        raise outcome_for_exception(exc) from exc


def _transaction_steps(
    call: Call, order: list[Entry], mapping: dict[str, str], results: dict[int, FhirResult]
) -> None:
    for step in _steps(order):
        if call.deferred and step[0].interaction != "create":
            _deferred_run(call)
        for entry in step:
            if entry.resource is not None and any(
                r.startswith("urn:") for r in entry.sent_references
            ):  # else nothing to rewrite (most resources): not copied
                entry.resource = _rewrite(
                    entry, entry.resource, mapping, path=f"{entry.path}.resource"
                )
        try:
            outcome = _run_step(call, step)
        except Exception as exc:  # noqa: BLE001 - answered for the whole transaction
            entry = step[getattr(exc, "batch_index", 0)] if len(step) > 1 else step[0]
            provider = registry.get(entry.resource_type).provider
            error = outcome_for_exception(exc, field_paths=getattr(provider, "field_paths", None))
            raise _at_entry(error, entry) from exc
        for entry, result in zip(step, outcome, strict=True):
            results[entry.index] = result
            if entry.interaction == "create" and entry.full_url:
                created = _created_reference(result)
                if created is None:
                    raise FhirError(
                        f"{entry.path}: the created resource's id is unknown.",
                        status=500,
                        code="exception",
                    )
                mapping[entry.full_url] = created
    _deferred_run(call)


def _batchable(entry: Entry) -> bool:
    """A plain create of a type whose provider creates many at once (`create_many`)."""
    return (
        entry.interaction == "create"
        and not entry.if_none_exist
        and hasattr(registry.get(entry.resource_type).provider, "create_many")
    )


def _steps(order: list[Entry]) -> list[list[Entry]]:
    """The entries of a transaction in the order they run, as steps: one entry, or several plain
    creates of one type run together by their provider's `create_many` (one set of statements
    instead of one per entry). The creates run by depth of their references to each other (those
    that refer to no other entry first: every reference is resolved before its entry runs), then
    by type, then in Bundle order; the other entries keep their place (DELETE before, PUT and GET
    after)."""
    creates = [e for e in order if e.interaction == "create"]
    if len(creates) < 2:
        return [[e] for e in order]
    by_url = {e.full_url: e for e in creates if e.full_url}
    depth: dict[int, int] = {}

    def depth_of(entry: Entry) -> int:  # the creates refer to each other without cycles
        if entry.index not in depth:
            targets = [by_url.get(r) for r in entry.sent_references]
            targets = [t for t in targets if t is not None and t is not entry]
            depth[entry.index] = 1 + max((depth_of(t) for t in targets), default=-1)
        return depth[entry.index]

    ranked = sorted(creates, key=lambda e: (depth_of(e), e.resource_type, e.index))
    steps: list[list[Entry]] = []
    for entry in ranked:
        last = steps[-1] if steps else None
        if (
            last is not None
            and _batchable(entry)
            and _batchable(last[0])
            and last[0].resource_type == entry.resource_type
            and depth[last[0].index] == depth[entry.index]
        ):
            last.append(entry)
        else:
            steps.append([entry])
    first = order.index(creates[0])
    before = [[e] for e in order[:first]]
    after = [[e] for e in order[first:] if e.interaction != "create"]
    return [*before, *steps, *after]


def _run_step(call: Call, step: list[Entry]) -> list[FhirResult]:
    """The results of a step; an error names its entry's position in the step (`batch_index`)."""
    if len(step) > 1:
        provider = registry.get(step[0].resource_type).provider
        results = provider.create_many(call, [e.resource for e in step])
        if results is not None:
            return results
        results = []  # the provider asked for them one by one
        for i, entry in enumerate(step):
            try:
                results.append(_run(call, entry))
            except Exception as exc:
                exc.batch_index = i
                raise
        return results
    return [_run(call, step[0])]


def _check_full_urls(entries: list[Entry]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if not entry.full_url:
            continue
        if entry.full_url in seen:
            raise BadRequest(
                f"fullUrl {entry.full_url} appears twice.", expression=f"{entry.path}.fullUrl"
            )
        seen.add(entry.full_url)


def _references(value: Any) -> list[str]:
    """Every `reference` string inside a resource, in document order."""
    found: list[str] = []
    _collect_references(value, found)
    return found


def _collect_references(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict | list):
                _collect_references(item, found)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _collect_references(item, found)


def _ordered(entries: list[Entry]) -> list[Entry]:
    """DELETE, POST, PUT, GET; the POSTs so that an entry comes after those it refers to."""
    by_url = {e.full_url: e for e in entries if e.full_url and e.interaction == "create"}
    creates = [e for e in entries if e.interaction == "create"]
    done: list[Entry] = []
    state: dict[int, str] = {}

    def visit(entry: Entry, trail: tuple[int, ...]) -> None:
        if state.get(entry.index) == "done":
            return
        if state.get(entry.index) == "active":
            cycle = " -> ".join(f"entry[{i}]" for i in (*trail, entry.index))
            raise BadRequest(
                f"The created resources refer to each other in a cycle: {cycle}.",
                expression=entry.path,
            )
        state[entry.index] = "active"
        for reference in entry.sent_references:
            target = by_url.get(reference)
            if target is not None and target is not entry:
                visit(target, (*trail, entry.index))
        state[entry.index] = "done"
        done.append(entry)

    for entry in creates:
        visit(entry, ())
    rest = sorted(
        (e for e in entries if e.interaction != "create"),
        key=lambda e: (_METHOD_ORDER[e.method], e.index),
    )
    deletes = [e for e in rest if e.method == "DELETE"]
    return [*deletes, *done, *(e for e in rest if e.method != "DELETE")]


def _rewrite(entry: Entry, value: Any, mapping: dict[str, str], *, path: str) -> Any:
    """The resource with every reference to another entry's fullUrl rewritten to `Type/id`."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("urn:"):
                if item not in mapping:
                    raise BadRequest(
                        f"The reference {item} names no resource created in this transaction.",
                        expression=f"{path}.reference",
                    )
                out[key] = mapping[item]
            else:
                out[key] = _rewrite(entry, item, mapping, path=f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [_rewrite(entry, item, mapping, path=f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _created_reference(result: FhirResult) -> str | None:
    location = result.headers.get("Location") or result.headers.get("Content-Location") or ""
    parts = location.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-1]:
        return f"{parts[-2]}/{parts[-1]}"
    return None


def _at_entry(error: FhirError, entry: Entry) -> FhirError:
    """The entry's error, its element paths placed inside the Bundle."""
    where = f"{entry.path} ({entry.method} {entry.resource_type}"
    where += f"/{entry.resource_id})" if entry.resource_id else ")"
    issues = []
    for issue in error.issues:
        expression = [_inside(entry, e) for e in issue.expression] or [entry.path]
        issues.append(
            Issue(issue.code, f"{where}: {issue.diagnostics}", expression, issue.severity)
        )
    return FhirError(issues=issues, status=error.status, code=error.code, headers=error.headers)


_HEADER_ELEMENTS = {"If-None-Exist": "request.ifNoneExist", "If-Match": "request.ifMatch"}


def _inside(entry: Entry, expression: str) -> str:
    """An element path of the entry's own answer, as a path inside the Bundle."""
    if expression.startswith("Bundle."):
        return expression
    if expression in _HEADER_ELEMENTS:
        return f"{entry.path}.{_HEADER_ELEMENTS[expression]}"
    kind = entry.resource_type
    if expression == kind or expression.startswith((f"{kind}.", f"{kind}[")):
        return f"{entry.path}.resource{expression[len(kind) :]}"
    return f"{entry.path}.resource.{expression}"
