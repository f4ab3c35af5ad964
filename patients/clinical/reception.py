"""Reception: open an outpatient visit, check the card as typed, issue a queue number.

Rules: the visit is MA_LOAI_KCB 01, ARRIVED, started now (or at an earlier instant of the
same local day given by a partner system). Registered-facility and referral visits
are insurance routes and need a card; a referral also needs its paper number and the sending
facility's code; emergency and self-referred patients may come without a card. A patient found
city-wide gets a record number here first (`patient_enroll`). Queue numbers are per room and
local day (Asia/Ho_Chi_Minh), issued under a lock on the room row so two desks never hand out the
same number (and a unique constraint backs it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record, audit_record_each
from ehealth.core.bulk import bulk_insert
from ehealth.core.models import ClinicRoom, Facility
from patients.choices import IdentifierSystem, PatientStatus
from patients.clinical.card_lookup import insurance_card_lookup
from patients.clinical.common import (
    check_version,
    local_day,
    locked_encounter,
    move,
    require_perm,
)
from patients.clinical_choices import (
    ArrivalMode,
    EncounterKind,
    EncounterStatus,
    QueueStatus,
    VisitType,
)
from patients.guards import has_record_at
from patients.models import Encounter, Patient, PatientIdentifier, QueueTicket
from patients.normalize import clean_text
from patients.services import BatchItemError, patient_enroll

CHECKIN_PERM = "patients.checkin_encounter"
_FACILITY_CODE_RE = re.compile(r"^[0-9A-Z]{5}$")
OUTPATIENT_ARRIVALS = (
    ArrivalMode.REGISTERED,
    ArrivalMode.REFERRAL,
    ArrivalMode.EMERGENCY,
    ArrivalMode.SELF_REFERRED,
    ArrivalMode.FOLLOW_UP,
)
CARD_REQUIRED = (ArrivalMode.REGISTERED, ArrivalMode.REFERRAL)
CLOCK_SKEW = timedelta(minutes=5)  # "now" typed on a slow clock is not "in the future"


@dataclass
class CheckInInput:
    """The reception form."""

    patient_id: int
    room_id: int
    arrival_mode: str
    referral_paper_number: str = ""
    referral_from_code: str = ""
    insurance_card_code: str = ""
    insurance_card_valid_from: date | None = None
    insurance_card_valid_to: date | None = None
    registered_facility_code: str = ""
    reason: str = ""
    # When the patient arrived; None = now. A partner system (FHIR) may give an earlier instant
    # of the same local day (the queue is the day's); never one in the future.
    started_at: datetime | None = None


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _room_at(facility: Facility, room_id) -> ClinicRoom | None:
    try:
        room_id = int(room_id)
    except (TypeError, ValueError):
        return None
    return (
        ClinicRoom.objects.select_related("department")
        .filter(pk=room_id, department__facility=facility, is_active=True)
        .first()
    )


def _room_in(rooms: dict[int, ClinicRoom], room_id) -> ClinicRoom | None:
    try:
        return rooms.get(int(room_id))
    except (TypeError, ValueError):
        return None


def _facility_code(value: str) -> str:
    return clean_text(value).upper()


def _start_errors(started_at, now) -> list[str]:
    """An arrival instant given by the caller: aware, not in the future, today (local)."""
    if not isinstance(started_at, datetime) or timezone.is_naive(started_at):
        return [_("Thời điểm đến không hợp lệ.")]
    if started_at > now + CLOCK_SKEW:
        return [_("Thời điểm đến không được ở tương lai.")]
    if local_day(started_at) != local_day(now):
        return [_("Chỉ tiếp đón lượt khám đến trong ngày hôm nay.")]
    return []


def checkin_validate(
    *, facility: Facility, data: CheckInInput, on: date, patient=None, rooms=None, now=None
):
    """Check the reception form; returns (room, card_check) or raises ValidationError.
    `rooms`: the facility's active rooms by id, when the caller loaded them (a batch)."""
    errors: dict[str, list[str]] = {}
    if data.started_at is not None:
        for message in _start_errors(data.started_at, now or timezone.now()):
            _add(errors, "started_at", message)
    room = _room_at(facility, data.room_id) if rooms is None else _room_in(rooms, data.room_id)
    if room is None:
        _add(errors, "room_id", _("Chọn một phòng khám đang hoạt động của cơ sở."))
    if data.arrival_mode not in OUTPATIENT_ARRIVALS:
        _add(errors, "arrival_mode", _("Chọn hình thức đến khám."))
    referral_code = _facility_code(data.referral_from_code)
    if data.arrival_mode == ArrivalMode.REFERRAL:
        if not clean_text(data.referral_paper_number):
            _add(errors, "referral_paper_number", _("Khám theo giấy chuyển cần số giấy chuyển."))
        if not referral_code:
            _add(errors, "referral_from_code", _("Cần mã cơ sở KCB nơi chuyển đến."))
    if referral_code and not _FACILITY_CODE_RE.match(referral_code):
        _add(errors, "referral_from_code", _("Mã cơ sở KCB gồm đúng 5 ký tự."))
    registered = _facility_code(data.registered_facility_code)
    if registered and not _FACILITY_CODE_RE.match(registered):
        _add(errors, "registered_facility_code", _("Mã cơ sở KCB gồm đúng 5 ký tự."))

    card = None
    if clean_text(data.insurance_card_code):
        card = insurance_card_lookup(
            card_code=data.insurance_card_code,
            patient=patient,
            on=on,
            valid_from=data.insurance_card_valid_from,
            valid_to=data.insurance_card_valid_to,
            registered_facility_code=registered,
        )
        if not card.usable:
            _add(errors, card.field, card.message_vi)
    elif data.arrival_mode in CARD_REQUIRED:
        _add(
            errors,
            "insurance_card_code",
            _("Khám BHYT (đúng tuyến hoặc có giấy chuyển) cần mã thẻ BHYT."),
        )
    if errors:
        raise ValidationError(errors)
    return room, card


