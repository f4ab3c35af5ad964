"""Patient interactions: read, vread, history, search, create (conditional), update (If-Match),
delete (a void of a record registered in error).

Reads go through the registry's selectors (visibility, audit); writes through its services
(validation, permissions, audit, versioning), inside one transaction with the kept FHIR extras.
"""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from ehealth.core import permissions
from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import Facility
from ehealth.core.sqlrows import Prepared, Row, columns
from fhir_api import registry
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.history import history_bundle, parse_history
from fhir_api.http import Call, FhirResult, parse_etag, read_body, version_headers
from fhir_api.mappers.patient import (
    FIELD_PATHS,
    INPUT_FIELD_OF_URI,
    MappingError,
    patient_from_fhir,
    patient_to_json,
)
from fhir_api.models import ResourceExtra, ResourceExtraVersion
from fhir_api.outcomes import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from fhir_api.providers import _patient_history as history
from fhir_api.providers import _writes
from fhir_api.providers.base import search_request, searchset
from fhir_api.search import patient as patient_search
from fhir_api.search.common import int_id
from fhir_api.search.params import SearchRequest, parse_search
from fhir_api.search.refine import page as paged
from fhir_api.search.refine import refine
from patients import selectors, services
from patients.choices import IdentifierSystem
from patients.models import Patient, PatientIdentifier
from patients.validation import IDENTIFIER_FIELDS

TYPE = "Patient"
SEARCH_PERM = "patients.search_patient"


def _live_identifiers():
    return PatientIdentifier.objects.filter(voided_at__isnull=True).select_related("facility")


def _identifiers_of(patient: Patient) -> list[PatientIdentifier]:
    cached = getattr(patient, "live_identifiers", None)
    if cached is not None:
        return cached
    return _identifiers_by_patient([patient.pk]).get(patient.pk, [])


# Hand-written and prepared (as `_live_identifiers().filter(patient_id__in=...).order_by("system",
# "id")` and ResourceExtra.objects.filter(...)): on the path of every read, where compiling and
# planning cost more than running the queries.
# What the mapper reads of an identifier's facility (its other fields stay deferred).
_FACILITY = ("code", "name")
_IDENTIFIERS = Prepared(
    "fhir_patient_identifiers",
    f"SELECT {columns(PatientIdentifier, 'i')}, {columns(Facility, 'f', _FACILITY)} "  # noqa: S608
    f"FROM {PatientIdentifier._meta.db_table} i "
    f"LEFT JOIN {Facility._meta.db_table} f ON f.id = i.facility_id "
    "WHERE i.patient_id = ANY(%(ids)s) AND i.voided_at IS NULL "
    "ORDER BY i.patient_id, i.system, i.id",
)
_EXTRAS = Prepared(
    "fhir_patient_extras",
    f"SELECT {columns(ResourceExtra, 'x')} FROM {ResourceExtra._meta.db_table} x "  # noqa: S608
    "WHERE x.resource_type = %(type)s AND x.resource_id = ANY(%(ids)s)",
)


_IDENTIFIERS_AND_EXTRAS = Prepared(
    "fhir_patient_identifiers_extras",
    f"SELECT pid, {columns(ResourceExtra, 'x')}, {columns(PatientIdentifier, 'i')}, "  # noqa: S608
    f"{columns(Facility, 'f', _FACILITY)} FROM unnest(%(ids)s::bigint[]) AS pid "
    f"LEFT JOIN {ResourceExtra._meta.db_table} x "
    "ON x.resource_type = %(type)s AND x.resource_id = pid::text "
    f"LEFT JOIN {PatientIdentifier._meta.db_table} i "
    "ON i.patient_id = pid AND i.voided_at IS NULL "
    f"LEFT JOIN {Facility._meta.db_table} f ON f.id = i.facility_id "
    "ORDER BY pid, i.system, i.id",
)


