"""Registry pages: search, registration, the patient summary, edit, share, merge.

Thin: parse the form, call a selector or one service, render. Permissions are asked at the
facility the member of staff works at now (`request.active_membership`); records that exist but
are not visible answer 404 exactly like missing ones (the selectors see to that).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehealth.core.exceptions import ConcurrentEditError, DomainError, DuplicateIdentifierError
from ehealth.core.models import AdminUnit
from ehealth.core.permissions import has_perm_at
from patients.choices import IdentifierSystem, PatientStatus
from patients.ethnicities import ethnicity_name
from patients.forms import (
    MergeForm,
    PatientEditForm,
    PatientForm,
    PatientSearchForm,
    ReasonForm,
)
from patients.forms import ShareForm as PatientShareForm
from patients.models import Patient, PatientIdentifier, PatientMerge
from patients.selectors import (
    patient_get,
    patient_search,
    patient_summary,
    patient_visible_qs,
)
from patients.services import (
    PatientInput,
    SimilarPatientsFound,
    patient_enroll,
    patient_merge,
    patient_merge_reverse,
    patient_register,
    patient_share_with_facility,
    patient_update,
)

SEARCH_LIMIT = 50
ENROLL_SALT = "patients.enroll"
ENROLL_TOKEN_MAX_AGE = 60 * 60  # an offer to enrol is good for an hour


# --- The permission gate of every page ----------------------------------------------------------


def facility_permission_required(perm: str):
    """Signed in, working at a facility, and holding `perm` there; otherwise 403 with a reason."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = getattr(request, "active_membership", None)
            if membership is None:
                raise PermissionDenied(_("Tài khoản chưa được phân công tại cơ sở y tế nào."))
            if not has_perm_at(request.user, perm, membership.facility_id):
                raise PermissionDenied(_("Vai trò của bạn tại cơ sở này không có quyền này."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _facility(request):
    return request.active_membership.facility


def _can(request, perm: str) -> bool:
    return has_perm_at(request.user, perm, request.active_membership.facility_id)


def _require_record_here(request, patient: Patient) -> None:
    """Changes are made where the patient has a record number, not through a share."""
    here = PatientIdentifier.objects.filter(
        patient=patient,
        system=IdentifierSystem.MRN,
        facility_id=request.active_membership.facility_id,
        voided_at__isnull=True,
    ).exists()
    if not here:
        raise PermissionDenied(_("Người bệnh chưa có hồ sơ tại cơ sở này."))


# --- Display helpers ----------------------------------------------------------------------------


def mask_identifier(system: str, value: str) -> str:
    """Show only what a receptionist needs to tell two people apart (last four characters; the
    beneficiary group and benefit digit of a card)."""
    if not value:
        return ""
    if system == IdentifierSystem.MRN:
        return value
    keep_head = 3 if system == IdentifierSystem.BHYT else 0
    keep_tail = 4
    hidden = max(len(value) - keep_head - keep_tail, 0)
    return value[:keep_head] + "•" * hidden + value[len(value) - keep_tail :]


@dataclass(frozen=True)
class SearchRow:
    patient: Patient
    identifiers: list[tuple[str, str]]  # (label, masked value)
    record_number: str


def _live_identifiers():
    return Prefetch(
        "identifiers",
        queryset=PatientIdentifier.objects.filter(voided_at__isnull=True).order_by("system", "id"),
        to_attr="live_identifiers",
    )


def _search_rows(patients: list[Patient], facility_id: int) -> list[SearchRow]:
    # One query for every result's identifiers, however many results there are.
    prefetch_related_objects(patients, _live_identifiers())
    rows = []
    for p in patients:
        record_number = ""
        shown = []
        for ident in p.live_identifiers:
            if ident.system == IdentifierSystem.MRN:
                if ident.facility_id == facility_id:
                    record_number = ident.value
                continue
            shown.append((ident.get_system_display(), mask_identifier(ident.system, ident.value)))
        rows.append(SearchRow(patient=p, identifiers=shown, record_number=record_number))
    return rows


def _enroll_token(request, patient_id: int) -> str:
    """An offer to enrol this patient, signed for this user: the enrol page acts only on patients
    the registry itself pointed the user to (never on an id typed into a request)."""
    return signing.dumps({"p": patient_id, "u": request.user.pk}, salt=ENROLL_SALT)


# --- Search -------------------------------------------------------------------------------------


@require_GET
@facility_permission_required("patients.search_patient")
def search(request):
    form = PatientSearchForm(request.GET or None)
    query = ""
    rows: list[SearchRow] = []
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if query:
            found = patient_search(user=request.user, query=query, limit=SEARCH_LIMIT)
            rows = _search_rows(list(found), request.active_membership.facility_id)
    context = {
        "form": form,
        "query": query,
        "rows": rows,
        "limit": SEARCH_LIMIT,
        "can_register": _can(request, "patients.add_patient"),
    }
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        return render(request, "patients/_search_results.html", context)
    return render(request, "patients/search.html", context)


# --- Registration -------------------------------------------------------------------------------


def _duplicate_context(request, error: DuplicateIdentifierError) -> dict | None:
    if error.existing_patient_id is None:
        return None
    visible = patient_visible_qs(user=request.user).filter(pk=error.existing_patient_id).exists()
    return {
        "field": error.field,
        "patient_id": error.existing_patient_id,
        "visible": visible,
        "token": _enroll_token(request, error.existing_patient_id),
    }


def _candidate_rows(request, candidates) -> list[dict]:
    return [
        {
            "patient": c.patient,
            "score": c.score,
            "reasons": c.reasons,
            "token": _enroll_token(request, c.patient.pk),
        }
        for c in candidates
    ]


@require_http_methods(["GET", "POST"])
@facility_permission_required("patients.add_patient")
def register(request):
    duplicate = None
    candidates: list[dict] = []
    if request.method == "POST":
        form = PatientForm(request.POST)
        if form.is_valid():
            allow_similar = request.POST.get("allow_similar") == "1"
            try:
                patient = patient_register(
                    actor=request.user,
                    facility=_facility(request),
                    data=PatientInput(**form.input_data()),
                    allow_similar=allow_similar,
                )
            except ValidationError as e:
                form.add_service_errors(e)
            except DuplicateIdentifierError as e:
                form.add_error(e.field if e.field in form.fields else None, e.message)
                duplicate = _duplicate_context(request, e)
            except SimilarPatientsFound as e:
                candidates = _candidate_rows(request, e.candidates)
            except DomainError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, _("Đã đăng ký người bệnh mới."))
                return redirect("patients:detail", pk=patient.pk)
    else:
        # Most patients live in the facility's province: its communes are listed from the start.
        initial = {"province_code": _facility(request).province_id, **_initial_from_query(request)}
        form = PatientForm(initial=initial)
    return render(
        request,
        "patients/register.html",
        {"form": form, "duplicate": duplicate, "candidates": candidates},
    )


def _initial_from_query(request) -> dict:
    """Carry what the receptionist typed into the search box over to the new form."""
    q = (request.GET.get("q") or "").strip()
    if not q:
        return {}
    if q.isdigit() and len(q) == 12:
        return {"cccd": q}
    if any(ch.isdigit() for ch in q):
        return {}
    return {"full_name": q}


@require_POST
@facility_permission_required("patients.add_patient")
def enroll(request):
    """Open a chart at this facility for a patient the registry found (duplicate or candidate)."""
    try:
        payload = signing.loads(
            request.POST.get("token", ""), salt=ENROLL_SALT, max_age=ENROLL_TOKEN_MAX_AGE
        )
    except signing.BadSignature as e:
        raise Http404 from e
    if payload.get("u") != request.user.pk:
        raise Http404
    # Loaded unscoped on purpose: the signed token proves the registry offered this patient to
    # this user moments ago (the patient is often not yet visible here: that is the point).
    patient = Patient.objects.filter(pk=payload.get("p"), status=PatientStatus.ACTIVE).first()
    if patient is None:
        raise Http404
    try:
        patient_enroll(actor=request.user, facility=_facility(request), patient=patient)
    except DomainError as e:
        messages.error(request, str(e))
        return redirect("patients:search")
    messages.success(request, _("Đã đăng ký khám người bệnh tại cơ sở này."))
    return redirect("patients:detail", pk=patient.pk)


@require_GET
@login_required
def communes(request):
    """The <option>s of the communes of a province (the address select, through htmx)."""
    code = (request.GET.get("province_code") or "").strip()
    units = AdminUnit.objects.filter(province_id=code).only("code", "name") if code else []
    return render(request, "patients/_commune_options.html", {"units": units})


# --- Summary ------------------------------------------------------------------------------------


@require_GET
@facility_permission_required("patients.view_patient")
def detail(request, pk: int):
    summary = patient_summary(user=request.user, pk=pk)
    facility_id = request.active_membership.facility_id
    # Changes are made where the patient has a record number, not through a share.
    record_here = any(r.facility_id == facility_id for r in summary.record_numbers)
    return render(
        request,
        "patients/detail.html",
        {
            "s": summary,
            "patient": summary.patient,
            "record_here": record_here,
            "can_change": record_here and _can(request, "patients.change_patient"),
            "can_share": record_here and _can(request, "patients.share_patient"),
            "can_merge": _can(request, "patients.merge_patient"),
            "can_enroll": not record_here and _can(request, "patients.add_patient"),
            "enroll_token": _enroll_token(request, summary.patient.pk),
            "ethnicity": ethnicity_name(summary.patient.ethnicity_code)
            if summary.patient.ethnicity_code
            else "",
        },
    )


# --- Edit (optimistic lock) ---------------------------------------------------------------------


def _initial_from_patient(patient: Patient) -> dict:
    initial = dataclasses.asdict(PatientInput.from_patient(patient))
    initial["version"] = patient.version
    return initial


@require_http_methods(["GET", "POST"])
@facility_permission_required("patients.change_patient")
def edit(request, pk: int):
    patient = patient_get(user=request.user, pk=pk)
    _require_record_here(request, patient)
    stale = False
    if request.method == "POST":
        form = PatientEditForm(request.POST)
        if form.is_valid():
            try:
                patient_update(
                    actor=request.user,
                    facility=_facility(request),
                    patient=patient,
                    data=PatientInput(**form.input_data()),
                    expected_version=form.cleaned_data["version"],
                )
            except ConcurrentEditError:
                stale = True
                form.add_error(
                    None,
                    _(
                        "Hồ sơ này vừa được người khác sửa sau khi bạn mở trang. Thay đổi của bạn "
                        "chưa được lưu. Hãy mở lại hồ sơ để xem bản mới nhất rồi sửa lại."
                    ),
                )
            except ValidationError as e:
                form.add_service_errors(e)
            except DuplicateIdentifierError as e:
                form.add_error(e.field if e.field in form.fields else None, e.message)
            except DomainError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, _("Đã lưu thay đổi hồ sơ người bệnh."))
                return redirect("patients:detail", pk=patient.pk)
    else:
        form = PatientEditForm(initial=_initial_from_patient(patient))
    return render(
        request,
        "patients/edit.html",
        {"form": form, "patient": patient, "stale": stale},
        status=409 if stale else 200,
    )


