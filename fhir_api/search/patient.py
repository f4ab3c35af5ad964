"""Patient search: parameter -> ORM lookup over the registry's visible patients.

Names are matched like the registry's search box: without diacritics on
`f_unaccent(lower(full_name))` (the expression of the trigram index, migration patients.0002),
each word of the query starting a word of the name. The family name is the first word of the
full name, the given names the rest (a Vietnamese name is written family first).
"""

from __future__ import annotations

import re
from datetime import date

from django.db.models import (
    CharField,
    DateField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Lower

from fhir_api import systems
from fhir_api.mappers.patient import INPUT_FIELD_OF_URI, SEX_OF_GENDER
from fhir_api.outcomes import BadRequest
from fhir_api.registry import SearchParam
from fhir_api.search.params import Criterion, RangeLookups, Token, date_q
from fhir_api.search.refine import SearchSpec
from patients.choices import IdentifierSystem
from patients.models import Patient, PatientIdentifier
from patients.normalize import name_words, normalize_phone
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
    "phone": SearchParam(
        "phone",
        "token",
        "The patient's phone number, any writing (0905 123 456, +84905123456).",
        "http://hl7.org/fhir/SearchParameter/individual-phone",
    ),
    "address": SearchParam(
        "address",
        "string",
        "Any part of the address (line, commune, province, the old address), diacritics "
        "ignored: each word starts a word; :contains, :exact (the line as written).",
        "http://hl7.org/fhir/SearchParameter/individual-address",
        ("exact", "contains"),
    ),
    "address-city": SearchParam(
        "address-city",
        "string",
        "The commune or ward (address.city), diacritics ignored; :exact.",
        "http://hl7.org/fhir/SearchParameter/individual-address-city",
        ("exact", "contains"),
    ),
    "address-state": SearchParam(
        "address-state",
        "string",
        "The province or centrally-run city (address.state), diacritics ignored; :exact.",
        "http://hl7.org/fhir/SearchParameter/individual-address-state",
        ("exact", "contains"),
    ),
}

_FOLDED = Func(Lower(F("full_name")), function="f_unaccent")


def _fold(*fields: str) -> Func:
    """lower() without diacritics of the fields joined by spaces (NULLs as empty)."""
    parts = []
    for name in fields:
        parts += [Coalesce(F(name), Value("")), Value(" ")]
    return Func(Lower(Concat(*parts, output_field=CharField())), function="f_unaccent")


# Address parts (annotated only when an address parameter is searched).
_ADDRESS_ANNOTATIONS = {
    "_addr": ("address_line", "commune__name", "province__name", "legacy_address"),
    "_addr_city": ("commune__name",),
    "_addr_state": ("province__name",),
}
_ADDRESS_PARAM = {"address": "_addr", "address-city": "_addr_city", "address-state": "_addr_state"}
_ADDRESS_EXACT = {
    "address": ("address_line", "commune__name", "province__name", "legacy_address"),
    "address-city": ("commune__name",),
    "address-state": ("province__name",),
}


def _address_q(name: str, modifier: str, value: str) -> Q:
    if modifier == "exact":
        q = Q(pk__in=[])
        for field in _ADDRESS_EXACT[name]:
            q |= Q(**{field: value.strip()})
        return q
    words = name_words(value)
    if not words:
        raise BadRequest(f"'{name}' needs letters or digits.", expression=name)
    column = _ADDRESS_PARAM[name]
    if modifier == "contains":
        return Q(**{f"{column}__contains": " ".join(words)})
    q = Q()
    for word in words:  # letters and digits only: safe inside the pattern
        q &= Q(**{f"{column}__regex": rf"(^|[^a-z0-9]){word}"})
    return q


def _phone_q(token: Token) -> Q:
    if token.system not in (None, "phone"):
        return Q(pk__in=[])
    phone = normalize_phone(token.code or "")
    if not phone:
        return Q(pk__in=[])
    return Q(phone=phone)


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
    if any(c.param.name in ("name", "family", "given") and c.modifier != "exact" for c in criteria):
        qs = qs.annotate(_folded=_FOLDED)
    for c in criteria:
        if c.param.name in _ADDRESS_PARAM and c.modifier != "exact":
            column = _ADDRESS_PARAM[c.param.name]
            qs = qs.annotate(**{column: _fold(*_ADDRESS_ANNOTATIONS[column])})
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
            elif c.param.name == "phone":
                q |= _phone_q(value)
            elif c.param.name in _ADDRESS_PARAM:
                q |= _address_q(c.param.name, c.modifier, value)
        qs = qs.filter(q)
    return qs


def _last_updated():
    """meta.lastUpdated: the record's change or its kept FHIR elements', whichever is later."""
    from fhir_api.models import ResourceExtra

    kept = ResourceExtra.objects.filter(
        resource_type="Patient", resource_id=Cast(OuterRef("pk"), CharField())
    ).values("updated_at")[:1]
    return Greatest(F("updated_at"), Coalesce(Subquery(kept), F("updated_at")))


SPEC = SearchSpec(
    filter=patient_filter,
    last_updated=_last_updated(),
    sorts={
        "name": Lower("full_name"),
        "family": Lower("full_name"),
        "birthdate": Coalesce(
            F("birth_date"),
            Func(F("birth_year"), Value(1), Value(1), function="make_date"),
            Value(date(1, 1, 1)),
            output_field=DateField(),
        ),
        "gender": F("sex"),
    },
)