def _active_patient(patient_id) -> Patient:
    """The patient (404 when missing, merged or voided)."""
    try:
        patient_id = int(patient_id)
    except (TypeError, ValueError):
        raise Http404 from None
    patient = Patient.objects.filter(
        pk=patient_id, status=PatientStatus.ACTIVE, voided_at__isnull=True
    ).first()
    if patient is None:
        raise Http404
    return patient


def queue_ticket_issue(*, encounter: Encounter, room: ClinicRoom, at) -> QueueTicket:
    """Next number of the room for the local day. The room row is locked (FOR NO KEY UPDATE)
    while the number is taken, so concurrent check-ins to one room are serialised."""
    ClinicRoom.objects.select_for_update(no_key=True).filter(pk=room.pk).values("pk").first()
    day = local_day(at)
    last = QueueTicket.objects.filter(room=room, day=day).aggregate(n=Max("number"))["n"]
    return QueueTicket.objects.create(
        encounter=encounter, room=room, day=day, number=(last or 0) + 1, issued_at=at
    )


def queue_tickets_issue_many(*, encounters: list[Encounter], at) -> list[QueueTicket]:
    """`queue_ticket_issue` for each encounter, in order: the rooms' rows locked in one statement
    (in id order, as every batch takes them, so two batches never wait on each other in a
    circle), each room's last number of the day read once."""
    room_ids = sorted({e.room_id for e in encounters})
    rows = ClinicRoom.objects.select_for_update(no_key=True).filter(pk__in=room_ids)
    list(rows.order_by("pk").values_list("pk", flat=True))
    day = local_day(at)
    last = dict(
        QueueTicket.objects.filter(room_id__in=room_ids, day=day)
        .order_by()
        .values("room_id")
        .annotate(n=Max("number"))
        .values_list("room_id", "n")
    )
    tickets = []
    for encounter in encounters:
        number = last.get(encounter.room_id, 0) + 1
        last[encounter.room_id] = number
        tickets.append(
            QueueTicket(
                encounter=encounter, room_id=encounter.room_id, day=day, number=number, issued_at=at
            )
        )
    bulk_insert(QueueTicket, tickets)
    return tickets


