"""Observation: vital signs (patients.VitalSigns) and result values (patients.ResultValue).

Pure functions: they read only the objects given (a vitals row with its encounter; a result value
with its order, the order's encounter and service). Rules (documented in docs/fhir.md):

- **Ids carry the source**: `vs-<row pk>-<slot>` for one vital sign of a vitals row (slots
  `pulse`, `bp`, `temp`, `resp`, `spo2`, `height`, `weight`, `bmi`), `res-<pk>` for a result
  value (the ids DiagnosticReport.result points to). Any other form is not ours (404).
- **Vital signs follow the FHIR R4 vital signs profile**: one Observation per measured value of a
  row (the web pages record a set per time: pulse, blood pressure, temperature... in one row),
  category `vital-signs`, a LOINC code, a UCUM quantity; blood pressure is the 85354-9 panel with
  the systolic (8480-6) and diastolic (8462-4) components; BMI (39156-5) is computed by the
  domain from height and weight (read-only, `derivedFrom` both). The row's note is each
  Observation's `note`. A voided row reads as `entered-in-error` (version 2).
- **A write creates a row with one vital sign** (blood pressure: its two values), so what a
  partner posts is exactly what it reads back at the Location; posts are never merged into an
  existing row (the domain never overwrites vitals). Accepted units are converted to the domain's
  (°F -> °C, g/lb -> kg, m/in -> cm); the domain's form is what reads back.
- **Result values**: category from the service's cost group (`laboratory`, `imaging`, else
  `procedure`), code = the value's own code (`urn:ehealth-city:result-index`) when it has one,
  then the service's catalog codes; `valueQuantity` when the value is a number (UCUM code when
  the unit is a known one), else `valueString`; reference range, interpretation L/N/H; status as
  the DiagnosticReport's (`final` once resulted). Read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from ehealth.core.models.catalogs import CostGroup
from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import orders_common as oc
from fhir_api.mappers.patient import MappingError
from patients.clinical.vitals import VitalsInput
from patients.clinical_choices import OrderStatus, ResultFlag
from patients.models import ResultValue, VitalSigns

VITALS, RESULT = "vs", "res"
TYPE = "Observation"


@dataclass(frozen=True)
class VitalSlot:
    """One vital sign of a vitals row: its id suffix, LOINC code, profile and UCUM unit."""

    key: str
    loinc: str
    display: str
    profile: str  # R4 core vital-sign profile name
    field: str | None  # the VitalSigns field; None for the blood-pressure panel and BMI
    ucum: str
    unit: str  # human-readable unit
    also: tuple[tuple[str, str], ...] = ()  # further LOINC codings (code, display)

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.loinc, *(code for code, _display in self.also))


PULSE = VitalSlot("pulse", "8867-4", "Heart rate", "heartrate", "pulse", "/min", "beats/minute")
BP = VitalSlot(
    "bp", "85354-9", "Blood pressure panel with all children optional", "bp", None, "mm[Hg]", "mmHg"
)
TEMP = VitalSlot("temp", "8310-5", "Body temperature", "bodytemp", "temperature", "Cel", "°C")
RESP = VitalSlot(
    "resp", "9279-1", "Respiratory rate", "resprate", "respiratory_rate", "/min", "breaths/minute"
)
SPO2 = VitalSlot(
    "spo2",
    "59408-5",
    "Oxygen saturation in Arterial blood by Pulse oximetry",
    "oxygensat",
    "spo2",
    "%",
    "%",
    also=(("2708-6", "Oxygen saturation in Arterial blood"),),
)
HEIGHT = VitalSlot("height", "8302-2", "Body height", "bodyheight", "height_cm", "cm", "cm")
WEIGHT = VitalSlot("weight", "29463-7", "Body weight", "bodyweight", "weight_kg", "kg", "kg")
BMI = VitalSlot("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "bmi", None, "kg/m2", "kg/m2")
SLOTS = (PULSE, BP, TEMP, RESP, SPO2, HEIGHT, WEIGHT, BMI)  # also the order within a row
SLOT_BY_KEY = {s.key: s for s in SLOTS}
SLOT_BY_CODE = {code: s for s in SLOTS for code in s.codes}
SYSTOLIC = ("8480-6", "Systolic blood pressure", "systolic")
DIASTOLIC = ("8462-4", "Diastolic blood pressure", "diastolic")
BP_COMPONENTS = (SYSTOLIC, DIASTOLIC)

# Result values: the service's MA_NHOM cost group -> HL7 observation-category.
CATEGORY_OF_GROUP = {CostGroup.LAB: "laboratory", CostGroup.IMAGING: "imaging"}
OTHER_CATEGORY = "procedure"
VITAL_SIGNS = "vital-signs"
CATEGORY_DISPLAY = {
    VITAL_SIGNS: "Vital Signs",
    "laboratory": "Laboratory",
    "imaging": "Imaging",
    "procedure": "Procedure",
}
INTERPRETATION = {
    ResultFlag.LOW: ("L", "Low"),
    ResultFlag.NORMAL: ("N", "Normal"),
    ResultFlag.HIGH: ("H", "High"),
}
# Units written on results (as the lab writes them, case matters: G/L is 10^9/L, g/L grams)
# -> their UCUM code. A unit not listed is rendered as text only (Quantity.unit).
UCUM_OF_UNIT = {
    "mmol/L": "mmol/L", "mmol/l": "mmol/L", "µmol/L": "umol/L", "µmol/l": "umol/L",
    "μmol/L": "umol/L", "μmol/l": "umol/L", "umol/L": "umol/L", "umol/l": "umol/L",
    "pmol/L": "pmol/L", "pmol/l": "pmol/L", "nmol/L": "nmol/L", "nmol/l": "nmol/L",
    "mg/dL": "mg/dL", "mg/dl": "mg/dL", "mg/L": "mg/L", "mg/l": "mg/L",
    "g/L": "g/L", "g/l": "g/L", "g/dL": "g/dL", "g/dl": "g/dL",
    "ng/mL": "ng/mL", "ng/ml": "ng/mL", "pg/mL": "pg/mL", "pg/ml": "pg/mL",
    "G/L": "10*9/L", "10^9/L": "10*9/L", "T/L": "10*12/L", "10^12/L": "10*12/L",
    "U/L": "U/L", "U/l": "U/L", "IU/L": "[IU]/L", "UI/L": "[IU]/L", "mIU/L": "m[IU]/L",
    "mEq/L": "meq/L", "%": "%", "fL": "fL", "fl": "fL", "pg": "pg", "mm/h": "mm/h",
    "s": "s", "giây": "s", "mmHg": "mm[Hg]", "mL/min": "mL/min", "ml/phút": "mL/min",
}  # fmt: skip

_ID_RE = re.compile(rf"^(?:vs-([1-9]\d{{0,17}})-({'|'.join(SLOT_BY_KEY)})|res-([1-9]\d{{0,17}}))$")


@dataclass(frozen=True)
class ObservationId:
    source: str  # VITALS or RESULT
    pk: int
    slot: VitalSlot | None = None


def parse_observation_id(text: str | None) -> ObservationId | None:
    """The source, row and slot of a logical id, or None when it is not one of ours."""
    m = _ID_RE.match(text or "")
    if m is None:
        return None
    if m.group(3):
        return ObservationId(RESULT, int(m.group(3)))
    return ObservationId(VITALS, int(m.group(1)), SLOT_BY_KEY[m.group(2)])


def vital_id(vitals_pk: int, slot: VitalSlot) -> str:
    return f"vs-{vitals_pk}-{slot.key}"


def result_id(pk: int) -> str:
    return f"res-{pk}"


def unit_codes_for(ucum: str) -> list[str]:
    """The units written on results that stand for the UCUM code `ucum`."""
    return [unit for unit, code in UCUM_OF_UNIT.items() if code == ucum]


# --- vital signs -> FHIR ---------------------------------------------------------------------------


def slot_value(vitals: VitalSigns, slot: VitalSlot):
    """The slot's value in the row (a (systolic, diastolic) pair for blood pressure), or None."""
    if slot is BP:
        pair = (vitals.systolic, vitals.diastolic)
        return pair if pair != (None, None) else None
    if slot is BMI:
        return vitals.bmi
    return getattr(vitals, slot.field)


