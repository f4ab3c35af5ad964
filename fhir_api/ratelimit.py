"""Rate limits of the FHIR API: requests per caller in a fixed window, counted in Django's cache.

A partner client is counted by its OAuth2 client_id, a staff session by its user. Settings:
`FHIR_RATE_LIMIT` (clients, default "600/minute"), `FHIR_RATE_LIMIT_STAFF` (sessions, default the
same), `FHIR_RATE_LIMIT_CLIENTS` ({client_id: rate} for a client with its own limit). A rate is
"<n>/<unit>" or "<n>/<k><unit>" (second, minute, hour, day or s, m, h, d: "100/10s"); empty or "0"
means no limit. Over the limit: 429, `Retry-After` = seconds until the window ends, and an
OperationOutcome with code `throttled`.

The count is one atomic `add` + `incr` per request in the cache (`FHIR_RATE_LIMIT_CACHE`, default
"default"): Redis when `CACHE_URL` is set, so every worker shares it; each process's own memory
otherwise (development, tests). If the cache is down the request is let through (logged): the
limit protects the service, it must not take it down.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from fhir_api.outcomes import FhirError

logger = logging.getLogger(__name__)

_UNITS = {
    "s": 1,
    "second": 1,
    "m": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int  # requests
    period: int  # seconds


class Throttled(FhirError):
    status, code = 429, "throttled"

    def __init__(self, diagnostics: str, *, retry_after: int, first: bool):
        super().__init__(diagnostics, headers={"Retry-After": str(retry_after)})
        # Only the first refusal of a window goes to the audit trail (a flood is one entry).
        self.audit = first


def parse_rate(text: str | None) -> Rate | None:
    """`"600/minute"` -> Rate(600, 60); empty or a zero limit -> None (no limit)."""
    if not text or not text.strip():
        return None
    m = _RATE_RE.match(text.lower())
    unit = m.group(3) if m else ""
    if unit not in _UNITS and len(unit) > 2 and unit.endswith("s"):
        unit = unit[:-1]  # "minutes"
    if unit not in _UNITS:
        raise ValueError(f"Invalid rate {text!r}: use e.g. '600/minute' or '100/10s'.")
    limit = int(m.group(1))
    period = _UNITS[unit] * int(m.group(2) or 1)
    if limit == 0 or period == 0:
        return None
    return Rate(limit, period)


def rate_for(principal) -> tuple[str, Rate | None]:
    """The key of the caller's counter and the rate that applies to it."""
    if principal.kind == "client":
        overrides = getattr(settings, "FHIR_RATE_LIMIT_CLIENTS", None) or {}
        text = overrides.get(principal.client_id, getattr(settings, "FHIR_RATE_LIMIT", ""))
        return f"client:{principal.client_id}", parse_rate(text)
    text = getattr(settings, "FHIR_RATE_LIMIT_STAFF", getattr(settings, "FHIR_RATE_LIMIT", ""))
    return f"user:{principal.user.pk}", parse_rate(text)


def _count(key: str, timeout: int) -> int:
    cache = caches[getattr(settings, "FHIR_RATE_LIMIT_CACHE", "default")]
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=timeout)
        return 1


def rate_limit_check(principal, *, now: float | None = None) -> None:
    """Count this request of the caller; Throttled (429) when over its limit."""
    name, rate = rate_for(principal)
    if rate is None:
        return
    now = time.time() if now is None else now
    window = int(now // rate.period)
    key = f"fhir:rate:{name}:{rate.period}:{window}"
    try:
        count = _count(key, timeout=rate.period + 1)
    except Exception:  # noqa: BLE001 - a cache outage must not stop the API
        logger.warning("FHIR rate limit not counted: the cache is unavailable", exc_info=True)
        return
    if count > rate.limit:
        retry_after = max(1, math.ceil((window + 1) * rate.period - now))
        raise Throttled(
            f"Too many requests: the limit is {rate.limit} per {rate.period} s for this "
            f"{'client' if principal.kind == 'client' else 'user'}; retry in {retry_after} s.",
            retry_after=retry_after,
            first=count == rate.limit + 1,
        )
