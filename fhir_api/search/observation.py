"""Observation search: each parameter as an ORM condition per source.

An Observation is either one vital sign of a vitals row (a *slot* of the row: `vs-<pk>-temp`) or
one result value (`res-<pk>`). A criterion is evaluated per slot, so `code=8310-5` keeps only the
temperature of each row and `value-quantity=gt38|http://unitsofmeasure.org|Cel` only the
temperatures above 38 °C: `vital_slot_qs` gives one condition per slot (the provider annotates
each and emits the slots that hold), `result_q` one condition on the result values.

Quantity values (`[prefix]number|system|code`) are parsed here: `eq` (the default) is the range
of the number's precision (`38.5` = [38.45, 38.55)), `ap` within 10 %, `ne lt gt le ge` as usual,
`sa`/`eb` like `gt`/`lt` (single values). Without a system the code matches the UCUM code or the
unit as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import DecimalField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Round

from fhir_api import systems
from fhir_api.mappers.observation import (
    BMI,
    BP,
    CATEGORY_OF_GROUP,
    OTHER_CATEGORY,
    RESULT,
    SLOTS,
    UCUM_OF_UNIT,
    VITAL_SIGNS,
    VITALS,
    VitalSlot,
    parse_observation_id,
    unit_codes_for,
)
from fhir_api.outcomes import BadRequest
from fhir_api.registry import SearchParam
from fhir_api.search.common import EVERYTHING, NOTHING, int_id, reference_id, utc_midnight
from fhir_api.search.params import DATE_PREFIXES, Criterion, RangeLookups, Token, date_q

_SP = "http://hl7.org/fhir/SearchParameter/"
PARAMS = {
    "patient": SearchParam(
        "patient",
        "reference",
        "Patient/<id> (or the id alone): the patient's vital signs and results.",
        _SP + "clinical-patient",
    ),
    "subject": SearchParam(
        "subject", "reference", "Patient/<id>: same as patient.", _SP + "Observation-subject"
    ),
    "encounter": SearchParam(
        "encounter",
        "reference",
        "Encounter/<id>: the vital signs and results of one visit or stay.",
        _SP + "clinical-encounter",
    ),
    "code": SearchParam(
        "code",
        "token",
        f"Vital signs: LOINC ({systems.LOINC}|8310-5, ...); results: the value's code "
        f"({systems.RESULT_INDEX_CS}) or its service's ({systems.SERVICE_CATALOG_CS}, "
        f"{systems.MOH_SERVICE_CS}); a bare code matches any of them.",
        _SP + "clinical-code",
    ),
    "category": SearchParam(
        "category",
        "token",
        "vital-signs, laboratory, imaging or procedure (HL7 observation-category).",
        _SP + "Observation-category",
    ),
    "date": SearchParam(
        "date",
        "date",
        "When measured (results: when performed, else resulted); prefixes eq ne lt gt le ge sa "
        "eb; days are UTC.",
        _SP + "clinical-date",
    ),
    "value-quantity": SearchParam(
        "value-quantity",
        "quantity",
        "[prefix]number|system|code, e.g. gt38|http://unitsofmeasure.org|Cel; prefixes eq "
        "(precision of the number) ne lt gt le ge sa eb ap.",
        _SP + "Observation-value-quantity",
    ),
    "component-value-quantity": SearchParam(
        "component-value-quantity",
        "quantity",
        "The blood-pressure components (systolic or diastolic), as value-quantity.",
        _SP + "Observation-component-value-quantity",
    ),
}

QUANTITY_PREFIXES = (*DATE_PREFIXES, "ap")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
BMI_ALIAS = "_bmi"
EFFECTIVE_ALIAS = "_effective"


@dataclass(frozen=True)
class QuantityValue:
    prefix: str
    number: Decimal
    system: str | None  # None: any system
    code: str | None  # None: any unit


def parse_quantity(raw: str, name: str) -> QuantityValue:
    """`[prefix]number`, `[prefix]number|system|code` or `[prefix]number||code` (400 otherwise)."""
    parts = raw.split("|")
    text = parts[0]
    prefix = text[:2] if text[:2] in QUANTITY_PREFIXES else "eq"
    text = text[2:] if text[:2] in QUANTITY_PREFIXES else text
    number = None
    if len(parts) in (1, 3) and _NUMBER_RE.match(text):
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
    if number is None:
        raise BadRequest(
            f"Invalid quantity '{raw}' for parameter '{name}' ([prefix]number|system|code, e.g. "
            f"gt38|{systems.UCUM_UNITS}|Cel; prefixes {', '.join(QUANTITY_PREFIXES)}).",
            expression=name,
        )
    system = (parts[1] or None) if len(parts) == 3 else None
    code = (parts[2] or None) if len(parts) == 3 else None
    return QuantityValue(prefix, number, system, code)


def number_q(field: str, value: QuantityValue) -> Q:
    """FHIR number comparison of `field` (search.html#number)."""
    n = value.number
    if value.prefix in ("eq", "ne"):
        half = Decimal(1).scaleb(n.as_tuple().exponent) / 2
        within = Q(**{f"{field}__gte": n - half, f"{field}__lt": n + half})
        return within if value.prefix == "eq" else ~within & Q(**{f"{field}__isnull": False})
    if value.prefix == "ap":
        spread = abs(n) / 10
        return Q(**{f"{field}__gte": n - spread, f"{field}__lte": n + spread})
    lookup = {"gt": "gt", "sa": "gt", "lt": "lt", "eb": "lt", "ge": "gte", "le": "lte"}
    return Q(**{f"{field}__{lookup[value.prefix]}": n})


def instant_range(field: str) -> RangeLookups:
    """An instant: a range whose start and end are the same moment."""
    return RangeLookups(
        start_ge=lambda d: Q(**{f"{field}__gte": utc_midnight(d)}),
        start_lt=lambda d: Q(**{f"{field}__lt": utc_midnight(d)}),
        end_le=lambda d: Q(**{f"{field}__lt": utc_midnight(d)}),
        end_gt=lambda d: Q(**{f"{field}__gte": utc_midnight(d)}),
    )


def _reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def _category_matches(category: str, token: Token) -> bool:
    if token.system not in (None, systems.OBSERVATION_CATEGORY_CS):
        return False
    return token.code is None or token.code == category


# --- vital signs -----------------------------------------------------------------------------------


def with_bmi(qs: QuerySet) -> QuerySet:
    """Vitals rows with their BMI as the domain computes it (kg/m², one decimal), for searching."""
    bmi = ExpressionWrapper(
        F("weight_kg") * Value(Decimal(10000)) / (F("height_cm") * F("height_cm")),
        output_field=DecimalField(max_digits=20, decimal_places=10),
    )
    return qs.alias(**{BMI_ALIAS: Round(bmi, 1)})


def _presence(slot: VitalSlot) -> Q:
    if slot is BP:
        return Q(systolic__isnull=False) | Q(diastolic__isnull=False)
    if slot is BMI:
        return Q(height_cm__isnull=False, weight_kg__isnull=False)
    return Q(**{f"{slot.field}__isnull": False})


def _unit_matches(value: QuantityValue, slot: VitalSlot) -> bool:
    if value.system not in (None, systems.UCUM_UNITS):
        return False
    if value.code is None:
        return True
    return value.code == slot.ucum or (value.system is None and value.code == slot.unit)


def _vital_value_q(slot: VitalSlot, value: QuantityValue, *, component: bool) -> Q:
    if component != (slot is BP) or not _unit_matches(value, slot):
        return NOTHING
    if slot is BP:
        return number_q("systolic", value) | number_q("diastolic", value)
    return number_q(BMI_ALIAS if slot is BMI else slot.field, value)


def _vital_q(slot: VitalSlot, name: str, value) -> Q:
    if name == "_id":
        oid = parse_observation_id(value.code)
        ok = oid is not None and oid.source == VITALS and oid.slot is slot
        return Q(pk=oid.pk) if ok else NOTHING
    if name in ("patient", "subject"):
        return _reference_q(value, "Patient", "encounter__patient_id")
    if name == "encounter":
        return _reference_q(value, "Encounter", "encounter_id")
    if name == "code":
        if value.system not in (None, systems.LOINC):
            return NOTHING
        return EVERYTHING if value.code is None or value.code in slot.codes else NOTHING
    if name == "category":
        return EVERYTHING if _category_matches(VITAL_SIGNS, value) else NOTHING
    if name == "date":
        return date_q(value, instant_range("recorded_at"))
    if name in ("value-quantity", "component-value-quantity"):
        return _vital_value_q(slot, value, component=name == "component-value-quantity")
    return NOTHING


def _combine(base: Q, criteria: list[Criterion], predicate) -> Q | None:
    """`base` AND each criterion (its values ORed); None when some criterion cannot match."""
    q = base
    for c in criteria:
        alternatives = [p for v in c.values if (p := predicate(c.param.name, v)) is not NOTHING]
        if not alternatives:
            return None
        either = alternatives[0]
        for p in alternatives[1:]:
            either |= p
        q &= either
    return q


def parse_values(criteria: list[Criterion]) -> list[Criterion]:
    """The criteria with quantity values parsed (parse_search leaves them as text)."""
    out = []
    for c in criteria:
        if c.param.type == "quantity":
            key = c.param.name + (f":{c.modifier}" if c.modifier else "")
            c = Criterion(c.param, c.modifier, tuple(parse_quantity(v, key) for v in c.values))
        out.append(c)
    return out


def vital_slot_qs(criteria: list[Criterion]) -> dict[VitalSlot, Q]:
    """Per slot, the condition on a vitals row for that slot's Observation to match (slots that
    cannot match are left out)."""
    out = {}
    for slot in SLOTS:
        q = _combine(_presence(slot), criteria, lambda name, v, s=slot: _vital_q(s, name, v))
        if q is not None:
            out[slot] = q
    return out


# --- result values -----------------------------------------------------------------------------


def with_effective(qs: QuerySet) -> QuerySet:
    """Result values with their effective time (performed, else resulted), for searching."""
    return qs.alias(**{EFFECTIVE_ALIAS: Coalesce("order__performed_at", "order__resulted_at")})


def _result_code_q(token: Token) -> Q:
    code = token.code.strip() if token.code else None
    if token.system is None:
        return (
            Q(code__iexact=code)
            | Q(order__service__code__iexact=code)
            | Q(order__service__moh_code=code)
        )
    fields = {
        systems.RESULT_INDEX_CS: "code",
        systems.SERVICE_CATALOG_CS: "order__service__code",
        systems.MOH_SERVICE_CS: "order__service__moh_code",
    }
    field = fields.get(token.system)
    if field is None:
        return NOTHING
    if code is None:
        return ~Q(**{field: ""})
    return Q(**{f"{field}__iexact": code})


def _result_category_q(token: Token) -> Q:
    if token.system not in (None, systems.OBSERVATION_CATEGORY_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    groups = [g for g, category in CATEGORY_OF_GROUP.items() if category == token.code]
    if groups:
        return Q(order__service__group__in=groups)
    if token.code == OTHER_CATEGORY:
        return ~Q(order__service__group__in=list(CATEGORY_OF_GROUP))
    return NOTHING


def _result_unit_q(value: QuantityValue) -> Q:
    if value.system not in (None, systems.UCUM_UNITS):
        return NOTHING
    if value.code is None:
        if value.system is None:
            return EVERYTHING
        return Q(unit__in=list(UCUM_OF_UNIT))
    q = Q(unit__in=unit_codes_for(value.code))
    if value.system is None:
        q |= Q(unit__iexact=value.code)
    return q


def _result_pred(name: str, value) -> Q:
    if name == "_id":
        oid = parse_observation_id(value.code)
        return Q(pk=oid.pk) if oid is not None and oid.source == RESULT else NOTHING
    if name in ("patient", "subject"):
        return _reference_q(value, "Patient", "order__encounter__patient_id")
    if name == "encounter":
        return _reference_q(value, "Encounter", "order__encounter_id")
    if name == "code":
        return _result_code_q(value)
    if name == "category":
        return _result_category_q(value)
    if name == "date":
        return date_q(value, instant_range(EFFECTIVE_ALIAS))
    if name == "value-quantity":
        unit = _result_unit_q(value)
        return NOTHING if unit is NOTHING else number_q("numeric_value", value) & unit
    return NOTHING


def result_q(criteria: list[Criterion]) -> Q | None:
    """The condition on result values (None when no result value can match)."""
    return _combine(EVERYTHING, criteria, _result_pred)
