"""Reads of the clinical record: visibility, one visit, the room queue, the doctor's worklist,
the patient's record across the city, ICD-10 search. Reads of patient data are audited.

Visibility of an encounter: the patient is visible to the user (registry rule) AND either the
encounter's facility is one where the user holds `view_encounter`, or the patient was shared
explicitly with the user or their facility (referral, transfer) and the user holds
`view_encounter` somewhere. Anything else is 404, like a missing record. Lists run a fixed number
of queries whatever the number of encounters (prefetching, limits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from ehealth.core import permissions
from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.catalogs import icd_in_force
from ehealth.core.models import ClinicRoom, Facility, IcdCode, StaffMembership
from patients.clinical.common import local_today
from patients.clinical_choices import EncounterStatus, OrderStatus, PrescriptionStatus, ResultFlag
from patients.models import (
    Addendum,
    Allergy,
    Diagnosis,
    Encounter,
    Patient,
    PatientGroupObjectPermission,
    PatientUserObjectPermission,
    Prescription,
    PrescriptionItem,
    QueueTicket,
    ResultValue,
    ServiceOrder,
)
from patients.selectors import _scope, patient_get, patient_visible_qs

VIEW_ENCOUNTER = "patients.view_encounter"
CHECKIN = "patients.checkin_encounter"
RECORD_ENCOUNTER_LIMIT = 200
RECORD_LIST_LIMIT = 20


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def encounter_visible_qs(*, user) -> QuerySet[Encounter]:
    """Encounters the user may read (see the module docstring)."""
    base = Encounter.objects.filter(voided_at__isnull=True)
    facility_ids = permissions.facility_ids_with_perm(user, VIEW_ENCOUNTER)
    if not facility_ids:
        return base.none()
    scope = _scope(user)
    shared = Exists(
        PatientUserObjectPermission.objects.filter(
            content_object_id=OuterRef("patient_id"),
            user_id=user.pk,
            permission_id=scope.view_permission_id,
        )
    )
    if scope.group_ids:
        shared |= Exists(
            PatientGroupObjectPermission.objects.filter(
                content_object_id=OuterRef("patient_id"),
                group_id__in=scope.group_ids,
                permission_id=scope.view_permission_id,
            )
        )
    return base.filter(patient__in=patient_visible_qs(user=user).values("pk")).filter(
        Q(facility_id__in=facility_ids) | shared
    )


def encounter_get(*, user, pk, for_update: bool = False) -> Encounter:
    """One visible encounter or Http404; the read is audited ('encounter.view')."""
    qs = encounter_visible_qs(user=user).select_related(
        "patient", "facility", "department", "room", "attending"
    )
    if for_update:
        qs = qs.select_for_update(of=("self",))
    encounter = qs.filter(pk=_int(pk)).first()
    if encounter is None:
        raise Http404
    audit_record(
        actor=user, action="encounter.view", target=encounter, patient_id=encounter.patient_id
    )
    return encounter


@dataclass
class EncounterChart:
    """Everything the visit page shows, loaded in a fixed number of queries."""

    encounter: Encounter
    vitals: list
    diagnoses: list[Diagnosis]
    orders: list[ServiceOrder]
    prescriptions: list[Prescription]
    addenda: list[Addendum]
    allergies: list[Allergy]

    @property
    def main_diagnosis(self) -> Diagnosis | None:
        return next((d for d in self.diagnoses if d.rank == 0 and d.phase == "encounter"), None)


def encounter_chart(*, user, pk) -> EncounterChart:
    """The visit with its vitals, active diagnoses, orders and results, prescriptions, addenda
    and the patient's active allergies (audited once, as 'encounter.view')."""
    encounter = encounter_get(user=user, pk=pk)
    orders = list(
        ServiceOrder.objects.filter(encounter=encounter)
        .select_related("service", "performing_department", "ordered_by")
        .prefetch_related("values")
        .order_by("ordered_at", "id")
    )
    prescriptions = list(
        Prescription.objects.filter(encounter=encounter)
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PrescriptionItem.objects.filter(voided_at__isnull=True).select_related(
                    "drug"
                ),
            )
        )
        .order_by("prescribed_at", "id")
    )
    return EncounterChart(
        encounter=encounter,
        vitals=list(encounter.vitals.filter(voided_at__isnull=True).order_by("recorded_at")),
        diagnoses=list(
            encounter.diagnoses.filter(voided_at__isnull=True).order_by("phase", "rank")
        ),
        orders=orders,
        prescriptions=prescriptions,
        addenda=list(encounter.addenda.select_related("author").order_by("created_at")),
        allergies=list(
            Allergy.objects.filter(patient_id=encounter.patient_id, voided_at__isnull=True)
        ),
    )


