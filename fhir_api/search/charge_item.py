"""ChargeItem search: parameter -> ORM lookup over the charge lines the caller may see."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from billing.models import ChargeLine, ChargeSource
from fhir_api import systems
from fhir_api.registry import SearchParam
from fhir_api.search.common import EVERYTHING, NOTHING, int_id, reference_id, utc_midnight
from fhir_api.search.params import Criterion, RangeLookups, Token, date_q
from fhir_api.search.refine import SearchSpec

_SP = "http://hl7.org/fhir/SearchParameter/"
PARAMS = {
    "patient": SearchParam(
        "patient", "reference", "Patient/<id> (or the id alone).", f"{_SP}ChargeItem-patient"
    ),
    "subject": SearchParam(
        "subject", "reference", "Patient/<id>: same as patient.", f"{_SP}ChargeItem-subject"
    ),
    "context": SearchParam(
        "context",
        "reference",
        "Encounter/<id> (or the id alone): the charges of one visit or stay.",
        f"{_SP}ChargeItem-context",
    ),
    "encounter": SearchParam(
        "encounter", "reference", "Encounter/<id>: same as context (a local alias)."
    ),
    "code": SearchParam(
        "code",
        "token",
        f"The catalog code: {systems.SERVICE_CATALOG_CS}|<code> (services, examinations, "
        f"bed-days), {systems.DRUG_CATALOG_CS}|<code>, {systems.SUPPLY_CATALOG_CS}|<code>, or the "
        "code alone (case ignored).",
        f"{_SP}ChargeItem-code",
    ),
    "entered-date": SearchParam(
        "entered-date",
        "date",
        "When the line was derived (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        f"{_SP}ChargeItem-entered-date",
    ),
    "occurrence": SearchParam(
        "occurrence",
        "date",
        "The day of service (prefixes eq ne lt gt le ge sa eb).",
        f"{_SP}ChargeItem-occurrence",
    ),
}

_KIND_OF_SYSTEM = {
    systems.DRUG_CATALOG_CS: Q(source_kind=ChargeSource.DRUG),
    systems.SUPPLY_CATALOG_CS: Q(source_kind=ChargeSource.SUPPLY),
    systems.SERVICE_CATALOG_CS: ~Q(source_kind__in=(ChargeSource.DRUG, ChargeSource.SUPPLY)),
}


def instant_range(field: str) -> RangeLookups:
    """An instant: a range whose start and end are the same moment (days are UTC)."""
    return RangeLookups(
        start_ge=lambda d: Q(**{f"{field}__gte": utc_midnight(d)}),
        start_lt=lambda d: Q(**{f"{field}__lt": utc_midnight(d)}),
        end_le=lambda d: Q(**{f"{field}__lt": utc_midnight(d)}),
        end_gt=lambda d: Q(**{f"{field}__gte": utc_midnight(d)}),
    )


def day_range(field: str) -> RangeLookups:
    """A calendar day [day, day + 1)."""
    return RangeLookups(
        start_ge=lambda d: Q(**{f"{field}__gte": d}),
        start_lt=lambda d: Q(**{f"{field}__lt": d}),
        end_le=lambda d: Q(**{f"{field}__lt": d}),
        end_gt=lambda d: Q(**{f"{field}__gte": d}),
    )


_ENTERED = instant_range("created_at")
_OCCURRENCE = day_range("service_date")


def id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def _code_q(token: Token) -> Q:
    if token.system is not None and token.system not in _KIND_OF_SYSTEM:
        return NOTHING
    kind = _KIND_OF_SYSTEM[token.system] if token.system else EVERYTHING
    if token.code is None:
        return kind
    return kind & Q(item_code__iexact=token.code.strip())


def charge_item_filter(qs: QuerySet[ChargeLine], criteria: list[Criterion]) -> QuerySet[ChargeLine]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        name = c.param.name
        for value in c.values:
            if name == "_id":
                q |= id_q(value)
            elif name in ("patient", "subject"):
                q |= reference_q(value, "Patient", "encounter__patient_id")
            elif name in ("context", "encounter"):
                q |= reference_q(value, "Encounter", "encounter_id")
            elif name == "code":
                q |= _code_q(value)
            elif name == "entered-date":
                q |= date_q(value, _ENTERED)
            elif name == "occurrence":
                q |= date_q(value, _OCCURRENCE)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=charge_item_filter,
    last_updated="updated_at",  # as mappers.charge_item: the line's last change
    sorts={
        "entered-date": F("created_at"),
        "occurrence": F("service_date"),
        "code": F("item_code"),
    },
)
