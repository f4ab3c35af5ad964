"""AuditEvent: one row of the audit trail (core.AuditEvent) -> FHIR AuditEvent, as a pure function.

It reads only the row given (with its facility loaded). Read-only: the trail is append-only.

- `type`: HL7 `audit-event-type#rest` for an access through the FHIR API (channel `fhir`, or a
  `fhir.*` action of a staff session); otherwise the channel (`web`, `api`, `task`, `cli`) in the
  local `urn:ehealth-city:audit-channel`.
- `subtype`: the FHIR interaction (`restful-interaction`: read, search-type, create, ...) where
  known, and always the trail's own action name (`urn:ehealth-city:audit-action`, e.g.
  `fhir.patient.read`, `patient.view`).
- `action` C/R/U/D/E: a refused request's from its interaction, any other from the verb of its
  action name (`ACTION_RULES`: read/view/print R, create/add/record C, update/share U, void D;
  anything else, a search or an operation included, E as the specification says for queries).
- `outcome`: 0 success; 4 a refused request (`fhir.refused`, 4xx), 8 a failed one (`fhir.error`).
- `agent`: the partner client (who = its OAuth2 client_id as an identifier, altId = the client_id)
  or the member of staff (`Practitioner/<user pk>`, altId = the username), with the role held and
  the IP address.
- `entity`: the record (`Patient/1`, `Encounter/5`, `Location/dept-2`...; a record no resource
  maps is named by an identifier `urn:ehealth-city:record:<app.Model>`), the patient concerned,
  and the search's parameter names and count (never their values: the trail does not keep them).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone

from ehealth.core.models import AuditEvent
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers.practitioner_role import role_concept

CLIENT_USER_PREFIX = "fhir-client-"  # the service account of a partner (fhir_api.clients)
REFUSED, FAILED = "fhir.refused", "fhir.error"
OUTCOME_OF_ACTION = {REFUSED: "4", FAILED: "8"}
OUTCOMES = ("0", "4", "8", "12")
ACTIONS = ("C", "R", "U", "D", "E")

# The verb (last part of the action name) of a REST access -> its restful-interaction code.
REST_VERBS = {
    "read": "read",
    "vread": "vread",
    "search": "search-type",
    "history": "history-instance",
    "create": "create",
    "create_matched": "create",
    "update": "update",
    "patch": "patch",
    "delete": "delete",
}
INTERACTION_ACTION = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
}  # anything else (search-type, operation, batch...) executes: E

# The action letter of a row, from the verb of its action name, first match wins (the
# same patterns filter in SQL, search/audit_event.py); no match is E (execute).
ACTION_RULES = (
    ("R", r"\.(read|vread|history(_[a-z_]+)?|print|view(_[a-z_]+)?|[a-z_]+_(view|print))$"),
    (
        "C",
        r"\.((create|add|register|enroll|record|check_in|build|derive|import|assign|admit"
        r"|seed_demo)(_[a-z_]+)?|[a-z_]+_(create|add|build|import|derive)(_[a-z_]+)?)$",
    ),
    (
        "U",
        r"\.((update|correct|merge|share|verify|transfer|discharge|cancel|resume|await|change"
        r"|match|patch)(_[a-z_]+)?|[a-z_]+_(update|cancel|match|correct))$",
    ),
    ("D", r"\.((delete|void|unshare|remove)(_[a-z_]+)?|[a-z_]+_(delete|void|remove))$"),
)
_RULES = tuple((letter, re.compile(rx)) for letter, rx in ACTION_RULES)

# The records the API serves as resources: "<app.Model>" -> (resource type, id prefix).
RESOURCE_OF_TARGET = {
    "patients.Patient": ("Patient", ""),
    "patients.Encounter": ("Encounter", ""),
    "patients.Diagnosis": ("Condition", ""),
    "insurance.InsuranceCard": ("Coverage", ""),
    "core.Facility": ("Organization", ""),
    "core.Department": ("Location", "dept-"),
    "core.Ward": ("Location", "ward-"),
    "core.Bed": ("Location", "bed-"),
    "core.User": ("Practitioner", ""),
    "core.StaffMembership": ("PractitionerRole", ""),
    "core.AuditEvent": ("AuditEvent", ""),
}
# What a row's `detail` may show (ids and codes; the rest stays in the trail).
DETAIL_KEYS = ("params", "count", "status", "interaction", "type", "id")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

SYSTEM_OBJECT = dt.coding(systems.AUDIT_ENTITY_TYPE_CS, "2", "System Object")
PERSON = dt.coding(systems.AUDIT_ENTITY_TYPE_CS, "1", "Person")
ROLE_PATIENT = dt.coding(systems.OBJECT_ROLE_CS, "1", "Patient")
ROLE_DOMAIN_RESOURCE = dt.coding(systems.OBJECT_ROLE_CS, "4", "Domain Resource")
ROLE_QUERY = dt.coding(systems.OBJECT_ROLE_CS, "24", "Query")
APPLICATION = dt.coding(systems.DICOM_DCM, "110150", "Application")
HUMAN_USER = dt.coding(systems.SECURITY_ROLE_TYPE_CS, "humanuser", "human user")
SERVER_SOURCE = dt.coding(systems.AUDIT_SOURCE_TYPE_CS, "4", "Application Server")
OBSERVER = {"display": "eHealth city platform (FHIR server)"}


def is_rest(event: AuditEvent) -> bool:
    """An access through the FHIR API (a client, or a staff session reading the API)."""
    action = event.action or ""
    return event.channel == "fhir" or (
        action.startswith("fhir.") and not action.startswith("fhir.client.")
    )


def client_id_of(event: AuditEvent) -> str | None:
    """The OAuth2 client_id when the actor is a partner's service account."""
    name = event.actor_username or ""
    return name.removeprefix(CLIENT_USER_PREFIX) if name.startswith(CLIENT_USER_PREFIX) else None


