"""What every single-table search shares: `:not`, `_lastUpdated`, `_sort`, `_total`, paging.

A resource whose rows come from one table describes itself with a `SearchSpec` (its filter, the
database expression of its meta.lastUpdated and its sort keys) and runs `refine` then `page`.
A provider without a spec refuses these features with a 400 (`base.search_request`), never
ignoring them silently.

- `:not` (tokens): the rows the same criterion without `:not` would match are excluded, so
  resources without a value are kept, as the specification says.
- `_lastUpdated`: date prefixes over the spec's expression (days in UTC, like every date here).
- `_sort`: keys of the spec (`_id` and `_lastUpdated` always), `-` for descending; the id is the
  tie-breaker, and the keyset cursor carries the last row's sort values and id, so paging stays
  without gaps or duplicates while rows are added. Sort expressions are never NULL (the spec
  coalesces them).
- `_total=accurate|estimate`: the count of the matches (one COUNT query), only when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Expression, F, Q, QuerySet
from django.utils.dateparse import parse_datetime

from fhir_api.outcomes import BadRequest
from fhir_api.search.common import utc_midnight
from fhir_api.search.params import Criterion, RangeLookups, SearchRequest, date_q


@dataclass(frozen=True)
class SearchSpec:
    """How a single-table search answers the shared features."""

    filter: Callable[[QuerySet, list[Criterion]], QuerySet]
    last_updated: Any = None  # an expression or field name; None: _lastUpdated is refused
    sorts: dict[str, Any] = field(default_factory=dict)  # _sort key -> non-null expression

    def sort_keys(self) -> dict[str, Any]:
        keys: dict[str, Any] = {"_id": F("pk")}
        if self.last_updated is not None:
            keys["_lastUpdated"] = _expression(self.last_updated)
        return {**keys, **{k: _expression(v) for k, v in self.sorts.items()}}


def _expression(value: Any) -> Expression:
    return F(value) if isinstance(value, str) else value


def _instant_range(column: str) -> RangeLookups:
    return RangeLookups(
        start_ge=lambda d: Q(**{f"{column}__gte": utc_midnight(d)}),
        start_lt=lambda d: Q(**{f"{column}__lt": utc_midnight(d)}),
        end_le=lambda d: Q(**{f"{column}__lt": utc_midnight(d)}),
        end_gt=lambda d: Q(**{f"{column}__gte": utc_midnight(d)}),
    )


def unsupported(req: SearchRequest, spec: SearchSpec | None, resource_type: str) -> None:
    """400 for a shared feature the resource's search does not answer (never ignored)."""
    if spec is None:
        used = [
            what
            for what, on in (
                (":not", any(c.modifier == "not" for c in req.criteria)),
                ("_lastUpdated", any(c.param.name == "_lastUpdated" for c in req.criteria)),
                ("_sort", bool(req.sort)),
                ("_total", req.total),
            )
            if on
        ]
        if used:
            raise BadRequest(
                f"{used[0]} is not supported on {resource_type} searches.", expression=used[0]
            )
        if isinstance(req.after_id, list):
            raise BadRequest("Invalid paging cursor.", expression="_cursor")
        return
    if any(c.param.name == "_lastUpdated" for c in req.criteria) and spec.last_updated is None:
        raise BadRequest(
            f"_lastUpdated is not supported on {resource_type} searches.",
            expression="_lastUpdated",
        )
    keys = spec.sort_keys()
    for key, _desc in req.sort:
        if key not in keys:
            raise BadRequest(
                f"_sort: '{key}' is not a sort key of {resource_type} "
                f"(known: {', '.join(sorted(keys))}).",
                expression="_sort",
            )
    cursor_is_list = isinstance(req.after_id, list)
    if req.after_id is not None and cursor_is_list != bool(req.sort):
        raise BadRequest("Invalid paging cursor.", expression="_cursor")


def refine(qs: QuerySet, req: SearchRequest, spec: SearchSpec) -> QuerySet:
    """The criteria applied: the resource's own, then `:not` and `_lastUpdated`."""
    own = [c for c in req.criteria if c.modifier != "not" and c.param.name != "_lastUpdated"]
    qs = spec.filter(qs, own)
    for c in req.criteria:
        if c.modifier == "not":
            matched = spec.filter(qs.model._default_manager.all(), [replace(c, modifier="")])
            qs = qs.exclude(pk__in=matched.values("pk"))
    stamps = [c for c in req.criteria if c.param.name == "_lastUpdated"]
    if stamps:
        qs = qs.annotate(_last_updated=_expression(spec.last_updated))
        for c in stamps:
            q = Q(pk__in=[])
            for value in c.values:
                q |= date_q(value, _instant_range("_last_updated"))
            qs = qs.filter(q)
    return qs


def page(qs: QuerySet, req: SearchRequest, spec: SearchSpec) -> tuple[list, Any, int | None]:
    """(rows of this page, the cursor of the next page or None, the total when asked)."""
    total = qs.count() if req.total else None
    if not req.sort:
        if req.after_id is not None:
            qs = qs.filter(pk__gt=req.after_id)
        rows = list(qs.order_by("pk")[: req.count + 1])
        more = len(rows) > req.count
        rows = rows[: req.count]
        return rows, (rows[-1].pk if more and rows else None), total
    keys = spec.sort_keys()
    names = [f"_sort{i}" for i in range(len(req.sort))]
    qs = qs.annotate(**{n: keys[key] for n, (key, _d) in zip(names, req.sort, strict=True)})
    directions = [desc for _k, desc in req.sort]
    if req.after_id is not None:
        qs = qs.filter(_after(names, directions, req.after_id))
    ordering = [f"-{n}" if d else n for n, d in zip(names, directions, strict=True)]
    rows = list(qs.order_by(*ordering, "pk")[: req.count + 1])
    more = len(rows) > req.count
    rows = rows[: req.count]
    if not (more and rows):
        return rows, None, total
    last = rows[-1]
    return rows, [*(_plain(getattr(last, n)) for n in names), last.pk], total


def _after(names: list[str], directions: list[bool], cursor: list) -> Q:
    """Rows after the cursor in (sort keys..., pk) order: a lexicographic keyset condition."""
    if len(cursor) != len(names) + 1:
        raise BadRequest("Invalid paging cursor.", expression="_cursor")
    values = [_typed(v) for v in cursor[:-1]]
    condition = Q(pk__gt=cursor[-1])
    for name, desc, value in reversed(list(zip(names, directions, values, strict=True))):
        beyond = Q(**{f"{name}__lt" if desc else f"{name}__gt": value})
        condition = beyond | (Q(**{name: value}) & condition)
    return condition


def _plain(value: Any) -> Any:
    """A sort value as JSON for the signed cursor."""
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return parse_datetime(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        if "n" in value:
            return Decimal(value["n"])
    return value
