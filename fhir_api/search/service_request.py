"""ServiceRequest search: parameter -> ORM lookup over the orders the caller may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from fhir_api import systems
from fhir_api.mappers.orders_common import SNOMED_CATEGORY
from fhir_api.mappers.service_request import DOMAIN_STATUSES, INTENT
from fhir_api.registry import SearchParam
from fhir_api.search import orders_common as sc
from fhir_api.search.common import NOTHING, int_id
from fhir_api.search.params import Criterion, Token, date_q
from fhir_api.search.refine import SearchSpec
from patients.models import ServiceOrder

REQUEST_STATUS_CS = "http://hl7.org/fhir/request-status"
REQUEST_INTENT_CS = "http://hl7.org/fhir/request-intent"

PARAMS = {
    **sc.patient_params("ServiceRequest", "orders"),
    "code": SearchParam(
        "code",
        "token",
        f"The service: its catalog code ({systems.SERVICE_CATALOG_CS}|<code>) or its MoH code "
        f"({systems.MOH_SERVICE_CS}|<MA_DICH_VU>); without a system, either.",
        "http://hl7.org/fhir/SearchParameter/clinical-code",
    ),
    "status": SearchParam(
        "status",
        "token",
        "active (ordered, in progress), completed (resulted), revoked (cancelled).",
        "http://hl7.org/fhir/SearchParameter/ServiceRequest-status",
    ),
    "intent": SearchParam(
        "intent",
        "token",
        "order (every order); other codes match nothing.",
        "http://hl7.org/fhir/SearchParameter/ServiceRequest-intent",
    ),
    "authored": SearchParam(
        "authored",
        "date",
        "When ordered, against the date (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        "http://hl7.org/fhir/SearchParameter/ServiceRequest-authored",
    ),
    "category": SearchParam(
        "category",
        "token",
        f"The MA_NHOM cost group ({systems.COST_GROUP_CS}|1 = lab, 2 = imaging, ...) or its "
        "SNOMED CT category (108252007 laboratory, 363679005 imaging, ...).",
        "http://hl7.org/fhir/SearchParameter/ServiceRequest-category",
    ),
    "requester": sc.reference_param(
        "requester", "Practitioner/<user id>: the ordering doctor.", "ServiceRequest-requester"
    ),
}
# meta.lastUpdated of an order (mappers/service_request.py: order_last_updated)
CHANGE_TIMES = ("ordered_at", "performed_at", "resulted_at", "cancelled_at")

STATUS_Q = {
    fhir: Q(status__in=domain) if len(domain) > 1 else Q(status=domain[0])
    for fhir, domain in DOMAIN_STATUSES.items()
}
_AUTHORED = sc.instant_range("ordered_at")


def category_q(token: Token, field: str = "service__group") -> Q:
    """A cost group by its MA_NHOM code, or the groups of a SNOMED CT category."""
    by_group = token.system in (None, systems.COST_GROUP_CS)
    by_snomed = token.system in (None, systems.SNOMED_SCT)
    if not (by_group or by_snomed):
        return NOTHING
    if token.code is None:
        if by_group:
            return Q(**{f"{field}__isnull": False})
        return Q(**{f"{field}__in": list(SNOMED_CATEGORY)})
    code = token.code.strip()
    q = NOTHING
    if by_group and int_id(code) is not None:
        q |= Q(**{field: int(code)})
    if by_snomed:
        groups = [group for group, (snomed, _d) in SNOMED_CATEGORY.items() if snomed == code]
        if groups:
            q |= Q(**{f"{field}__in": groups})
    return q


def service_request_filter(
    qs: QuerySet[ServiceOrder], criteria: list[Criterion]
) -> QuerySet[ServiceOrder]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
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
                q |= sc.status_q(value, REQUEST_STATUS_CS, STATUS_Q)
            elif name == "intent":
                q |= sc.fixed_token_q(value, REQUEST_INTENT_CS, INTENT)
            elif name == "authored":
                q |= date_q(value, _AUTHORED)
            elif name == "category":
                q |= category_q(value)
            elif name == "requester":
                q |= sc.reference_q(value, "Practitioner", "ordered_by_id")
        qs = qs.filter(q)
    return qs


SPEC = SearchSpec(
    filter=service_request_filter,
    last_updated=sc.latest_of(*CHANGE_TIMES),
    sorts={"authored": "ordered_at"},
)
