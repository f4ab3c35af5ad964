"""AuditEvent search: parameter -> ORM lookup over the audit trail rows the caller may see.

The FHIR elements that are derived rather than stored (type, subtype, action, outcome) are
matched with the same rules the mapper applies (fhir_api/mappers/audit_event.py), as SQL.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet

from ehealth.core.models import AuditEvent
from fhir_api import systems
from fhir_api.mappers.audit_event import (
    ACTION_RULES,
    ACTIONS,
    CLIENT_USER_PREFIX,
    FAILED,
    INTERACTION_ACTION,
    REFUSED,
    RESOURCE_OF_TARGET,
    REST_VERBS,
)
from fhir_api.outcomes import BadRequest
from fhir_api.registry import SearchParam
from fhir_api.search.common import EVERYTHING, NOTHING, int_id, reference_id, utc_midnight
from fhir_api.search.params import Criterion, RangeLookups, Token, date_q
from fhir_api.search.refine import SearchSpec

PARAMS = {
    "date": SearchParam(
        "date",
        "date",
        "When the event was recorded (prefixes eq ne lt gt le ge sa eb; days are UTC).",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-date",
    ),
    "agent": SearchParam(
        "agent",
        "reference",
        "Practitioner/<user id> (or the id alone) for a member of staff; a partner client by its "
        "OAuth2 client_id alone.",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-agent",
    ),
    "altid": SearchParam(
        "altid",
        "token",
        "The agent's other id: a partner's client_id, or a member of staff's username.",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-altid",
    ),
    "patient": SearchParam(
        "patient",
        "reference",
        "Patient/<id> (or the id alone): the events about one patient.",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-patient",
    ),
    "entity": SearchParam(
        "entity",
        "reference",
        "<Type>/<id> of a record the event concerns (Patient/1, Encounter/5, Location/dept-2...).",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-entity",
    ),
    "action": SearchParam(
        "action",
        "token",
        "C | R | U | D | E (a search or an operation is E).",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-action",
    ),
    "type": SearchParam(
        "type",
        "token",
        f"{systems.AUDIT_EVENT_TYPE_CS}|rest (the FHIR API), or the channel of another access: "
        f"{systems.AUDIT_CHANNEL_CS}|web, api, task, cli.",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-type",
    ),
    "subtype": SearchParam(
        "subtype",
        "token",
        f"{systems.RESTFUL_INTERACTION_CS}|<interaction> (read, search-type, create...) or "
        f"{systems.AUDIT_ACTION_CS}|<action> (fhir.patient.read, patient.view...).",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-subtype",
    ),
    "outcome": SearchParam(
        "outcome",
        "token",
        "0 success, 4 refused (4xx), 8 failed (5xx).",
        "http://hl7.org/fhir/SearchParameter/AuditEvent-outcome",
    ),
}

_REFUSED_Q = Q(action__in=[REFUSED, FAILED])
_REST_Q = Q(channel="fhir") | (
    Q(action__startswith="fhir.") & ~Q(action__startswith="fhir.client.")
)
_AT_RANGE = RangeLookups(
    start_ge=lambda d: Q(at__gte=utc_midnight(d)),
    start_lt=lambda d: Q(at__lt=utc_midnight(d)),
    end_le=lambda d: Q(at__lt=utc_midnight(d)),
    end_gt=lambda d: Q(at__gte=utc_midnight(d)),
)


def _any(qs: list[Q]) -> Q:
    return reduce(or_, qs) if qs else NOTHING


def _letter_q(letter: str) -> Q:
    """Rows whose `action` element is `letter` (mapper: action_code)."""
    rules = [Q(action__regex=rx) for _, rx in ACTION_RULES]
    if letter == "E":
        by_name = ~_any(rules)
        by_interaction = ~Q(detail__interaction__in=list(INTERACTION_ACTION))
    else:
        index = [code for code, _ in ACTION_RULES].index(letter)
        by_name = rules[index] & ~_any(rules[:index])
        by_interaction = Q(
            detail__interaction__in=[i for i, code in INTERACTION_ACTION.items() if code == letter]
        )
    return (~_REFUSED_Q & by_name) | (_REFUSED_Q & by_interaction)


def _action_q(token: Token) -> Q:
    if token.system not in (None, "http://hl7.org/fhir/audit-event-action"):
        return NOTHING
    if token.code is None:
        return EVERYTHING
    if token.code not in ACTIONS:
        raise BadRequest("action takes C, R, U, D or E.", expression="action")
    return _letter_q(token.code)


def _interaction_q(code: str | None) -> Q:
    if code is None:
        return _REST_Q
    verbs = [verb for verb, interaction in REST_VERBS.items() if interaction == code]
    by_name = Q(action__regex=rf"\.({'|'.join(verbs)})$") if verbs else NOTHING
    return _REST_Q & ((~_REFUSED_Q & by_name) | (_REFUSED_Q & Q(detail__interaction=code)))


def _subtype_q(token: Token) -> Q:
    if token.system == systems.RESTFUL_INTERACTION_CS:
        return _interaction_q(token.code)
    if token.system == systems.AUDIT_ACTION_CS:
        return EVERYTHING if token.code is None else Q(action=token.code)
    if token.system is None and token.code is not None:
        return _interaction_q(token.code) | Q(action=token.code)
    return NOTHING


def _type_q(token: Token) -> Q:
    code, system = token.code, token.system
    rest = system in (None, systems.AUDIT_EVENT_TYPE_CS) and code in ("rest", None)
    channel = system in (None, systems.AUDIT_CHANNEL_CS) and code != "rest"
    q = _REST_Q if rest else NOTHING
    if channel:
        other = EVERYTHING if code is None else Q(channel="" if code == "other" else code)
        q |= ~_REST_Q & other
    return q


def _outcome_q(token: Token) -> Q:
    if token.system not in (None, "http://hl7.org/fhir/audit-event-outcome"):
        return NOTHING
    return {
        None: EVERYTHING,
        "0": ~_REFUSED_Q,
        "4": Q(action=REFUSED),
        "8": Q(action=FAILED),
    }.get(token.code, NOTHING)


def _agent_q(raw: str) -> Q:
    value = raw.strip()
    if "/" not in value and value and int_id(value) is None:
        return Q(actor_username=f"{CLIENT_USER_PREFIX}{value}")  # a partner's client_id
    pk = int_id(reference_id(value, "Practitioner"))
    return Q(actor_id=pk) if pk is not None else NOTHING


def _altid_q(token: Token) -> Q:
    if token.system not in (None, "") or not token.code:
        return NOTHING
    code = token.code.strip()
    return Q(actor_username=code) | Q(actor_username=f"{CLIENT_USER_PREFIX}{code}")


def _patient_q(raw: str) -> Q:
    pk = int_id(reference_id(raw, "Patient"))
    return Q(patient_id=pk) if pk is not None else NOTHING


def _entity_q(raw: str) -> Q:
    parts = raw.strip().rstrip("/").split("/")
    if len(parts) < 2 or not parts[-1]:
        return NOTHING
    resource_type, rid = parts[-2], parts[-1]
    q = _REFUSED_Q & Q(detail__type=resource_type, detail__id=rid)
    for target_type, (rtype, prefix) in RESOURCE_OF_TARGET.items():
        if rtype == resource_type and rid.startswith(prefix):
            q |= Q(target_type=target_type, target_id=rid.removeprefix(prefix))
    if resource_type == "Patient" and int_id(rid) is not None:
        q |= Q(patient_id=int_id(rid))
    return q


def _id_q(token: Token) -> Q:
    pk = int_id(token.code)
    return Q(pk=pk) if pk is not None else NOTHING


_TOKEN = {
    "_id": _id_q,
    "altid": _altid_q,
    "action": _action_q,
    "type": _type_q,
    "subtype": _subtype_q,
    "outcome": _outcome_q,
}
_REFERENCE = {"agent": _agent_q, "patient": _patient_q, "entity": _entity_q}


def audit_event_filter(qs: QuerySet[AuditEvent], criteria: list[Criterion]) -> QuerySet[AuditEvent]:
    """Apply the parsed criteria (values ORed within one, criteria ANDed)."""
    for c in criteria:
        q = NOTHING
        for value in c.values:
            name = c.param.name
            if name == "date":
                q |= date_q(value, _AT_RANGE)
            elif name in _TOKEN:
                q |= _TOKEN[name](value)
            elif name in _REFERENCE:
                q |= _REFERENCE[name](value)
        qs = qs.filter(q)
    return qs


# An event never changes: `_lastUpdated` is when it was recorded; `_sort=-date` lists the latest
# first; `:not` on the tokens and `_total` as everywhere.
SPEC = SearchSpec(filter=audit_event_filter, last_updated="at", sorts={"date": "at"})
