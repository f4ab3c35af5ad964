"""The ward: the bed board of a department, admission to a bed, and the page of one stay
(transfers, nursing observations, progress notes, discharge)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehealth.core.models import Bed, Department
from patients.choices import IdentifierSystem, PatientStatus
from patients.clinical import inpatient
from patients.clinical.corrections import (
    CORRECTION_ANCHOR,
    diagnoses_correct,
    diagnosis_corrections,
    may_correct,
)
from patients.clinical.examination import VitalsInput
from patients.clinical.ward_selectors import bed_board, stay_course
from patients.clinical_choices import DiagnosisPhase, EncounterStatus
from patients.forms_clinical import (
    AdmissionForm,
    DiagnosisCorrectionForm,
    DischargeForm,
    ObservationForm,
    ProgressNoteEditForm,
    ProgressNoteForm,
    TransferForm,
)
from patients.models import BedOccupancy, Diagnosis, Patient
from patients.selectors import patient_visible_qs
from patients.views_clinical.base import (
    STALE_MESSAGE,
    ServiceCall,
    can,
    clinic_permission_required,
    facility_of,
)

VIEW = "patients.view_encounter"
ADMIT = "patients.admit_patient"
DISCHARGE = "patients.discharge_patient"
NOTE = "patients.write_progress_note"
VITALS = "patients.record_vitals"
EXAMINE = "patients.examine_encounter"


def ward_departments(facility) -> list[Department]:
    """The facility's departments that have wards (the ones with a bed board)."""
    return list(
        Department.objects.filter(facility=facility, is_active=True, wards__isnull=False)
        .distinct()
        .order_by("name")
    )


# --- Bed board ----------------------------------------------------------------------------------


@require_GET
@clinic_permission_required(VIEW)
def ward_index(request):
    departments = ward_departments(facility_of(request))
    if len(departments) == 1:
        return redirect("clinic:ward", department_id=departments[0].pk)
    return render(request, "clinic/ward_index.html", {"departments": departments})


@require_GET
@clinic_permission_required(VIEW)
def ward(request, department_id: int):
    facility = facility_of(request)
    departments = ward_departments(facility)
    department = next((d for d in departments if d.pk == department_id), None)
    if department is None:
        raise Http404
    beds = bed_board(user=request.user, department_id=department.pk)
    wards: dict[int, dict] = {}
    for bed in beds:
        wards.setdefault(bed.ward_id, {"name": bed.ward_name, "code": bed.ward_code, "beds": []})
        wards[bed.ward_id]["beds"].append(bed)
    return render(
        request,
        "clinic/ward.html",
        {
            "department": department,
            "departments": departments,
            "wards": list(wards.values()),
            "free_count": sum(1 for b in beds if b.is_free),
            "bed_count": len(beds),
            "can_admit": can(request, ADMIT),
        },
    )


# --- Admission ----------------------------------------------------------------------------------


def _patient_by_record_number(request, value: str) -> Patient | None:
    """A visible patient by their record number at this facility."""
    return (
        patient_visible_qs(user=request.user)
        .filter(
            status=PatientStatus.ACTIVE,
            identifiers__system=IdentifierSystem.MRN,
            identifiers__facility_id=request.active_membership.facility_id,
            identifiers__value=value.strip(),
            identifiers__voided_at__isnull=True,
        )
        .first()
    )


def _preselected_patient(request, patient_id) -> Patient | None:
    if not patient_id:
        return None
    return patient_visible_qs(user=request.user).filter(pk=patient_id).first()


