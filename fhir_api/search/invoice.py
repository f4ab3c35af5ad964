"""Invoice search: parameter -> ORM lookup over the invoices the caller may see."""

from __future__ import annotations

from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from billing.models import ChargeLine, ChargeStatus, Invoice, InvoiceStatus
from fhir_api import systems
from fhir_api.registry import SearchParam
from fhir_api.search.charge_item import id_q, instant_range, reference_q
from fhir_api.search.common import EVERYTHING, NOTHING
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from patients.clinical_choices import EncounterKind, EncounterStatus

_SP = "http://hl7.org/fhir/SearchParameter/"
PARAMS = {
    "patient": SearchParam(
        "patient", "reference", "Patient/<id> (or the id alone).", f"{_SP}Invoice-patient"
    ),
    "subject": SearchParam(
        "subject", "reference", "Patient/<id>: same as patient.", f"{_SP}Invoice-subject"
    ),
    "status": SearchParam(
        "status",
        "token",
        "draft (the bill of a stay still open), issued, balanced (paid or settled), cancelled.",
        f"{_SP}Invoice-status",
    ),
    "date": SearchParam(
        "date",
        "date",
        "When the invoice was (last) built (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        f"{_SP}Invoice-date",
    ),
    "identifier": SearchParam(
        "identifier",
        "token",
        f"The invoice number: {systems.INVOICE_NUMBER}|HD00000012 or the number alone.",
        f"{_SP}Invoice-identifier",
    ),
    "issuer": SearchParam(
        "issuer", "reference", "Organization/<id>: the unit's invoices.", f"{_SP}Invoice-issuer"
    ),
}

_DATE = "_issued"
_DATE_RANGE = instant_range(_DATE)
STATUS_CS = "http://hl7.org/fhir/invoice-status"
_INTERIM = Q(encounter__kind=EncounterKind.INPATIENT, encounter__status=EncounterStatus.ADMITTED)
_STATUS_Q = {
    "draft": Q(status=InvoiceStatus.OPEN) & _INTERIM,
    "issued": Q(status=InvoiceStatus.OPEN) & ~_INTERIM,
    "balanced": Q(status__in=(InvoiceStatus.PAID, InvoiceStatus.SETTLED)),
    "cancelled": Q(status=InvoiceStatus.CANCELLED),
}


def _status_q(token: Token) -> Q:
    if token.system not in (None, STATUS_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    return _STATUS_Q.get(token.code, NOTHING)


def _identifier_q(token: Token) -> Q:
    if token.system not in (None, systems.INVOICE_NUMBER):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    code = token.code.strip().upper()
    digits = code[2:] if code.startswith("HD") else ""
    if not (digits.isdigit() and len(digits) <= 18 and f"HD{int(digits):08d}" == code):
        return NOTHING  # not a number this server gives (Invoice.number)
    return Q(pk=int(digits))


def invoice_filter(qs: QuerySet[Invoice], criteria: list[Criterion]) -> QuerySet[Invoice]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    if any(c.param.name == "date" for c in criteria):
        qs = qs.annotate(**{_DATE: Coalesce("built_at", "created_at")})
    for c in criteria:
        q = NOTHING
        name = c.param.name
        for value in c.values:
            if name == "_id":
                q |= id_q(value)
            elif name in ("patient", "subject"):
                q |= reference_q(value, "Patient", "patient_id")
            elif name == "issuer":
                q |= reference_q(value, "Organization", "facility_id")
            elif name == "status":
                q |= _status_q(value)
            elif name == "date":
                q |= date_q(value, _DATE_RANGE)
            elif name == "identifier":
                q |= _identifier_q(value)
        qs = qs.filter(q)
    return qs


# As mappers.invoice.invoice_last_updated: the invoice's or one of its active lines' last change.
_LINES_CHANGED = Subquery(
    ChargeLine.objects.filter(invoice=OuterRef("pk"), status=ChargeStatus.ACTIVE)
    .order_by()
    .values("invoice")
    .annotate(latest=Max("updated_at"))
    .values("latest")[:1]
)
SPEC = SearchSpec(
    filter=invoice_filter,
    last_updated=Greatest("updated_at", Coalesce(_LINES_CHANGED, "updated_at")),
    sorts={"date": Coalesce("built_at", "created_at")},
)
