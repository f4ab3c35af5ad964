"""The doctor's worklist and the one-page visit form, saved section by section (htmx).

Each section is its own small form; the ones that write the encounter row carry the version the
editor loaded. After a save the section comes back re-rendered, and the hidden versions of the
other sections are refreshed out of band (the same editor's next save is not mistaken for a
stale one). A stale save by someone else reloads that section with the current data and keeps
what was typed visible, unsaved.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehealth.core.models import Department
from patients.clinical import examination as exam
from patients.clinical.allergies import allergy_conflicts, ingredients
from patients.clinical.common import local_today
from patients.clinical.corrections import (
    CORRECTION_ANCHOR,
    diagnoses_correct,
    diagnosis_corrections,
    may_correct,
)
from patients.clinical.selectors import (
    doctor_worklist,
    encounter_chart,
    encounter_get,
    icd_search,
)
from patients.clinical_choices import Conclusion, DiagnosisPhase, EncounterKind, EncounterStatus
from patients.forms_clinical import (
    AddendumForm,
    AllergyForm,
    AllergyVoidForm,
    ConclusionForm,
    DiagnosisCorrectionForm,
    DiagnosisForm,
    NotesForm,
    OrderCancelForm,
    OrderForm,
    PrescriptionItemForm,
    PrescriptionItemVoidForm,
    VersionOnlyForm,
    VitalsForm,
)
from patients.views_clinical import catalog
from patients.views_clinical.base import (
    STALE_MESSAGE,
    ServiceCall,
    can,
    clinic_permission_required,
    facility_of,
    hx_redirect,
    is_htmx,
)
from patients.views_clinical.reception import facility_rooms
from patients.views_clinical.visit_data import from_chart, visit_data

EXAMINE = "patients.examine_encounter"
VITALS = "patients.record_vitals"
VIEW = "patients.view_encounter"
ADDENDUM = "patients.add_addendum"

# Sections of the visit page: form class, form prefix, template, permission to write.
SECTIONS: dict[str, tuple[type, str, str]] = {
    "notes": (NotesForm, "notes", EXAMINE),
    "vitals": (VitalsForm, "vitals", VITALS),
    "diagnoses": (DiagnosisForm, "dx", EXAMINE),
    "allergies": (AllergyForm, "allergy", EXAMINE),
    "allergy-void": (AllergyVoidForm, "allergyvoid", EXAMINE),
    "orders": (OrderForm, "order", EXAMINE),
    "order-cancel": (OrderCancelForm, "ordercancel", EXAMINE),
    "prescription": (PrescriptionItemForm, "rx", EXAMINE),
    "prescription-void": (PrescriptionItemVoidForm, "rxvoid", EXAMINE),
    "conclusion": (ConclusionForm, "concl", EXAMINE),
    "addenda": (AddendumForm, "addendum", ADDENDUM),
    "diagnosis_correction": (DiagnosisCorrectionForm, "dxfix", EXAMINE),
}
# The template that shows each section (several forms share one section on the page).
SECTION_TEMPLATE = {
    "notes": "notes",
    "vitals": "vitals",
    "diagnoses": "diagnoses",
    "allergies": "allergies",
    "allergy-void": "allergies",
    "orders": "orders",
    "order-cancel": "orders",
    "prescription": "prescription",
    "prescription-void": "prescription",
    "conclusion": "conclusion",
    "addenda": "addenda",
    "diagnosis_correction": "diagnosis_correction",
}
# Sections whose anchor on the page is not `sec-<template>` (the claims pages link to it).
SECTION_ANCHOR = {"diagnosis_correction": CORRECTION_ANCHOR}
VERSIONED_PREFIXES = ("notes", "dx", "concl")


# --- Worklist -----------------------------------------------------------------------------------


@require_GET
@clinic_permission_required(EXAMINE)
def worklist(request):
    facility = facility_of(request)
    rooms = facility_rooms(facility)
    try:
        room_id = int(request.GET.get("room") or 0) or None
    except ValueError:
        room_id = None
    if room_id is not None and not any(r.pk == room_id for r in rooms):
        room_id = None
    rows = doctor_worklist(user=request.user, facility=facility, room_id=room_id)
    context = {"rows": rows, "rooms": rooms, "room_id": room_id}
    if is_htmx(request):
        return render(request, "clinic/_worklist_rows.html", context)
    return render(request, "clinic/worklist.html", context)


@require_POST
@clinic_permission_required(EXAMINE)
def start_examination(request, encounter_id: int):
    """Take the patient from the queue: ARRIVED -> IN_EXAMINATION, then open the visit form."""
    encounter = encounter_get(user=request.user, pk=encounter_id)
    form = _version_form(request.POST)
    call = ServiceCall(form)
    if form.is_valid():
        call(
            exam.encounter_start_examination,
            actor=request.user,
            facility=facility_of(request),
            encounter=encounter,
            expected_version=form.cleaned_data["version"],
        )
    if not call.ok:
        for error in form.non_field_errors() or [_("Không thể bắt đầu khám.")]:
            messages.error(request, error)
        for errors in (e for f, e in form.errors.items() if f != "__all__"):
            for error in errors:
                messages.error(request, error)
        if call.stale or encounter.status != EncounterStatus.ARRIVED:
            return redirect("clinic:visit", encounter_id=encounter.pk)
        return redirect("clinic:worklist")
    return redirect("clinic:visit", encounter_id=encounter.pk)


def _version_form(data) -> VersionOnlyForm:
    return VersionOnlyForm(data)


# --- The visit page -----------------------------------------------------------------------------


def _permissions(request, encounter) -> dict[str, bool]:
    here = encounter.facility_id == request.active_membership.facility_id
    open_ = not encounter.is_locked
    return {
        "can_examine": here and open_ and can(request, EXAMINE),
        "can_vitals": here and open_ and can(request, VITALS),
        "can_addendum": here and encounter.is_locked and can(request, ADDENDUM),
        "can_admit": here and can(request, "patients.admit_patient"),
        # Coded diagnoses of a concluded visit, corrected with a reason (a stay: its own page).
        "can_correct_diagnoses": here
        and encounter.kind == EncounterKind.OUTPATIENT
        and may_correct(request.user, encounter, request.active_membership.facility_id),
    }


def _initial(section: str, encounter, data) -> dict:
    if section == "notes":
        return {
            "reason": encounter.reason,
            "history": encounter.history,
            "examination_findings": encounter.examination_findings,
            "version": encounter.version,
        }
    if section in ("diagnoses", "diagnosis_correction"):
        main = next((d for d in data.diagnoses if d.rank == 0), None)
        return {
            "main_code": main.icd_code if main else "",
            "secondary_codes": ", ".join(d.icd_code for d in data.diagnoses if d.rank > 0),
            "version": encounter.version,
        }
    if section == "conclusion":
        return {
            "conclusion": encounter.conclusion or None,
            "conclusion_note": encounter.conclusion_note,
            "follow_up_date": encounter.follow_up_date,
            "transfer_to_code": encounter.transfer_to_code,
            "transfer_paper_number": encounter.transfer_paper_number,
            "transfer_reason": encounter.transfer_reason,
            "version": encounter.version,
        }
    return {}


def _form_kwargs(section: str, choices: catalog.Choices) -> dict:
    if section in ("allergies",):
        return {"drugs": choices.drugs}
    if section == "prescription":
        return {"drugs": choices.drugs}
    if section == "orders":
        return {"services": choices.services, "departments": choices.departments}
    return {}


def _make_form(section: str, encounter, data, choices, post=None):
    form_class, prefix, _perm = SECTIONS[section]
    if post is not None:
        return form_class(post, prefix=prefix, **_form_kwargs(section, choices))
    return form_class(
        initial=_initial(section, encounter, data), prefix=prefix, **_form_kwargs(section, choices)
    )


def _rx_overrides(form, data, choices) -> dict[str, bool]:
    """Which override-reason fields the prescription form shows: the one the service asked for
    (its refusal on `drug_id` for an allergy or a duplicate), or one already filled in."""
    flags = {"allergy": False, "duplicate": False}
    if form is None or not form.is_bound:
        return flags
    for name in flags:
        if (form.data.get(form.add_prefix(f"{name}_override_reason")) or "").strip():
            flags[name] = True
    if "drug_id" not in form.errors:
        return flags
    try:
        drug_id = int(form.data.get(form.add_prefix("drug_id")))
    except (TypeError, ValueError):
        return flags
    drug = next((d for d in choices.drugs if d.pk == drug_id), None)
    if drug is None:
        return flags
    if allergy_conflicts(drug, data.allergies):
        flags["allergy"] = True
    wanted = ingredients(drug.active_ingredient)
    for item in data.items:
        if item.drug_id == drug.pk or (
            wanted and ingredients(item.drug.active_ingredient) == wanted
        ):
            flags["duplicate"] = True
    return flags


def _page_context(
    request, encounter, *, data=None, bound: dict | None = None, extra: dict | None = None
):
    data = data if data is not None else visit_data(encounter)
    perms = _permissions(request, encounter)
    choices = catalog.visit_choices(
        facility=encounter.facility, needed=perms["can_examine"] or perms["can_vitals"]
    )
    forms = {
        name: _make_form(name, encounter, data, choices)
        for name in ("notes", "vitals", "diagnoses", "allergies", "orders", "prescription")
        + ("conclusion", "addenda", "diagnosis_correction")
    }
    forms.update(bound or {})
    context = {
        "encounter": encounter,
        "patient": encounter.patient,
        "data": data,
        "forms": forms,
        "choices": choices,
        "today": local_today(),
        "statuses": EncounterStatus,
        "conclusions": Conclusion,
        "inpatient_departments": [],
        "rx_overrides": _rx_overrides(forms["prescription"], data, choices),
        # Corrections after the visit was locked (one query, locked visits only).
        "corrections": (
            diagnosis_corrections(encounter=encounter)
            if encounter.is_locked and encounter.kind == EncounterKind.OUTPATIENT
            else []
        ),
        "correction_anchor": CORRECTION_ANCHOR,
        **perms,
    }
    if encounter.is_locked and encounter.conclusion == Conclusion.ADMIT and perms["can_admit"]:
        context["inpatient_departments"] = list(
            Department.objects.filter(facility_id=encounter.facility_id, is_active=True)
            .filter(wards__isnull=False)
            .distinct()
            .order_by("name")
        )
    context.update(extra or {})
    return context


@require_GET
@clinic_permission_required(VIEW, VITALS)
def visit(request, encounter_id: int):
    chart = encounter_chart(user=request.user, pk=encounter_id)
    if request.active_membership is not None:
        exam.encounter_mark_reviewed(
            actor=request.user,
            facility=request.active_membership.facility,
            encounter=chart.encounter,
        )
    context = _page_context(request, chart.encounter, data=from_chart(chart))
    return render(request, "clinic/visit.html", context)


def _section_response(request, encounter, section: str, form, *, saved=False, stale=None):
    """The section re-rendered (htmx), or the whole page (a plain form post)."""
    template = SECTION_TEMPLATE[section]
    bound = {template: form} if form is not None else {}
    extra = {"saved_section": template if saved else "", "stale": stale or {}}
    context = _page_context(request, encounter, bound=bound, extra=extra)
    if is_htmx(request):
        context["section_only"] = template
        own = SECTIONS[section][1]
        if not encounter.is_locked:
            context["versions_oob"] = [p for p in VERSIONED_PREFIXES if p != own]
        return render(request, f"clinic/visit/_{template}.html", context)
    return render(request, "clinic/visit.html", context)


@require_POST
@clinic_permission_required(EXAMINE, VITALS, ADDENDUM)
def visit_section(request, encounter_id: int, section: str):
    if section not in SECTIONS:
        raise Http404
    encounter = encounter_get(user=request.user, pk=encounter_id)
    perm = SECTIONS[section][2]
    if not can(request, perm):
        raise PermissionDenied(_("Vai trò của bạn tại cơ sở này không có quyền này."))
    facility = facility_of(request)
    data = visit_data(encounter)
    choices = catalog.visit_choices(facility=encounter.facility, needed=True)
    form = _make_form(section, encounter, data, choices, post=request.POST)
    call = ServiceCall(form)
    if form.is_valid():
        SAVE[section](request, facility, encounter, form, call)
    if call.ok:
        if section == "conclusion":
            url = reverse("clinic:visit", kwargs={"encounter_id": encounter.pk})
            messages.success(request, _("Đã kết thúc lượt khám. Hồ sơ đã được khoá."))
            return hx_redirect(url) if is_htmx(request) else redirect(url)
        encounter.refresh_from_db()
        if not is_htmx(request):
            messages.success(request, _("Đã lưu."))
            url = reverse("clinic:visit", kwargs={"encounter_id": encounter.pk})
            anchor = SECTION_ANCHOR.get(section, f"sec-{SECTION_TEMPLATE[section]}")
            return redirect(f"{url}#{anchor}")
        return _section_response(request, encounter, section, None, saved=True)
    if call.stale:
        # Nothing was written: show the current data, and what was typed so it is not lost.
        encounter.refresh_from_db()
        typed = {
            form.fields[name].label: value
            for name, value in form.cleaned_data.items()
            if name != "version" and value not in (None, "")
        }
        return _section_response(
            request,
            encounter,
            section,
            None,
            stale={"section": SECTION_TEMPLATE[section], "message": STALE_MESSAGE, "typed": typed},
        )
    return _section_response(request, encounter, section, form)


# --- Section savers: each calls one service -----------------------------------------------------


def _save_notes(request, facility, encounter, form, call):
    d = form.cleaned_data
    call(
        exam.encounter_update_notes,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        expected_version=d["version"],
        reason=d["reason"],
        history=d["history"],
        examination_findings=d["examination_findings"],
    )


def _save_vitals(request, facility, encounter, form, call):
    call(
        exam.vitals_record,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        data=exam.VitalsInput(**form.input_data()),
    )


def _save_diagnoses(request, facility, encounter, form, call):
    main_code, secondary = form.codes()
    call(
        exam.diagnosis_set,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        main_code=main_code,
        secondary_codes=secondary,
        phase=DiagnosisPhase.ENCOUNTER,
        expected_version=form.cleaned_data["version"],
    )


def _save_allergy(request, facility, encounter, form, call):
    d = form.cleaned_data
    call(
        exam.allergy_record,
        actor=request.user,
        facility=facility,
        patient=encounter.patient,
        substance=d["substance"].strip(),
        drug_id=d["drug_id"],
        reaction=d["reaction"].strip(),
        severity=d["severity"],
        encounter=encounter,
    )


def _void_allergy(request, facility, encounter, form, call):
    d = form.cleaned_data
    allergy = next((a for a in visit_data(encounter).allergies if a.pk == d["allergy_id"]), None)
    if allergy is None:
        raise Http404
    call(
        exam.allergy_void,
        actor=request.user,
        facility=facility,
        allergy=allergy,
        reason=d["reason"].strip(),
    )


def _save_order(request, facility, encounter, form, call):
    d = form.cleaned_data
    call(
        exam.order_create,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        service_id=d["service_id"],
        quantity=d["quantity"],
        performing_department_id=d["performing_department_id"],
        clinical_note=d["clinical_note"].strip(),
    )


def _cancel_order(request, facility, encounter, form, call):
    wanted = form.cleaned_data["order_id"]
    order = next((o for o in visit_data(encounter).orders if o.pk == wanted), None)
    if order is None:
        raise Http404
    call(
        exam.order_cancel,
        actor=request.user,
        facility=facility,
        order=order,
        reason=form.cleaned_data["reason"].strip(),
    )


def _save_prescription(request, facility, encounter, form, call):
    call(
        exam.prescription_add_item,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        data=exam.PrescriptionItemInput(**form.input_data()),
    )


def _void_prescription_item(request, facility, encounter, form, call):
    wanted = form.cleaned_data["item_id"]
    item = next((i for i in visit_data(encounter).items if i.pk == wanted), None)
    if item is None:
        raise Http404
    call(
        exam.prescription_item_void,
        actor=request.user,
        facility=facility,
        item=item,
        reason=form.cleaned_data["reason"].strip(),
    )


def _save_conclusion(request, facility, encounter, form, call):
    call(
        exam.encounter_conclude,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        expected_version=form.cleaned_data["version"],
        **form.input_data(),
    )


def _save_addendum(request, facility, encounter, form, call):
    call(
        exam.addendum_add,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        text=form.cleaned_data["text"].strip(),
        section=form.cleaned_data["section"],
    )


def _correct_diagnoses(request, facility, encounter, form, call):
    main_code, secondary = form.codes()
    call(
        diagnoses_correct,
        actor=request.user,
        facility=facility,
        encounter=encounter,
        main_code=main_code,
        secondary_codes=secondary,
        reason=form.cleaned_data["reason"],
        version=form.cleaned_data["version"],
    )


SAVE = {
    "notes": _save_notes,
    "vitals": _save_vitals,
    "diagnoses": _save_diagnoses,
    "allergies": _save_allergy,
    "allergy-void": _void_allergy,
    "orders": _save_order,
    "order-cancel": _cancel_order,
    "prescription": _save_prescription,
    "prescription-void": _void_prescription_item,
    "conclusion": _save_conclusion,
    "addenda": _save_addendum,
    "diagnosis_correction": _correct_diagnoses,
}


# --- Small htmx endpoints -----------------------------------------------------------------------


@require_GET
@clinic_permission_required(EXAMINE, "patients.discharge_patient", "patients.admit_patient")
def icd_lookup(request):
    """ICD-10 suggestions for what was typed: a code prefix or part of a name, no diacritics
    needed. Each suggestion fills the main code or adds a secondary one (clinic.js)."""
    query = (request.GET.get("icd_q") or request.GET.get("q") or "").strip()
    single = request.GET.get("picker") in ("adm",)  # pickers with a main code only
    results = icd_search(query=query, on=local_today(), limit=15) if len(query) >= 2 else []
    return render(
        request,
        "clinic/_icd_results.html",
        {"results": results, "query": query, "single": single},
    )


@require_GET
@clinic_permission_required(VIEW, VITALS)
def results_panel(request, encounter_id: int):
    chart = encounter_chart(user=request.user, pk=encounter_id)
    return render(
        request,
        "clinic/visit/_results.html",
        {"encounter": chart.encounter, "data": from_chart(chart), "section_only": "results"},
    )


@require_POST
@clinic_permission_required(EXAMINE)
def await_results(request, encounter_id: int):
    """The doctor waits for results: IN_EXAMINATION <-> AWAITING_RESULTS (the patient leaves the
    room and comes back with the results)."""
    encounter = encounter_get(user=request.user, pk=encounter_id)
    form = _version_form(request.POST)
    call = ServiceCall(form)
    if form.is_valid():
        service = (
            exam.encounter_resume_examination
            if encounter.status == EncounterStatus.AWAITING_RESULTS
            else exam.encounter_await_results
        )
        call(
            service,
            actor=request.user,
            facility=facility_of(request),
            encounter=encounter,
            expected_version=form.cleaned_data["version"],
        )
    if call.ok:
        messages.success(request, _("Đã cập nhật trạng thái lượt khám."))
    else:
        for error in form.non_field_errors() or [_("Không thể đổi trạng thái.")]:
            messages.error(request, error)
    url = reverse("clinic:visit", kwargs={"encounter_id": encounter.pk})
    return hx_redirect(url) if is_htmx(request) else redirect(url)


@require_http_methods(["GET"])
@clinic_permission_required("patients.admit_patient")
def admit_from_visit(request, encounter_id: int):
    """From a visit concluded with 'admit': choose the department, go to its admission form."""
    encounter = encounter_get(user=request.user, pk=encounter_id)
    try:
        department_id = int(request.GET.get("department") or 0)
    except ValueError:
        department_id = 0
    department = Department.objects.filter(
        pk=department_id, facility_id=encounter.facility_id, is_active=True
    ).first()
    if department is None or encounter.facility_id != request.active_membership.facility_id:
        raise Http404
    url = reverse("clinic:admit", kwargs={"department_id": department.pk})
    return redirect(f"{url}?patient={encounter.patient_id}&from_encounter={encounter.pk}")
