"""Printable documents of an encounter as PDF downloads. Each read goes through `encounter_get`
(visibility, 404 otherwise, and the audit entry); the documents package builds and renders."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.http import Http404
from django.views.decorators.http import require_GET

from patients.clinical.documents.data import (
    discharge_paper_doc,
    lab_result_doc,
    prescription_doc,
    transfer_paper_doc,
)
from patients.clinical.documents.discharge_paper import render_discharge_paper
from patients.clinical.documents.lab_results import render_lab_results
from patients.clinical.documents.prescription import render_prescription
from patients.clinical.documents.transfer_paper import render_transfer_paper
from patients.clinical.selectors import encounter_get
from patients.clinical_choices import (
    Conclusion,
    DischargeType,
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
)
from patients.models import Prescription, PrescriptionItem, ServiceOrder
from patients.views_clinical.base import clinic_permission_required, pdf_response

VIEW = "patients.view_encounter"


@require_GET
@clinic_permission_required(VIEW)
def prescription_pdf(request, encounter_id: int):
    encounter = encounter_get(user=request.user, pk=encounter_id)
    live_items = PrescriptionItem.objects.filter(
        prescription=OuterRef("pk"), voided_at__isnull=True
    )
    rx = (
        Prescription.objects.filter(encounter=encounter)
        .exclude(status=PrescriptionStatus.CANCELLED)
        .filter(Exists(live_items))
        .order_by("-status", "-prescribed_at", "-id")  # 'issued' before 'draft'
        .first()
    )
    if rx is None:
        raise Http404
    content = render_prescription(prescription_doc(prescription=rx))
    return pdf_response(content, f"don-thuoc-{encounter.pk}.pdf")


@require_GET
@clinic_permission_required(VIEW)
def lab_results_pdf(request, encounter_id: int):
    encounter = encounter_get(user=request.user, pk=encounter_id)
    if not ServiceOrder.objects.filter(encounter=encounter, status=OrderStatus.RESULTED).exists():
        raise Http404
    content = render_lab_results(lab_result_doc(encounter=encounter))
    return pdf_response(content, f"ket-qua-xet-nghiem-{encounter.pk}.pdf")


@require_GET
@clinic_permission_required(VIEW)
def transfer_paper_pdf(request, encounter_id: int):
    encounter = encounter_get(user=request.user, pk=encounter_id)
    transferred = encounter.conclusion == Conclusion.TRANSFER or encounter.discharge_type in (
        DischargeType.TRANSFERRED_MEDICAL,
        DischargeType.TRANSFERRED_ON_REQUEST,
    )
    if not (encounter.is_locked and transferred):
        raise Http404
    content = render_transfer_paper(transfer_paper_doc(encounter=encounter))
    return pdf_response(content, f"giay-chuyen-tuyen-{encounter.pk}.pdf")


@require_GET
@clinic_permission_required(VIEW)
def discharge_paper_pdf(request, encounter_id: int):
    encounter = encounter_get(user=request.user, pk=encounter_id)
    if encounter.kind != EncounterKind.INPATIENT or encounter.status != EncounterStatus.DISCHARGED:
        raise Http404
    content = render_discharge_paper(discharge_paper_doc(encounter=encounter))
    return pdf_response(content, f"giay-ra-vien-{encounter.pk}.pdf")