@require_http_methods(["GET", "POST"])
@clinic_permission_required(ADMIT)
def admit(request, department_id: int):
    facility = facility_of(request)
    department = next((d for d in ward_departments(facility) if d.pk == department_id), None)
    if department is None:
        raise Http404
    free = bed_choices(facility=facility, department=department, free_only=True)
    may_diagnose = can(request, EXAMINE)
    if request.method == "POST":
        beds = bed_choices(facility=facility, department=department, free_only=False)
        form = AdmissionForm(request.POST, beds=beds)
    else:
        initial = {"bed_id": request.GET.get("bed"), "source": "emergency"}
        if request.GET.get("from_encounter"):
            initial.update(
                source="outpatient",
                patient_id=request.GET.get("patient"),
                from_encounter_id=request.GET.get("from_encounter"),
            )
        form = AdmissionForm(initial=initial, beds=free)
    patient_id = form.data.get("patient_id") if form.is_bound else form.initial.get("patient_id")
    try:
        patient = _preselected_patient(request, int(patient_id)) if patient_id else None
    except (TypeError, ValueError):
        patient = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if patient is None and d["record_number"].strip():
            patient = _patient_by_record_number(request, d["record_number"])
            if patient is None:
                form.add_error("record_number", _("Không tìm thấy người bệnh có mã này tại cơ sở."))
        if patient is not None:
            call = ServiceCall(form)
            stay = call(
                inpatient.admission_create,
                actor=request.user,
                facility=facility,
                patient=patient,
                department_id=department.pk,
                source=d["source"],
                bed_id=d["bed_id"],
                from_encounter=d["from_encounter_id"],
                referral_from_code=d["referral_from_code"].strip(),
                referral_paper_number=d["referral_paper_number"].strip(),
                admission_main_code=d["main_code"].strip().upper() if may_diagnose else "",
                reason=d["reason"].strip(),
                insurance_card_code=d["insurance_card_code"].strip().upper(),
            )
            if call.ok:
                messages.success(request, _("Đã nhận người bệnh vào khoa."))
                return redirect("clinic:stay", encounter_id=stay.pk)
    if form.is_bound:  # shown again: offer the free beds only
        form.fields["bed_id"].choices = [form.fields["bed_id"].choices[0], *free]
    return render(
        request,
        "clinic/admit.html",
        {
            "form": form,
            "department": department,
            "patient": patient,
            "may_diagnose": may_diagnose,
            "free_beds": free,
        },
    )


# --- The stay -----------------------------------------------------------------------------------


def _next_minute():
    """'Now' for a time field that shows minutes: rounded up, so that a time just recorded
    (an admission a moment ago) is never after the one the form offers."""
    return timezone.localtime().replace(second=0, microsecond=0) + timedelta(minutes=1)


def bed_choices(*, facility, department=None, free_only: bool) -> list[tuple[int, str]]:
    """(id, label) of the active beds of the facility (or one department): the free ones to
    show in a form; all of them to accept a post, so that a bed taken meanwhile is refused by
    the service with its clear message instead of a bare "invalid choice"."""
    beds = Bed.objects.filter(ward__department__facility=facility, is_active=True)
    if department is not None:
        beds = beds.filter(ward__department=department)
    if free_only:
        beds = beds.exclude(
            Exists(BedOccupancy.objects.filter(bed=OuterRef("pk"), ended_at__isnull=True))
        )
    beds = beds.select_related("ward__department").order_by(
        "ward__department__name", "ward__code", "code"
    )
    return [
        (
            b.pk,
            f"{b.ward.name} · {b.code}"
            if department is not None
            else f"{b.ward.department.name} · {b.ward.name} · {b.code}",
        )
        for b in beds
    ]


def _transfer_choices(facility, *, free_only: bool = True):
    return ward_departments(facility), bed_choices(facility=facility, free_only=free_only)


