"""Invoice interactions: read and search over billing's invoices, with their active lines.

Visibility (providers/_fees_common.py): a partner client sees its own unit's invoices only; staff
what the billing pages show them (`billing.selectors.invoices_visible`). An invoice of a voided
encounter is still served on read (`entered-in-error`) but never returned by a search; cancelled
invoices are found (status `cancelled`). The lines come from billing's selectors, one query for
a whole page. Every access is audited per patient.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import QuerySet

from billing.models import ChargeLine, Invoice
from billing.selectors import VIEW_PERM, invoice_lines, invoices_lines, invoices_visible
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.invoice import invoice_last_updated, invoice_to_json, invoice_version
from fhir_api.providers._fees_common import (
    read_one,
    read_result,
    search_result,
    visible_facility_ids,
)
from fhir_api.providers.base import search_request
from fhir_api.search import invoice as invoice_search

TYPE = "Invoice"


def _visible(call: Call) -> QuerySet[Invoice]:
    """Invoices (of voided encounters included) the caller may see, with their encounter."""
    if call.principal.kind == "staff":
        qs = invoices_visible(user=call.principal.user)
    else:
        qs = Invoice.objects.filter(facility_id__in=visible_facility_ids(call, VIEW_PERM))
    return qs.select_related("encounter").only(
        *(f.name for f in Invoice._meta.concrete_fields),
        "encounter__id",
        "encounter__kind",
        "encounter__status",
        "encounter__voided_at",
    )


def _page_json(page: Sequence[Invoice]) -> list[dict]:
    by_invoice: dict[int, list[ChargeLine]] = defaultdict(list)
    for line in invoices_lines(invoices=page):
        by_invoice[line.invoice_id].append(line)
    return [invoice_to_json(i, by_invoice[i.pk]) for i in page]


class InvoiceProvider:
    """The Invoice resource over billing.Invoice (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        invoice = read_one(
            call, TYPE, resource_id, _visible(call), action="fhir.invoice.read",
            patient_id=lambda i: i.patient_id,
        )  # fmt: skip
        lines = list(invoice_lines(invoice=invoice))
        return read_result(
            invoice_to_json(invoice, lines),
            invoice_version(invoice, lines),
            invoice_last_updated(invoice, lines),
        )

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, invoice_search.PARAMS, invoice_search.SPEC, TYPE)
        qs = _visible(call).filter(encounter__voided_at__isnull=True)
        return search_result(
            call,
            TYPE,
            req,
            qs,
            invoice_search.SPEC,
            action="fhir.invoice.search",
            patient_id=lambda i: i.patient_id,
            to_json=_page_json,
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=InvoiceProvider(),
        interactions=("read", "search-type"),
        search_params=invoice_search.PARAMS,
        spec=invoice_search.SPEC,
    )
)