def interaction_of(event: AuditEvent) -> str | None:
    """The FHIR interaction of a REST access, where the trail says it."""
    if not is_rest(event):
        return None
    if event.action in OUTCOME_OF_ACTION:
        return (event.detail or {}).get("interaction") or None
    return REST_VERBS.get(event.action.rsplit(".", 1)[-1])


def action_code(event: AuditEvent) -> str:
    """C, R, U, D or E."""
    if event.action in OUTCOME_OF_ACTION:
        return INTERACTION_ACTION.get((event.detail or {}).get("interaction") or "", "E")
    # The rules give the REST verbs the letter of their interaction (read R, search E, ...).
    for letter, rx in _RULES:
        if rx.search(event.action or ""):
            return letter
    return "E"


def outcome_code(event: AuditEvent) -> str:
    return OUTCOME_OF_ACTION.get(event.action, "0")


def target_reference(target_type: str, target_id: str) -> dict[str, Any]:
    """The record as a reference: a resource where the API serves one, else an identifier."""
    resource = RESOURCE_OF_TARGET.get(target_type)
    if resource is not None:
        return {"reference": f"{resource[0]}/{resource[1]}{target_id}"}
    return {"identifier": dt.identifier(f"{systems.RECORD_PREFIX}{target_type}", target_id)}


def _network(event: AuditEvent) -> dict[str, Any] | None:
    return {"address": str(event.ip_address), "type": "2"} if event.ip_address else None


def _agent(event: AuditEvent) -> dict[str, Any]:
    client_id = client_id_of(event)
    if client_id is not None:
        agent: dict[str, Any] = {
            "type": {"coding": [APPLICATION]},
            "who": {
                "identifier": dt.identifier(systems.FHIR_CLIENT_ID, client_id),
                "display": event.actor_username,
            },
            "altId": client_id,
            "requestor": True,
        }
    elif event.actor_id is not None:
        agent = {
            "type": {"coding": [HUMAN_USER]},
            "who": {"reference": f"Practitioner/{event.actor_id}"},
            "requestor": True,
        }
        if event.actor_username:
            agent["altId"] = event.actor_username
    elif event.action in OUTCOME_OF_ACTION:
        agent = {"who": {"display": "unauthenticated caller"}, "requestor": True}
    else:
        agent = {
            "type": {"coding": [APPLICATION]},
            "who": {"display": "eHealth city platform"},
            "requestor": False,
        }
    if event.role:
        agent["role"] = [role_concept(event.role)]
    network = _network(event)
    if network:
        agent["network"] = network
    return agent


