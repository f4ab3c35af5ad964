"""Shared FHIR datatypes as plain JSON (HumanName, Identifier, ContactPoint, Extension...).

Pure functions: no database, no request. The resource mappers assemble these and validate the
result with the pinned FHIR models.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir_api import systems


def identifier(system: str, value: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "system": system, "value": value}


def record_number(value: str, facility_code: str) -> dict[str, Any]:
    """A record number (MRN): unique within its facility, which is its assigner."""
    return {
        "type": {"coding": [{"system": systems.V2_0203, "code": "MR"}]},
        "system": systems.mrn_system(facility_code),
        "value": value,
        "assigner": {"identifier": identifier(systems.FACILITY, facility_code)},
    }


def human_name(full_name: str) -> dict[str, Any]:
    """A Vietnamese name is written family first: "Nguyễn Văn An" -> family Nguyễn, given Văn, An."""
    words = full_name.split()
    name: dict[str, Any] = {"text": full_name}
    if words:
        name["family"] = words[0]
    if len(words) > 1:
        name["given"] = words[1:]
    return name


def full_name_of(name: dict[str, Any]) -> str:
    """The full name from a HumanName: family then given names, else its text."""
    parts = [name.get("family") or "", *(name.get("given") or [])]
    joined = " ".join(p for p in parts if p)
    return joined or name.get("text") or ""


def contact_point(system: str, value: str) -> dict[str, Any]:
    return {"system": system, "value": value}


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def extension(url: str, **value: Any) -> dict[str, Any]:
    return {"url": url, **value}


def find_extension(extensions: list[dict[str, Any]] | None, url: str) -> dict[str, Any] | None:
    return next((e for e in extensions or [] if e.get("url") == url), None)


def fhir_date(value: date | None, year: int | None) -> str | None:
    """A date, or only its year when the day is not known (FHIR allows partial dates)."""
    if value is not None:
        return value.isoformat()
    return f"{year:04d}" if year else None
