"""HTTP details of the FHIR API: the call context handed to providers, headers, bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.http import http_date

from fhir_api.auth import Principal
from fhir_api.fhir import ACCEPTED_JSON, CONTENT_TYPE, PydanticValidationError, validate
from fhir_api.outcomes import BadRequest, NotAcceptable, UnsupportedMediaType, pydantic_issues

_ETAG_RE = re.compile(r'^(?:W/)?"?(\d+)"?$')


@dataclass
class Call:
    """One FHIR request as the providers see it."""

    request: Any
    principal: Principal
    base_url: str  # ends with "/"
    prefer: dict[str, str] = field(default_factory=dict)
    # Inside a transaction Bundle: work a batch hands over to run at the end of the transaction
    # (numbering under a shared row lock, held then only until the commit); None elsewhere.
    deferred: list[Callable[[], None]] | None = None

    @property
    def lenient(self) -> bool:
        return self.prefer.get("handling") == "lenient"

    def header(self, name: str) -> str:
        return self.request.META.get("HTTP_" + name.upper().replace("-", "_"), "")

    def url(self, path: str, params: list[tuple[str, str]] | None = None) -> str:
        return self.base_url + path + (f"?{urlencode(params)}" if params else "")


@dataclass
class FhirResult:
    """What a provider answers: status, body (a resource as JSON, or None), headers."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def parse_prefer(value: str) -> dict[str, str]:
    out = {}
    for part in value.split(","):
        for item in part.split(";"):
            name, _, val = item.strip().partition("=")
            if name:
                out[name.lower()] = val.strip().strip('"').lower()
    return out


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_etag(value: str) -> int | None:
    m = _ETAG_RE.match(value.strip())
    return int(m.group(1)) if m else None


def version_headers(version: int, last_updated: datetime) -> dict[str, str]:
    return {"ETag": etag(version), "Last-Modified": http_date(last_updated.timestamp())}


def check_format(request) -> None:
    """JSON only: `_format` or Accept must allow it (406 otherwise)."""
    fmt = request.GET.get("_format")
    if fmt is not None and fmt not in ACCEPTED_JSON:
        raise NotAcceptable(f"_format={fmt} is not supported; use json.", expression="_format")
    accept = request.META.get("HTTP_ACCEPT", "")
    if accept and fmt is None:
        kinds = {a.split(";")[0].strip() for a in accept.split(",")}
        if not kinds & (ACCEPTED_JSON | {"*/*", "application/*"}):
            raise NotAcceptable("Only application/fhir+json is served.")


def read_any_json(request) -> dict[str, Any]:
    """The request body as a JSON object (400/415 otherwise)."""
    ctype = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
    if ctype not in ACCEPTED_JSON:
        raise UnsupportedMediaType("Send application/fhir+json.")
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object (a FHIR resource).")
    return data


def read_json_object(request, resource_type: str) -> dict[str, Any]:
    """The request body as JSON naming `resource_type`, not yet validated (400/415 otherwise)."""
    data = read_any_json(request)
    if data.get("resourceType") != resource_type:
        raise BadRequest(
            f"Expected a {resource_type} resource, got {data.get('resourceType')!r}.",
            expression="resourceType",
        )
    return data


def read_body(request, resource_type: str) -> dict[str, Any]:
    """The request body as a resource of `resource_type`, validated (400/415 otherwise)."""
    return validated(read_json_object(request, resource_type), resource_type)


def validated(data: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """A resource (a request body, a Bundle entry's) validated as R4 `resource_type` (400), as
    the validated model would dump it: the data itself without empty elements (null, [], {}),
    which is what `dump` gives back for a valid resource, at a fifth of its cost (a transaction
    Bundle validates every entry)."""
    try:
        validate(data, resource_type)
    except PydanticValidationError as exc:
        raise BadRequest(issues=pydantic_issues(exc, resource_type)) from None
    return _pruned(data)


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _pruned(item)
            if item is not None and item != [] and item != {}:
                out[key] = item
        return out
    if isinstance(value, list):
        return [_pruned(item) for item in value]  # a null keeps a primitive's place (`_given`)
    return value


def replay_call(
    call: Call,
    *,
    method: str,
    resource: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> Call:
    """A call that looks to a provider like `method` sent alone with `resource` as its body and
    `headers` (a Bundle entry, a trial write of $validate); same caller, same base."""
    request = HttpRequest()
    request.method = method
    request.path = call.request.path
    request.META = {
        "REMOTE_ADDR": call.request.META.get("REMOTE_ADDR", ""),
        "HTTP_USER_AGENT": call.request.META.get("HTTP_USER_AGENT", ""),
        "HTTP_PREFER": call.request.META.get("HTTP_PREFER", ""),
        "CONTENT_TYPE": "application/fhir+json",
    }
    for name, value in (headers or {}).items():
        if value:
            request.META["HTTP_" + name.upper().replace("-", "_")] = value
    params = QueryDict(mutable=True)
    for name, value in query or []:
        params.appendlist(name, value)
    request.GET = params
    request._body = json.dumps(resource).encode() if resource is not None else b""
    return Call(
        request=request, principal=call.principal, base_url=call.base_url, prefer=call.prefer
    )


def json_response(status: int, body: dict[str, Any] | None, headers: dict[str, str]):
    content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    response = HttpResponse(content, status=status, content_type=CONTENT_TYPE)
    for name, value in headers.items():
        response[name] = value
    return response
