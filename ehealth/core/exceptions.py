"""Domain errors raised by services; views turn them into form errors, FHIR into OperationOutcome."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A business rule refused the operation."""


class NotFoundOrForbidden(DomainError):
    """The record does not exist or is not visible to the actor. Answered as 404 in both cases."""


class ConcurrentEditError(DomainError):
    """The record changed since the actor read it (stale version)."""


class DuplicateIdentifierError(DomainError):
    """An identifier (CCCD, BHYT card, ...) already belongs to another patient."""

    def __init__(self, field: str, message: str, existing_patient_id: int | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.existing_patient_id = existing_patient_id


__all__ = [
    "ConcurrentEditError",
    "DomainError",
    "DuplicateIdentifierError",
    "NotFoundOrForbidden",
    "ValidationError",
]
