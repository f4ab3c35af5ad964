"""Patient interactions: read, vread, search, create (conditional), update (If-Match).

Reads go through the registry's selectors (visibility, audit); writes through its services
(validation, permissions, audit, versioning), inside one transaction with the kept FHIR extras.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Prefetch

from ehealth.core import permissions
from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import Facility
from fhir_api import registry
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.http import Call, FhirResult, etag, parse_etag, read_body, version_headers
from fhir_api.mappers.patient import (
    FIELD_PATHS,
    INPUT_FIELD_OF_URI,
    MappingError,
    patient_from_fhir,
    patient_to_json,
)
from fhir_api.models import ResourceExtra
from fhir_api.outcomes import (
    BadRequest,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from fhir_api.search import patient as patient_search
from fhir_api.search.params import SearchRequest, cursor_encode, parse_search
from patients import selectors, services
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
    return list(_live_identifiers().filter(patient=patient).order_by("system", "id"))


def _extras_of(ids: list[int]) -> dict[int, ResourceExtra]:
    rows = ResourceExtra.objects.filter(resource_type=TYPE, resource_id__in=[str(i) for i in ids])
    return {int(r.resource_id): r for r in rows}


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
    if call.principal.facility_id is None:
        raise Forbidden("The caller belongs to no health unit.")
    return Facility.objects.get(pk=call.principal.facility_id)


def _visible(call: Call):
    return selectors.patient_visible_qs(user=call.principal.user)


class PatientProvider:
    """The Patient resource over the registry (see module docstring)."""

    field_paths = FIELD_PATHS

    # --- reads ---------------------------------------------------------------------------------

    def read(self, call: Call, resource_id: str) -> FhirResult:
        try:
            patient = selectors.patient_get(
                user=call.principal.user, pk=resource_id, audit_action="fhir.patient.read"
            )
        except Exception as exc:  # Http404 from the selector: missing and not visible alike
            raise NotFound(f"Patient/{resource_id} is not known.") from exc
        body, version, last = _render(patient, _extras_of([patient.pk]).get(patient.pk))
        return FhirResult(200, body, version_headers(version, last))

    def vread(self, call: Call, resource_id: str, version_id: str) -> FhirResult:
        result = self.read(call, resource_id)
        if result.headers["ETag"] != etag(int(version_id) if version_id.isdigit() else -1):
            raise NotFound(
                f"Version {version_id} of Patient/{resource_id} is not available "
                "(only the current version is served).",
                expression="versionId",
            )
        return result

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        if not permissions.has_perm_anywhere(user, SEARCH_PERM):
            raise Forbidden("Searching patients is not among the caller's permissions.")
        params = {**registry.COMMON_PARAMS, **patient_search.PARAMS}
        req = parse_search(items, params, lenient=call.lenient)
        qs = patient_search.patient_filter(_visible(call), req.criteria)
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
        if req.after_id is not None:
            qs = qs.filter(pk__gt=req.after_id)
        page = list(
            qs.select_related("province", "commune")
            .prefetch_related(
                Prefetch(
                    "identifiers",
                    queryset=_live_identifiers().order_by("system", "id"),
                    to_attr="live_identifiers",
                )
            )
            .order_by("pk")[: req.count + 1]
        )
        more = len(page) > req.count
        page = page[: req.count]
        extras = _extras_of([p.pk for p in page])
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
        next_after = page[-1].pk if more and page else None
        return FhirResult(200, self._bundle(call, req, entries, total=None, next_after=next_after))

    def _bundle(self, call, req: SearchRequest, entries, *, total, next_after) -> dict[str, Any]:
        links = [{"relation": "self", "url": call.url(TYPE, req.echo)}]
        if next_after is not None:
            links.append(
                {
                    "relation": "next",
                    "url": call.url(TYPE, [*req.echo, ("_cursor", cursor_encode(next_after))]),
                }
            )
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
        if total is not None:
            bundle["total"] = total
        if entries:
            bundle["entry"] = [
                {
                    "fullUrl": call.url(f"{TYPE}/{e['id']}"),
                    "resource": e,
                    "search": {"mode": "match"},
                }
                for e in entries
            ]
        return bundle

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
                ResourceExtra.objects.create(
                    resource_type=TYPE, resource_id=str(patient.pk), content=extras
                )
        return self._answer(call, patient, status=201)

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
                raise NotFound(f"Patient/{resource_id} is not known.")
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
            if patient.version == before:
                if content == extra.content:
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
        return self._answer(call, patient, status=200)

    def _answer(self, call: Call, patient: Patient, *, status: int) -> FhirResult:
        patient = Patient.objects.select_related("province", "commune").get(pk=patient.pk)
        body, version, last = _render(patient, _extras_of([patient.pk]).get(patient.pk))
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
        interactions=("read", "vread", "search-type", "create", "update"),
        search_params=patient_search.PARAMS,
        conditional_create=True,
    )
)
