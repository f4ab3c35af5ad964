"""Pieces shared by the search tables of Organization, Location and Encounter: diacritic-insensitive
names, references, ids. (Patient keeps its own, tuned to the registry's name index.)"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db.models import F, Func, Q
from django.db.models.functions import Lower

from fhir_api.outcomes import BadRequest
from fhir_api.search.params import RangeLookups, Token
from patients.normalize import name_words

NOTHING = Q(pk__in=[])
# Not Q(): `NOTHING | Q()` is NOTHING in Django (an empty Q drops out of a combination).
EVERYTHING = Q(pk__isnull=False)
FOLDED = "_folded"


def folded(field: str) -> Func:
    """lower() without diacritics, like the registry's name search ("Đà Nẵng" -> "da nang")."""
    return Func(Lower(F(field)), function="f_unaccent")


def string_q(field: str, modifier: str, value: str, *, param: str) -> Q:
    """FHIR string search on `field` (annotate `_folded` first, see `folded`).

    Default: each word of the value starts a word of the text, diacritics and case ignored;
    `:contains`: the folded words appear anywhere; `:exact`: the whole text, case and accents.
    """
    if modifier == "exact":
        return Q(**{field: value.strip()})
    words = name_words(value)
    if not words:
        raise BadRequest(f"'{param}' needs letters or digits.", expression=param)
    if modifier == "contains":
        return Q(**{f"{FOLDED}__contains": " ".join(words)})
    q = Q()
    for word in words:  # letters and digits only: safe inside the pattern
        q &= Q(**{f"{FOLDED}__regex": rf"(^|[^a-z0-9]){word}"})
    return q


def uses_folded(criteria) -> bool:
    return any(c.param.type == "string" and c.modifier != "exact" for c in criteria)


def reference_id(raw: str, resource_type: str) -> str | None:
    """The id in a reference value: `Type/id`, a bare `id`, or an absolute URL ending in
    `Type/id`. None when it names another resource type (it then matches nothing)."""
    value = raw.strip().rstrip("/")
    parts = value.split("/")
    if len(parts) == 1:
        return value or None
    if parts[-2] != resource_type:
        return None
    return parts[-1] or None


def int_id(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) <= 18 else None


def token_code_q(token: Token, system: str, field: str, *, upper: bool = False) -> Q:
    """A token matching `field` when its system is `system` or not given."""
    if token.system not in (None, system):
        return NOTHING
    if token.code is None:
        return EVERYTHING  # "system|": any code of the system
    code = token.code.strip()
    return Q(**{field: code.upper() if upper else code})


def utc_midnight(day: date) -> datetime:
    """Dates in search values are ranges in UTC (docs/fhir.md)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def period_range(start: str, end: str) -> RangeLookups:
    """A [start, end] period of instants where a missing end means 'still going on'."""
    return RangeLookups(
        start_ge=lambda d: Q(**{f"{start}__gte": utc_midnight(d)}),
        start_lt=lambda d: Q(**{f"{start}__lt": utc_midnight(d)}),
        end_le=lambda d: Q(**{f"{end}__isnull": False, f"{end}__lt": utc_midnight(d)}),
        end_gt=lambda d: Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": utc_midnight(d)}),
    )