def _identifiers_and_extras(
    ids: list[int],
) -> tuple[dict[int, list[PatientIdentifier]], dict[int, ResourceExtra]]:
    """`_identifiers_by_patient(ids)` and `_extras_of(ids)` in one statement (a read's last)."""
    identifiers: dict[int, list[PatientIdentifier]] = {pk: [] for pk in ids}
    extras: dict[int, ResourceExtra] = {}
    facilities: dict[int, Facility] = {}
    with connection.cursor() as cursor:
        _IDENTIFIERS_AND_EXTRAS.execute(cursor, {"ids": list(ids), "type": TYPE})
        rows = cursor.fetchall()
    for found in rows:
        row = Row(found)
        pk = row.take(None)
        extra = row.take(ResourceExtra)
        if extra is not None:
            extras[pk] = extra
        ident = row.take(PatientIdentifier)
        if ident is not None:
            ident.facility = row.take(Facility, only=_FACILITY, cache=facilities)
            identifiers[pk].append(ident)
    return identifiers, extras


def _identifiers_by_patient(ids: list[int]) -> dict[int, list[PatientIdentifier]]:
    """Live identifiers (with their facility) of each patient, by system then id."""
    out: dict[int, list[PatientIdentifier]] = {}
    with connection.cursor() as cursor:
        _IDENTIFIERS.execute(cursor, {"ids": list(ids)})
        rows = cursor.fetchall()
    facilities: dict[int, Facility] = {}  # one instance per facility, as a prefetch would
    for found in rows:
        row = Row(found)
        ident = row.take(PatientIdentifier)
        ident.facility = row.take(Facility, only=_FACILITY, cache=facilities)
        out.setdefault(ident.patient_id, []).append(ident)
    return out


def _extras_of(ids: list[int]) -> dict[int, ResourceExtra]:
    with connection.cursor() as cursor:
        _EXTRAS.execute(cursor, {"type": TYPE, "ids": [str(i) for i in ids]})
        rows = cursor.fetchall()
    extras = (Row(found).take(ResourceExtra) for found in rows)
    return {int(x.resource_id): x for x in extras}


def _render(patient: Patient, extra: ResourceExtra | None) -> tuple[dict[str, Any], int, Any]:
    """(resource JSON, FHIR version, last updated) of a patient and its kept elements."""
    version = patient.version + (extra.revision if extra else 0)
    last = max(patient.updated_at, extra.updated_at) if extra else patient.updated_at
    body = patient_to_json(
        patient, identifiers=_identifiers_of(patient), version_id=str(version), last_updated=last
    )
    if extra is not None:
        body = extras_apply(body, extra.content)
    return body, version, last


def _stored_form(patient: Patient) -> dict[str, Any]:
    """What the domain renders now, without server-owned elements (the base of the extras diff)."""
    body = patient_to_json(patient, identifiers=_identifiers_of(patient))
    body.pop("id", None)
    return body


def _input(resource: dict[str, Any]):
    try:
        return patient_from_fhir(resource)
    except MappingError as exc:
        raise Unprocessable(exc.message, expression=exc.path) from None


def _facility(call: Call) -> Facility:
    facility = call.principal.facility()
    if facility is None:
        raise Forbidden("The caller belongs to no health unit.")
    return facility


def _visible(call: Call):
    return selectors.patient_visible_qs(user=call.principal.user)


def _known(call: Call, resource_id: str) -> Patient:
    """A visible patient, a voided one included (404 otherwise)."""
    pk = int_id(resource_id) or 0
    qs = selectors.patient_visible_qs(user=call.principal.user, include_voided=True)
    patient = qs.select_related("province", "commune").filter(pk=pk).first()
    if patient is None:
        raise NotFound(f"Patient/{resource_id} is not known.")
    return patient


def _missing(call: Call, resource_id: str) -> Exception:
    """410 for a record the caller could see before it was voided, else 404."""
    patient = _known(call, resource_id)
    if patient.voided_at is not None:
        return Gone(
            f"Patient/{resource_id} was deleted (voided: registered in error).",
            expression="Patient",
        )
    return NotFound(f"Patient/{resource_id} is not known.")


def _keep_extras_version(patient: Patient, extra: ResourceExtra, *, only_extras: bool) -> None:
    """The kept elements from the current FHIR version on (for vread and history)."""
    _extras_version(patient, extra, only_extras=only_extras).save()


def _extras_version(
    patient: Patient, extra: ResourceExtra, *, only_extras: bool
) -> ResourceExtraVersion:
    return ResourceExtraVersion(
        resource_type=TYPE,
        resource_id=str(patient.pk),
        version=patient.version + extra.revision,
        base_version=patient.version,
        only_extras=only_extras,
        content=extra.content,
    )