def vital_slots(vitals: VitalSigns) -> list[VitalSlot]:
    """The vital signs a row holds, in the order of SLOTS."""
    return [s for s in SLOTS if slot_value(vitals, s) is not None]


def vital_version(vitals: VitalSigns) -> int:
    return 2 if vitals.voided_at is not None else 1


def vital_last_updated(vitals: VitalSigns) -> datetime:
    return vitals.voided_at or vitals.recorded_at


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [dt.coding(systems.OBSERVATION_CATEGORY_CS, code, CATEGORY_DISPLAY[code])]}]


def _ucum(value, unit: str, code: str) -> dict[str, Any]:
    return {"value": oc.number(value), "unit": unit, "system": systems.UCUM_UNITS, "code": code}


def _absent() -> dict[str, Any]:
    return {"coding": [dt.coding(systems.DATA_ABSENT_REASON_CS, "unknown", "Unknown")]}


def vital_to_json(vitals: VitalSigns, slot: VitalSlot) -> dict[str, Any]:
    """One vital sign of a vitals row as a FHIR Observation (JSON, not yet validated)."""
    value = slot_value(vitals, slot)
    data: dict[str, Any] = {"resourceType": TYPE}
    if vitals.pk is not None:
        data["id"] = vital_id(vitals.pk, slot)
        data["meta"] = {
            "versionId": str(vital_version(vitals)),
            "lastUpdated": oc.instant(vital_last_updated(vitals)),
            "profile": [systems.VITAL_PROFILE_PREFIX + slot.profile],
        }
    data["status"] = "entered-in-error" if vitals.voided_at is not None else "final"
    data["category"] = _category(VITAL_SIGNS)
    codings = [dt.coding(systems.LOINC, slot.loinc, slot.display)]
    codings += [dt.coding(systems.LOINC, code, display) for code, display in slot.also]
    data["code"] = {"coding": codings}  # no text: a partner's own text is kept (extras)
    data["subject"] = {"reference": f"Patient/{vitals.encounter.patient_id}"}
    data["encounter"] = {"reference": f"Encounter/{vitals.encounter_id}"}
    data["effectiveDateTime"] = oc.instant(vitals.recorded_at)
    if slot is BP:
        components = []
        for (code, display, _field), part in zip(BP_COMPONENTS, value, strict=True):
            component: dict[str, Any] = {
                "code": {"coding": [dt.coding(systems.LOINC, code, display)]}
            }
            if part is None:
                component["dataAbsentReason"] = _absent()
            else:
                component["valueQuantity"] = _ucum(part, slot.unit, slot.ucum)
            components.append(component)
        data["component"] = components
    else:
        data["valueQuantity"] = _ucum(value, slot.unit, slot.ucum)
    if slot is BMI and vitals.pk is not None:
        data["derivedFrom"] = [
            {"reference": f"{TYPE}/{vital_id(vitals.pk, HEIGHT)}"},
            {"reference": f"{TYPE}/{vital_id(vitals.pk, WEIGHT)}"},
        ]
    if vitals.note:
        data["note"] = [{"text": vitals.note}]
    return data


