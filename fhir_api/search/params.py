"""Search parameters parsed once per type: token, string, date; and the result parameters.

A resource's search table (`fhir_api/search/<resource>.py`) turns the parsed values into ORM
filters. Unknown parameters and modifiers are refused (400) unless `Prefer: handling=lenient`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core import signing
from django.db.models import Q

from fhir_api.outcomes import BadRequest
from fhir_api.registry import CONTROL_PARAMS, SearchParam

DEFAULT_COUNT = 20
MAX_COUNT = 100
DATE_PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb")
_CURSOR_SALT = "fhir_api.search.cursor"


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": no system
    code: str | None  # None: any code (the "system|" form)


@dataclass(frozen=True)
class DateValue:
    prefix: str
    start: date  # inclusive
    end: date  # exclusive


@dataclass(frozen=True)
class Criterion:
    """One occurrence of a parameter: its values are ORed; criteria are ANDed."""

    param: SearchParam
    modifier: str
    values: tuple


@dataclass
class SearchRequest:
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    summary_count: bool = False
    after_id: int | None = None
    ignored: list[str] = field(default_factory=list)
    includes: list[tuple[str, str, str]] = field(default_factory=list)  # (type, param, target)
    revincludes: list[tuple[str, str, str]] = field(default_factory=list)
    elements: tuple[str, ...] = ()
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (key, descending)
    total: bool = False  # `_total=accurate|estimate`: count the matches
    echo: list[tuple[str, str]] = field(default_factory=list)  # what the self/next links repeat


def _split_values(raw: str) -> list[str]:
    """Comma-separated values (OR); "\\," is a literal comma."""
    parts = re.split(r"(?<!\\),", raw)
    return [p.replace("\\,", ",") for p in parts]


def parse_token(raw: str) -> Token:
    if "|" not in raw:
        return Token(None, raw)
    system, code = raw.split("|", 1)
    return Token(system, code or None)


def parse_date(raw: str, name: str) -> DateValue:
    prefix = raw[:2] if raw[:2] in DATE_PREFIXES else "eq"
    text = raw[2:] if raw[:2] in DATE_PREFIXES else raw
    try:
        if re.fullmatch(r"\d{4}", text):
            start = date(int(text), 1, 1)
            end = date(start.year + 1, 1, 1)
        elif re.fullmatch(r"\d{4}-\d{2}", text):
            year, month = int(text[:4]), int(text[5:7])
            start = date(year, month, 1)
            end = start + timedelta(days=calendar.monthrange(year, month)[1])
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            start = date.fromisoformat(text)
            end = start + timedelta(days=1)
        else:
            raise ValueError
    except ValueError:
        raise BadRequest(
            f"Invalid date '{raw}' for parameter '{name}' (YYYY, YYYY-MM or YYYY-MM-DD, "
            f"optionally prefixed with {', '.join(DATE_PREFIXES)}).",
            expression=name,
        ) from None
    return DateValue(prefix, start, end)


@dataclass(frozen=True)
class RangeLookups:
    """How a resource's value range [start, end) compares to a date, as ORM conditions."""

    start_ge: Callable[[date], Q]
    start_lt: Callable[[date], Q]
    end_le: Callable[[date], Q]
    end_gt: Callable[[date], Q]


def date_q(value: DateValue, r: RangeLookups) -> Q:
    """FHIR date-prefix semantics over ranges (search.html#prefix)."""
    within = r.start_ge(value.start) & r.end_le(value.end)
    return {
        "eq": within,
        "ne": ~within,
        "gt": r.end_gt(value.end),
        "lt": r.start_lt(value.start),
        "ge": r.end_gt(value.end) | within,
        "le": r.start_lt(value.start) | within,
        "sa": r.start_ge(value.end),
        "eb": r.end_le(value.start),
    }[value.prefix]


_STRING_MODIFIERS = ("", "exact", "contains")
_TOKEN_MODIFIERS = ("", "not")
_DATE_MODIFIERS = ("",)
_MODIFIERS = {"string": _STRING_MODIFIERS, "token": _TOKEN_MODIFIERS, "date": _DATE_MODIFIERS}


