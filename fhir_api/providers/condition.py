"""Condition interactions: read, vread (current version), search, create (conditional), delete.

Visibility follows the encounter (providers/encounter.py): a partner client sees the diagnoses of
the (not voided) encounters of the patients visible to its unit; a member of staff signed in sees
those of the encounters the clinical pages show them. Anything else answers 404. A voided
diagnosis is still served on read (verificationStatus `entered-in-error`, so a partner that copied
it learns it was withdrawn) but never returned by a search. Every access is audited per patient.

Writes go through `patients.clinical.diagnoses` (one diagnosis at a time, with the examination's
rules): create adds an ICD-10 diagnosis to an open encounter of the client's unit, delete voids
one with a reason (`X-Reason`, else a sentence naming the client) and it then reads as
`entered-in-error` (not 410: it stays readable). The plain creates of a transaction are added
together (`create_many`, a constant number of statements), exactly as one by one. There is no
update: a diagnosis changes only by being voided and recorded anew (the correction of a concluded
visit replaces its whole set with a reason, on the visit page), so the registry does not list
`update`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404

from ehealth.core.audit import audit_record, audit_record_many
from fhir_api import registry
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.http import (
    Call,
    FhirResult,
    etag,
    parse_etag,
    read_body,
    version_headers,
)
from fhir_api.mappers.condition import (
    FIELD_PATHS,
    ConditionInput,
    MappingError,
    condition_from_fhir,
    condition_to_json,
    diagnosis_last_updated,
    diagnosis_version,
)
from fhir_api.models import ResourceExtra
from fhir_api.outcomes import FhirError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from fhir_api.providers import _writes
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import condition as condition_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page as paged
from fhir_api.search.refine import refine
from patients.clinical.common import EncounterLocked
from patients.clinical.diagnoses import (
    DiagnosisItem,
    diagnosis_add,
    diagnosis_add_many,
    diagnosis_void,
)
from patients.clinical.selectors import encounter_visible_qs
from patients.models import Diagnosis, Encounter
from patients.selectors import patient_encounters_visible_among, patient_visible_qs
from patients.services import BatchItemError

TYPE = "Condition"
NOT_PERMITTED = (
    "The client's account at its unit does not hold the permission to record diagnoses "
    "(see docs/fhir.md, Condition writes: roles of a client)."
)


def _visible(call: Call) -> QuerySet[Diagnosis]:
    """Diagnoses (voided ones included) of the encounters the caller may see."""
    user = call.principal.user
    if call.principal.kind == "staff":
        encounters = encounter_visible_qs(user=user).values("pk")
        return Diagnosis.objects.filter(encounter__in=encounters)
    patients = patient_visible_qs(user=user).values("pk")
    return Diagnosis.objects.filter(
        encounter__voided_at__isnull=True, encounter__patient__in=patients
    )


def _with_encounter(qs: QuerySet[Diagnosis]) -> QuerySet[Diagnosis]:
    return qs.select_related("encounter").only(
        "id",
        "encounter_id",
        "phase",
        "icd_code",
        "text",
        "rank",
        "recorded_at",
        "voided_at",
        "encounter__id",
        "encounter__patient_id",
        "encounter__facility_id",
        "encounter__status",
        "encounter__started_at",
    )


def _render(diagnosis: Diagnosis, extra: ResourceExtra | None) -> dict[str, Any]:
    body = condition_to_json(diagnosis)
    if extra is not None and extra.content:
        body = extras_apply(body, extra.content)
    return body


def _stored_form(diagnosis: Diagnosis) -> dict[str, Any]:
    """What the domain renders now, without server-owned elements (the base of the extras diff)."""
    body = condition_to_json(diagnosis)
    body.pop("id", None)
    body.pop("meta", None)
    return body


def _kept_part(sent: dict[str, Any]) -> dict[str, Any]:
    """What of a sent Condition may be kept: all but onset[x] and recordedDate, which the
    server derives (the encounter's start, the time of recording); an `onsetPeriod` kept beside
    the rendered `onsetDateTime` would make two values of one choice element."""
    return {k: v for k, v in sent.items() if not k.startswith("onset") and k != "recordedDate"}


def _input(resource: dict[str, Any]) -> ConditionInput:
    try:
        return condition_from_fhir(resource)
    except MappingError as exc:
        raise Unprocessable(exc.message, expression=exc.path) from None


def _refusal(error: Exception, encounter_id: int) -> Exception:
    """What the API answers for a refusal of the diagnoses service (the others as they are)."""
    if isinstance(error, PermissionDenied):
        return Forbidden(NOT_PERMITTED)
    if isinstance(error, EncounterLocked):
        return _locked(encounter_id)
    return error


def _encounters(call: Call) -> QuerySet[Encounter]:
    """The (not voided) encounters of the patients visible to the caller."""
    patients = patient_visible_qs(user=call.principal.user).values("pk")
    return Encounter.objects.filter(voided_at__isnull=True, patient__in=patients)


def _encounter_checked(
    encounter: Encounter | None, data: ConditionInput, facility_id: int
) -> Encounter:
    """The encounter named (found among `_encounters`): visible (else 404), of the subject named
    (else 422), of the client's unit (else 403)."""
    if encounter is None:
        raise NotFound(
            f"Encounter/{data.encounter_id} is not known.", expression="Condition.encounter"
        )
    if encounter.patient_id != data.patient_id:
        raise Unprocessable(
            f"Encounter/{encounter.pk} is not an encounter of Patient/{data.patient_id}.",
            expression="Condition.subject",
            code="business-rule",
        )
    if encounter.facility_id != facility_id:
        raise Forbidden(
            f"Encounter/{encounter.pk} belongs to another unit: a client records diagnoses "
            "only on its own unit's encounters.",
            expression="Condition.encounter",
        )
    return encounter


def _locked(encounter_id: int) -> Unprocessable:
    return Unprocessable(
        f"Encounter/{encounter_id} has ended (concluded, discharged or cancelled): its coded "
        "diagnoses are corrected as a whole set with a reason on the visit page, not one "
        "Condition at a time.",
        expression="Condition.encounter",
        code="business-rule",
    )


class ConditionProvider:
    """The Condition resource over patients.Diagnosis (see module docstring)."""

    field_paths = FIELD_PATHS

    # --- reads ---------------------------------------------------------------------------------

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        diagnosis = _with_encounter(_visible(call)).filter(pk=pk).first() if pk else None
        if diagnosis is None:
            raise NotFound(f"Condition/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.condition.read",
            target=diagnosis,
            patient_id=diagnosis.encounter.patient_id,
            detail=call.principal.audit_detail,
        )
        headers = version_headers(diagnosis_version(diagnosis), diagnosis_last_updated(diagnosis))
        body = _render(diagnosis, _writes.extras_of(TYPE, [pk]).get(pk))
        return FhirResult(200, body, headers)

    def vread(self, call: Call, resource_id: str, version_id: str) -> FhirResult:
        result = self.read(call, resource_id)
        if result.headers["ETag"] != etag(int(version_id) if version_id.isdigit() else -1):
            raise NotFound(
                f"Version {version_id} of Condition/{resource_id} is not available "
                "(only the current version is served).",
                expression="meta.versionId",
            )
        return result

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        req = search_request(call, items, condition_search.PARAMS, condition_search.SPEC, TYPE)
        qs = refine(_visible(call).filter(voided_at__isnull=True), req, condition_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.condition.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        page, next_after, total = paged(_with_encounter(qs), req, condition_search.SPEC)
        patient_ids = list(dict.fromkeys(d.encounter.patient_id for d in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.condition.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.condition.search", detail={**detail, "count": 0})
        extras = _writes.extras_of(TYPE, [d.pk for d in page])
        entries = [_render(d, extras.get(d.pk)) for d in page]
        return FhirResult(
            200, searchset(call, TYPE, req, entries, next_after=next_after, total=total)
        )

    # --- writes --------------------------------------------------------------------------------

    def create(self, call: Call) -> FhirResult:
        sent = read_body(call.request, TYPE)
        data = _input(sent)
        facility = _writes.client_facility(call)
        condition = call.header("If-None-Exist")
        with transaction.atomic():
            if condition:
                existing = self._conditional_match(call, condition)
                if existing is not None:
                    audit_record(
                        actor=call.principal.user,
                        action="fhir.condition.create_matched",
                        target=existing,
                        patient_id=existing.encounter.patient_id,
                        detail=call.principal.audit_detail,
                    )
                    return self._answer(call, existing.pk, status=200)
            encounter = self._encounter(call, data, facility.pk)
            try:
                diagnosis = diagnosis_add(
                    actor=call.principal.user,
                    facility=facility,
                    encounter=encounter,
                    code=data.code,
                    phase=data.phase,
                    rank=data.rank,
                )
            except (PermissionDenied, EncounterLocked) as exc:
                raise _refusal(exc, encounter.pk) from None
            diagnosis = _with_encounter(Diagnosis.objects.filter(pk=diagnosis.pk)).get()
            extras = extras_diff(_kept_part(sent), _stored_form(diagnosis))
            if extras:
                ResourceExtra.objects.create(
                    resource_type=TYPE, resource_id=str(diagnosis.pk), content=extras
                )
        return self._answer(call, diagnosis.pk, status=201)

    def _encounter(self, call: Call, data: ConditionInput, facility_id: int) -> Encounter:
        found = _encounters(call).filter(pk=data.encounter_id).first()
        return _encounter_checked(found, data, facility_id)

    def create_many(self, call: Call, resources: list[dict[str, Any]]) -> list[FhirResult] | None:
        """`create` (not conditional) of each resource of a transaction, in order, with a constant
        number of statements (`diagnosis_add_many`): the same validation, mapping, encounter
        checks, domain rules, rows, encounter versions, audit, kept extras and answers; several
        on one encounter take the places and versions one by one would give them. The first entry
        that `create` would refuse raises its error with `batch_index` = its position.
        """
        sents, datas, failed = _writes.batch_mapped(resources, TYPE, _input, unit_of=call)
        facility = _writes.client_facility(call) if datas else None
        with transaction.atomic(savepoint=False):  # inside the Bundle's transaction
            if datas:
                found = patient_encounters_visible_among(  # `_encounters(call)`, prepared
                    user=call.principal.user, pks={d.encounter_id for d in datas}
                )
                for i, data in enumerate(datas):
                    try:
                        _encounter_checked(found.get(data.encounter_id), data, facility.pk)
                    except FhirError as exc:
                        exc.batch_index = i
                        failed = exc
                        del sents[i:], datas[i:]
                        break
            diagnoses = []
            if datas:
                items = [DiagnosisItem(d.encounter_id, d.code, d.phase, d.rank) for d in datas]
                try:
                    diagnoses = diagnosis_add_many(
                        actor=call.principal.user, facility=facility, items=items
                    )
                except BatchItemError as exc:
                    error = _refusal(exc.error, datas[exc.index].encounter_id)
                    error.batch_index = exc.index
                    raise error from None
            if failed is not None:
                raise failed
            extras: dict[int, ResourceExtra] = {}
            for diagnosis, sent in zip(diagnoses, sents, strict=True):
                content = extras_diff(_kept_part(sent), _stored_form(diagnosis))
                if content:
                    extras[diagnosis.pk] = ResourceExtra(
                        resource_type=TYPE, resource_id=str(diagnosis.pk), content=content
                    )
            if extras:
                ResourceExtra.objects.bulk_create(extras.values())
        return [self._answer_loaded(call, d, extras.get(d.pk), status=201) for d in diagnoses]

    def _conditional_match(self, call: Call, condition: str) -> Diagnosis | None:
        req = _writes.conditional_search(call, TYPE, condition, condition_search.PARAMS)
        qs = refine(_visible(call).filter(voided_at__isnull=True), req, condition_search.SPEC)
        matches = list(_with_encounter(qs).order_by("pk")[:2])
        if len(matches) > 1:
            raise PreconditionFailed(
                "If-None-Exist matches more than one condition.", expression="If-None-Exist"
            )
        return matches[0] if matches else None

    def delete(self, call: Call, resource_id: str) -> FhirResult:
        """Void the diagnosis (kept, readable as entered-in-error); again: no change, 204."""
        pk = int_id(resource_id)
        diagnosis = _with_encounter(_visible(call)).filter(pk=pk).first() if pk else None
        if diagnosis is None:
            raise NotFound(f"Condition/{resource_id} is not known.")
        facility = _writes.client_facility(call)
        if call.header("If-Match"):
            wanted = parse_etag(call.header("If-Match"))
            if wanted != diagnosis_version(diagnosis):
                raise PreconditionFailed(
                    f"Condition/{resource_id} is at version {diagnosis_version(diagnosis)}, "
                    f"not {call.header('If-Match')}: read it again.",
                    expression="If-Match",
                )
        if diagnosis.voided_at is None:
            if diagnosis.encounter.facility_id != facility.pk:
                raise Forbidden(
                    f"Condition/{resource_id} is a diagnosis of another unit: a client withdraws "
                    "only its own unit's diagnoses."
                )
            with transaction.atomic():
                try:
                    diagnosis_void(
                        actor=call.principal.user,
                        facility=facility,
                        diagnosis=diagnosis.pk,
                        reason=_writes.void_reason(call, "Huỷ chẩn đoán"),
                    )
                except PermissionDenied:
                    raise Forbidden(NOT_PERMITTED) from None
                except EncounterLocked:
                    raise _locked(diagnosis.encounter_id) from None
                except Http404:
                    raise NotFound(f"Condition/{resource_id} is not known.") from None
        else:
            audit_record(
                actor=call.principal.user,
                action="fhir.condition.delete_repeated",
                target=diagnosis,
                patient_id=diagnosis.encounter.patient_id,
                detail=call.principal.audit_detail,
            )
        diagnosis = _with_encounter(Diagnosis.objects.filter(pk=diagnosis.pk)).get()
        headers = version_headers(diagnosis_version(diagnosis), diagnosis_last_updated(diagnosis))
        if call.prefer.get("return") == "operationoutcome":
            issue = {
                "severity": "information",
                "code": "deleted",
                "diagnostics": f"Condition/{resource_id} is withdrawn (entered-in-error).",
            }
            return FhirResult(200, {"resourceType": "OperationOutcome", "issue": [issue]}, headers)
        return FhirResult(204, None, headers)

    def _answer(self, call: Call, pk: int, *, status: int) -> FhirResult:
        diagnosis = _with_encounter(Diagnosis.objects.filter(pk=pk)).get()
        return self._answer_loaded(
            call, diagnosis, _writes.extras_of(TYPE, [pk]).get(pk), status=status
        )

    def _answer_loaded(
        self, call: Call, diagnosis: Diagnosis, extra: ResourceExtra | None, *, status: int
    ) -> FhirResult:
        body = _render(diagnosis, extra)
        version = diagnosis_version(diagnosis)
        last = diagnosis_last_updated(diagnosis)
        return _writes.answer(call, TYPE, body, version, last, status=status)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ConditionProvider(),
        interactions=("read", "vread", "search-type", "create", "delete"),
        search_params=condition_search.PARAMS,
        spec=condition_search.SPEC,
        conditional_create=True,
    )
)
