"""Reception: check a patient in (queue number) and a room's queue of the day."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from ehealth.core.models import ClinicRoom
from patients.clinical.reception import CheckInInput, encounter_check_in
from patients.clinical.selectors import queue_for_room
from patients.forms_clinical import CheckInForm
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
            messages.success(
                request,
                _("Đã cấp số thứ tự %(number)s — %(room)s.")
                % {"number": ticket.number, "room": room.name if room else ""},
            )
            url = reverse("clinic:queue", kwargs={"room_id": ticket.room_id})
            return redirect(f"{url}?ticket={ticket.number}")
    return render(
        request,
        "clinic/checkin.html",
        {"form": form, "patient": patient, "rooms": rooms},
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
