"""DiagnosticReport search: parameter -> ORM lookup over the resulted orders the caller may see."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from fhir_api import systems
from fhir_api.mappers.diagnostic_report import ERROR, FINAL, PRELIMINARY
from fhir_api.mappers.orders_common import OTHER_SECTION, SECTION_OF_GROUP
from fhir_api.registry import SearchParam
from fhir_api.search import orders_common as sc
from fhir_api.search.common import EVERYTHING, NOTHING
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from fhir_api.search.service_request import CHANGE_TIMES
from patients.clinical_choices import OrderStatus
from patients.models import ResultValue, ServiceOrder

REPORT_STATUS_CS = "http://hl7.org/fhir/diagnostic-report-status"

PARAMS = {
    **sc.patient_params("DiagnosticReport", "reports"),
    "code": SearchParam(
        "code",
        "token",
        f"The service reported on: its catalog code ({systems.SERVICE_CATALOG_CS}|<code>) or its "
        f"MoH code ({systems.MOH_SERVICE_CS}|<MA_DICH_VU>); without a system, either.",
        "http://hl7.org/fhir/SearchParameter/clinical-code",
    ),
    "status": SearchParam(
        "status",
        "token",
        "final (resulted), preliminary (values before the order is resulted), entered-in-error.",
        "http://hl7.org/fhir/SearchParameter/DiagnosticReport-status",
    ),
    "date": SearchParam(
        "date",
        "date",
        "effectiveDateTime (performed, else resulted) against the date (prefixes eq ne lt gt le "
        "ge sa eb; days are UTC).",
        "http://hl7.org/fhir/SearchParameter/clinical-date",
    ),
    "based-on": sc.reference_param(
        "based-on", "ServiceRequest/<id>: the report of that order.", "DiagnosticReport-based-on"
    ),
    "category": SearchParam(
        "category",
        "token",
        f"The diagnostic section ({systems.DIAGNOSTIC_SECTION_CS}): LAB, RAD or OTH.",
        "http://hl7.org/fhir/SearchParameter/DiagnosticReport-category",
    ),
}

STATUS_Q = {
    FINAL: Q(status=OrderStatus.RESULTED),
    PRELIMINARY: Q(status__in=(OrderStatus.ORDERED, OrderStatus.IN_PROGRESS)),
    ERROR: Q(status=OrderStatus.CANCELLED),
}
_EFFECTIVE = "_effective"
_DATE = sc.instant_range(_EFFECTIVE)


def has_report_q() -> Q:
    """Orders that are reports: with result values or a conclusion."""
    values = ResultValue.objects.filter(order_id=OuterRef("pk"))
    return Exists(values) | ~Q(result_conclusion="")


def _section_q(token: Token) -> Q:
    if token.system not in (None, systems.DIAGNOSTIC_SECTION_CS):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    code = token.code.strip()
    if code == OTHER_SECTION[0]:
        return ~Q(service__group__in=list(SECTION_OF_GROUP))
    groups = [group for group, (section, _d) in SECTION_OF_GROUP.items() if section == code]
    return Q(service__group__in=groups) if groups else NOTHING


def diagnostic_report_filter(
    qs: QuerySet[ServiceOrder], criteria: list[Criterion]
) -> QuerySet[ServiceOrder]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    if any(c.param.name == "date" for c in criteria):
        qs = qs.annotate(**{_EFFECTIVE: Coalesce("performed_at", "resulted_at")})
    for c in criteria:
        q = NOTHING
        name = c.param.name
        for value in c.values:
            if name == "_id":
                q |= sc.id_q(value)
            elif name in ("patient", "subject"):
                q |= sc.reference_q(value, "Patient", "encounter__patient_id")
            elif name == "encounter":
                q |= sc.reference_q(value, "Encounter", "encounter_id")
            elif name == "code":
                q |= sc.service_code_q(value)
            elif name == "status":
                q |= sc.status_q(value, REPORT_STATUS_CS, STATUS_Q)
            elif name == "date":
                q |= date_q(value, _DATE)
            elif name == "based-on":
                q |= sc.reference_q(value, "ServiceRequest", "pk")
            elif name == "category":
                q |= _section_q(value)
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=diagnostic_report_filter,
    last_updated=sc.latest_of(*CHANGE_TIMES),
    sorts={
        "date": Coalesce("performed_at", "resulted_at", "ordered_at"),
        "issued": Coalesce("resulted_at", "ordered_at"),
    },
)
