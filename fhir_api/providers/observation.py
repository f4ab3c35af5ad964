"""Observation interactions: read and search over vital signs and result values; create of a
vital sign (through the domain's vitals service; those of a transaction all at once).

Visibility follows the encounter (as Condition): a partner client sees the vitals and results of
the (not voided) encounters of the patients visible to its unit; a member of staff signed in sees
those of the encounters the clinical pages show them. Anything else answers 404. A voided vitals
row (and a value of a cancelled order) is still served on read, `entered-in-error`, but never
returned by a search. Every access is audited per patient.

Search pages run over two tables, vitals rows then result values, each by id; a vitals row yields
one Observation per slot that matches. The keyset cursor is (table, row id, slot), packed into
one integer, so paging crosses rows and tables without gaps or duplicates.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import Facility
from fhir_api import registry
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.http import Call, FhirResult, etag, read_body, version_headers
from fhir_api.mappers.observation import (
    RESULT,
    SLOTS,
    VITALS,
    VITALS_FIELD_PATHS,
    VitalSlot,
    VitalsWrite,
    parse_observation_id,
    result_id,
    result_last_updated,
    result_to_json,
    result_version,
    slot_value,
    vital_id,
    vital_last_updated,
    vital_to_json,
    vital_version,
    vitals_from_fhir,
)
from fhir_api.mappers.patient import MappingError
from fhir_api.models import ResourceExtra
from fhir_api.outcomes import (
    FhirError,
    Forbidden,
    NotFound,
    Unprocessable,
)
from fhir_api.providers import _writes
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import observation as obs_search
from patients.clinical.selectors import encounter_visible_qs
from patients.clinical.vitals import vitals_record, vitals_record_many
from patients.clinical_choices import OrderStatus
from patients.models import Encounter, ResultValue, VitalSigns
from patients.selectors import patient_encounters_visible_among, patient_visible_qs
from patients.services import BatchItemError

TYPE = "Observation"
# The paging cursor: table rank * SPAN + row id * SLOT_SPAN + slot index (0 for a result value).
SLOT_SPAN = 16
SPAN = 1 << 80
_FLAG = "_slot{}"
NOT_PERMITTED = (
    "The client's account at its unit does not hold the permission to record vital signs "
    "(patients.record_vitals: a nurse or doctor role at the unit; see docs/fhir.md)."
)


def _extras_of(ids: list[str]) -> dict[str, ResourceExtra]:
    """The kept elements of these Observations (one query), by resource id."""
    if not ids:
        return {}
    rows = ResourceExtra.objects.filter(resource_type=TYPE, resource_id__in=ids)
    return {r.resource_id: r for r in rows}


def _visible_encounters(call: Call) -> QuerySet[Encounter]:
    user = call.principal.user
    if call.principal.kind == "staff":
        return encounter_visible_qs(user=user)
    patients = patient_visible_qs(user=user).values("pk")
    return Encounter.objects.filter(voided_at__isnull=True, patient__in=patients)


def _visible_vitals(call: Call) -> QuerySet[VitalSigns]:
    """Vitals rows (voided ones included) of the encounters the caller may see."""
    encounters = _visible_encounters(call).values("pk")
    return (
        VitalSigns.objects.filter(encounter__in=encounters)
        .select_related("encounter")
        .only(
            *(f.name for f in VitalSigns._meta.concrete_fields if f.name != "recorded_by"),
            "encounter__id",
            "encounter__patient_id",
        )
    )


def _visible_results(call: Call) -> QuerySet[ResultValue]:
    """Result values of the orders of the encounters the caller may see."""
    encounters = _visible_encounters(call).values("pk")
    return (
        ResultValue.objects.filter(order__encounter__in=encounters)
        .select_related("order__encounter", "order__service")
        .only(
            "id",
            "order_id",
            "code",
            "name",
            "value",
            "numeric_value",
            "unit",
            "reference_low",
            "reference_high",
            "flag",
            "entered_at",
            "order__id",
            "order__status",
            "order__encounter_id",
            "order__service_id",
            "order__performed_at",
            "order__resulted_at",
            "order__cancelled_at",
            "order__encounter__id",
            "order__encounter__patient_id",
            "order__service__id",
            "order__service__code",
            "order__service__name",
            "order__service__moh_code",
            "order__service__group",
        )
    )


def _render(obj, slot: VitalSlot | None, extra: ResourceExtra | None):
    """(body, version, last updated) of a vital sign (with `slot`) or a result value."""
    if slot is not None:
        body = vital_to_json(obj, slot)
        version, last = vital_version(obj), vital_last_updated(obj)
    else:
        body = result_to_json(obj)
        version, last = result_version(obj), result_last_updated(obj)
    if extra is not None:
        body = extras_apply(body, extra.content)
        version += extra.revision
        body["meta"]["versionId"] = str(version)
    return body, version, last


def _patient_id(obj) -> int:
    if isinstance(obj, VitalSigns):
        return obj.encounter.patient_id
    return obj.order.encounter.patient_id


class ObservationProvider:
    """The Observation resource over patients.VitalSigns and patients.ResultValue."""

    field_paths = VITALS_FIELD_PATHS

    # --- reads ---------------------------------------------------------------------------------

    def read(self, call: Call, resource_id: str) -> FhirResult:
        oid = parse_observation_id(resource_id)
        obj = None
        if oid is not None and oid.source == VITALS:
            obj = _visible_vitals(call).filter(pk=oid.pk).first()
            if obj is not None and slot_value(obj, oid.slot) is None:
                obj = None
        elif oid is not None and oid.source == RESULT:
            obj = _visible_results(call).filter(pk=oid.pk).first()
        if obj is None:
            raise NotFound(f"Observation/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.observation.read",
            target=obj,
            patient_id=_patient_id(obj),
            detail=call.principal.audit_detail,
        )
        extra = _extras_of([resource_id]).get(resource_id)
        body, version, last = _render(obj, oid.slot, extra)
        return FhirResult(200, body, version_headers(version, last))

    def vread(self, call: Call, resource_id: str, version_id: str) -> FhirResult:
        result = self.read(call, resource_id)
        if result.headers["ETag"] != etag(int(version_id) if version_id.isdigit() else -1):
            raise NotFound(
                f"Version {version_id} of Observation/{resource_id} is not available "
                "(only the current version is served).",
                expression="meta.versionId",
            )
        return result

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        req = search_request(call, items, obs_search.PARAMS, resource_type=TYPE)
        criteria = obs_search.parse_values(req.criteria)
        slot_qs = obs_search.vital_slot_qs(criteria)
        result_q = obs_search.result_q(criteria)
        vitals = obs_search.with_bmi(_visible_vitals(call).filter(voided_at__isnull=True))
        results = obs_search.with_effective(
            _visible_results(call).exclude(order__status=OrderStatus.CANCELLED)
        )
        detail = search_detail(call, req)
        if req.summary_count:
            total = self._count(vitals, slot_qs, results, result_q)
            audit_record(
                actor=user, action="fhir.observation.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        page, more = self._page(req, vitals, slot_qs, results, result_q)
        patient_ids = list(dict.fromkeys(_patient_id(obj) for _r, obj, _s in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.observation.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(
                actor=user, action="fhir.observation.search", detail={**detail, "count": 0}
            )
        ids = [vital_id(o.pk, SLOTS[s]) if r == 0 else result_id(o.pk) for r, o, s in page]
        extras = _extras_of(ids)
        entries = [
            _render(obj, SLOTS[s] if rank == 0 else None, extras.get(rid))[0]
            for (rank, obj, s), rid in zip(page, ids, strict=True)
        ]
        next_after = None
        if more and page:
            rank, obj, s = page[-1]
            next_after = rank * SPAN + obj.pk * SLOT_SPAN + s
        return FhirResult(200, searchset(call, TYPE, req, entries, next_after=next_after))

    def _count(self, vitals, slot_qs, results, result_q) -> int:
        total = 0
        if slot_qs:
            counts = vitals.aggregate(
                **{f"n{i}": Count("pk", filter=q) for i, q in enumerate(slot_qs.values())}
            )
            total += sum(counts.values())
        if result_q is not None:
            total += results.filter(result_q).count()
        return total

    def _page(self, req, vitals, slot_qs, results, result_q):
        """[(table rank, row, slot index)] of the page (one more than asked when there are)."""
        need = req.count + 1
        after_rank, after_pk, after_slot = -1, 0, 0
        if req.after_id is not None:
            after_rank, rest = divmod(req.after_id, SPAN)
            after_pk, after_slot = divmod(rest, SLOT_SPAN)
        page: list[tuple[int, object, int]] = []
        if slot_qs and after_rank <= 0:
            flags = {
                _FLAG.format(SLOTS.index(slot)): ExpressionWrapper(q, output_field=BooleanField())
                for slot, q in slot_qs.items()
            }
            either = None
            for q in slot_qs.values():
                either = q if either is None else either | q
            qs = vitals.annotate(**flags).filter(either)
            if after_rank == 0:
                qs = qs.filter(pk__gte=after_pk)
            for row in qs.order_by("pk")[: need + 1]:
                for index in range(len(SLOTS)):
                    if not getattr(row, _FLAG.format(index), False):
                        continue
                    if after_rank == 0 and (row.pk, index) <= (after_pk, after_slot):
                        continue
                    page.append((0, row, index))
            page = page[:need]
        if len(page) < need and result_q is not None and after_rank <= 1:
            qs = results.filter(result_q)
            if after_rank == 1:
                qs = qs.filter(pk__gt=after_pk)
            page += [(1, v, 0) for v in qs.order_by("pk")[: need - len(page)]]
        return page[: req.count], len(page) > req.count

    # --- writes --------------------------------------------------------------------------------

    def create(self, call: Call) -> FhirResult:
        sent = read_body(call.request, TYPE)
        write = _mapped(sent)
        facility = _writes.client_facility(call)
        encounter = _visible_encounters(call).filter(pk=write.encounter_id).first()
        _check_encounter(write, encounter, facility)
        with transaction.atomic():
            try:
                vitals = vitals_record(
                    actor=call.principal.user,
                    facility=facility,
                    encounter=encounter,
                    data=write.data,
                )
            except PermissionDenied:
                raise Forbidden(NOT_PERMITTED) from None
            extra = _extra(sent, vitals, write.slot)
            if extra is not None:
                extra.save(force_insert=True)
        body, version, last = _render(vitals, write.slot, extra)
        return _writes.answer(call, TYPE, body, version, last, status=201)

    def create_many(self, call: Call, resources: list[dict[str, Any]]) -> list[FhirResult] | None:
        """`create` of each resource of a transaction, in order, with a constant number of
        statements (`vitals_record_many`): the same validation, mapping, checks of the encounter,
        rows, kept extras, audit and answers. The first entry that `create` would refuse raises
        its error with `batch_index` = its position: the entries before a refused one are still
        recorded first, as one by one, so that an error of theirs answers instead. Never None:
        vital signs of one batch do not depend on each other (several on one encounter too)."""
        sents, writes, failed = _writes.batch_mapped(resources, TYPE, _mapped, unit_of=call)
        facility = _writes.client_facility(call) if writes else None
        wanted = {w.encounter_id for w in writes}
        if call.principal.kind == "staff":
            visible = {e.pk: e for e in _visible_encounters(call).filter(pk__in=wanted)}
        else:  # as `_visible_encounters(call)` for a client, prepared
            visible = patient_encounters_visible_among(user=call.principal.user, pks=wanted)
        for i, write in enumerate(writes):
            try:
                _check_encounter(write, visible.get(write.encounter_id), facility)
            except FhirError as exc:
                exc.batch_index = i
                failed = exc
                del sents[i:], writes[i:]
                break
        with transaction.atomic(savepoint=False):  # inside the Bundle's transaction
            rows = []
            if writes:
                items = [(visible[w.encounter_id], w.data) for w in writes]
                try:
                    rows = vitals_record_many(
                        actor=call.principal.user, facility=facility, items=items
                    )
                except BatchItemError as exc:
                    error = exc.error
                    if isinstance(error, PermissionDenied):
                        error = Forbidden(NOT_PERMITTED)
                    error.batch_index = exc.index
                    raise error from None
            if failed is not None:
                raise failed
            answers, extras = [], []
            for sent, row, write in zip(sents, rows, writes, strict=True):
                # rendered once: its stored form (the base of `_extra`) is the body without id
                # and meta; a new extra (revision 0) leaves the version as it is
                body = vital_to_json(row, write.slot)
                stored = {k: v for k, v in body.items() if k not in ("id", "meta")}
                content = extras_diff(sent, stored)
                if content:
                    extras.append(
                        ResourceExtra(resource_type=TYPE, resource_id=body["id"], content=content)
                    )
                    body = extras_apply(body, content)
                version, last = vital_version(row), vital_last_updated(row)
                answers.append(_writes.answer(call, TYPE, body, version, last, status=201))
            ResourceExtra.objects.bulk_create(extras)
        return answers


def _mapped(sent: dict[str, Any]) -> VitalsWrite:
    try:
        return vitals_from_fhir(sent)
    except MappingError as exc:
        raise Unprocessable(exc.message, expression=exc.path) from None


def _check_encounter(write: VitalsWrite, encounter: Encounter | None, facility: Facility) -> None:
    """The encounter (as the caller sees it, None when not) may take the vital sign written."""
    if encounter is None:  # 404 as a Condition's or an Encounter's unknown reference answers
        raise NotFound(
            f"Encounter/{write.encounter_id} is not known.", expression="Observation.encounter"
        )
    if write.patient_id not in (None, encounter.patient_id):
        raise Unprocessable(
            f"subject must be the encounter's patient (Patient/{encounter.patient_id}).",
            expression="Observation.subject",
        )
    if encounter.facility_id != facility.pk:
        raise Forbidden(
            f"Encounter/{encounter.pk} belongs to another unit: a client records vital signs "
            "only on its own unit's encounters.",
            expression="Observation.encounter",
        )


def _extra(sent: dict[str, Any], vitals: VitalSigns, slot: VitalSlot) -> ResourceExtra | None:
    """The elements sent that the row does not hold, to keep (not yet saved); None for none."""
    stored = vital_to_json(vitals, slot)
    extras = extras_diff(sent, {k: v for k, v in stored.items() if k not in ("id", "meta")})
    if not extras:
        return None
    return ResourceExtra(resource_type=TYPE, resource_id=stored["id"], content=extras)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ObservationProvider(),
        interactions=("read", "vread", "search-type", "create"),
        search_params=obs_search.PARAMS,
    )
)