def _stay_context(request, encounter_id: int, *, bound: dict | None = None, extra=None):
    course = stay_course(user=request.user, encounter_id=encounter_id)
    stay = course.encounter
    here = stay.facility_id == request.active_membership.facility_id
    open_ = stay.status == EncounterStatus.ADMITTED
    perms = {
        "can_transfer": here and open_ and can(request, ADMIT),
        "can_observe": here and open_ and can(request, VITALS),
        "can_note": here and open_ and can(request, NOTE),
        "can_discharge": here and open_ and can(request, DISCHARGE),
        "can_correct_diagnoses": here
        and may_correct(request.user, stay, request.active_membership.facility_id),
    }
    forms = dict(bound or {})
    if perms["can_transfer"] and "transfer" not in forms:
        departments, beds = _transfer_choices(stay.facility)
        forms["transfer"] = TransferForm(prefix="transfer", departments=departments, beds=beds)
    if perms["can_observe"] and "observation" not in forms:
        forms["observation"] = ObservationForm(
            prefix="obs", initial={"recorded_at": _next_minute()}
        )
    if perms["can_note"] and "note" not in forms:
        forms["note"] = ProgressNoteForm(prefix="note")
    note_forms = {}
    if perms["can_note"]:
        for note in course.notes:
            key = f"note-{note.pk}"
            note_forms[note.pk] = forms.get(key) or ProgressNoteEditForm(
                prefix=key,
                initial={
                    "clinical_course": note.clinical_course,
                    "disease_stage": note.disease_stage,
                    "orders_summary": note.orders_summary,
                    "version": note.version,
                },
            )
    diagnoses = list(
        Diagnosis.objects.filter(encounter=stay, voided_at__isnull=True).order_by("phase", "rank")
    )
    if perms["can_discharge"] and "discharge" not in forms:
        admission = [d for d in diagnoses if d.phase == DiagnosisPhase.ADMISSION]
        forms["discharge"] = DischargeForm(
            prefix="dis",
            initial={
                "discharged_at": _next_minute(),
                "main_code": next((d.icd_code for d in admission if d.rank == 0), ""),
                "secondary_codes": ", ".join(d.icd_code for d in admission if d.rank > 0),
                "version": stay.version,
            },
        )
    if perms["can_correct_diagnoses"] and "diagnosis_correction" not in forms:
        forms["diagnosis_correction"] = _correction_form(stay, diagnoses)
    context = {
        "corrections": diagnosis_corrections(encounter=stay) if stay.is_locked else [],
        "correction_anchor": CORRECTION_ANCHOR,
        "course": course,
        "stay": stay,
        "patient": stay.patient,
        "forms": forms,
        "note_rows": [(n, note_forms.get(n.pk)) for n in course.notes],
        "diagnoses": diagnoses,
        "discharged": stay.status == EncounterStatus.DISCHARGED,
        **perms,
    }
    context.update(extra or {})
    return context


def _correction_form(stay, diagnoses) -> DiagnosisCorrectionForm:
    """The correction form of a discharged stay, filled with its discharge diagnoses."""
    discharge = [d for d in diagnoses if d.phase == DiagnosisPhase.DISCHARGE]
    return DiagnosisCorrectionForm(
        prefix="dxfix",
        initial={
            "main_code": next((d.icd_code for d in discharge if d.rank == 0), ""),
            "secondary_codes": ", ".join(d.icd_code for d in discharge if d.rank > 0),
            "version": stay.version,
        },
    )


@require_GET
@clinic_permission_required(VIEW)
def stay(request, encounter_id: int):
    return render(request, "clinic/stay.html", _stay_context(request, encounter_id))


def _stay_url(encounter_id: int, anchor: str = "") -> str:
    url = reverse("clinic:stay", kwargs={"encounter_id": encounter_id})
    return f"{url}#{anchor}" if anchor else url


@require_POST
@clinic_permission_required(ADMIT)
def stay_transfer(request, encounter_id: int):
    course = stay_course(user=request.user, encounter_id=encounter_id)
    departments, beds = _transfer_choices(course.encounter.facility, free_only=False)
    form = TransferForm(request.POST, prefix="transfer", departments=departments, beds=beds)
    call = ServiceCall(form)
    if form.is_valid():
        d = form.cleaned_data
        call(
            inpatient.transfer_create,
            actor=request.user,
            facility=facility_of(request),
            encounter=course.encounter,
            to_department_id=d["to_department_id"],
            to_bed_id=d["to_bed_id"],
            reason=d["reason"].strip(),
        )
    if call.ok:
        messages.success(request, _("Đã chuyển khoa/giường."))
        return redirect(_stay_url(encounter_id, "sec-transfers"))
    # The form comes back offering the free beds again (the posted choice stays selected).
    departments, beds = _transfer_choices(course.encounter.facility)
    form.fields["to_bed_id"].choices = [form.fields["to_bed_id"].choices[0], *beds]
    ctx = _stay_context(request, encounter_id, bound={"transfer": form})
    return render(request, "clinic/stay.html", ctx)


@require_POST
@clinic_permission_required(VITALS)
def stay_observation(request, encounter_id: int):
    course = stay_course(user=request.user, encounter_id=encounter_id)
    form = ObservationForm(request.POST, prefix="obs")
    call = ServiceCall(form)
    if form.is_valid():
        call(
            inpatient.nursing_observation_record,
            actor=request.user,
            facility=facility_of(request),
            encounter=course.encounter,
            data=VitalsInput(**form.input_data()),
        )
    if call.ok:
        messages.success(request, _("Đã ghi theo dõi."))
        return redirect(_stay_url(encounter_id, "sec-observations"))
    ctx = _stay_context(request, encounter_id, bound={"observation": form})
    return render(request, "clinic/stay.html", ctx)


