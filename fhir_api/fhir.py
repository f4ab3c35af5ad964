"""The FHIR release of the API, pinned in one place.

The wire declares FHIR R4 (4.0.1). Resources are parsed and validated with `fhir.resources`' R4B
models, used only where R4 and R4B agree (Patient, Bundle, OperationOutcome and CapabilityStatement
are the same in both). Nothing else in the project imports `fhir.resources` directly.
"""

from __future__ import annotations

import importlib
from typing import Any

from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from pydantic import ValidationError as PydanticValidationError

FHIR_VERSION = "4.0.1"
MIME_FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = f"{MIME_FHIR_JSON}; fhirVersion=4.0; charset=utf-8"
ACCEPTED_JSON = {MIME_FHIR_JSON, "application/json", "json", "application/json+fhir"}

__all__ = [
    "ACCEPTED_JSON",
    "CONTENT_TYPE",
    "FHIR_VERSION",
    "MIME_FHIR_JSON",
    "FHIRResourceModel",
    "PydanticValidationError",
    "dump",
    "resource_class",
    "validate",
]


def resource_class(resource_type: str) -> type[FHIRResourceModel]:
    """The R4B model class of a resource type ("Patient" -> fhir.resources.R4B.patient.Patient)."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def validate(data: dict[str, Any], resource_type: str | None = None) -> FHIRResourceModel:
    """Parse and validate a resource given as JSON-like data (pydantic ValidationError if not)."""
    return resource_class(resource_type or str(data.get("resourceType")))(**data)


def dump(resource: FHIRResourceModel) -> dict[str, Any]:
    """The JSON form of a validated resource (empty elements left out)."""
    return resource.model_dump(mode="json", exclude_none=True)