# --- Share --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@facility_permission_required("patients.share_patient")
def share(request, pk: int):
    patient = patient_get(user=request.user, pk=pk)
    _require_record_here(request, patient)
    facility = _facility(request)
    form = PatientShareForm(request.POST or None, exclude_facility_id=facility.pk)
    if request.method == "POST" and form.is_valid():
        try:
            patient_share_with_facility(
                actor=request.user,
                facility=facility,
                patient=patient,
                target_facility=form.cleaned_data["target_facility"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as e:
            _add_errors(form, e)
        except DomainError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, _("Đã chia sẻ hồ sơ với cơ sở được chọn."))
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/share.html",
        {"form": form, "patient": patient},
    )


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for e in errors:
                form.add_error(field if field in form.fields else None, e)
    else:
        for e in error.error_list:
            form.add_error(None, e)


# --- Merge and its reversal ---------------------------------------------------------------------


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


@require_http_methods(["GET", "POST"])
@facility_permission_required("patients.merge_patient")
def merge(request):
    form = MergeForm(request.POST or None)
    pair = None
    if request.method == "POST" and form.is_valid():
        survivor = _patient_by_record_number(request, form.cleaned_data["survivor_mrn"])
        merged = _patient_by_record_number(request, form.cleaned_data["merged_mrn"])
        if survivor is None:
            form.add_error("survivor_mrn", _("Không tìm thấy người bệnh có mã này tại cơ sở."))
        if merged is None:
            form.add_error("merged_mrn", _("Không tìm thấy người bệnh có mã này tại cơ sở."))
        if survivor is not None and merged is not None:
            if survivor.pk == merged.pk:
                form.add_error("merged_mrn", _("Hai mã này là của cùng một hồ sơ."))
            elif request.POST.get("confirm") != "1":
                pair = (survivor, merged)  # show both records side by side before merging
            else:
                try:
                    patient_merge(
                        actor=request.user,
                        facility=_facility(request),
                        survivor=survivor,
                        merged=merged,
                        reason=form.cleaned_data["reason"],
                    )
                except ValidationError as e:
                    _add_errors(form, e)
                except DomainError as e:
                    form.add_error(None, str(e))
                else:
                    messages.success(
                        request, _("Đã gộp hai hồ sơ. Có thể hoàn tác trong lịch sử gộp.")
                    )
                    return redirect("patients:detail", pk=survivor.pk)
    if pair is not None:
        prefetch_related_objects(list(pair), _live_identifiers())
    return render(
        request,
        "patients/merge.html",
        {"form": form, "pair": pair},
    )


@require_POST
@facility_permission_required("patients.merge_patient")
def merge_reverse(request, merge_id: int):
    visible = patient_visible_qs(user=request.user)
    record = PatientMerge.objects.filter(
        pk=merge_id, reversed_at__isnull=True, survivor__in=visible
    ).first()
    if record is None:
        raise Http404
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Cần ghi lý do hoàn tác gộp hồ sơ."))
        return redirect("patients:detail", pk=record.survivor_id)
    try:
        patient_merge_reverse(
            actor=request.user,
            facility=_facility(request),
            merge=record,
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("patients:detail", pk=record.survivor_id)
    except DomainError as e:
        messages.error(request, str(e))
        return redirect("patients:detail", pk=record.survivor_id)
    messages.success(request, _("Đã hoàn tác việc gộp hồ sơ: hai hồ sơ lại tách riêng."))
    return redirect(reverse("patients:detail", kwargs={"pk": record.merged_id}))