# --- Queue and worklist ----------------------------------------------------------------------


@dataclass
class QueueEntry:
    """One line of a room's queue; `waiting_minutes` from issue until called (or now)."""

    ticket_id: int
    number: int
    status: str
    issued_at: object
    called_at: object
    waiting_minutes: int
    encounter_id: int
    encounter_status: str
    encounter_version: int
    patient_id: int
    patient_name: str
    patient_birth_year: int | None
    patient_sex: str
    # The BHYT card of the visit as reception left it (room queue only): 'valid' (confirmed by
    # the portal), 'unchecked' (to re-check), '' with no card.
    card_check_status: str = ""
    has_insurance_card: bool = False


def _waiting_minutes(ticket: QueueTicket, now) -> int:
    end = ticket.called_at or now
    return max(0, int((end - ticket.issued_at).total_seconds() // 60))


def _entry(ticket: QueueTicket, now) -> dict:
    e, p = ticket.encounter, ticket.encounter.patient
    return {
        "ticket_id": ticket.pk,
        "number": ticket.number,
        "status": ticket.status,
        "issued_at": ticket.issued_at,
        "called_at": ticket.called_at,
        "waiting_minutes": _waiting_minutes(ticket, now),
        "encounter_id": e.pk,
        "encounter_status": e.status,
        "encounter_version": e.version,
        "patient_id": p.pk,
        "patient_name": p.full_name,
        "patient_birth_year": p.birth_year,
        "patient_sex": p.sex,
    }


def _tickets(room_ids, day: date) -> QuerySet[QueueTicket]:
    return (
        QueueTicket.objects.filter(room_id__in=room_ids, day=day)
        .select_related("encounter__patient", "room")
        .order_by("room_id", "number")
    )


def queue_for_room(*, user, room_id, day: date | None = None) -> list[QueueEntry]:
    """A day's queue of a room, in number order, with waiting time (reception or clinical staff
    of the room's facility; else 404). Each patient shown is audited."""
    room = ClinicRoom.objects.select_related("department").filter(pk=_int(room_id)).first()
    if room is None or not (
        permissions.has_perm_at(user, CHECKIN, room.department.facility_id)
        or permissions.has_perm_at(user, VIEW_ENCOUNTER, room.department.facility_id)
    ):
        raise Http404
    now = timezone.now()
    entries = [
        QueueEntry(
            **_entry(t, now),
            card_check_status=t.encounter.card_check_status,
            has_insurance_card=bool(t.encounter.insurance_card_code),
        )
        for t in _tickets([room.pk], day or local_today())
    ]
    if entries:
        audit_record_many(
            actor=user,
            action="queue.view",
            patient_ids=[e.patient_id for e in entries],
            detail={"room_id": room.pk},
        )
    return entries


@dataclass
class WorklistEntry(QueueEntry):
    """A queue line for the doctor, with the state of the visit's orders."""

    room_id: int = 0
    room_name: str = ""
    pending_orders: int = 0
    resulted_orders: int = 0
    new_results: int = 0
    abnormal_results: int = 0

    @property
    def awaiting_results(self) -> bool:
        return self.encounter_status == EncounterStatus.AWAITING_RESULTS

    @property
    def results_waiting(self) -> bool:
        """Results came in after the examining doctor last had the visit open."""
        return self.new_results > 0


def _doctor_room_ids(user, facility: Facility, room_id) -> list[int]:
    rooms = ClinicRoom.objects.filter(department__facility=facility, is_active=True)
    if room_id not in (None, ""):
        ids = list(rooms.filter(pk=_int(room_id)).values_list("pk", flat=True))
        if not ids:
            raise Http404
        return ids
    departments = StaffMembership.objects.filter(
        user=user, facility=facility, is_active=True, department__isnull=False
    ).values("department_id")
    own = list(rooms.filter(department_id__in=departments).values_list("pk", flat=True))
    return own or list(rooms.values_list("pk", flat=True))


def doctor_worklist(
    *, user, facility: Facility, room_id=None, day: date | None = None
) -> list[WorklistEntry]:
    """Today's queue of the doctor's room(s) (the room given, else the rooms of the doctor's
    department, else every room of the facility), with orders pending and results waiting.
    'New results' are orders resulted after the examining doctor last had the visit open
    (`Encounter.last_reviewed_at`). Fixed query count."""
    if not permissions.has_perm_at(user, VIEW_ENCOUNTER, facility.pk):
        raise Http404
    room_ids = _doctor_room_ids(user, facility, room_id)
    orders = "encounter__orders"
    resulted = Q(**{f"{orders}__status": OrderStatus.RESULTED})
    tickets = _tickets(room_ids, day or local_today()).annotate(
        pending=Count(
            orders,
            filter=Q(**{f"{orders}__status__in": (OrderStatus.ORDERED, OrderStatus.IN_PROGRESS)}),
            distinct=True,
        ),
        resulted=Count(orders, filter=resulted, distinct=True),
        new=Count(
            orders,
            filter=resulted
            & Q(
                **{
                    f"{orders}__resulted_at__gt": Coalesce(
                        F("encounter__last_reviewed_at"), F("encounter__started_at")
                    )
                }
            ),
            distinct=True,
        ),
        abnormal=Count(
            orders,
            filter=resulted
            & Q(**{f"{orders}__values__flag__in": (ResultFlag.LOW, ResultFlag.HIGH)}),
            distinct=True,
        ),
    )
    now = timezone.now()
    entries = [
        WorklistEntry(
            **_entry(t, now),
            room_id=t.room_id,
            room_name=t.room.name,
            pending_orders=t.pending,
            resulted_orders=t.resulted,
            new_results=t.new,
            abnormal_results=t.abnormal,
        )
        for t in tickets
    ]
    if entries:
        audit_record_many(
            actor=user,
            action="worklist.view",
            patient_ids=[e.patient_id for e in entries],
            detail={"facility_id": facility.pk, "room_ids": room_ids},
        )
    return entries


# --- The patient's record across the city ----------------------------------------------------


@dataclass
class PatientRecord:
    """A patient's chart across the facilities the viewer may see, newest encounter first."""

    patient: Patient
    encounters: list[Encounter]
    allergies: list[Allergy]
    active_prescriptions: list[Prescription]
    latest_results: list[ServiceOrder]
    has_more_encounters: bool = False
    facilities: dict[int, Facility] = field(default_factory=dict)


def _is_active(rx: Prescription, today: date) -> bool:
    """A draft of an open visit, or an issued prescription whose longest line still runs."""
    if rx.status == PrescriptionStatus.DRAFT:
        return not rx.encounter.is_locked
    days = max((item.days for item in rx.items.all()), default=0)
    start = timezone.localdate(rx.prescribed_at)
    return start + timedelta(days=days) > today


def patient_record(*, user, patient_id) -> PatientRecord:
    """All encounters the viewer may see at every facility, newest first, each with its active
    diagnoses; the patient's allergies, active prescriptions and latest results. The number of
    queries does not depend on the number of encounters. Audited ('patient.record_view')."""
    patient = patient_get(user=user, pk=patient_id, audit_action="patient.record_view")
    visible = encounter_visible_qs(user=user).filter(patient=patient)
    encounters = list(
        visible.select_related("facility", "department", "room", "attending")
        .prefetch_related(
            Prefetch(
                "diagnoses",
                queryset=Diagnosis.objects.filter(voided_at__isnull=True).order_by("phase", "rank"),
            )
        )
        .order_by("-started_at", "-id")[: RECORD_ENCOUNTER_LIMIT + 1]
    )
    visible_ids = visible.values("pk")
    today = local_today()
    prescriptions = [
        rx
        for rx in Prescription.objects.filter(
            encounter__in=visible_ids,
            status__in=(PrescriptionStatus.DRAFT, PrescriptionStatus.ISSUED),
            prescribed_at__gte=timezone.now() - timedelta(days=366),
        )
        .select_related("encounter__facility", "prescribed_by")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PrescriptionItem.objects.filter(voided_at__isnull=True).select_related(
                    "drug"
                ),
            )
        )
        .order_by("-prescribed_at", "-id")[: RECORD_LIST_LIMIT * 2]
        if _is_active(rx, today)
    ][:RECORD_LIST_LIMIT]
    results = list(
        ServiceOrder.objects.filter(encounter__in=visible_ids, status=OrderStatus.RESULTED)
        .select_related("service", "encounter__facility")
        .prefetch_related(Prefetch("values", queryset=ResultValue.objects.order_by("id")))
        .order_by("-resulted_at", "-id")[:RECORD_LIST_LIMIT]
    )
    return PatientRecord(
        patient=patient,
        encounters=encounters[:RECORD_ENCOUNTER_LIMIT],
        has_more_encounters=len(encounters) > RECORD_ENCOUNTER_LIMIT,
        allergies=list(
            Allergy.objects.filter(patient=patient, voided_at__isnull=True).order_by("substance")
        ),
        active_prescriptions=prescriptions,
        latest_results=results,
        facilities={e.facility_id: e.facility for e in encounters},
    )


