"""Pieces shared by the Encounter and Condition writes: the caller's unit, the If-None-Exist
lock, the kept elements, the answer `Prefer` asks for, and the reason of a void (`X-Reason`).

Bodies are read with `read_body(call.request, TYPE)` and headers with `call.header(...)` by the
providers themselves, so the same code serves a request sent alone and an entry of a Bundle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from django.db import connection

from ehealth.core.models import Facility
from fhir_api import registry
from fhir_api.http import Call, FhirResult, validated, version_headers
from fhir_api.models import ResourceExtra
from fhir_api.outcomes import BadRequest, Forbidden
from fhir_api.search.params import SearchRequest, parse_search


def client_facility(call: Call) -> Facility:
    """The unit the caller writes for (403 for a caller of no unit)."""
    if call.principal.facility_id is None:
        raise Forbidden("The caller belongs to no health unit.")
    return call.principal.facility()  # read once per request


def conditional_search(
    call: Call, resource_type: str, condition: str, params: dict[str, registry.SearchParam]
) -> SearchRequest:
    """The If-None-Exist search, parsed (400 when empty or unknown), with the transaction-scoped
    advisory lock of its exact text taken: identical conditional creates run one after the
    other, so the second finds what the first created (one resource, never two)."""
    items = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
    req = parse_search(items, {**registry.COMMON_PARAMS, **params}, lenient=False)
    if not req.criteria:
        raise BadRequest("If-None-Exist holds no search criteria.", expression="If-None-Exist")
    digest = hashlib.sha256(f"{resource_type}?{sorted(items)}".encode()).digest()
    key = int.from_bytes(digest[:8], "big") - (1 << 63)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    return req


def extras_of(resource_type: str, ids: list[int]) -> dict[int, ResourceExtra]:
    """The kept elements of these resources (one query), by pk."""
    if not ids:
        return {}
    rows = ResourceExtra.objects.filter(
        resource_type=resource_type, resource_id__in=[str(i) for i in ids]
    )
    return {int(r.resource_id): r for r in rows}


def answer(
    call: Call,
    resource_type: str,
    body: dict[str, Any],
    version: int,
    last_updated: datetime,
    *,
    status: int,
) -> FhirResult:
    """201 (with Location) or 200 (with Content-Location), the body `Prefer: return=` asks for."""
    headers = version_headers(version, last_updated)
    location = call.url(f"{resource_type}/{body['id']}/_history/{version}")
    headers["Location" if status == 201 else "Content-Location"] = location
    preference = call.prefer.get("return", "representation")
    if preference == "minimal":
        return FhirResult(status, None, headers)
    if preference == "operationoutcome":
        issue = {"severity": "information", "code": "informational", "diagnostics": "OK"}
        return FhirResult(status, {"resourceType": "OperationOutcome", "issue": [issue]}, headers)
    return FhirResult(status, body, headers)


def header_text(call: Call, name: str) -> str:
    """A free-text header: UTF-8 (sent raw or percent-encoded), trimmed."""
    raw = call.header(name)
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return unquote(raw).strip()


def void_reason(call: Call, what: str) -> str:
    """Why a record is withdrawn: the `X-Reason` header, else a sentence naming the client
    (stored in Vietnamese, like the reasons typed on the web pages)."""
    reason = header_text(call, "X-Reason")
    if reason:
        return reason
    name = (getattr(call.principal.user, "full_name", "") or "").strip()
    client = call.principal.client_id or str(call.principal.user)
    return f"{what} qua FHIR bởi hệ thống đối tác {name} (client {client})".replace("  ", " ")


def batch_mapped(
    resources: list[dict[str, Any]],
    resource_type: str,
    mapper: Callable[[dict[str, Any]], Any],
    *,
    unit_of: Call | None = None,
) -> tuple[list[dict[str, Any]], list[Any], Exception | None]:
    """The resources of a `create_many` validated (`read_body`'s check) and mapped in order up to
    the first that fails: (the valid resources, what `mapper` made of each, that failure with
    `batch_index` = its position, or None). The caller writes the entries before the failure
    first and raises it only then, so that an error of theirs answers instead, as one by one.
    `unit_of`: the call whose client must be of a unit (`client_facility`: 403), checked after
    each mapping, as `create` checks it."""
    sents: list[dict[str, Any]] = []
    mapped: list[Any] = []
    for i, resource in enumerate(resources):
        try:
            sent = validated(resource, resource_type)
            item = mapper(sent)
            if unit_of is not None:
                client_facility(unit_of)
        except Exception as exc:  # noqa: BLE001 - raised by the caller, after the entries before it
            exc.batch_index = i
            return sents, mapped, exc
        sents.append(sent)
        mapped.append(item)
    return sents, mapped, None