def _details(detail: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in DETAIL_KEYS:
        value = detail.get(key)
        if value in (None, "", []):
            continue
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        out.append({"type": key, "valueString": text})
    return out


def _entities(event: AuditEvent) -> list[dict[str, Any]]:
    detail = event.detail or {}
    entities: list[dict[str, Any]] = []
    patient_shown = False
    if event.target_type and event.target_id:
        is_patient = event.target_type == "patients.Patient"
        patient_shown = is_patient and event.target_id == str(event.patient_id)
        entities.append(
            {
                "what": target_reference(event.target_type, event.target_id),
                "type": PERSON if is_patient else SYSTEM_OBJECT,
                "role": ROLE_PATIENT if is_patient else ROLE_DOMAIN_RESOURCE,
            }
        )
    elif event.action in OUTCOME_OF_ACTION and detail.get("type"):
        entity: dict[str, Any] = {"type": SYSTEM_OBJECT, "role": ROLE_DOMAIN_RESOURCE}
        rid = str(detail.get("id") or "")
        if rid and _FHIR_ID.match(rid) and _FHIR_ID.match(str(detail["type"])):
            entity["what"] = {"reference": f"{detail['type']}/{rid}"}
        entities.append(entity)
    if event.patient_id is not None and not patient_shown:
        entities.append(
            {
                "what": {"reference": f"Patient/{event.patient_id}"},
                "type": PERSON,
                "role": ROLE_PATIENT,
            }
        )
    details = _details(detail)
    if details:
        if "params" in detail:
            entities.append({"type": SYSTEM_OBJECT, "role": ROLE_QUERY, "detail": details})
        elif entities:
            entities[0]["detail"] = details
        else:
            entities.append({"type": SYSTEM_OBJECT, "detail": details})
    return entities


def audit_event_to_json(event: AuditEvent) -> dict[str, Any]:
    """The FHIR AuditEvent of a trail row, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "AuditEvent"}
    recorded = timezone.localtime(event.at).isoformat() if event.at else None
    if event.pk is not None:
        data["id"] = str(event.pk)
        data["meta"] = {"versionId": "1"}
        if recorded:
            data["meta"]["lastUpdated"] = recorded
    action = event.action or ""
    subtype = [dt.coding(systems.AUDIT_ACTION_CS, action)] if action else []
    if is_rest(event):
        data["type"] = dt.coding(systems.AUDIT_EVENT_TYPE_CS, "rest", "RESTful Operation")
        interaction = interaction_of(event)
        if interaction:
            subtype.insert(0, dt.coding(systems.RESTFUL_INTERACTION_CS, interaction))
    else:
        data["type"] = dt.coding(systems.AUDIT_CHANNEL_CS, event.channel or "other")
    if subtype:
        data["subtype"] = subtype
    data["action"] = action_code(event)
    if recorded:
        data["recorded"] = recorded
    data["outcome"] = outcome_code(event)
    status = (event.detail or {}).get("status")
    if data["outcome"] != "0" and status:
        data["outcomeDesc"] = f"HTTP {status}"
    data["agent"] = [_agent(event)]
    source: dict[str, Any] = {"observer": OBSERVER, "type": [SERVER_SOURCE]}
    if event.facility_id is not None:
        source["site"] = event.facility.code
    data["source"] = source
    entities = _entities(event)
    if entities:
        data["entity"] = entities
    return data


def audit_event_to_fhir(event: AuditEvent) -> FHIRResourceModel:
    """The FHIR AuditEvent of a trail row, validated by the pinned FHIR models."""
    return validate(audit_event_to_json(event), "AuditEvent")
