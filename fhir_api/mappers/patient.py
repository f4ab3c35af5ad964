"""Patient: the registry's Patient <-> FHIR Patient, both ways, as pure functions.

`patient_to_fhir` reads only the objects it is given (the patient with province and commune
loaded, its live identifiers with their facility); `patient_from_fhir` returns the `PatientInput`
the registry's services validate. Neither touches the database.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from fhir_api import systems
from fhir_api.fhir import dump, validate
from fhir_api.mappers import datatypes as dt
from patients.choices import AddressScheme, IdentifierSystem, Sex
from patients.models import Patient, PatientIdentifier
from patients.validation import PatientInput

GENDER_OF_SEX = {Sex.MALE: "male", Sex.FEMALE: "female", Sex.UNKNOWN: "unknown"}
SEX_OF_GENDER = {v: k for k, v in GENDER_OF_SEX.items()}

# Domain identifier system <-> FHIR identifier system (record numbers: see datatypes).
SYSTEM_URI = {
    IdentifierSystem.CCCD: systems.CCCD,
    IdentifierSystem.BHYT: systems.BHYT,
    IdentifierSystem.SOCIAL_INSURANCE: systems.BHXH,
    IdentifierSystem.PASSPORT: systems.PASSPORT,
}
INPUT_FIELD_OF_URI = {
    systems.CCCD: "cccd",
    systems.BHYT: "bhyt_card",
    systems.BHXH: "social_insurance_number",
    systems.PASSPORT: "passport",
}


def _where(system: str) -> str:
    return f"Patient.identifier.where(system='{system}')"


# Domain field -> FHIR element, for OperationOutcome.issue.expression.
FIELD_PATHS = {
    "full_name": "Patient.name[0]",
    "sex": "Patient.gender",
    "birth_date": "Patient.birthDate",
    "birth_year": "Patient.birthDate",
    "cccd": _where(systems.CCCD),
    "bhyt_card": _where(systems.BHYT),
    "social_insurance_number": _where(systems.BHXH),
    "passport": _where(systems.PASSPORT),
    "phone": "Patient.telecom.where(system='phone')",
    "ethnicity_code": f"Patient.extension('{systems.ETHNICITY_EXT}')",
    "nationality_code": f"Patient.extension('{systems.NATIONALITY_EXT}')",
    "occupation": f"Patient.extension('{systems.OCCUPATION_EXT}')",
    "occupation_code": f"Patient.extension('{systems.OCCUPATION_EXT}')",
    "address_scheme": f"Patient.extension('{systems.ADDRESS_SCHEME_EXT}')",
    "address_line": "Patient.address[0].line",
    "province_code": f"Patient.address[0].extension('{systems.PROVINCE_EXT}')",
    "commune_code": f"Patient.address[0].extension('{systems.COMMUNE_EXT}')",
    "legacy_address": "Patient.address.where(use='old').text",
    "emergency_contact_name": "Patient.contact[0].name",
    "emergency_contact_phone": "Patient.contact[0].telecom",
    "emergency_contact_relation": "Patient.contact[0].relationship",
}


class MappingError(ValueError):
    """A FHIR value the registry cannot hold; `path` is the element."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


# --- Domain -> FHIR ------------------------------------------------------------------------------


def _identifiers(identifiers: list[PatientIdentifier]) -> list[dict[str, Any]]:
    out = []
    for ident in identifiers:
        if ident.voided_at is not None:
            continue
        if ident.system == IdentifierSystem.MRN:
            out.append(dt.record_number(ident.value, ident.facility.code))
        elif ident.system in SYSTEM_URI:
            out.append(dt.identifier(SYSTEM_URI[ident.system], ident.value))
    return out


