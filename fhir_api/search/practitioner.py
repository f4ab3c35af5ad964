"""Practitioner search: parameter -> ORM lookup over the staff directory (core.User).

Names are matched like Patient names: diacritics and case ignored, each word of the value starting
a word of the full name (`nguyen van` finds "Nguyễn Văn An"); `:exact`, `:contains`. The family
name is the first word, the given names the rest (Vietnamese order).
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from ehealth.core.models import User
from fhir_api import systems
from fhir_api.outcomes import BadRequest
from fhir_api.registry import SearchParam
from fhir_api.search.common import (
    EVERYTHING,
    FOLDED,
    NOTHING,
    folded,
    int_id,
    string_q,
    uses_folded,
)
from fhir_api.search.params import Criterion, Token
from fhir_api.search.refine import SearchSpec
from patients.normalize import name_words

PARAMS = {
    "name": SearchParam(
        "name",
        "string",
        "Each word starts a word of the name, diacritics ignored; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/Practitioner-name",
        ("exact", "contains"),
    ),
    "family": SearchParam(
        "family",
        "string",
        "The family name (first word) starts with the value, diacritics ignored; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/individual-family",
        ("exact", "contains"),
    ),
    "given": SearchParam(
        "given",
        "string",
        "A given name (a later word) starts with the value, diacritics ignored; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/individual-given",
        ("exact", "contains"),
    ),
    "identifier": SearchParam(
        "identifier",
        "token",
        f"The practising certificate number: {systems.PRACTISING_CERTIFICATE}|<number>, or the "
        "number alone.",
        "http://hl7.org/fhir/SearchParameter/Practitioner-identifier",
    ),
    "active": SearchParam(
        "active",
        "token",
        "true | false (the directory holds active staff only: false matches nobody).",
        "http://hl7.org/fhir/SearchParameter/Practitioner-active",
    ),
}


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def _part_q(part: str, modifier: str, value: str) -> Q:
    """`family` (the first word) or `given` (a later word) of the full name."""
    if modifier == "exact":
        text = re.escape(value.strip())
        pattern = rf"^{text}( |$)" if part == "family" else rf"^\S+ (.* )?{text}( |$)"
        return Q(full_name__regex=pattern)
    words = name_words(value)
    if not words:
        raise BadRequest(f"'{part}' needs letters or digits.", expression=part)
    joined = " ".join(words)
    if modifier == "contains":
        return Q(**{f"{FOLDED}__contains": joined})
    pattern = rf"^{joined}" if part == "family" else rf"^\S+ (.* )?{joined}"
    return Q(**{f"{FOLDED}__regex": pattern})


def _identifier_q(token: Token) -> Q:
    if token.system not in (None, systems.PRACTISING_CERTIFICATE):
        return NOTHING
    if token.code is None:
        return ~Q(practitioner_code="")
    return Q(practitioner_code__iexact=token.code.strip())


def _active_q(token: Token) -> Q:
    if token.system not in (None, ""):
        return NOTHING
    if token.code == "true":
        return EVERYTHING
    if token.code == "false":
        return NOTHING
    raise BadRequest("active takes true or false.", expression="active")


def practitioner_filter(qs: QuerySet[User], criteria: list[Criterion]) -> QuerySet[User]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    if uses_folded(criteria):
        qs = qs.annotate(**{FOLDED: folded("full_name")})
    for c in criteria:
        q = NOTHING
        for value in c.values:
            name = c.param.name
            if name == "_id":
                q |= _id_q(value)
            elif name == "name":
                q |= string_q("full_name", c.modifier, value, param="name")
            elif name in ("family", "given"):
                q |= _part_q(name, c.modifier, value)
            elif name == "identifier":
                q |= _identifier_q(value)
            elif name == "active":
                q |= _active_q(value)
        qs = qs.filter(q)
    return qs


# `:not` on the tokens, `_sort` by name (the family name is its first word) and `_total`; a user
# row has no change time, so `_lastUpdated` is refused (400).
SPEC = SearchSpec(
    filter=practitioner_filter,
    sorts={"name": Lower("full_name"), "family": Lower("full_name")},
)
