"""The cashier's desk: today's visits and stays, and the one search box (htmx, live)."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.forms import CashierSearchForm
from billing.views import lookups
from billing.views.base import (
    TAKE,
    VIEW_INVOICE,
    can,
    cashier_required,
    facility_of,
    is_htmx,
    open_shift,
)


@require_GET
@cashier_required(TAKE, VIEW_INVOICE)
def desk(request):
    facility = facility_of(request)
    form = CashierSearchForm(request.GET or None)
    query, kind, rows = "", "", []
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
    if query:
        kind, rows = lookups.desk_search(user=request.user, facility=facility, query=query)
    else:  # the box was emptied: back to today's list
        rows = lookups.desk_rows(user=request.user, facility=facility)
    context = {
        "form": form,
        "query": query,
        "kind": kind,
        "rows": rows,
        "searched": bool(query),
    }
    if is_htmx(request):
        return render(request, "billing/_desk_rows.html", context)
    context["shift"] = open_shift(request)
    context["can_take"] = can(request, TAKE)
    return render(request, "billing/desk.html", context)
