"""Errors of the FHIR API: every 4xx/5xx body is an OperationOutcome built here, in one place.

Handlers raise `FhirError` (or a subclass); domain errors and validation errors are translated by
`outcome_for_exception`, which the view wrapper calls for anything that escapes a handler.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from ehealth.core.exceptions import (
    ConcurrentEditError,
    DomainError,
    DuplicateIdentifierError,
    NotFoundOrForbidden,
)
from fhir_api.fhir import PydanticValidationError

logger = logging.getLogger(__name__)


@dataclass
class Issue:
    """One OperationOutcome.issue: severity, code (IssueType), text and the element path(s)."""

    code: str
    diagnostics: str
    expression: list[str] = field(default_factory=list)
    severity: str = "error"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            data["expression"] = self.expression
        return data


class FhirError(Exception):
    """An error answered with `status` and an OperationOutcome of `issues`."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        diagnostics: str = "",
        *,
        expression: list[str] | str | None = None,
        issues: list[Issue] | None = None,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(diagnostics)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if isinstance(expression, str):
            expression = [expression]
        self.issues = issues or [Issue(self.code, diagnostics, list(expression or []))]
        self.headers = headers or {}


class BadRequest(FhirError):
    status, code = 400, "invalid"


class NotAuthenticated(FhirError):
    status, code = 401, "login"

    def __init__(self, diagnostics: str = "Authentication required (OAuth2 bearer token).", **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="fhir"'})
        super().__init__(diagnostics, **kw)


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotFound(FhirError):
    status, code = 404, "not-found"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class Conflict(FhirError):
    status, code = 409, "conflict"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class Unprocessable(FhirError):
    status, code = 422, "processing"


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.as_json() for i in issues]}


def pydantic_issues(exc: PydanticValidationError, resource_type: str) -> list[Issue]:
    """One issue per validation error, with the FHIRPath-like location of the element."""
    issues = []
    for err in exc.errors():
        path = resource_type
        for part in err.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        issues.append(Issue("structure", str(err.get("msg", "invalid")), [path]))
    return issues or [Issue("structure", str(exc), [resource_type])]


def validation_issues(exc: ValidationError, field_paths: dict[str, str]) -> list[Issue]:
    """A domain ValidationError({field: [messages]}) as issues at the FHIR element of each field."""
    issues = []
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            path = field_paths.get(name, "")
            for error in errors:
                for message in error.messages:
                    issues.append(Issue("processing", message, [path] if path else []))
    else:
        issues = [Issue("processing", m) for m in exc.messages]
    return issues


def outcome_for_exception(
    exc: Exception, *, field_paths: dict[str, str] | None = None
) -> FhirError:
    """Translate what a handler raised into a FhirError (500 for the unexpected, no details)."""
    if isinstance(exc, FhirError):
        return exc
    paths = field_paths or {}
    if isinstance(exc, ValidationError):
        return Unprocessable(issues=validation_issues(exc, paths))
    if isinstance(exc, DuplicateIdentifierError):
        return Conflict(exc.message, expression=paths.get(exc.field))
    if isinstance(exc, ConcurrentEditError):
        return PreconditionFailed(str(exc))
    if isinstance(exc, NotFoundOrForbidden | Http404):
        return NotFound("Resource not found.")
    if isinstance(exc, PermissionDenied):
        return Forbidden("Not permitted.")
    if isinstance(exc, DomainError):
        return Unprocessable(str(exc), code="business-rule")
    logger.exception("FHIR request failed")  # the traceback names ids only (models' __str__)
    return FhirError("Internal error.", status=500, code="exception")
