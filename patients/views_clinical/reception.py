"""Reception: check a patient in (queue number), check the BHYT card first, a room's queue."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehealth.core.models import ClinicRoom
from patients.clinical.card_check import CardCheckInput, card_check_at_reception
from patients.clinical.card_lookup import UNCHECKED, VALID
from patients.clinical.reception import CheckInInput, encounter_check_in
from patients.clinical.selectors import queue_for_room
from patients.forms_clinical import CardCheckForm, CheckInForm
from patients.selectors import patient_get
from patients.views_clinical.base import (
    ServiceCall,
    clinic_permission_required,
    facility_of,
    is_htmx,
)

CHECKIN = "patients.checkin_encounter"
VIEW_ENCOUNTER = "patients.view_encounter"


def facility_rooms(facility):
    """The facility's open clinic rooms (a short list: one query)."""
    return list(
        ClinicRoom.objects.filter(department__facility=facility, is_active=True)
        .select_related("department")
        .order_by("department__name", "code")
    )


@require_http_methods(["GET", "POST"])
@clinic_permission_required(CHECKIN)
def checkin(request, patient_id: int):
    patient = patient_get(user=request.user, pk=patient_id)
    facility = facility_of(request)
    rooms = facility_rooms(facility)
    form = CheckInForm(request.POST or None, rooms=rooms)
    if request.method == "POST" and form.is_valid():
        call = ServiceCall(form)
        encounter = call(
            encounter_check_in,
            actor=request.user,
            facility=facility,
            data=CheckInInput(patient_id=patient.pk, **form.input_data()),
        )
        if call.ok:
            ticket = encounter.queue_ticket
            room = next((r for r in rooms if r.pk == ticket.room_id), None)
            _checked_in_messages(request, encounter, room)
            url = reverse("clinic:queue", kwargs={"room_id": ticket.room_id})
            return redirect(f"{url}?ticket={ticket.number}")
    return render(
        request,
        "clinic/checkin.html",
        {"form": form, "patient": patient, "rooms": rooms},
    )


def _dmy(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _checked_in_messages(request, encounter, room) -> None:
    """The ticket issued, and what became of the card: confirmed (with its validity) in the same
    message; not confirmed by the portal as a separate warning, since the card must be re-checked."""
    ticket = encounter.queue_ticket
    text = _("Đã cấp số thứ tự %(number)s — %(room)s.") % {
        "number": ticket.number,
        "room": room.name if room else "",
    }
    status = encounter.card_check_status
    if status == VALID:
        if encounter.insurance_card_valid_to:
            validity = _("có giá trị từ %(start)s đến %(end)s") % {
                "start": _dmy(encounter.insurance_card_valid_from),
                "end": _dmy(encounter.insurance_card_valid_to),
            }
        else:
            validity = _("có giá trị từ %(start)s") % {
                "start": _dmy(encounter.insurance_card_valid_from)
            }
        text = " ".join(
            (
                text,
                _("Thẻ BHYT đã được cổng giám định xác nhận, %(validity)s.")
                % {"validity": validity},
            )
        )
    messages.success(request, text)
    if status == UNCHECKED:
        messages.warning(request, _("Chưa xác nhận được thẻ qua cổng giám định: cần kiểm tra lại."))


def _card_panel(*, form: CardCheckForm, check, facility) -> dict:
    """What the result panel shows: the form's errors, or the check and what goes with it."""
    typed_dates_differ = False
    if check is not None and check.status == VALID and form.is_valid():
        typed_from = form.cleaned_data["insurance_card_valid_from"]
        typed_to = form.cleaned_data["insurance_card_valid_to"]
        typed_dates_differ = bool(
            (typed_from and typed_from != check.valid_from)
            or (typed_to and typed_to != check.valid_to)
        )
    return {
        "card_form": form,
        "card_check": check,
        "card_checked_at": timezone.now(),
        "card_typed_dates_differ": typed_dates_differ,
        "card_at_this_facility": bool(
            check is not None
            and check.registered_facility_code
            and check.registered_facility_code == facility.code
        ),
    }


@require_POST
@clinic_permission_required(CHECKIN)
def checkin_card_check(request, patient_id: int):
    """The "check card" button: look the typed card up for this patient and show the result; no
    visit is opened. HTMX gets the panel; a plain POST the check-in page with the form kept."""
    patient = patient_get(user=request.user, pk=patient_id)
    facility = facility_of(request)
    form = CardCheckForm(request.POST)
    check = None
    if form.is_valid():
        check = ServiceCall(form)(
            card_check_at_reception,
            actor=request.user,
            facility=facility,
            patient=patient,
            data=CardCheckInput(**form.input_data()),
        )
    panel = _card_panel(form=form, check=check, facility=facility)
    if is_htmx(request):
        return render(request, "clinic/_card_check_panel.html", panel)
    rooms = facility_rooms(facility)
    kept = CheckInForm(initial=request.POST.dict(), rooms=rooms)
    return render(
        request,
        "clinic/checkin.html",
        {"form": kept, "patient": patient, "rooms": rooms, **panel},
    )


@require_GET
@clinic_permission_required(CHECKIN, VIEW_ENCOUNTER)
def queue(request, room_id: int):
    facility = facility_of(request)
    rooms = facility_rooms(facility)
    room = next((r for r in rooms if r.pk == room_id), None)
    if room is None:
        raise Http404
    entries = queue_for_room(user=request.user, room_id=room.pk)
    try:
        highlight = int(request.GET.get("ticket", ""))
    except ValueError:
        highlight = None
    context = {
        "room": room,
        "rooms": rooms,
        "entries": entries,
        "highlight": highlight,
    }
    if is_htmx(request):
        return render(request, "clinic/_queue_rows.html", context)
    return render(request, "clinic/queue.html", context)


@require_GET
@clinic_permission_required(CHECKIN, VIEW_ENCOUNTER)
def queue_index(request):
    """The rooms of the facility, each linking to its queue."""
    rooms = facility_rooms(facility_of(request))
    if len(rooms) == 1:
        return redirect("clinic:queue", room_id=rooms[0].pk)
    return render(request, "clinic/queue_index.html", {"rooms": rooms})