# --- Orders to perform (the performing department's list) ------------------------------------


def orders_to_perform(*, user, facility: Facility, limit: int = 200) -> list[ServiceOrder]:
    """Orders waiting for a result at the facility's departments (or ordered here without a
    performing department), oldest first. Each patient shown is audited."""
    if not permissions.has_perm_at(user, "patients.enter_results", facility.pk):
        raise Http404
    orders = list(
        ServiceOrder.objects.filter(status__in=(OrderStatus.ORDERED, OrderStatus.IN_PROGRESS))
        .filter(
            Q(performing_department__facility=facility)
            | Q(performing_department__isnull=True, encounter__facility=facility)
        )
        .exclude(encounter__status=EncounterStatus.CANCELLED)
        .select_related("service", "encounter__patient", "performing_department")
        .order_by("ordered_at", "id")[:limit]
    )
    if orders:
        audit_record_many(
            actor=user,
            action="orders.view",
            patient_ids=sorted({o.encounter.patient_id for o in orders}),
            detail={"facility_id": facility.pk},
        )
    return orders


# --- ICD-10 search ---------------------------------------------------------------------------

_CODE_RE = re.compile(r"^[A-Za-z]\d[\dA-Za-z.]*$")


def icd_search(*, query: str, on: date | None = None, limit: int = 20) -> list[IcdCode]:
    """ICD-10 codes in force on `on` (today): by code prefix ('J06', 'j069'), or by every word
    of the query found in the Vietnamese or English name, diacritics ignored ('viem hong')."""
    query = (query or "").strip()
    if not query:
        return []
    qs = icd_in_force(on=on or local_today())
    if _CODE_RE.match(query):
        code = query.upper().replace(".", "")
        dotted = f"{code[:3]}.{code[3:]}" if len(code) > 3 else code
        qs = qs.filter(Q(code__startswith=dotted) | Q(code__startswith=code))
        return list(qs.order_by("code", "-valid_from").distinct("code")[:limit])
    for word in query.split()[:8]:
        qs = qs.filter(Q(name_vi__unaccent__icontains=word) | Q(name_en__unaccent__icontains=word))
    return list(qs.order_by("code", "-valid_from").distinct("code")[:limit])