def vital_to_fhir(vitals: VitalSigns, slot: VitalSlot) -> FHIRResourceModel:
    return validate(vital_to_json(vitals, slot), TYPE)


# --- result values -> FHIR -------------------------------------------------------------------------


def result_category(group: int) -> str:
    return CATEGORY_OF_GROUP.get(group, OTHER_CATEGORY)


def result_status(order_status: str) -> str:
    """As the order's DiagnosticReport: final once resulted, entered-in-error when cancelled."""
    if order_status == OrderStatus.RESULTED:
        return "final"
    if order_status == OrderStatus.CANCELLED:
        return "entered-in-error"
    return "preliminary"


def result_version(value: ResultValue) -> int:
    return 2 if value.order.status == OrderStatus.CANCELLED else 1


def result_last_updated(value: ResultValue) -> datetime:
    order = value.order
    if order.status == OrderStatus.CANCELLED and order.cancelled_at is not None:
        return order.cancelled_at
    return value.entered_at


def _lab_quantity(number: Decimal, unit: str) -> dict[str, Any]:
    out: dict[str, Any] = {"value": oc.number(number)}
    if unit:
        out["unit"] = unit
        code = UCUM_OF_UNIT.get(unit.strip())
        if code is not None:
            out["system"], out["code"] = systems.UCUM_UNITS, code
    return out


