"""MedicationRequest search: parameter -> ORM lookup over the drug lines the caller may see."""

from __future__ import annotations

from datetime import date

from django.db.models import DateField, F, Func, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from fhir_api import systems
from fhir_api.mappers.medication_request import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    DRAFT,
    ERROR,
    INTENT,
)
from fhir_api.registry import SearchParam
from fhir_api.search import orders_common as sc
from fhir_api.search.common import NOTHING
from fhir_api.search.params import Criterion, date_q
from fhir_api.search.refine import SearchSpec
from patients.clinical_choices import PrescriptionStatus
from patients.models import PrescriptionItem

MEDREQ_STATUS_CS = "http://hl7.org/fhir/CodeSystem/medicationrequest-status"
MEDREQ_INTENT_CS = "http://hl7.org/fhir/CodeSystem/medicationrequest-intent"

PARAMS = {
    **sc.patient_params("MedicationRequest", "prescribed drugs"),
    "code": SearchParam(
        "code",
        "token",
        f"The drug: its catalog code ({systems.DRUG_CATALOG_CS}|<code>) or MA_THUOC "
        f"({systems.MOH_DRUG_CS}|<code>); without a system, either.",
        "http://hl7.org/fhir/SearchParameter/clinical-code",
    ),
    "status": SearchParam(
        "status",
        "token",
        "active (course still running), completed (course over), draft (prescription not yet "
        "issued), cancelled (prescription cancelled). Voided lines are never returned.",
        "http://hl7.org/fhir/SearchParameter/medications-status",
    ),
    "intent": SearchParam(
        "intent",
        "token",
        "order (every line); other codes match nothing.",
        "http://hl7.org/fhir/SearchParameter/MedicationRequest-intent",
    ),
    "authoredon": SearchParam(
        "authoredon",
        "date",
        "When prescribed (or issued), against the date (prefixes eq ne lt gt le ge sa eb; days "
        "are UTC).",
        "http://hl7.org/fhir/SearchParameter/MedicationRequest-authoredon",
    ),
    "requester": sc.reference_param(
        "requester", "Practitioner/<user id>: the prescriber.", "MedicationRequest-requester"
    ),
}
# meta.lastUpdated of a line (mappers/medication_request.py: item_last_updated)
CHANGE_TIMES = ("prescription__prescribed_at", "prescription__cancelled_at", "voided_at")

_COURSE_END = "_course_end"
_AUTHORED = sc.instant_range("prescription__prescribed_at")


def course_end_expression() -> Func:
    """The first day after the course, as the mapper's `course_end`: the day of a daily order,
    else the local day prescribed, plus `days` (PostgreSQL date + integer)."""
    start = Coalesce(
        F("prescription__for_day"),
        TruncDate("prescription__prescribed_at", tzinfo=timezone.get_current_timezone()),
    )
    return Func(
        start, F("days"), template="(%(expressions)s)", arg_joiner=" + ", output_field=DateField()
    )


def status_lookups(today: date) -> dict[str, Q]:
    """Status code -> condition; `active`/`completed` compare the course's end with today."""
    live = Q(voided_at__isnull=True)
    in_force = live & (
        Q(prescription__status=PrescriptionStatus.ISSUED)
        | Q(prescription__status=PrescriptionStatus.DRAFT, prescription__for_day__isnull=False)
    )
    return {
        ACTIVE: in_force & Q(**{f"{_COURSE_END}__gt": today}),
        COMPLETED: in_force & Q(**{f"{_COURSE_END}__lte": today}),
        DRAFT: live
        & Q(prescription__status=PrescriptionStatus.DRAFT, prescription__for_day__isnull=True),
        CANCELLED: live & Q(prescription__status=PrescriptionStatus.CANCELLED),
        ERROR: Q(voided_at__isnull=False),
    }


def medication_request_filter(
    qs: QuerySet[PrescriptionItem], criteria: list[Criterion], today: date
) -> QuerySet[PrescriptionItem]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    statuses = None
    if any(c.param.name == "status" for c in criteria):
        qs = qs.annotate(**{_COURSE_END: course_end_expression()})
        statuses = status_lookups(today)
    for c in criteria:
        q = NOTHING
        name = c.param.name
        for value in c.values:
            if name == "_id":
                q |= sc.id_q(value)
            elif name in ("patient", "subject"):
                q |= sc.reference_q(value, "Patient", "prescription__encounter__patient_id")
            elif name == "encounter":
                q |= sc.reference_q(value, "Encounter", "prescription__encounter_id")
            elif name == "code":
                q |= sc.drug_code_q(value)
            elif name == "status":
                q |= sc.status_q(value, MEDREQ_STATUS_CS, statuses)
            elif name == "intent":
                q |= sc.fixed_token_q(value, MEDREQ_INTENT_CS, INTENT)
            elif name == "authoredon":
                q |= date_q(value, _AUTHORED)
            elif name == "requester":
                q |= sc.reference_q(value, "Practitioner", "prescription__prescribed_by_id")
        qs = qs.filter(q)
    return qs


def spec(today: date) -> SearchSpec:
    """The search of the day (`active`/`completed` depend on it)."""
    return SearchSpec(
        filter=lambda qs, criteria: medication_request_filter(qs, criteria, today),
        last_updated=sc.latest_of(*CHANGE_TIMES),
        sorts={"authoredon": "prescription__prescribed_at"},
    )
