"""The patient's record across the city: every encounter the viewer may see, newest first, with
diagnoses, allergies, active prescriptions and latest results (shown on the patient summary)."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from patients.clinical.selectors import patient_record as patient_record_get
from patients.views_clinical.base import clinic_permission_required, is_htmx


@require_GET
@clinic_permission_required("patients.view_encounter")
def patient_record(request, patient_id: int):
    record = patient_record_get(user=request.user, patient_id=patient_id)
    context = {
        "record": record,
        "patient": record.patient,
        "here_id": request.active_membership.facility_id,
    }
    if is_htmx(request):
        return render(request, "clinic/_record.html", context)
    return render(request, "clinic/record.html", context)
