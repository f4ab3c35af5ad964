"""AllergyIntolerance interactions: read, vread (current version), search, create, delete.

Visibility: the allergies of the patients the caller may see (the registry's rule, as Patient:
allergies are city-wide and follow the patient). Anything else answers 404. A voided allergy is
still served on read (`entered-in-error`) but never returned by a search. Every access is audited
per patient.

Writes go through `patients.clinical.allergies`: create records an allergy (`allergy_record`: its
permission, examine or record vitals at the client's unit; its checks, a substance or a catalog
drug, no duplicate); delete voids one recorded in error (`allergy_void`, with the reason from
`X-Reason`), after which it reads as `entered-in-error` (not 410: it stays readable).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import Drug
from fhir_api import registry
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.http import Call, FhirResult, etag, parse_etag, read_body, version_headers
from fhir_api.mappers.allergy import (
    FIELD_PATHS,
    TYPE,
    allergy_from_fhir,
    allergy_last_updated,
    allergy_to_json,
    allergy_version,
)
from fhir_api.mappers.patient import MappingError
from fhir_api.models import ResourceExtra
from fhir_api.outcomes import Forbidden, NotFound, PreconditionFailed, Unprocessable
from fhir_api.providers import _writes
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import allergy as allergy_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page as paged
from fhir_api.search.refine import refine
from patients.clinical.allergies import allergy_record, allergy_void
from patients.models import Allergy, Encounter
from patients.selectors import patient_visible_qs

NOT_PERMITTED = (
    "The client's account at its unit does not hold the permission to {what} allergies "
    "({perms}: a doctor or nurse role at the unit; see docs/fhir.md)."
)


def _visible(call: Call) -> QuerySet[Allergy]:
    """Allergies (voided ones included) of the patients the caller may see."""
    patients = patient_visible_qs(user=call.principal.user).values("pk")
    return Allergy.objects.filter(patient__in=patients).select_related("drug")


def _render(allergy: Allergy, extra: ResourceExtra | None):
    """(body, version, last updated) of an allergy with its kept elements."""
    body = allergy_to_json(allergy)
    version, last = allergy_version(allergy), allergy_last_updated(allergy)
    if extra is not None:
        body = extras_apply(body, extra.content)
        version += extra.revision
        body["meta"]["versionId"] = str(version)
    return body, version, last


def _answer(call: Call, pk: int, *, status: int) -> FhirResult:
    allergy = Allergy.objects.select_related("drug").get(pk=pk)
    body, version, last = _render(allergy, _writes.extras_of(TYPE, [pk]).get(pk))
    return _writes.answer(call, TYPE, body, version, last, status=status)


class AllergyIntoleranceProvider:
    """The AllergyIntolerance resource over patients.Allergy (see module docstring)."""

    field_paths = FIELD_PATHS

    # --- reads ---------------------------------------------------------------------------------

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        allergy = _visible(call).filter(pk=pk).first() if pk else None
        if allergy is None:
            raise NotFound(f"AllergyIntolerance/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.allergy.read",
            target=allergy,
            patient_id=allergy.patient_id,
            detail=call.principal.audit_detail,
        )
        body, version, last = _render(allergy, _writes.extras_of(TYPE, [pk]).get(pk))
        return FhirResult(200, body, version_headers(version, last))

    def vread(self, call: Call, resource_id: str, version_id: str) -> FhirResult:
        result = self.read(call, resource_id)
        if result.headers["ETag"] != etag(int(version_id) if version_id.isdigit() else -1):
            raise NotFound(
                f"Version {version_id} of AllergyIntolerance/{resource_id} is not available "
                "(only the current version is served).",
                expression="meta.versionId",
            )
        return result

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        spec = allergy_search.SPEC
        req = search_request(call, items, allergy_search.PARAMS, spec, TYPE)
        qs = refine(_visible(call).filter(voided_at__isnull=True), req, spec)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.allergy.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        page, next_after, total = paged(qs, req, spec)
        patient_ids = list(dict.fromkeys(a.patient_id for a in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.allergy.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.allergy.search", detail={**detail, "count": 0})
        extras = _writes.extras_of(TYPE, [a.pk for a in page])
        entries = [_render(a, extras.get(a.pk))[0] for a in page]
        return FhirResult(
            200, searchset(call, TYPE, req, entries, next_after=next_after, total=total)
        )

    # --- writes --------------------------------------------------------------------------------

    def create(self, call: Call) -> FhirResult:
        sent = read_body(call.request, TYPE)
        try:
            write = allergy_from_fhir(sent)
        except MappingError as exc:
            raise Unprocessable(exc.message, expression=exc.path) from None
        facility = _writes.client_facility(call)
        user = call.principal.user
        patient = patient_visible_qs(user=user).filter(pk=write.patient_id).first()
        if patient is None:
            raise Unprocessable(
                f"Patient/{write.patient_id} is not known.", expression=f"{TYPE}.patient"
            )
        encounter = None
        if write.encounter_id is not None:
            encounter = Encounter.objects.filter(
                pk=write.encounter_id, patient=patient, voided_at__isnull=True
            ).first()
            if encounter is None:
                raise Unprocessable(
                    f"Encounter/{write.encounter_id} is not an encounter of this patient.",
                    expression=f"{TYPE}.encounter",
                )
        drug_id = None
        if write.drug_code is not None:
            drug_id = Drug.objects.filter(code=write.drug_code).values_list("pk", flat=True).first()
            if drug_id is None:
                raise Unprocessable(
                    f"Drug '{write.drug_code}' is not in the catalog.",
                    expression=f"{TYPE}.code.coding",
                )
        with transaction.atomic():
            try:
                allergy = allergy_record(
                    actor=user,
                    facility=facility,
                    patient=patient,
                    substance=write.substance,
                    drug_id=drug_id,
                    reaction=write.reaction,
                    severity=write.severity,
                    encounter=encounter,
                )
            except PermissionDenied:
                raise Forbidden(
                    NOT_PERMITTED.format(
                        what="record", perms="patients.examine_encounter or record_vitals"
                    )
                ) from None
            allergy = Allergy.objects.select_related("drug").get(pk=allergy.pk)
            stored = allergy_to_json(allergy)
            extras = extras_diff(sent, {k: v for k, v in stored.items() if k not in ("id", "meta")})
            if extras:
                ResourceExtra.objects.create(
                    resource_type=TYPE, resource_id=str(allergy.pk), content=extras
                )
        return _answer(call, allergy.pk, status=201)

    def delete(self, call: Call, resource_id: str) -> FhirResult:
        """Void the allergy (kept, readable as entered-in-error); again: no change, 204."""
        pk = int_id(resource_id)
        allergy = _visible(call).filter(pk=pk).first() if pk else None
        if allergy is None:
            raise NotFound(f"AllergyIntolerance/{resource_id} is not known.")
        facility = _writes.client_facility(call)
        wanted = call.header("If-Match")
        if wanted and parse_etag(wanted) != allergy_version(allergy):
            raise PreconditionFailed(
                f"AllergyIntolerance/{resource_id} is at version {allergy_version(allergy)}, "
                f"not {wanted}: read it again.",
                expression="If-Match",
            )
        if allergy.voided_at is None:
            with transaction.atomic():
                try:
                    allergy_void(
                        actor=call.principal.user,
                        facility=facility,
                        allergy=allergy,
                        reason=_writes.void_reason(call, "Huỷ dị ứng"),
                    )
                except PermissionDenied:
                    raise Forbidden(
                        NOT_PERMITTED.format(what="withdraw", perms="patients.examine_encounter")
                    ) from None
        else:
            audit_record(
                actor=call.principal.user,
                action="fhir.allergy.delete_repeated",
                target=allergy,
                patient_id=allergy.patient_id,
                detail=call.principal.audit_detail,
            )
        allergy.refresh_from_db()
        headers = version_headers(allergy_version(allergy), allergy_last_updated(allergy))
        return FhirResult(204, None, headers)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=AllergyIntoleranceProvider(),
        interactions=("read", "vread", "search-type", "create", "delete"),
        search_params=allergy_search.PARAMS,
        spec=allergy_search.SPEC,
    )
)