def result_to_json(value: ResultValue) -> dict[str, Any]:
    """One measured value of a result as a FHIR Observation (JSON, not yet validated)."""
    order = value.order
    service = order.service
    data: dict[str, Any] = {"resourceType": TYPE}
    if value.pk is not None:
        data["id"] = result_id(value.pk)
        data["meta"] = {
            "versionId": str(result_version(value)),
            "lastUpdated": oc.instant(result_last_updated(value)),
        }
    data["status"] = result_status(order.status)
    data["category"] = _category(result_category(service.group))
    codings = []
    if value.code:
        codings.append(dt.coding(systems.RESULT_INDEX_CS, value.code, value.name))
    codings += oc.service_code(service)["coding"]
    data["code"] = {"coding": codings, "text": value.name or value.code}
    data["subject"] = {"reference": f"Patient/{order.encounter.patient_id}"}
    data["encounter"] = {"reference": f"Encounter/{order.encounter_id}"}
    data["basedOn"] = [{"reference": f"ServiceRequest/{order.pk}"}]
    effective = order.performed_at or order.resulted_at
    if effective is not None:
        data["effectiveDateTime"] = oc.instant(effective)
    data["issued"] = oc.instant(value.entered_at)
    if value.numeric_value is not None:
        data["valueQuantity"] = _lab_quantity(value.numeric_value, value.unit)
    else:
        data["valueString"] = value.value
    if value.flag in INTERPRETATION:
        code, display = INTERPRETATION[value.flag]
        data["interpretation"] = [
            {
                "coding": [dt.coding(systems.OBSERVATION_INTERPRETATION_CS, code, display)],
                "text": str(ResultFlag(value.flag).label),
            }
        ]
    if value.reference_low is not None or value.reference_high is not None:
        bounds: dict[str, Any] = {}
        if value.reference_low is not None:
            bounds["low"] = _lab_quantity(value.reference_low, value.unit)
        if value.reference_high is not None:
            bounds["high"] = _lab_quantity(value.reference_high, value.unit)
        data["referenceRange"] = [bounds]
    return data


def result_to_fhir(value: ResultValue) -> FHIRResourceModel:
    return validate(result_to_json(value), TYPE)


# --- FHIR -> vital signs -----------------------------------------------------------------------


@dataclass
class VitalsWrite:
    """What a posted vital-sign Observation asks: one slot of a new row on an encounter."""

    slot: VitalSlot
    encounter_id: int
    patient_id: int | None
    data: VitalsInput


# Units a partner may post per field (UCUM code -> conversion to the domain's unit).
UNIT_CONVERSIONS: dict[str, dict[str, Any]] = {
    "pulse": {"/min": None, "{beats}/min": None},
    "respiratory_rate": {"/min": None, "{breaths}/min": None},
    "temperature": {"Cel": None, "[degF]": lambda v: (v - 32) * 5 / 9},
    "spo2": {"%": None},
    "height_cm": {"cm": None, "m": lambda v: v * 100, "mm": lambda v: v / 10,
                  "[in_i]": lambda v: v * Decimal("2.54")},
    "weight_kg": {"kg": None, "g": lambda v: v / 1000,
                  "[lb_av]": lambda v: v * Decimal("0.45359237")},
    "systolic": {"mm[Hg]": None},
    "diastolic": {"mm[Hg]": None},
}  # fmt: skip
_UNIT_TEXT = {"°C": "Cel", "°F": "[degF]", "mmHg": "mm[Hg]", "beats/minute": "/min",
              "breaths/minute": "/min"}  # fmt: skip


def _reference_pk(data: dict[str, Any], element: str, resource_type: str) -> int | None:
    ref = data.get(element)
    if ref is None:
        return None
    m = re.fullmatch(
        rf"(?:.*/)?{resource_type}/([1-9]\d{{0,17}})", (ref or {}).get("reference", "")
    )
    if m is None:
        raise MappingError(
            f"{TYPE}.{element}",
            f"{element} must reference a {resource_type} of this server ({resource_type}/<id>).",
        )
    return int(m.group(1))


def _quantity_value(quantity: dict[str, Any] | None, field: str, path: str) -> Decimal:
    """The value of a posted Quantity in the domain's unit for `field`."""
    if not quantity or quantity.get("value") is None:
        raise MappingError(path, "A value is required (a Quantity with value and UCUM unit).")
    system = quantity.get("system")
    if system not in (None, systems.UCUM_UNITS):
        raise MappingError(f"{path}.system", f"Units must be UCUM ({systems.UCUM_UNITS}).")
    code = quantity.get("code") or _UNIT_TEXT.get(quantity.get("unit") or "", quantity.get("unit"))
    accepted = UNIT_CONVERSIONS[field]
    if code not in accepted:
        raise MappingError(
            f"{path}.code", f"Unit '{code}' is not accepted here; use one of {', '.join(accepted)}."
        )
    try:
        number = Decimal(str(quantity["value"]))
    except InvalidOperation:
        raise MappingError(f"{path}.value", "The value is not a number.") from None
    convert = accepted[code]
    return convert(number) if convert is not None else number