@require_POST
@clinic_permission_required(NOTE)
def stay_note_add(request, encounter_id: int):
    course = stay_course(user=request.user, encounter_id=encounter_id)
    form = ProgressNoteForm(request.POST, prefix="note")
    call = ServiceCall(form)
    if form.is_valid():
        call(
            inpatient.progress_note_add,
            actor=request.user,
            facility=facility_of(request),
            encounter=course.encounter,
            **form.input_data(),
        )
    if call.ok:
        messages.success(request, _("Đã ghi diễn biến."))
        return redirect(_stay_url(encounter_id, "sec-notes"))
    ctx = _stay_context(request, encounter_id, bound={"note": form})
    return render(request, "clinic/stay.html", ctx)


@require_POST
@clinic_permission_required(NOTE)
def stay_note_edit(request, encounter_id: int, note_id: int):
    course = stay_course(user=request.user, encounter_id=encounter_id)
    note = next((n for n in course.notes if n.pk == note_id), None)
    if note is None:
        raise Http404
    key = f"note-{note.pk}"
    form = ProgressNoteEditForm(request.POST, prefix=key)
    call = ServiceCall(form)
    if form.is_valid():
        call(
            inpatient.progress_note_update,
            actor=request.user,
            facility=facility_of(request),
            note=note,
            expected_version=form.cleaned_data["version"],
            **form.input_data(),
        )
    if call.ok:
        messages.success(request, _("Đã sửa diễn biến."))
        return redirect(_stay_url(encounter_id, f"note-{note.pk}"))
    if call.stale:
        # Nothing overwritten: the note as saved by the other person, and what was typed.
        typed = form.cleaned_data.get("clinical_course", "")
        ctx = _stay_context(
            request,
            encounter_id,
            extra={"stale_note": {"id": note.pk, "message": STALE_MESSAGE, "typed": typed}},
        )
        return render(request, "clinic/stay.html", ctx, status=409)
    ctx = _stay_context(request, encounter_id, bound={key: form})
    return render(request, "clinic/stay.html", ctx)


@require_POST
@clinic_permission_required(DISCHARGE)
def stay_discharge(request, encounter_id: int):
    course = stay_course(user=request.user, encounter_id=encounter_id)
    form = DischargeForm(request.POST, prefix="dis")
    call = ServiceCall(form)
    if form.is_valid():
        d = form.input_data()
        call(
            inpatient.admission_discharge,
            actor=request.user,
            facility=facility_of(request),
            encounter=course.encounter,
            expected_version=form.cleaned_data["version"],
            **d,
        )
    if call.ok:
        messages.success(request, _("Đã cho người bệnh ra viện. Giường đã được trả."))
        return redirect(_stay_url(encounter_id))
    ctx = _stay_context(
        request, encounter_id, bound={"discharge": form}, extra={"stale": call.stale}
    )
    return render(request, "clinic/stay.html", ctx)


@require_POST
@clinic_permission_required(EXAMINE)
def stay_diagnosis_correct(request, encounter_id: int):
    """Correct the discharge diagnoses of a discharged stay, with a reason (recorded)."""
    course = stay_course(user=request.user, encounter_id=encounter_id)
    form = DiagnosisCorrectionForm(request.POST, prefix="dxfix")
    call = ServiceCall(form)
    if form.is_valid():
        main_code, secondary = form.codes()
        call(
            diagnoses_correct,
            actor=request.user,
            facility=facility_of(request),
            encounter=course.encounter,
            main_code=main_code,
            secondary_codes=secondary,
            reason=form.cleaned_data["reason"],
            version=form.cleaned_data["version"],
        )
    if call.ok:
        messages.success(request, _("Đã sửa chẩn đoán ra viện. Chẩn đoán cũ vẫn được lưu."))
        return redirect(_stay_url(encounter_id, CORRECTION_ANCHOR))
    if call.stale:
        # Nothing written: the form comes back with the current codes, and what was typed.
        typed = {
            form.fields[name].label: value
            for name, value in form.cleaned_data.items()
            if name != "version" and value not in (None, "")
        }
        ctx = _stay_context(
            request,
            encounter_id,
            extra={"stale_correction": {"message": STALE_MESSAGE, "typed": typed}},
        )
        return render(request, "clinic/stay.html", ctx, status=409)
    ctx = _stay_context(request, encounter_id, bound={"diagnosis_correction": form})
    return render(request, "clinic/stay.html", ctx)