def _address(patient: Patient) -> list[dict[str, Any]]:
    out = []
    if patient.address_line or patient.province_id or patient.commune_id:
        home: dict[str, Any] = {}
        codes = []
        if patient.province_id:
            codes.append(dt.extension(systems.PROVINCE_EXT, valueCode=patient.province_id))
        if patient.commune_id:
            codes.append(dt.extension(systems.COMMUNE_EXT, valueCode=patient.commune_id))
        if codes:
            home["extension"] = codes
        if patient.address_line:
            home["line"] = [patient.address_line]
        if patient.commune_id:
            home["city"] = patient.commune.name
        if patient.province_id:
            home["state"] = patient.province.name
        out.append(home)
    if patient.legacy_address:
        out.append({"use": "old", "text": patient.legacy_address})
    return out


def _extensions(patient: Patient) -> list[dict[str, Any]]:
    out = []
    if patient.ethnicity_code:
        out.append(
            dt.extension(
                systems.ETHNICITY_EXT,
                valueCoding=dt.coding(systems.ETHNICITY_CS, patient.ethnicity_code),
            )
        )
    if patient.nationality_code:
        concept = {"coding": [dt.coding(systems.ISO_3166, patient.nationality_code)]}
        out.append(
            dt.extension(
                systems.NATIONALITY_EXT,
                extension=[dt.extension("code", valueCodeableConcept=concept)],
            )
        )
    if patient.occupation or patient.occupation_code:
        concept: dict[str, Any] = {}
        if patient.occupation_code:
            concept["coding"] = [dt.coding(systems.OCCUPATION_CS, patient.occupation_code)]
        if patient.occupation:
            concept["text"] = patient.occupation
        out.append(dt.extension(systems.OCCUPATION_EXT, valueCodeableConcept=concept))
    out.append(dt.extension(systems.ADDRESS_SCHEME_EXT, valueCode=patient.address_scheme))
    return out


def _contact(patient: Patient) -> list[dict[str, Any]]:
    if not (
        patient.emergency_contact_name
        or patient.emergency_contact_phone
        or patient.emergency_contact_relation
    ):
        return []
    contact: dict[str, Any] = {}
    if patient.emergency_contact_relation:
        contact["relationship"] = [{"text": patient.emergency_contact_relation}]
    if patient.emergency_contact_name:
        contact["name"] = {"text": patient.emergency_contact_name}
    if patient.emergency_contact_phone:
        contact["telecom"] = [dt.contact_point("phone", patient.emergency_contact_phone)]
    return [contact]