def _effective(data: dict[str, Any]) -> datetime | None:
    for name in ("effectivePeriod", "effectiveTiming"):
        if name in data:
            raise MappingError(
                f"{TYPE}.{name}", "Vital signs are recorded at one moment: use effectiveDateTime."
            )
    raw = data.get("effectiveDateTime") or data.get("effectiveInstant")
    if raw is None:
        return None
    moment = parse_datetime(str(raw))
    if moment is None or moment.tzinfo is None:
        raise MappingError(
            f"{TYPE}.effectiveDateTime",
            "effectiveDateTime needs a time of day and a timezone offset "
            "(e.g. 2026-03-01T08:30:00+07:00).",
        )
    return moment


def _slot_of(data: dict[str, Any]) -> VitalSlot:
    codes = [
        c.get("code")
        for c in (data.get("code") or {}).get("coding") or []
        if c.get("system") == systems.LOINC
    ]
    for code in codes:
        if code in SLOT_BY_CODE:
            slot = SLOT_BY_CODE[code]
            if slot is BMI:
                raise MappingError(
                    f"{TYPE}.code", "BMI (39156-5) is computed from height and weight; post those."
                )
            return slot
        if code in (SYSTOLIC[0], DIASTOLIC[0]):
            raise MappingError(
                f"{TYPE}.code",
                "Post blood pressure as the 85354-9 panel with components 8480-6 and 8462-4.",
            )
    accepted = ", ".join(s.loinc for s in SLOTS if s is not BMI)
    raise MappingError(
        f"{TYPE}.code",
        f"Only vital signs can be created: code must be a LOINC ({systems.LOINC}) code among "
        f"{accepted}. Results are entered by the performing department.",
    )


def vitals_from_fhir(resource: dict[str, Any]) -> VitalsWrite:
    """The vitals row a posted vital-sign Observation asks for.

    Raises MappingError (422, with the element path) for what the domain cannot hold.
    """
    data = resource
    if data.get("status") != "final":
        raise MappingError(f"{TYPE}.status", "Vital signs are recorded as 'final'.")
    categories = data.get("category") or []
    if categories and not any(
        c.get("code") == VITAL_SIGNS for cat in categories for c in cat.get("coding") or []
    ):
        raise MappingError(
            f"{TYPE}.category", "Only vital signs (category vital-signs) can be created."
        )
    slot = _slot_of(data)
    encounter_id = _reference_pk(data, "encounter", "Encounter")
    if encounter_id is None:
        raise MappingError(f"{TYPE}.encounter", "Vital signs belong to an encounter: give one.")
    patient_id = _reference_pk(data, "subject", "Patient")
    if "dataAbsentReason" in data:
        raise MappingError(f"{TYPE}.dataAbsentReason", "A vital sign without a value is not kept.")
    values: dict[str, Any] = {}
    if slot is BP:
        if "valueQuantity" in data:
            raise MappingError(
                f"{TYPE}.valueQuantity", "Blood pressure values go in the components."
            )
        for index, component in enumerate(data.get("component") or []):
            codes = {c.get("code") for c in (component.get("code") or {}).get("coding") or []}
            for code, _display, field in BP_COMPONENTS:
                if code in codes and "dataAbsentReason" not in component:
                    path = f"{TYPE}.component[{index}].valueQuantity"
                    values[field] = _quantity_value(component.get("valueQuantity"), field, path)
        if not values:
            raise MappingError(
                f"{TYPE}.component",
                "Blood pressure needs a component 8480-6 (systolic) or 8462-4 (diastolic) "
                "with a valueQuantity in mm[Hg].",
            )
    else:
        if any(k.startswith("value") and k != "valueQuantity" for k in data):
            raise MappingError(f"{TYPE}.value[x]", "A vital sign's value is a valueQuantity.")
        values[slot.field] = _quantity_value(
            data.get("valueQuantity"), slot.field, f"{TYPE}.valueQuantity"
        )
    notes = data.get("note") or []
    note = (notes[0].get("text") or "") if notes else ""
    if len(note) > 500:
        raise MappingError(f"{TYPE}.note[0].text", "The note holds at most 500 characters.")
    return VitalsWrite(
        slot=slot,
        encounter_id=encounter_id,
        patient_id=patient_id,
        data=VitalsInput(recorded_at=_effective(data), note=note, **values),
    )


# Where the vitals service's field errors point in a posted Observation.
_COMPONENT = f"{TYPE}.component.where(code.coding.code='{{}}').valueQuantity"
VITALS_FIELD_PATHS = {
    **{s.field: f"{TYPE}.valueQuantity" for s in SLOTS if s.field},
    "systolic": _COMPONENT.format(SYSTOLIC[0]),
    "diastolic": _COMPONENT.format(DIASTOLIC[0]),
    "recorded_at": f"{TYPE}.effectiveDateTime",
    "__all__": f"{TYPE}.value[x]",
}