def encounter_check_in(*, actor, facility: Facility, data: CheckInInput) -> Encounter:
    """Open an outpatient visit (ARRIVED) and give the patient the room's next queue number.

    The card is looked up first, outside the transaction: the insurer's portal may be slow, no
    row lock waits on it, and its log row (CardLookup) stays even when the check-in is refused.
    Everything written for the visit is then one transaction.
    """
    require_perm(actor, CHECKIN_PERM, facility.pk)
    now = timezone.now()
    patient = _active_patient(data.patient_id)
    room, card = checkin_validate(facility=facility, data=data, on=local_day(now), patient=patient)
    with transaction.atomic():
        return _check_in_write(
            actor=actor,
            facility=facility,
            data=data,
            patient=patient,
            room=room,
            card=card,
            now=now,
        )


def _new_visit(*, actor, facility, data, patient, room, card, now) -> Encounter:
    """The visit as the reception opens it (not yet saved)."""
    encounter = Encounter(
        patient=patient,
        facility=facility,
        department_id=room.department_id,
        room=room,
        kind=EncounterKind.OUTPATIENT,
        visit_type=VisitType.EXAMINATION,
        status=EncounterStatus.ARRIVED,
        arrival_mode=data.arrival_mode,
        referral_paper_number=clean_text(data.referral_paper_number),
        referral_from_code=_facility_code(data.referral_from_code),
        insurance_card_code=card.card_code if card else "",
        insurance_card_valid_from=card.valid_from if card else None,
        insurance_card_valid_to=card.valid_to if card else None,
        registered_facility_code=card.registered_facility_code
        if card
        else _facility_code(data.registered_facility_code),
        card_check_status=card.status if card else "",
        reason=clean_text(data.reason),
        started_at=min(data.started_at or now, now),
        created_by=actor,
    )
    if ClinicRoom.department.is_cached(room):
        encounter.department = room.department
    return encounter


def _check_in_detail(facility: Facility, encounter: Encounter, ticket: QueueTicket) -> dict:
    return {
        "facility_id": facility.pk,
        "room_id": encounter.room_id,
        "queue_number": ticket.number,
        "arrival_mode": encounter.arrival_mode,
        "card_check_status": encounter.card_check_status,
        "version": encounter.version,
    }


def _check_in_write(*, actor, facility, data, patient, room, card, now) -> Encounter:
    if not has_record_at(patient, facility):  # found city-wide: a record number here first
        patient_enroll(actor=actor, facility=facility, patient=patient)
    encounter = _new_visit(
        actor=actor, facility=facility, data=data, patient=patient, room=room, card=card, now=now
    )
    encounter.save(force_insert=True)
    ticket = queue_ticket_issue(encounter=encounter, room=room, at=now)
    audit_record(
        actor=actor,
        action="encounter.check_in",
        target=encounter,
        patient_id=patient.pk,
        detail=_check_in_detail(facility, encounter, ticket),
    )
    return encounter


def _as_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_ins_number(actor, facility: Facility, encounters: list[Encounter], at) -> None:
    """The queue numbers of a batch of visits, and their check-in audit entries."""
    tickets = queue_tickets_issue_many(encounters=encounters, at=at)
    audit_record_each(
        actor=actor,
        action="encounter.check_in",
        entries=[
            (e, e.patient_id, _check_in_detail(facility, e, t))
            for e, t in zip(encounters, tickets, strict=True)
        ],
    )


