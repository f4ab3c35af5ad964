"""MedicationRequest interactions: read and search over the drug lines of prescriptions.

Visibility follows the encounter (providers/_orders.py): anything the caller may not see answers
404. A voided line is still served on read (status `entered-in-error`, so a partner that copied it
learns it was withdrawn) but never returned by a search. Every access is audited per patient.
"""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.medication_request import (
    item_last_updated,
    item_version,
    medication_request_to_json,
)
from fhir_api.providers._orders import read_one, search_page, visible_q
from fhir_api.search import medication_request as mr_search
from patients.models import PrescriptionItem

TYPE = "MedicationRequest"


def visible_items(call: Call) -> QuerySet[PrescriptionItem]:
    """Drug lines (voided ones included) of the encounters the caller may see."""
    return PrescriptionItem.objects.filter(visible_q(call, "prescription__encounter"))


def with_prescription(qs: QuerySet[PrescriptionItem]) -> QuerySet[PrescriptionItem]:
    """One query for a page: the line with its prescription, encounter and drug."""
    return qs.select_related("prescription__encounter", "drug").only(
        "id",
        "prescription_id",
        "drug_id",
        "dose",
        "dose_unit",
        "route",
        "times_per_day",
        "days",
        "quantity",
        "instructions",
        "allergy_override_reason",
        "duplicate_override_reason",
        "voided_at",
        "voided_by_id",
        "void_reason",
        "prescription__id",
        "prescription__encounter_id",
        "prescription__status",
        "prescription__prescribed_by_id",
        "prescription__prescribed_at",
        "prescription__for_day",
        "prescription__note",
        "prescription__cancelled_at",
        "prescription__cancel_reason",
        "prescription__version",
        "prescription__encounter__id",
        "prescription__encounter__patient_id",
        "prescription__encounter__kind",
        "drug__id",
        "drug__code",
        "drug__name",
        "drug__unit",
        "drug__active_ingredient",
        "drug__active_ingredient_code",
    )


def _patient(item: PrescriptionItem) -> int:
    return item.prescription.encounter.patient_id


class MedicationRequestProvider:
    """The MedicationRequest resource over patients.PrescriptionItem (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        today = timezone.localdate()
        return read_one(
            call,
            resource_type=TYPE,
            resource_id=resource_id,
            qs=with_prescription(visible_items(call)),
            action="fhir.medication_request.read",
            patient_of=_patient,
            version_of=item_version,
            updated_of=item_last_updated,
            to_json=lambda item: medication_request_to_json(item, today),
        )

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        today = timezone.localdate()
        return search_page(
            call,
            items,
            resource_type=TYPE,
            params=mr_search.PARAMS,
            spec=mr_search.spec(today),
            qs=visible_items(call).filter(voided_at__isnull=True),
            load=with_prescription,
            action="fhir.medication_request.search",
            patient_of=_patient,
            to_json=lambda item: medication_request_to_json(item, today),
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=MedicationRequestProvider(),
        interactions=("read", "search-type"),
        search_params=mr_search.PARAMS,
        # which shared features the search answers (the CapabilityStatement); a search builds
        # its own spec for the day it runs
        spec=mr_search.spec(date(2000, 1, 1)),
    )
)