def cursor_encode(after) -> str:
    """A signed cursor: the last row's id, or [sort values..., id] of a sorted search."""
    return signing.dumps(after, salt=_CURSOR_SALT, compress=False)


def cursor_decode(raw: str):
    try:
        value = signing.loads(raw, salt=_CURSOR_SALT)
    except (signing.BadSignature, TypeError, ValueError):
        raise BadRequest("Invalid paging cursor.", expression="_cursor") from None
    if isinstance(value, list):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest("Invalid paging cursor.", expression="_cursor") from None


def parse_search(
    items: list[tuple[str, str]], params: dict[str, SearchParam], *, lenient: bool
) -> SearchRequest:
    """Parse query parameters (repeated = AND, comma = OR) against a resource's parameters."""
    req = SearchRequest()
    for key, raw in items:
        name, _, modifier = key.partition(":")
        if name in CONTROL_PARAMS:
            if modifier:
                if lenient:
                    req.ignored.append(key)
                    continue
                raise BadRequest(f"'{key}' is not supported (no modifiers here).", expression=key)
            _control(req, name, raw)
            continue
        param = params.get(name)
        if param is None or modifier not in _MODIFIERS.get(param.type, ("",)):
            if lenient:
                req.ignored.append(key)
                continue
            what = f"modifier ':{modifier}' of" if param is not None else "search parameter"
            raise BadRequest(f"Unknown {what} '{name}'.", expression=key)
        values = [v for v in _split_values(raw) if v != ""]
        if not values:
            raise BadRequest(f"Empty value for parameter '{key}'.", expression=key)
        if param.type == "token":
            parsed = tuple(parse_token(v) for v in values)
        elif param.type == "date":
            parsed = tuple(parse_date(v, key) for v in values)
        else:
            parsed = tuple(values)
        req.criteria.append(Criterion(param, modifier, parsed))
        req.echo.append((key, raw))
    return req


def _control(req: SearchRequest, name: str, raw: str) -> None:
    if name == "_count":
        if not raw.isdigit():
            raise BadRequest("_count must be a non-negative integer.", expression="_count")
        req.count = min(int(raw), MAX_COUNT)
        req.echo.append(("_count", str(req.count)))
    elif name == "_summary":
        if raw == "count":
            req.summary_count = True
            req.echo.append(("_summary", "count"))
        elif raw != "false":
            raise BadRequest(f"_summary={raw} is not supported.", expression="_summary")
    elif name == "_cursor":
        req.after_id = cursor_decode(raw)
    elif name in ("_include", "_revinclude"):
        parts = raw.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise BadRequest(
                f"{name}={raw}: expected Type:search-parameter[:TargetType].", expression=name
            )
        target = parts[2] if len(parts) == 3 else ""
        (req.includes if name == "_include" else req.revincludes).append(
            (parts[0], parts[1], target)
        )
        req.echo.append((name, raw))
    elif name == "_sort":
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        if not keys:
            raise BadRequest("_sort needs at least one key.", expression="_sort")
        req.sort = [(k.removeprefix("-"), k.startswith("-")) for k in keys]
        req.echo.append(("_sort", raw))
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise BadRequest("_total is none, estimate or accurate.", expression="_total")
        req.total = raw != "none"
        req.echo.append(("_total", raw))
    elif name == "_elements":
        wanted = tuple(e.strip() for e in raw.split(",") if e.strip())
        if not wanted or not all(re.fullmatch(r"[a-zA-Z][a-zA-Z0-9]*", e) for e in wanted):
            raise BadRequest(
                "_elements takes a comma-separated list of top-level element names.",
                expression="_elements",
            )
        req.elements = tuple(dict.fromkeys((*req.elements, *wanted)))
        req.echo.append(("_elements", raw))
    # _format and _pretty: handled by the response (JSON only)
