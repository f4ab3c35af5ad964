"""Results entry for the performing department: the orders waiting, and one order's result
(values with units and reference ranges; out-of-range values are flagged by the service)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from ehealth.core.audit import audit_record
from ehealth.core.models.catalogs import CostGroup
from patients.clinical.results import ResultValueInput, result_enter
from patients.clinical.selectors import orders_to_perform
from patients.clinical_choices import EncounterStatus, OrderStatus
from patients.forms_clinical import ResultForm, ResultValueFormSet
from patients.models import ServiceOrder
from patients.views_clinical.base import ServiceCall, clinic_permission_required, facility_of

RESULTS = "patients.enter_results"
BLANK_ROWS = 6


@require_GET
@clinic_permission_required(RESULTS)
def orders(request):
    rows = orders_to_perform(user=request.user, facility=facility_of(request))
    return render(request, "clinic/orders.html", {"orders": rows})


def order_for_results(*, user, facility, order_id: int) -> ServiceOrder:
    """An order this facility performs, not yet resulted or cancelled (else 404); audited.

    The same scope as `orders_to_perform` for a single order.
    """
    order = (
        ServiceOrder.objects.select_related(
            "service", "encounter__patient", "encounter__facility", "performing_department"
        )
        .filter(pk=order_id, status__in=(OrderStatus.ORDERED, OrderStatus.IN_PROGRESS))
        .exclude(encounter__status=EncounterStatus.CANCELLED)
        .first()
    )
    if order is None:
        raise Http404
    performing_facility_id = (
        order.performing_department.facility_id
        if order.performing_department_id
        else order.encounter.facility_id
    )
    if performing_facility_id != facility.pk:
        raise Http404
    audit_record(
        actor=user,
        action="order.view",
        target=order,
        patient_id=order.encounter.patient_id,
        detail={"facility_id": facility.pk, "encounter_id": order.encounter_id},
    )
    return order


@require_http_methods(["GET", "POST"])
@clinic_permission_required(RESULTS)
def result_entry(request, order_id: int):
    facility = facility_of(request)
    order = order_for_results(user=request.user, facility=facility, order_id=order_id)
    if request.method == "POST":
        form = ResultForm(request.POST, prefix="res")
        values = ResultValueFormSet(request.POST, prefix="val")
        if form.is_valid() and values.is_valid():
            rows = [
                ResultValueInput(
                    code=v.cleaned_data["code"].strip(),
                    name=v.cleaned_data["name"].strip(),
                    value=v.cleaned_data["value"].strip(),
                    unit=v.cleaned_data["unit"].strip(),
                    reference_low=v.cleaned_data["reference_low"],
                    reference_high=v.cleaned_data["reference_high"],
                )
                for v in values
                if not v.is_blank
            ]
            call = ServiceCall(form)
            call(
                result_enter,
                actor=request.user,
                facility=facility,
                order=order,
                values=rows,
                conclusion=form.cleaned_data["conclusion"],
                description=form.cleaned_data["description"],
                expected_version=form.cleaned_data["version"],
            )
            if call.ok:
                messages.success(request, _("Đã lưu kết quả. Bác sĩ chỉ định sẽ thấy ngay."))
                return redirect("clinic:orders")
            if call.stale:
                order.refresh_from_db()
    else:
        form = ResultForm(prefix="res", initial={"version": order.version})
        first = {"name": order.service.name, "code": order.service.code}
        initial = [first if order.service.group == CostGroup.LAB else {}] + [{}] * (BLANK_ROWS - 1)
        values = ResultValueFormSet(prefix="val", initial=initial)
    return render(
        request,
        "clinic/result_entry.html",
        {"order": order, "form": form, "values": values, "encounter": order.encounter},
    )
