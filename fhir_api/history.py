"""Versions and history of resources whose domain keeps its past versions (Patient).

A resource's FHIR version is its domain version plus the number of writes that changed only its
kept elements (`ResourceExtra.revision`). `timeline` tells, for each FHIR version, which domain
version it shows and which kept elements, from the `ResourceExtraVersion` rows alone.
`parse_history` reads `_since`, `_count` and the paging cursor; `history_bundle` builds the Bundle
of type `history`, newest first, with the request and response of each entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core import signing
from django.utils.dateparse import parse_date, parse_datetime

from fhir_api.http import Call, etag
from fhir_api.outcomes import BadRequest
from fhir_api.search.params import DEFAULT_COUNT, MAX_COUNT

_CURSOR_SALT = "fhir_api.history.cursor"
CONTROL = ("_count", "_format", "_pretty")


@dataclass(frozen=True)
class Step:
    """One FHIR version: the domain version it shows and the kept elements in effect."""

    version: int
    base: int
    extras: dict[str, Any]
    extras_row: Any = None  # the ResourceExtraVersion that made this version by itself


def timeline(
    *, base_version: int, revision: int, rows: list, current_extras: dict[str, Any]
) -> list[Step]:
    """Every FHIR version of a resource, oldest first.

    Only the current one when the rows do not explain the revision (elements kept before these
    rows were written): older versions are then not known.
    """
    current = base_version + revision
    rows = sorted(rows, key=lambda r: r.version)
    steps: list[Step] = []
    extras: dict[str, Any] = {}
    shift = 0  # the revision in effect
    i = 0
    for number in range(1, current + 1):
        made_by = None
        while i < len(rows) and rows[i].version <= number:
            row = rows[i]
            i += 1
            extras, shift = row.content, row.version - row.base_version
            if row.version == number and row.only_extras:
                made_by = row
        steps.append(Step(number, number - shift, extras, made_by))
    if shift != revision or i != len(rows) or any(s.base < 1 for s in steps):
        return [Step(current, base_version, current_extras)]
    steps[-1] = Step(current, base_version, current_extras, steps[-1].extras_row)
    return steps


@dataclass
class HistoryRequest:
    since: datetime | None = None
    count: int = DEFAULT_COUNT
    after: Any = None  # the cursor's position (what the previous page ended with)
    echo: list[tuple[str, str]] = field(default_factory=list)


def _instant(raw: str) -> datetime:
    value = parse_datetime(raw)
    if value is None and (day := parse_date(raw)) is not None:
        value = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if value is None:
        raise BadRequest(f"_since '{raw}' is not an instant.", expression="_since")
    if value.tzinfo is None:
        raise BadRequest(
            "_since needs a time zone (e.g. 2026-01-01T00:00:00Z).", expression="_since"
        )
    return value


def parse_history(items: list[tuple[str, str]], *, lenient: bool) -> HistoryRequest:
    """`_since`, `_count` (capped) and `_cursor`; anything else is refused (400) unless lenient."""
    req = HistoryRequest()
    for key, raw in items:
        if key == "_since":
            req.since = _instant(raw)
            req.echo.append((key, raw))
        elif key == "_count":
            if not raw.isdigit() or int(raw) < 1:
                raise BadRequest("_count must be a positive integer.", expression="_count")
            req.count = min(int(raw), MAX_COUNT)
            req.echo.append((key, str(req.count)))
        elif key == "_cursor":
            try:
                req.after = signing.loads(raw, salt=_CURSOR_SALT)
            except (signing.BadSignature, TypeError, ValueError):
                raise BadRequest("Invalid paging cursor.", expression="_cursor") from None
        elif key not in CONTROL and not lenient:
            raise BadRequest(f"Unknown history parameter '{key}'.", expression=key)
    return req


def cursor_encode(position: Any) -> str:
    return signing.dumps(position, salt=_CURSOR_SALT, compress=False)


@dataclass(frozen=True)
class Entry:
    """One version in a history Bundle; `resource` None for a delete."""

    resource_type: str
    resource_id: str
    version: int
    last_updated: datetime
    resource: dict[str, Any] | None
    created: bool = False


def history_bundle(
    call: Call, path: str, req: HistoryRequest, entries: list[Entry], *, next_after: Any = None
) -> dict[str, Any]:
    """A Bundle of type history (newest first) with a signed `next` link."""
    links = [{"relation": "self", "url": call.url(path, req.echo)}]
    if next_after is not None:
        params = [*req.echo, ("_cursor", cursor_encode(next_after))]
        links.append({"relation": "next", "url": call.url(path, params)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "link": links}
    if entries:
        bundle["entry"] = [_entry(call, e) for e in entries]
    return bundle


def _entry(call: Call, e: Entry) -> dict[str, Any]:
    url = f"{e.resource_type}/{e.resource_id}"
    response = {"etag": etag(e.version), "lastModified": e.last_updated.isoformat()}
    out: dict[str, Any] = {"fullUrl": call.url(url)}
    if e.resource is None:
        out["request"] = {"method": "DELETE", "url": url}
        out["response"] = {"status": "204 No Content", **response}
    elif e.created:
        out["resource"] = e.resource
        out["request"] = {"method": "POST", "url": e.resource_type}
        out["response"] = {"status": "201 Created", **response}
    else:
        out["resource"] = e.resource
        out["request"] = {"method": "PUT", "url": url}
        out["response"] = {"status": "200 OK", **response}
    return out
