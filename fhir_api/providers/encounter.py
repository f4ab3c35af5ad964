"""Encounter interactions: read, vread (current version), search, create (conditional), update.

Visibility: a partner client sees the (not voided) encounters of the patients visible to its unit
(the registry's rule: a record number at the unit, or a share with it), at any unit of the city;
a member of staff signed in sees what the clinical pages show them (`encounter_visible_qs`:
`view_encounter` at the encounter's unit, or a share). Anything else answers 404, like a record
that does not exist. Every access is audited per patient.

Writes go through the clinical services, as the pages do: an outpatient visit is opened by the
reception (`encounter_check_in`: validation, queue ticket, audit), a stay by the admission
(`admission_create`); an update moves the status only along the encounter's state machine
(`encounter_start_examination`, `encounter_conclude`, `encounter_cancel`) and changes the reason
for the visit (`encounter_update_notes`). What the registry does not model is kept beside the
record (`fhir_api.extras`) and merged back on read.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import ClinicRoom, Department, Facility
from fhir_api import registry, systems
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.http import (
    Call,
    FhirResult,
    etag,
    parse_etag,
    read_body,
    version_headers,
)
from fhir_api.mappers.encounter import (
    FHIR_STATUS,
    FIELD_PATHS,
    EncounterInput,
    MappingError,
    admission_input,
    checkin_input,
    encounter_from_fhir,
    encounter_to_json,
    encounter_version,
    location_history,
)
from fhir_api.models import ResourceExtra
from fhir_api.outcomes import BadRequest, Forbidden, NotFound, PreconditionFailed, Unprocessable
from fhir_api.providers import _writes
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import encounter as encounter_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page as paged
from fhir_api.search.refine import refine
from patients.clinical.examination import (
    encounter_conclude,
    encounter_start_examination,
    encounter_update_notes,
)
from patients.clinical.inpatient import admission_create
from patients.clinical.reception import (
    encounter_cancel,
    encounter_check_in,
    encounter_check_in_many,
)
from patients.clinical.selectors import encounter_visible_qs
from patients.clinical_choices import EncounterKind
from patients.models import BedOccupancy, Encounter, Transfer
from patients.normalize import clean_text
from patients.selectors import patient_visible_qs, patients_visible_among
from patients.services import BatchItemError

TYPE = "Encounter"
# The state moves an update may ask for, per kind: (FHIR status now, FHIR status asked).
OUTPATIENT_MOVES = {
    ("arrived", "in-progress"),
    ("arrived", "finished"),
    ("arrived", "cancelled"),
    ("in-progress", "finished"),
}
STAY_REFUSALS = {
    "finished": "A stay is discharged on the discharge page (treatment result, discharge type, "
    "summary); the API does not discharge.",
    "cancelled": "A stay cannot be cancelled through the API.",
}
NOT_PERMITTED = (
    "The client's account at its unit does not hold the permission this write needs "
    "(see docs/fhir.md, Encounter writes: roles of a client)."
)


def _visible(call: Call) -> QuerySet[Encounter]:
    user = call.principal.user
    if call.principal.kind == "staff":
        return encounter_visible_qs(user=user)
    patients = patient_visible_qs(user=user).values("pk")
    return Encounter.objects.filter(voided_at__isnull=True, patient__in=patients)


def _with_history(qs: QuerySet[Encounter]) -> QuerySet[Encounter]:
    """The facility and the location history, in a fixed number of queries per page."""
    return qs.select_related("facility").prefetch_related(
        Prefetch(
            "transfers",
            queryset=Transfer.objects.only(
                "id", "encounter_id", "from_department_id", "to_department_id", "moved_at"
            ),
            to_attr="fhir_transfers",
        ),
        Prefetch(
            "bed_occupancies",
            queryset=BedOccupancy.objects.only(
                "id", "encounter_id", "bed_id", "started_at", "ended_at"
            ),
            to_attr="fhir_occupancies",
        ),
    )


def _render(encounter: Encounter, extra: ResourceExtra | None) -> tuple[dict[str, Any], int, Any]:
    """(resource JSON, FHIR version, last updated) of an encounter and its kept elements."""
    version = encounter_version(encounter, extra.revision if extra else 0)
    last = max(encounter.updated_at, extra.updated_at) if extra else encounter.updated_at
    body = encounter_to_json(
        encounter,
        transfers=encounter.fhir_transfers,
        occupancies=encounter.fhir_occupancies,
        version_id=str(version),
        last_updated=last,
    )
    if extra is not None and extra.content:
        body = extras_apply(body, extra.content)
    return body, version, last


def _stored_form(encounter: Encounter) -> dict[str, Any]:
    """What the domain renders now, without server-owned elements (the base of the extras diff)."""
    body = encounter_to_json(
        encounter, transfers=encounter.fhir_transfers, occupancies=encounter.fhir_occupancies
    )
    body.pop("id", None)
    body.pop("meta", None)
    return body


def _kept_part(sent: dict[str, Any]) -> dict[str, Any]:
    """What of a sent Encounter may be kept: all but `period.end`, which the server sets when
    the encounter ends (a value sent earlier must not show on an open encounter)."""
    period = sent.get("period")
    if not isinstance(period, dict) or "end" not in period:
        return sent
    return {**sent, "period": {k: v for k, v in period.items() if k != "end"}}


def _loaded(pk: int) -> Encounter:
    return _with_history(Encounter.objects.filter(pk=pk)).get()


def _input(resource: dict[str, Any]) -> EncounterInput:
    try:
        return encounter_from_fhir(resource)
    except MappingError as exc:
        raise Unprocessable(exc.message, expression=exc.path) from None


def _mapped(build, *args, **kwargs):
    try:
        return build(*args, **kwargs)
    except MappingError as exc:
        raise Unprocessable(exc.message, expression=exc.path) from None


class _Stay(Exception):  # noqa: N818 - a signal, not an error
    """A stay among the creates of a batch: admissions run one by one."""


def _at(error: Exception, index: int) -> Exception:
    error.batch_index = index
    return error


def _refuse(message: str, path: str) -> Unprocessable:
    return Unprocessable(message, expression=path, code="business-rule")


def _no_conclusion(data: EncounterInput) -> None:
    """How a visit ends is said when it finishes (status finished), not before."""
    given = {
        "conclusion": data.conclusion,
        "follow_up_date": data.follow_up_date,
        "transfer_to_code": data.transfer_to_code,
        "transfer_reason": data.transfer_reason,
    }
    for name, value in given.items():
        if value:
            raise _refuse(
                "How a visit ended is given when it finishes (status 'finished').",
                FIELD_PATHS[name],
            )


class EncounterProvider:
    """The Encounter resource over patients.Encounter (see module docstring)."""

    field_paths = FIELD_PATHS

    # --- reads ---------------------------------------------------------------------------------

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        encounter = _with_history(_visible(call)).filter(pk=pk).first() if pk else None
        if encounter is None:
            raise NotFound(f"Encounter/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.encounter.read",
            target=encounter,
            patient_id=encounter.patient_id,
            detail=call.principal.audit_detail,
        )
        body, version, last = _render(encounter, _writes.extras_of(TYPE, [pk]).get(pk))
        return FhirResult(200, body, version_headers(version, last))

    def vread(self, call: Call, resource_id: str, version_id: str) -> FhirResult:
        result = self.read(call, resource_id)
        if result.headers["ETag"] != etag(int(version_id) if version_id.isdigit() else -1):
            raise NotFound(
                f"Version {version_id} of Encounter/{resource_id} is not available "
                "(only the current version is served).",
                expression="meta.versionId",
            )
        return result

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        req = search_request(call, items, encounter_search.PARAMS, encounter_search.SPEC, TYPE)
        qs = refine(_visible(call), req, encounter_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.encounter.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        page, next_after, total = paged(_with_history(qs), req, encounter_search.SPEC)
        patient_ids = list(dict.fromkeys(e.patient_id for e in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.encounter.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.encounter.search", detail={**detail, "count": 0})
        extras = _writes.extras_of(TYPE, [e.pk for e in page])
        entries = [_render(e, extras.get(e.pk))[0] for e in page]
        return FhirResult(
            200, searchset(call, TYPE, req, entries, next_after=next_after, total=total)
        )

    # --- create --------------------------------------------------------------------------------

    def create(self, call: Call) -> FhirResult:
        sent = read_body(call.request, TYPE)
        data = _input(sent)
        facility = _writes.client_facility(call)
        self._check_new(data, facility)
        condition = call.header("If-None-Exist")
        with transaction.atomic():
            if condition:
                existing = self._conditional_match(call, condition)
                if existing is not None:
                    audit_record(
                        actor=call.principal.user,
                        action="fhir.encounter.create_matched",
                        target=existing,
                        patient_id=existing.patient_id,
                        detail=call.principal.audit_detail,
                    )
                    return self._answer(call, existing.pk, status=200)
            patients = patient_visible_qs(user=call.principal.user)
            if not patients.filter(pk=data.patient_id).exists():
                raise NotFound(
                    f"Patient/{data.patient_id} is not known.", expression="Encounter.subject"
                )
            encounter = self._open(call, facility, data)
            encounter = _loaded(encounter.pk)
            extras = extras_diff(_kept_part(sent), _stored_form(encounter))
            if extras:
                ResourceExtra.objects.create(
                    resource_type=TYPE, resource_id=str(encounter.pk), content=extras
                )
        return self._answer(call, encounter.pk, status=201)

    def create_many(self, call: Call, resources: list[dict[str, Any]]) -> list[FhirResult] | None:
        """`create` (not conditional) of each outpatient visit of a transaction, in order, with a
        constant number of statements (`reception.encounter_check_in_many`): the same validation,
        mapping, checks, queue numbers, kept extras, audit and answers. The first entry that
        `create` would refuse raises its error with `batch_index` = its position. None (nothing
        written) when the batch holds a stay: admissions run one by one.
        """
        facility = _writes.client_facility(call)

        def mapped(sent: dict[str, Any]) -> EncounterInput:
            data = _input(sent)
            if data.kind != EncounterKind.OUTPATIENT:
                raise _Stay
            self._check_new(data, facility)
            return data

        sents, datas, failed = _writes.batch_mapped(resources, TYPE, mapped)
        if isinstance(failed, _Stay):
            return None
        parsed = list(zip(sents, datas, strict=True))
        unit = self._unit_rooms(facility, datas)
        visible = patients_visible_among(
            user=call.principal.user, pks=[d.patient_id for _s, d in parsed]
        )
        forms = []
        for i, (_sent, data) in enumerate(parsed):
            try:
                if data.patient_id not in visible:
                    raise NotFound(
                        f"Patient/{data.patient_id} is not known.", expression="Encounter.subject"
                    )
                room = self._room(facility, data, unit)
                forms.append(_mapped(checkin_input, data, room_id=room.pk))
            except Exception as exc:  # noqa: BLE001 - as above
                exc.batch_index = i
                failed = exc
                break
        with transaction.atomic(savepoint=False):  # inside the Bundle's transaction
            try:
                opened = encounter_check_in_many(
                    actor=call.principal.user,
                    facility=facility,
                    datas=forms,
                    defer=call.deferred.append if call.deferred is not None else None,
                    patients=visible,
                    rooms={r.pk: r for r in unit[0]},
                )
            except PermissionDenied:
                raise _at(Forbidden(NOT_PERMITTED), 0) from None
            except BatchItemError as exc:
                error = exc.error
                if isinstance(error, PermissionDenied):
                    error = Forbidden(NOT_PERMITTED)
                elif isinstance(error, Http404):
                    error = NotFound(
                        f"Patient/{forms[exc.index].patient_id} is not known.",
                        expression="Encounter.subject",
                    )
                raise _at(error, exc.index) from None
            if failed is not None:
                raise failed
            rendered, extras = [], []
            for encounter, (sent, _data) in zip(opened, parsed, strict=True):
                # as written: a new visit has no transfers and no beds; rendered once, its stored
                # form (the base of the kept elements) is the body without id and meta
                encounter.fhir_transfers, encounter.fhir_occupancies = [], []
                body, version, last = _render(encounter, None)
                stored = {k: v for k, v in body.items() if k not in ("id", "meta")}
                content = extras_diff(_kept_part(sent), stored)
                if content:
                    extra = ResourceExtra(
                        resource_type=TYPE, resource_id=str(encounter.pk), content=content
                    )
                    extras.append((len(rendered), encounter, extra))
                rendered.append((body, version, last))
            if extras:
                ResourceExtra.objects.bulk_create(extra for _i, _e, extra in extras)
                for i, encounter, extra in extras:  # with what is kept beside it
                    rendered[i] = _render(encounter, extra)
        return [_writes.answer(call, TYPE, *r, status=201) for r in rendered]

    def _check_new(self, data: EncounterInput, facility: Facility) -> None:
        """A new encounter is at the client's own unit, in the status its service opens it in."""
        if data.service_provider_id not in (None, facility.pk) or (
            data.service_provider_code and data.service_provider_code != facility.code
        ):
            raise _refuse(
                f"An encounter is opened at the client's own unit: serviceProvider "
                f"Organization/{facility.pk} (or left out).",
                "Encounter.serviceProvider",
            )
        wanted = "arrived" if data.kind == EncounterKind.OUTPATIENT else "in-progress"
        if data.status != wanted:
            what = "outpatient visit (checked in)" if wanted == "arrived" else "stay (admitted)"
            raise _refuse(
                f"A new {what} has status '{wanted}'; later states come by update.",
                "Encounter.status",
            )
        _no_conclusion(data)
        if data.ended_at is not None:
            raise _refuse(
                "A new encounter is open: its end is set when it finishes.", "Encounter.period.end"
            )

    def _open(self, call: Call, facility: Facility, data: EncounterInput) -> Encounter:
        actor = call.principal.user
        try:
            if data.kind == EncounterKind.OUTPATIENT:
                room = self._room(facility, data)
                form = _mapped(checkin_input, data, room_id=room.pk)
                return encounter_check_in(actor=actor, facility=facility, data=form)
            kwargs = _mapped(admission_input, data)
            return admission_create(actor=actor, facility=facility, **kwargs)
        except PermissionDenied:
            raise Forbidden(NOT_PERMITTED) from None
        except Http404:
            if data.part_of_id is not None and data.kind == EncounterKind.INPATIENT:
                raise NotFound(
                    f"Encounter/{data.part_of_id} is not an encounter of this unit.",
                    expression="Encounter.partOf",
                ) from None
            raise NotFound(
                f"Patient/{data.patient_id} is not known.", expression="Encounter.subject"
            ) from None

    def _room(self, facility: Facility, data: EncounterInput, unit=None) -> ClinicRoom:
        """The clinic room of a new visit: the one named, else the department's only room (or
        the unit's only room when no department is named). `unit`: the unit's active rooms and
        its department ids, when the caller loaded them (a batch)."""
        system = systems.clinic_room_system(facility.code)
        if data.room_system and data.room_system != system:
            raise _refuse(f"The unit's clinic rooms are named in {system}.", "Encounter.location")
        if unit is None:
            found = self._rooms_queried(facility, data)
        else:
            rooms, departments = unit
            if data.department_id is not None and data.department_id not in departments:
                found = None
            else:
                found = [
                    r
                    for r in rooms
                    if data.department_id in (None, r.department_id)
                    and data.room_code in ("", None, r.code)
                ][:21]
        if found is None:
            raise _refuse(
                f"Location/dept-{data.department_id} is not a department of this unit.",
                "Encounter.location",
            )
        if len(found) == 1:
            return found[0]
        if not found:
            raise _refuse("No active clinic room matches the location given.", "Encounter.location")
        codes = ", ".join(sorted({r.code for r in found}))
        raise _refuse(
            f"Several clinic rooms match ({codes}): name one in location.location.identifier "
            f"({system}|<code>).",
            "Encounter.location",
        )

    @staticmethod
    def _rooms_queried(facility: Facility, data: EncounterInput) -> list[ClinicRoom] | None:
        """Up to 21 active rooms matching the location (None: the department is not the unit's)."""
        rooms = ClinicRoom.objects.filter(department__facility=facility, is_active=True)
        if data.department_id is not None:
            department = Department.objects.filter(pk=data.department_id, facility=facility)
            if not department.exists():
                return None
            rooms = rooms.filter(department_id=data.department_id)
        if data.room_code:
            rooms = rooms.filter(code=data.room_code)
        return list(rooms.order_by("department_id", "code")[:21])

    @staticmethod
    def _unit_rooms(
        facility: Facility, datas: list[EncounterInput]
    ) -> tuple[list[ClinicRoom], set[int]]:
        """The unit's active rooms the batch may pick among (in the order `_rooms_queried` gives)
        and its department ids: when every visit names its room or department, only the rooms
        of those codes and departments (a hospital has a hundred rooms), else all."""
        rooms = ClinicRoom.objects.filter(department__facility=facility, is_active=True)
        if all(d.room_code or d.department_id is not None for d in datas):
            codes = {d.room_code for d in datas if d.room_code}
            named = {d.department_id for d in datas if d.department_id is not None}
            rooms = rooms.filter(Q(code__in=codes) | Q(department_id__in=named))
        departments = set()
        if any(d.department_id is not None for d in datas):  # else `_room` never asks
            departments = set(
                Department.objects.filter(facility=facility).values_list("pk", flat=True)
            )
        rooms = rooms.only("id", "code", "department_id").order_by("department_id", "code")
        return list(rooms), departments

    def _conditional_match(self, call: Call, condition: str) -> Encounter | None:
        req = _writes.conditional_search(call, TYPE, condition, encounter_search.PARAMS)
        qs = refine(_visible(call), req, encounter_search.SPEC)
        matches = list(qs.order_by("pk")[:2])
        if len(matches) > 1:
            raise PreconditionFailed(
                "If-None-Exist matches more than one encounter.", expression="If-None-Exist"
            )
        return matches[0] if matches else None

    # --- update --------------------------------------------------------------------------------

    def update(self, call: Call, resource_id: str) -> FhirResult:
        sent = read_body(call.request, TYPE)
        if sent.get("id") != resource_id:
            raise BadRequest(
                "The resource id must be present and equal the id in the URL.", expression="id"
            )
        wanted = parse_etag(call.header("If-Match"))
        if wanted is None:
            raise PreconditionFailed(
                'Updates need If-Match with the version read (ETag, e.g. W/"3").',
                expression="If-Match",
            )
        data = _input(sent)
        facility = _writes.client_facility(call)
        pk = int_id(resource_id)
        with transaction.atomic():
            if not pk or not _visible(call).filter(pk=pk).exists():
                raise NotFound(f"Encounter/{resource_id} is not known.")
            # the row locked for the rest of the transaction: no web save slips in between
            Encounter.objects.select_for_update().filter(pk=pk).values_list("pk").get()
            encounter = _loaded(pk)
            if encounter.facility_id != facility.pk:
                raise Forbidden(
                    f"Encounter/{resource_id} belongs to another unit: a client changes only "
                    "its own unit's encounters."
                )
            extra, _created = ResourceExtra.objects.get_or_create(
                resource_type=TYPE, resource_id=str(encounter.pk)
            )
            extra = ResourceExtra.objects.select_for_update().get(pk=extra.pk)
            current = encounter_version(encounter, extra.revision)
            if current != wanted:
                raise PreconditionFailed(
                    f"Encounter/{resource_id} is at version {current}, not {wanted}: "
                    "read it again.",
                    expression="If-Match",
                )
            self._check_unchanged(encounter, data)
            before = encounter.version
            try:
                self._apply(call, facility, encounter, data)
            except PermissionDenied:
                raise Forbidden(NOT_PERMITTED) from None
            encounter = _loaded(encounter.pk)
            content = extras_diff(_kept_part(sent), _stored_form(encounter))
            if encounter.version == before:
                if content == extra.content:
                    return self._answer(call, encounter.pk, status=200)
                extra.revision += 1
                audit_record(
                    actor=call.principal.user,
                    action="fhir.encounter.update",
                    target=encounter,
                    patient_id=encounter.patient_id,
                    detail={"changed": "extras", **call.principal.audit_detail},
                )
            extra.content = content
            extra.save()
        return self._answer(call, encounter.pk, status=200)

    def _check_unchanged(self, encounter: Encounter, data: EncounterInput) -> None:
        """What an update may not change (the reception's and admission's data, where and when):
        a value sent must be the current one; one left out stays as it is."""
        if data.kind != encounter.kind:
            raise _refuse("The class of an encounter does not change.", "Encounter.class")
        if data.patient_id != encounter.patient_id:
            raise _refuse("The subject of an encounter does not change.", "Encounter.subject")
        if data.service_provider_id not in (None, encounter.facility_id) or (
            data.service_provider_code not in ("", encounter.facility.code)
        ):
            raise _refuse("The unit of an encounter does not change.", "Encounter.serviceProvider")
        if data.started_at is not None and data.started_at != encounter.started_at:
            raise _refuse(
                "The start of an encounter does not change by update.", "Encounter.period.start"
            )
        if data.part_of_id is not None and data.part_of_id != encounter.parent_id:
            raise _refuse("partOf does not change.", "Encounter.partOf")
        if data.location_refs:
            history = location_history(
                encounter, encounter.fhir_transfers, encounter.fhir_occupancies
            )
            now = {h["location"]["reference"] for h in history}
            if set(data.location_refs) != now:
                raise _refuse(
                    "Moves between departments and beds are made on the ward pages (transfers), "
                    "not by update; send the locations as read.",
                    "Encounter.location",
                )
        reception = {
            "arrival_mode": (data.arrival_mode, encounter.arrival_mode),
            "insurance_card_code": (data.insurance_card_code, encounter.insurance_card_code),
            "registered_facility_code": (
                data.registered_facility_code,
                encounter.registered_facility_code,
            ),
            "referral_from_code": (data.referral_from_code, encounter.referral_from_code),
            "referral_paper_number": (
                data.referral_paper_number,
                encounter.referral_paper_number,
            ),
        }
        if encounter.kind == EncounterKind.INPATIENT:
            held = {"emergency": "emergency", "transfer_in": "transfer_in"}
            reception["source"] = (
                data.admit_source,
                held.get(encounter.arrival_mode, "outpatient"),
            )
        if encounter.conclusion:
            reception["conclusion"] = (data.conclusion, encounter.conclusion)
        for name, (given, held) in reception.items():
            if given and clean_text(given).upper() != clean_text(held).upper():
                raise _refuse(
                    f"This value was recorded when the encounter was opened or closed and does "
                    f"not change by update ('{held}').",
                    FIELD_PATHS.get(name, "Encounter"),
                )

    def _apply(self, call: Call, facility: Facility, encounter: Encounter, data) -> None:
        """The reason for the visit, then the move of status, each through its service."""
        actor = call.principal.user
        if data.reason and clean_text(data.reason) != encounter.reason:
            encounter = encounter_update_notes(
                actor=actor,
                facility=facility,
                encounter=encounter,
                expected_version=encounter.version,
                reason=data.reason,
            )
        now = FHIR_STATUS.get(encounter.status, "unknown")
        if "finished" not in (data.status, now):
            _no_conclusion(data)
        if data.status == now:
            return
        if encounter.kind == EncounterKind.INPATIENT:
            raise _refuse(
                STAY_REFUSALS.get(data.status, f"A stay does not go from {now} to {data.status}."),
                "Encounter.status",
            )
        if (now, data.status) not in OUTPATIENT_MOVES:
            allowed = sorted(t for f, t in OUTPATIENT_MOVES if f == now)
            raise _refuse(
                f"Encounter/{encounter.pk} cannot go from '{now}' to '{data.status}' "
                f"(from '{now}': {', '.join(allowed) or 'no change'}).",
                "Encounter.status",
            )
        if data.status == "cancelled":
            encounter_cancel(
                actor=actor,
                facility=facility,
                encounter=encounter,
                expected_version=encounter.version,
                reason=_writes.void_reason(call, "Huỷ lượt khám"),
            )
            return
        if data.status == "finished" and not data.conclusion:
            raise _refuse(
                f"Finishing a visit needs its conclusion: hospitalization.dischargeDisposition "
                f"in {systems.VISIT_CONCLUSION_CS} (home, follow_up, admit, transfer).",
                "Encounter.hospitalization.dischargeDisposition",
            )
        if now == "arrived":
            encounter = encounter_start_examination(
                actor=actor,
                facility=facility,
                encounter=encounter,
                expected_version=encounter.version,
            )
        if data.status == "finished":
            encounter_conclude(
                actor=actor,
                facility=facility,
                encounter=encounter,
                expected_version=encounter.version,
                conclusion=data.conclusion,
                follow_up_date=data.follow_up_date,
                transfer_to_code=data.transfer_to_code,
                transfer_reason=data.transfer_reason,
            )

    # --- answer --------------------------------------------------------------------------------

    def _answer(self, call: Call, pk: int, *, status: int) -> FhirResult:
        encounter = _loaded(pk)
        body, version, last = _render(encounter, _writes.extras_of(TYPE, [pk]).get(pk))
        return _writes.answer(call, TYPE, body, version, last, status=status)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=EncounterProvider(),
        interactions=("read", "vread", "search-type", "create", "update"),
        search_params=encounter_search.PARAMS,
        spec=encounter_search.SPEC,
        conditional_create=True,
    )
)