def patient_to_json(
    patient: Patient,
    *,
    identifiers: list[PatientIdentifier],
    version_id: str | None = None,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """The FHIR Patient of a registry patient, as JSON (not yet validated)."""
    data: dict[str, Any] = {"resourceType": "Patient"}
    if patient.pk is not None:
        data["id"] = str(patient.pk)
    if version_id is not None or last_updated is not None:
        data["meta"] = {}
        if version_id is not None:
            data["meta"]["versionId"] = version_id
        if last_updated is not None:
            data["meta"]["lastUpdated"] = last_updated.isoformat()
    data["extension"] = _extensions(patient)
    idents = _identifiers(identifiers)
    if idents:
        data["identifier"] = idents
    data["active"] = True
    data["name"] = [dt.human_name(patient.full_name)]
    if patient.phone:
        data["telecom"] = [dt.contact_point("phone", patient.phone)]
    data["gender"] = GENDER_OF_SEX.get(patient.sex, "unknown")
    birth = dt.fhir_date(patient.birth_date, patient.birth_year)
    if birth:
        data["birthDate"] = birth
    address = _address(patient)
    if address:
        data["address"] = address
    contact = _contact(patient)
    if contact:
        data["contact"] = contact
    return data


def patient_to_fhir(patient: Patient, *, identifiers: list[PatientIdentifier], **meta):
    """The FHIR Patient of a registry patient, validated by the pinned FHIR models."""
    return validate(patient_to_json(patient, identifiers=identifiers, **meta), "Patient")


# --- FHIR -> domain ------------------------------------------------------------------------------


def _birth(value: Any) -> tuple[date | None, int | None]:
    if value is None:
        return None, None
    if isinstance(value, date):
        return value, value.year
    text = str(value)
    if re.fullmatch(r"\d{4}", text):
        return None, int(text)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return None, int(text[:4])  # month not held by the registry
    return date.fromisoformat(text[:10]), int(text[:4])


def patient_from_fhir(resource) -> PatientInput:
    """The registration input of a FHIR Patient (validated by the pinned models beforehand).

    Raises MappingError for a value the registry cannot hold (e.g. gender "other").
    """
    data = dump(resource) if not isinstance(resource, dict) else resource
    names = data.get("name") or []
    official = names[0] if names else {}  # the first name is the registry's (see extras)
    gender = data.get("gender")
    if gender is not None and gender not in SEX_OF_GENDER:
        raise MappingError("Patient.gender", f"Gender '{gender}' is not held by the registry.")
    birth_date, birth_year = _birth(data.get("birthDate"))

    values: dict[str, str] = {}
    for ident in data.get("identifier") or []:
        name = INPUT_FIELD_OF_URI.get(ident.get("system") or "")
        if name and ident.get("value") and name not in values:
            values[name] = ident["value"]

    phone = next(
        (t.get("value") for t in data.get("telecom") or [] if t.get("system") == "phone"), ""
    )
    extensions = data.get("extension") or []
    ethnicity = dt.find_extension(extensions, systems.ETHNICITY_EXT)
    nationality = dt.find_extension(extensions, systems.NATIONALITY_EXT)
    occupation = dt.find_extension(extensions, systems.OCCUPATION_EXT)
    scheme = dt.find_extension(extensions, systems.ADDRESS_SCHEME_EXT)
    nationality_code = "VN"
    if nationality:
        code_ext = dt.find_extension(nationality.get("extension"), "code") or {}
        codings = (code_ext.get("valueCodeableConcept") or {}).get("coding") or [{}]
        nationality_code = codings[0].get("code") or "VN"
    occupation_concept = (occupation or {}).get("valueCodeableConcept") or {}

    addresses = data.get("address") or []
    old = next((a for a in addresses if a.get("use") == "old"), None)
    home = next((a for a in addresses if a.get("use") != "old"), None) or {}
    home_ext = home.get("extension") or []
    address_scheme = (scheme or {}).get("valueCode") or (
        AddressScheme.LEGACY if old and not home else AddressScheme.TWO_LEVEL
    )

    contacts = data.get("contact") or []
    contact = contacts[0] if contacts else {}
    relation = (contact.get("relationship") or [{}])[0]
    return PatientInput(
        full_name=dt.full_name_of(official),
        sex=SEX_OF_GENDER.get(gender, Sex.UNKNOWN),
        birth_date=birth_date,
        birth_year=birth_year,
        cccd=values.get("cccd", ""),
        bhyt_card=values.get("bhyt_card", ""),
        social_insurance_number=values.get("social_insurance_number", ""),
        passport=values.get("passport", ""),
        ethnicity_code=((ethnicity or {}).get("valueCoding") or {}).get("code") or "",
        nationality_code=nationality_code,
        occupation=occupation_concept.get("text") or "",
        occupation_code=((occupation_concept.get("coding") or [{}])[0]).get("code") or "",
        phone=phone or "",
        address_scheme=address_scheme,
        address_line=" ".join(home.get("line") or []),
        province_code=(dt.find_extension(home_ext, systems.PROVINCE_EXT) or {}).get("valueCode")
        or "",
        commune_code=(dt.find_extension(home_ext, systems.COMMUNE_EXT) or {}).get("valueCode")
        or "",
        legacy_address=(old or {}).get("text") or "",
        emergency_contact_name=(contact.get("name") or {}).get("text")
        or dt.full_name_of(contact.get("name") or {}),
        emergency_contact_phone=next(
            (t.get("value") for t in contact.get("telecom") or [] if t.get("system") == "phone"),
            "",
        )
        or "",
        emergency_contact_relation=relation.get("text")
        or ((relation.get("coding") or [{}])[0]).get("code")
        or "",
    )