def encounter_check_in_many(
    *,
    actor,
    facility: Facility,
    datas: list[CheckInInput],
    defer=None,
    patients: dict[int, Patient] | None = None,
    rooms: dict[int, ClinicRoom] | None = None,
) -> list:
    """`encounter_check_in` for each item, all or nothing, in a constant number of statements (the
    visits of a partner's transaction): the same permission, validation and card check, record
    numbers for patients found city-wide, queue numbers (each room's rows locked once, in id
    order, numbers given in item order) and audit entries.

    The first item (in order) that `encounter_check_in` would refuse is raised as BatchItemError
    with the error it would have raised (Http404 for a patient missing, merged or voided).
    `defer` (a list's `append`, from a caller whose transaction goes on after the batch): the
    queue numbers and their audit entries are work handed to it, run at the end of the caller's
    transaction, so the rooms' rows are locked only from there to the commit.
    `patients` (active, not voided) and `rooms` (the unit's active rooms), by id: when the caller
    loaded them, they are not read again; an id missing from them is as unknown.
    """
    if not datas:
        return []
    require_perm(actor, CHECKIN_PERM, facility.pk)
    now = timezone.now()
    if patients is None:
        wanted = {_as_id(d.patient_id) for d in datas} - {None}
        patients = Patient.objects.filter(
            pk__in=wanted, status=PatientStatus.ACTIVE, voided_at__isnull=True
        ).in_bulk()
    if rooms is None:
        rooms = (
            ClinicRoom.objects.select_related("department")
            .filter(pk__in={_as_id(d.room_id) for d in datas} - {None})
            .filter(department__facility=facility, is_active=True)
            .in_bulk()
        )
    checked = []
    for i, data in enumerate(datas):
        try:
            patient = patients.get(_as_id(data.patient_id))
            if patient is None:
                raise Http404
            room, card = checkin_validate(
                facility=facility,
                data=data,
                on=local_day(now),
                patient=patient,
                rooms=rooms,
                now=now,
            )
        except Exception as exc:
            raise BatchItemError(i, exc) from None
        checked.append((data, patient, room, card))
    with transaction.atomic():
        enrolled = set(
            PatientIdentifier.objects.filter(
                patient_id__in=patients,
                system=IdentifierSystem.MRN,
                facility=facility,
                voided_at__isnull=True,
            ).values_list("patient_id", flat=True)
        )
        for _data, patient, _room, _card in checked:  # found city-wide: a record number first
            if patient.pk not in enrolled:
                patient_enroll(actor=actor, facility=facility, patient=patient)
                enrolled.add(patient.pk)
        encounters = [
            _new_visit(actor=actor, facility=facility, data=d, patient=p, room=r, card=c, now=now)
            for d, p, r, c in checked
        ]
        bulk_insert(Encounter, encounters)
        numbering = partial(_check_ins_number, actor, facility, encounters, now)
        if defer is None:
            numbering()
        else:
            defer(numbering)
    return encounters


@transaction.atomic
def encounter_cancel(
    *, actor, facility: Facility, encounter: Encounter, expected_version: int, reason: str
) -> Encounter:
    """A patient who leaves before being examined: ARRIVED -> CANCELLED, the ticket marked LEFT."""
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=CHECKIN_PERM
    )
    check_version(encounter, expected_version)
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do huỷ lượt khám.")]})
    move(encounter, EncounterStatus.CANCELLED)
    encounter.void_reason = clean_text(reason)[:500]
    encounter.closed_by = actor
    encounter.version += 1
    encounter.save(update_fields=["status", "void_reason", "closed_by", "version", "updated_at"])
    QueueTicket.objects.filter(encounter=encounter).update(status=QueueStatus.LEFT)
    audit_record(
        actor=actor,
        action="encounter.cancel",
        target=encounter,
        patient_id=encounter.patient_id,
        detail={"facility_id": facility.pk, "fields": ["status"], "version": encounter.version},
    )
    return encounter
