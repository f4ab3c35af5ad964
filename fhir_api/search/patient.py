"""Patient search: parameter -> ORM lookup over the registry's visible patients.

Names are matched like the registry's search box: without diacritics on
`f_unaccent(lower(full_name))` (the expression of the trigram index, migration patients.0002),
each word of the query starting a word of the name. The family name is the first word of the
full name, the given names the rest (a Vietnamese name is written family first).
"""

from __future__ import annotations

import re
from datetime import date

from django.db.models import Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from fhir_api import systems
from fhir_api.mappers.patient import INPUT_FIELD_OF_URI, SEX_OF_GENDER
from fhir_api.outcomes import BadRequest
from fhir_api.registry import SearchParam
from fhir_api.search.params import Criterion, RangeLookups, Token, date_q
from patients.choices import IdentifierSystem
from patients.models import Patient, PatientIdentifier
from patients.normalize import name_words
from patients.validation import IDENTIFIER_FIELDS

_DOMAIN_SYSTEM = {uri: IDENTIFIER_FIELDS[name] for uri, name in INPUT_FIELD_OF_URI.items()}

PARAMS = {
    "identifier": SearchParam(
        "identifier",
        "token",
        "system|value: CCCD, BHYT card, BHXH number, passport, or a record number "
        f"({systems.MRN_PREFIX}<facility code>).",
        "http://hl7.org/fhir/SearchParameter/Patient-identifier",
    ),
    "name": SearchParam(
        "name",
        "string",
        "Each word starts a word of the name, diacritics ignored; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/Patient-name",
        ("exact", "contains"),
    ),
    "family": SearchParam(
        "family",
        "string",
        "The family name (first word) starts with the value; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/individual-family",
        ("exact", "contains"),
    ),
    "given": SearchParam(
        "given",
        "string",
        "A given name starts with the value; :exact, :contains.",
        "http://hl7.org/fhir/SearchParameter/individual-given",
        ("exact", "contains"),
    ),
    "birthdate": SearchParam(
        "birthdate",
        "date",
        "Prefixes eq ne lt gt le ge sa eb; a patient known by birth year only spans the year.",
        "http://hl7.org/fhir/SearchParameter/individual-birthdate",
    ),
    "gender": SearchParam(
        "gender",
        "token",
        "male | female | unknown",
        "http://hl7.org/fhir/SearchParameter/individual-gender",
    ),
}

_FOLDED = Func(Lower(F("full_name")), function="f_unaccent")


def _identifier_q(token: Token) -> Q:
    idents = PatientIdentifier.objects.filter(patient_id=OuterRef("pk"), voided_at__isnull=True)
    if token.system:
        if token.system.startswith(systems.MRN_PREFIX):
            code = token.system.removeprefix(systems.MRN_PREFIX)
            idents = idents.filter(system=IdentifierSystem.MRN, facility__code=code)
        elif token.system in _DOMAIN_SYSTEM:
            idents = idents.filter(system=_DOMAIN_SYSTEM[token.system])
        else:
            return Q(pk__in=[])  # a system the registry does not hold
    elif token.system == "":
        return Q(pk__in=[])  # "|value": identifiers without a system, none here
    if token.code is not None:
        idents = idents.filter(value=token.code.strip().upper())
    return Q(Exists(idents))


def _words(value: str) -> list[str]:
    words = name_words(value)
    if not words:
        raise BadRequest("A name search needs letters or digits.", expression="name")
    return words


def _string_q(part: str, modifier: str, value: str) -> Q:
    """part: 'name' (any word), 'family' (first word), 'given' (a later word)."""
    if modifier == "exact":
        text = re.escape(value.strip())
        pattern = {
            "name": rf"(^| ){text}( |$)",
            "family": rf"^{text}( |$)",
            "given": rf"^\S+ (.* )?{text}( |$)",
        }[part]
        return Q(full_name__regex=pattern) | Q(full_name=value.strip())
    words = " ".join(_words(value))
    if modifier == "contains":
        return Q(_folded__contains=words)
    pattern = {
        "name": None,
        "family": rf"^{words}",
        "given": rf"^\S+ (.* )?{words}",
    }[part]
    if pattern is None:  # each word starts a word of the name, in any order
        q = Q()
        for w in _words(value):
            q &= Q(_folded__regex=rf"(^| ){w}")
        return q
    return Q(_folded__regex=pattern)


def _gender_q(token: Token) -> Q:
    if token.system not in (None, "http://hl7.org/fhir/administrative-gender"):
        return Q(pk__in=[])
    sex = SEX_OF_GENDER.get(token.code or "")
    return Q(sex=sex) if sex else Q(pk__in=[])


def _birth_range() -> RangeLookups:
    """A patient's birth range: the day, or the whole year when only the year is known."""

    def year_start_ge(d: date) -> int:
        return d.year if (d.month, d.day) == (1, 1) else d.year + 1

    known = Q(birth_date__isnull=False)
    year_only = Q(birth_date__isnull=True)
    return RangeLookups(
        start_ge=lambda d: (
            (known & Q(birth_date__gte=d)) | (year_only & Q(birth_year__gte=year_start_ge(d)))
        ),
        start_lt=lambda d: (
            (known & Q(birth_date__lt=d)) | (year_only & Q(birth_year__lt=year_start_ge(d)))
        ),
        end_le=lambda d: (
            (known & Q(birth_date__lt=d)) | (year_only & Q(birth_year__lte=d.year - 1))
        ),
        end_gt=lambda d: (known & Q(birth_date__gte=d)) | (year_only & Q(birth_year__gte=d.year)),
    )


_BIRTH = _birth_range()


def _id_q(token: Token) -> Q:
    code = token.code or ""
    return Q(pk=int(code)) if code.isdigit() else Q(pk__in=[])


def patient_filter(qs: QuerySet[Patient], criteria: list[Criterion]) -> QuerySet[Patient]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    if any(c.param.type == "string" and c.modifier != "exact" for c in criteria):
        qs = qs.annotate(_folded=_FOLDED)
    for c in criteria:
        q = Q(pk__in=[])
        for value in c.values:
            if c.param.name == "_id":
                q |= _id_q(value)
            elif c.param.name == "identifier":
                q |= _identifier_q(value)
            elif c.param.name in ("name", "family", "given"):
                q |= _string_q(c.param.name, c.modifier, value)
            elif c.param.name == "gender":
                q |= _gender_q(value)
            elif c.param.name == "birthdate":
                q |= date_q(value, _BIRTH)
        qs = qs.filter(q)
    return qs