def _with_places(patients: list[Patient]) -> list[Patient]:
    """The patients with their province and commune attached (one query for all, none without
    an address), as `select_related("province", "commune")` would load them."""
    fields = [Patient._meta.get_field(n) for n in ("province", "commune")]
    for fk in fields:
        codes = {getattr(p, fk.attname) for p in patients} - {None}
        places = fk.related_model.objects.in_bulk(codes) if codes else {}
        for patient in patients:
            code = getattr(patient, fk.attname)
            setattr(patient, fk.name, places.get(code) if code is not None else None)
    return patients


class PatientProvider:
    """The Patient resource over the registry (see module docstring)."""

    field_paths = FIELD_PATHS

    # --- reads ---------------------------------------------------------------------------------

    def read(self, call: Call, resource_id: str) -> FhirResult:
        try:
            patient = selectors.patient_get(
                user=call.principal.user, pk=resource_id, audit_action="fhir.patient.read"
            )
        except Exception:  # Http404 from the selector: missing and not visible alike
            raise _missing(call, resource_id) from None
        identifiers, extras = _identifiers_and_extras([patient.pk])
        patient.live_identifiers = identifiers[patient.pk]
        body, version, last = _render(patient, extras.get(patient.pk))
        return FhirResult(200, body, version_headers(version, last))

    def vread(self, call: Call, resource_id: str, version_id: str) -> FhirResult:
        patient = _known(call, resource_id)
        wanted = int(version_id) if version_id.isdigit() else 0
        step = next(
            (s for s in history.timelines([patient])[patient.pk] if s.version == wanted), None
        )
        past = history.snapshots({(patient.pk, step.base)} if step else set())
        entry = None
        if step is not None:
            entry = history.render(patient, step, past, history.Places.of(list(past.values())))
        if entry is None:
            raise NotFound(
                f"Version {version_id} of Patient/{resource_id} is not known.",
                expression="meta.versionId",
            )
        audit_record(
            actor=call.principal.user,
            action="fhir.patient.vread",
            target=patient,
            patient_id=patient.pk,
            detail={"version": wanted, **call.principal.audit_detail},
        )
        headers = version_headers(entry.version, entry.last_updated)
        if entry.resource is None:
            raise Gone(
                f"Version {wanted} of Patient/{resource_id} is its deletion.",
                expression="Patient",
                headers=headers,
            )
        return FhirResult(200, entry.resource, headers)

    def history_instance(self, call: Call, resource_id: str) -> FhirResult:
        patient = _known(call, resource_id)
        req = parse_history(
            [(k, v) for k, vs in call.request.GET.lists() for v in vs], lenient=call.lenient
        )
        entries, next_after = history.instance_page(patient, req)
        audit_record(
            actor=call.principal.user,
            action="fhir.patient.history",
            target=patient,
            patient_id=patient.pk,
            detail={"count": len(entries), **call.principal.audit_detail},
        )
        path = f"{TYPE}/{patient.pk}/_history"
        return FhirResult(200, history_bundle(call, path, req, entries, next_after=next_after))

    def history_type(self, call: Call) -> FhirResult:
        user = call.principal.user
        if not permissions.has_perm_anywhere(user, SEARCH_PERM):
            raise Forbidden("Reading the history of all patients needs the search permission.")
        req = parse_history(
            [(k, v) for k, vs in call.request.GET.lists() for v in vs], lenient=call.lenient
        )
        visible = selectors.patient_visible_qs(user=user, include_voided=True)
        entries, next_after, patient_ids = history.type_page(visible, req)
        detail = {"count": len(entries), "type": True, **call.principal.audit_detail}
        if patient_ids:
            audit_record_many(
                actor=user, action="fhir.patient.history", patient_ids=patient_ids, detail=detail
            )
        else:
            audit_record(actor=user, action="fhir.patient.history", detail=detail)
        bundle = history_bundle(call, f"{TYPE}/_history", req, entries, next_after=next_after)
        return FhirResult(200, bundle)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        if not permissions.has_perm_anywhere(user, SEARCH_PERM):
            raise Forbidden("Searching patients is not among the caller's permissions.")
        req = search_request(call, items, patient_search.PARAMS, patient_search.SPEC, TYPE)
        qs = refine(_visible(call), req, patient_search.SPEC)
        detail = {
            "params": sorted({c.param.name for c in req.criteria}),
            **call.principal.audit_detail,
        }
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.patient.search", detail={**detail, "count": total}
            )
            return FhirResult(200, self._bundle(call, req, [], total=total, next_after=None))
        page, next_after, total = paged(
            qs.select_related("province", "commune"), req, patient_search.SPEC
        )
        identifiers, extras = _identifiers_and_extras([p.pk for p in page])  # one statement
        for patient in page:
            patient.live_identifiers = identifiers[patient.pk]
        entries = [_render(p, extras.get(p.pk))[0] for p in page]
        if page:
            audit_record_many(
                actor=user,
                action="fhir.patient.search",
                patient_ids=[p.pk for p in page],
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.patient.search", detail={**detail, "count": 0})
        return FhirResult(200, self._bundle(call, req, entries, total=total, next_after=next_after))

    def _bundle(self, call, req: SearchRequest, entries, *, total, next_after) -> dict[str, Any]:
        return searchset(call, TYPE, req, entries, total=total, next_after=next_after)

    # --- writes --------------------------------------------------------------------------------

    def create(self, call: Call) -> FhirResult:
        sent = read_body(call.request, TYPE)
        data = _input(sent)
        facility = _facility(call)
        condition = call.header("If-None-Exist")
        with transaction.atomic():
            if condition:
                existing = self._conditional_match(call, condition, facility)
                if existing is not None:
                    audit_record(
                        actor=call.principal.user,
                        action="fhir.patient.create_matched",
                        target=existing,
                        patient_id=existing.pk,
                        detail=call.principal.audit_detail,
                    )
                    return self._answer(call, existing, status=200)
            patient = services.patient_register(
                actor=call.principal.user, facility=facility, data=data, allow_similar=True
            )
            extras = extras_diff(sent, _stored_form(patient))
            if extras:
                extra = ResourceExtra.objects.create(
                    resource_type=TYPE, resource_id=str(patient.pk), content=extras
                )
                _keep_extras_version(patient, extra, only_extras=False)
        return self._answer(call, patient, status=201)

    def create_many(self, call: Call, resources: list[dict[str, Any]]) -> list[FhirResult] | None:
        """`create` (not conditional) of each resource of a transaction, in order, with a constant
        number of statements (`services.patient_register_many`): the same validation, mapping,
        domain checks, kept extras, audit and answers. The first entry that `create` would refuse
        raises its error with `batch_index` = its position. None (nothing written) when two
        resources hold the same identifier: the caller creates them one by one then.
        """
        defer = call.deferred.append if call.deferred is not None else None

        def mapped(sent: dict[str, Any]) -> services.PatientInput:
            data = _input(sent)
            _facility(call)  # as `create`: 403 for a caller of no unit, after mapping
            return data

        sents, datas, failed = _writes.batch_mapped(resources, TYPE, mapped)
        facility = _facility(call) if datas else None
        with transaction.atomic(savepoint=False):  # inside the Bundle's transaction
            patients = []
            if datas:
                try:
                    patients = services.patient_register_many(
                        actor=call.principal.user,
                        facility=facility,
                        datas=datas,
                        allow_similar=True,
                        defer=defer,
                    )
                except services.BatchItemError as exc:
                    exc.error.batch_index = exc.index
                    raise exc.error from None
                except services.DuplicateInBatch:
                    return None  # an identifier twice in the batch: one by one
            if failed is not None:
                raise failed
            ids = [p.pk for p in patients]
            loaded = {p.pk: p for p in _with_places(patients)}  # as written: no reload
            identifiers = _identifiers_by_patient(ids)
            extras: dict[int, ResourceExtra] = {}
            for pk, sent in zip(ids, sents, strict=True):
                patient = loaded[pk]
                patient.live_identifiers = identifiers.get(pk, [])
                content = extras_diff(sent, _stored_form(patient))
                if content:
                    extras[pk] = ResourceExtra(
                        resource_type=TYPE, resource_id=str(pk), content=content
                    )
            if extras:
                ResourceExtra.objects.bulk_create(extras.values())
                ResourceExtraVersion.objects.bulk_create(
                    _extras_version(loaded[pk], extra, only_extras=False)
                    for pk, extra in extras.items()
                )
        answers = [self._answer_loaded(call, loaded[pk], extras.get(pk), status=201) for pk in ids]
        if defer is not None:  # the record numbers come at the end: the answers are renewed then
            defer(partial(self._answers_renew, [loaded[pk] for pk in ids], answers))
        return answers

    @staticmethod
    def _answers_renew(patients: list[Patient], answers: list[FhirResult]) -> None:
        """The answers of a batch with the record numbers given since in place of the
        placeholders they were rendered with (`services._record_numbers_insert`)."""
        given = {
            (i.patient_id, f"~{i.patient_id}"): i.value
            for i in PatientIdentifier.objects.filter(
                patient_id__in=[p.pk for p in patients], system=IdentifierSystem.MRN
            ).only("patient_id", "value")
        }
        for patient, answer in zip(patients, answers, strict=True):
            for identifier in (answer.body or {}).get("identifier", []):
                value = given.get((patient.pk, identifier.get("value")))
                if value is not None:
                    identifier["value"] = value

    def _conditional_match(self, call: Call, condition: str, facility: Facility) -> Patient | None:
        """The one patient matching If-None-Exist, None for none, 412 for several.

        Identical conditions are serialised by a transaction-scoped advisory lock, so two
        concurrent identical requests create one patient: the second finds the first's.
        A city-wide identifier held by a patient of another unit enrols that patient here,
        as reception does (find by identifier, then give a record number).
        """
        from urllib.parse import parse_qsl

        items = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
        params = {**registry.COMMON_PARAMS, **patient_search.PARAMS}
        req = parse_search(items, params, lenient=False)
        if not req.criteria:
            raise BadRequest("If-None-Exist holds no search criteria.", expression="If-None-Exist")
        key = int.from_bytes(hashlib.sha256(f"{TYPE}?{sorted(items)}".encode()).digest()[:8], "big")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key - (1 << 63)])
        matches = list(
            patient_search.patient_filter(_visible(call), req.criteria).order_by("pk")[:2]
        )
        if len(matches) > 1:
            raise PreconditionFailed(
                "If-None-Exist matches more than one patient.", expression="If-None-Exist"
            )
        if matches:
            return matches[0]
        found = self._city_wide_identifier(call, req)
        if found is not None:
            services.patient_enroll(actor=call.principal.user, facility=facility, patient=found)
        return found

    def _city_wide_identifier(self, call: Call, req: SearchRequest) -> Patient | None:
        if len(req.criteria) != 1 or req.criteria[0].param.name != "identifier":
            return None
        values = req.criteria[0].values
        if len(values) != 1 or values[0].system not in INPUT_FIELD_OF_URI or not values[0].code:
            return None
        system = IDENTIFIER_FIELDS[INPUT_FIELD_OF_URI[values[0].system]]
        return selectors.patient_find_by_identifier(
            system=system, value=values[0].code, actor=call.principal.user
        )

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
        facility = _facility(call)
        with transaction.atomic():
            patient = _visible(call).filter(pk=int(resource_id) if resource_id.isdigit() else 0)
            patient = patient.first()
            if patient is None:
                raise _missing(call, resource_id)
            extra, _created = ResourceExtra.objects.get_or_create(
                resource_type=TYPE, resource_id=str(patient.pk)
            )
            extra = ResourceExtra.objects.select_for_update().get(pk=extra.pk)
            if patient.version + extra.revision != wanted:
                raise PreconditionFailed(
                    f"Patient/{resource_id} is at version {patient.version + extra.revision}, "
                    f"not {wanted}: read it again.",
                    expression="If-Match",
                )
            before = patient.version
            try:
                patient = services.patient_update(
                    actor=call.principal.user,
                    facility=facility,
                    patient=patient,
                    data=data,
                    expected_version=before,
                )
            except PermissionDenied as exc:
                raise Forbidden(str(exc)) from None
            content = extras_diff(sent, _stored_form(patient))
            extras_changed = content != extra.content
            if patient.version == before:
                if not extras_changed:
                    return self._answer(call, patient, status=200)
                extra.revision += 1
                audit_record(
                    actor=call.principal.user,
                    action="fhir.patient.update",
                    target=patient,
                    patient_id=patient.pk,
                    detail={"changed": "extras", **call.principal.audit_detail},
                )
            extra.content = content
            extra.save()
            if extras_changed:
                _keep_extras_version(patient, extra, only_extras=patient.version == before)
        return self._answer(call, patient, status=200)

    def delete(self, call: Call, resource_id: str) -> FhirResult:
        """Void a record registered in error (the registry refuses one with encounters: 409)."""
        patient = _known(call, resource_id)
        if patient.voided_at is None:
            facility = _facility(call)
            wanted = None
            if call.header("If-Match"):
                wanted = parse_etag(call.header("If-Match"))
                if wanted is None:
                    raise PreconditionFailed(
                        'If-Match must be an ETag (e.g. W/"3").', expression="If-Match"
                    )
            reason = call.header("X-Reason").strip() or (
                f"Deleted by partner system {call.principal.client_id or call.principal.user}"
            )
            with transaction.atomic():
                extra = (
                    ResourceExtra.objects.select_for_update()
                    .filter(resource_type=TYPE, resource_id=str(patient.pk))
                    .first()
                )
                revision = extra.revision if extra else 0
                if wanted is not None and patient.version + revision != wanted:
                    raise PreconditionFailed(
                        f"Patient/{resource_id} is at version {patient.version + revision}, "
                        f"not {wanted}: read it again.",
                        expression="If-Match",
                    )
                try:
                    patient = services.patient_void(
                        actor=call.principal.user,
                        facility=facility,
                        patient=patient,
                        reason=reason,
                        expected_version=patient.version if wanted is not None else None,
                    )
                except services.PatientHasEncounters as exc:
                    raise Conflict(
                        f"Patient/{resource_id} has {exc.count} encounter(s): only a record "
                        "registered in error, without visits or stays, can be deleted; "
                        "correct it with an update instead.",
                        expression="Patient",
                    ) from None
                except PermissionDenied as exc:
                    raise Forbidden(str(exc)) from None
        else:
            extra = _extras_of([patient.pk]).get(patient.pk)
            revision = extra.revision if extra else 0
            audit_record(
                actor=call.principal.user,
                action="fhir.patient.delete_repeated",
                target=patient,
                patient_id=patient.pk,
                detail=call.principal.audit_detail,
            )
        headers = version_headers(patient.version + revision, patient.updated_at)
        if call.prefer.get("return") == "operationoutcome":
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "information",
                        "code": "deleted",
                        "diagnostics": f"Patient/{resource_id} is deleted.",
                    }
                ],
            }
            return FhirResult(200, outcome, headers)
        return FhirResult(204, None, headers)

    def _answer(self, call: Call, patient: Patient, *, status: int) -> FhirResult:
        patient = Patient.objects.select_related("province", "commune").get(pk=patient.pk)
        extra = _extras_of([patient.pk]).get(patient.pk)
        return self._answer_loaded(call, patient, extra, status=status)

    def _answer_loaded(
        self, call: Call, patient: Patient, extra: ResourceExtra | None, *, status: int
    ) -> FhirResult:
        body, version, last = _render(patient, extra)
        headers = version_headers(version, last)
        location = call.url(f"{TYPE}/{patient.pk}/_history/{version}")
        headers["Location" if status == 201 else "Content-Location"] = location
        preference = call.prefer.get("return", "representation")
        if preference == "minimal":
            return FhirResult(status, None, headers)
        if preference == "operationoutcome":
            return FhirResult(
                status,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "information", "code": "informational", "diagnostics": "OK"}
                    ],
                },
                headers,
            )
        return FhirResult(status, body, headers)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=PatientProvider(),
        interactions=(
            "read",
            "vread",
            "history-instance",
            "history-type",
            "search-type",
            "create",
            "update",
            "delete",
        ),
        search_params=patient_search.PARAMS,
        spec=patient_search.SPEC,
        operations=(registry.EVERYTHING,),
        conditional_create=True,
    )
)
