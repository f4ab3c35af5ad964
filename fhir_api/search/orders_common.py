"""Pieces shared by the search tables of ServiceRequest, DiagnosticReport and MedicationRequest:
ids, references, instants against dates, the codes of services and drugs, fixed tokens."""

from __future__ import annotations

from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest

from fhir_api import systems
from fhir_api.registry import SearchParam
from fhir_api.search.common import EVERYTHING, NOTHING, int_id, reference_id, utc_midnight
from fhir_api.search.params import RangeLookups, Token


def reference_param(name: str, doc: str, definition: str) -> SearchParam:
    return SearchParam(name, "reference", doc, f"http://hl7.org/fhir/SearchParameter/{definition}")


def patient_params(resource_type: str, what: str) -> dict[str, SearchParam]:
    """`patient`, `subject` and `encounter`, as every clinical resource has them."""
    return {
        "patient": reference_param(
            "patient", f"Patient/<id> (or the id alone): the patient's {what}.", "clinical-patient"
        ),
        "subject": reference_param(
            "subject", "Patient/<id>: same as patient.", f"{resource_type}-subject"
        ),
        "encounter": reference_param(
            "encounter", f"Encounter/<id>: the {what} of one visit or stay.", "clinical-encounter"
        ),
    }


def latest_of(first: str, *others: str) -> Greatest:
    """The latest of change times (for `_lastUpdated`, never NULL): `first` is never NULL, each
    other one counts where set."""
    return Greatest(F(first), *(Coalesce(F(o), F(first)) for o in others))


def id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


def reference_q(raw: str, resource_type: str, field: str) -> Q:
    pk = int_id(reference_id(raw, resource_type))
    return Q(**{field: pk}) if pk is not None else NOTHING


def instant_range(field: str) -> RangeLookups:
    """An instant against a date: a range whose start and end are the same moment."""
    return RangeLookups(
        start_ge=lambda d: Q(**{f"{field}__gte": utc_midnight(d)}),
        start_lt=lambda d: Q(**{f"{field}__lt": utc_midnight(d)}),
        end_le=lambda d: Q(**{f"{field}__lt": utc_midnight(d)}),
        end_gt=lambda d: Q(**{f"{field}__gte": utc_midnight(d)}),
    )


def _codes_q(token: Token, by_system: dict[str, str]) -> Q:
    """A code in one of the systems (field per system); no system given: any of them."""
    if token.system is None:
        fields = list(by_system.values())
    elif token.system in by_system:
        fields = [by_system[token.system]]
    else:
        return NOTHING
    if token.code is None:  # "system|": any code of that system
        q = NOTHING
        for field in fields:
            q |= ~Q(**{field: ""})
        return q
    q = NOTHING
    for field in fields:
        q |= Q(**{field: token.code.strip()})
    return q


def service_code_q(token: Token, prefix: str = "service__") -> Q:
    """The service's catalog code or its MoH MA_DICH_VU (exact, as codes are)."""
    return _codes_q(
        token,
        {
            systems.SERVICE_CATALOG_CS: f"{prefix}code",
            systems.MOH_SERVICE_CS: f"{prefix}moh_code",
        },
    )


def drug_code_q(token: Token, prefix: str = "drug__") -> Q:
    """The drug's catalog code or its MA_THUOC."""
    return _codes_q(
        token,
        {
            systems.DRUG_CATALOG_CS: f"{prefix}code",
            systems.MOH_DRUG_CS: f"{prefix}active_ingredient_code",
        },
    )


def fixed_token_q(token: Token, system: str, code: str) -> Q:
    """A token every resource of the type carries (e.g. intent `order`)."""
    if token.system not in (None, system):
        return NOTHING
    return EVERYTHING if token.code in (None, code) else NOTHING


def status_q(token: Token, system: str, lookup: dict[str, Q]) -> Q:
    """A status token: its code's condition (codes not listed match nothing)."""
    if token.system not in (None, system):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    return lookup.get(token.code, NOTHING)
