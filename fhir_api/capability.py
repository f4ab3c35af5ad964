"""The CapabilityStatement, generated from the registry (see `fhir_api.registry`)."""

from __future__ import annotations

from typing import Any

from fhir_api import registry
from fhir_api.bulk import BULK_DATA_CAPABILITY, EXPORT_OPERATIONS, GROUP_DOCUMENTATION
from fhir_api.bundles import SYSTEM_INTERACTIONS
from fhir_api.fhir import FHIR_VERSION, MIME_FHIR_JSON

SMART_SERVICE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR",
        }
    ]
}


def capability_statement(*, base_url: str, token_url: str, software_version: str) -> dict[str, Any]:
    """What this server does, resource by resource; nothing that is not implemented."""
    resources = []
    for r in registry.all_resources():
        entry: dict[str, Any] = {
            "type": r.type,
            "interaction": [{"code": i} for i in r.interactions],
            "versioning": "versioned-update",
            "readHistory": False,
            "updateCreate": False,
            "conditionalCreate": r.conditional_create,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
        }
        if r.profile:
            entry["profile"] = r.profile
        params = {**registry.COMMON_PARAMS, **r.search_params}
        if getattr(r.spec, "last_updated", None) is None:
            params.pop("_lastUpdated", None)
        if "search-type" in r.interactions and params:
            entry["searchParam"] = [
                {
                    k: v
                    for k, v in (
                        ("name", p.name),
                        ("type", p.type),
                        ("definition", p.definition),
                        ("documentation", p.documentation),
                    )
                    if v
                }
                for p in params.values()
            ]
        if r.operations:
            entry["operation"] = [
                {"name": o.name, "definition": o.definition} for o in r.operations
            ]
        resources.append(entry)
    _bulk_export(resources)
    return {
        "resourceType": "CapabilityStatement",
        "instantiates": [BULK_DATA_CAPABILITY],
        "status": "active",
        "date": "2026-11-28",
        "kind": "instance",
        "software": {"name": "ehealth-city FHIR API", "version": software_version},
        "implementation": {"description": "City e-health platform FHIR R4 API", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": [MIME_FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [SMART_SERVICE],
                    "description": "OAuth2 client credentials; SMART v2 system scopes.",
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [{"url": "token", "valueUri": token_url}],
                        }
                    ],
                },
                "resource": resources,
                "operation": [_operation(EXPORT_OPERATIONS["system"])],
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
            }
        ],
    }


def _operation(op: registry.Operation) -> dict[str, str]:
    return {"name": op.name, "definition": op.definition}


def _bulk_export(resources: list[dict[str, Any]]) -> None:
    """Bulk Data `$export` (fhir_api/bulk.py): Patient/$export on Patient, and Group/<id>/$export
    on a Group entry that declares no interaction (Group is not served as a resource)."""
    for entry in resources:
        if entry["type"] == "Patient":
            entry.setdefault("operation", []).append(_operation(EXPORT_OPERATIONS["patient"]))
    group = {
        "type": "Group",
        "documentation": GROUP_DOCUMENTATION,
        "operation": [_operation(EXPORT_OPERATIONS["group"])],
    }
    resources.append(group)
    resources.sort(key=lambda e: e["type"])
