"""Vital signs: the visit's vitals and the nursing chart of a stay (BMI computed on the model).

Impossible values are field errors in Vietnamese before anything is saved (temperature 80 °C,
SpO2 140 %, diastolic not below systolic); the same ranges are database checks. A new set is a
new row: vitals are never overwritten, so two nurses charting at once both keep their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record, audit_record_each
from ehealth.core.bulk import bulk_insert
from ehealth.core.models import Facility
from patients.clinical.common import (
    EncounterLocked,
    encounters_for_update,
    ensure_unlocked,
    locked_encounter,
    require_at_facility,
    require_perm,
)
from patients.models import Encounter, VitalSigns
from patients.normalize import clean_text
from patients.services import BatchItemError

VITALS_PERM = "patients.record_vitals"


@dataclass
class VitalsInput:
    """One set of measurements; any may be blank, not all."""

    pulse: object = None
    systolic: object = None
    diastolic: object = None
    temperature: object = None
    respiratory_rate: object = None
    spo2: object = None
    height_cm: object = None
    weight_kg: object = None
    recorded_at: datetime | None = None
    note: str = ""


# field -> (low, high, decimals, Vietnamese label with unit); the same ranges are DB checks.
VITAL_RANGES: dict[str, tuple[Decimal, Decimal, int, str]] = {
    "pulse": (Decimal(20), Decimal(300), 0, "Mạch phải từ 20 đến 300 lần/phút."),
    "systolic": (Decimal(40), Decimal(300), 0, "Huyết áp tâm thu phải từ 40 đến 300 mmHg."),
    "diastolic": (Decimal(20), Decimal(200), 0, "Huyết áp tâm trương phải từ 20 đến 200 mmHg."),
    "temperature": (Decimal(25), Decimal(45), 1, "Nhiệt độ phải từ 25 đến 45 °C."),
    "respiratory_rate": (Decimal(4), Decimal(80), 0, "Nhịp thở phải từ 4 đến 80 lần/phút."),
    "spo2": (Decimal(30), Decimal(100), 0, "SpO2 phải từ 30 đến 100 %."),
    "height_cm": (Decimal(20), Decimal(250), 1, "Chiều cao phải từ 20 đến 250 cm."),
    "weight_kg": (Decimal("0.3"), Decimal(400), 2, "Cân nặng phải từ 0,3 đến 400 kg."),
}


def vitals_validate(data: VitalsInput) -> dict[str, object]:
    """Parse and range-check; impossible values (80 °C, SpO2 140 %) are field errors."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, object] = {}
    for name, (low, high, decimals, message) in VITAL_RANGES.items():
        raw = getattr(data, name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            clean[name] = None
            continue
        try:
            value = Decimal(str(raw).strip().replace(",", "."))
        except InvalidOperation:
            errors[name] = [_("Nhập một số.")]
            continue
        if not value.is_finite() or not (low <= value <= high):
            errors[name] = [_(message)]
            continue
        if decimals == 0:
            if value != value.to_integral_value():
                errors[name] = [_("Nhập một số nguyên.")]
                continue
            clean[name] = int(value)
        else:
            clean[name] = value.quantize(Decimal(1).scaleb(-decimals))
    if clean.get("systolic") and clean.get("diastolic") and clean["systolic"] <= clean["diastolic"]:
        errors.setdefault("diastolic", []).append(
            _("Huyết áp tâm trương phải thấp hơn huyết áp tâm thu.")
        )
    if not errors and all(clean[name] is None for name in VITAL_RANGES):
        errors["__all__"] = [_("Nhập ít nhất một chỉ số sinh tồn.")]
    if errors:
        raise ValidationError(errors)
    return clean


def _recorded_at(data: VitalsInput, encounter: Encounter, now: datetime) -> datetime:
    """When the set was measured (now when not given): not in the future, not before the
    encounter began."""
    recorded_at = data.recorded_at or now
    if recorded_at > now + timedelta(minutes=5):
        raise ValidationError({"recorded_at": [_("Thời điểm đo không được ở tương lai.")]})
    if recorded_at < encounter.started_at:
        raise ValidationError({"recorded_at": [_("Thời điểm đo phải sau khi người bệnh vào.")]})
    return recorded_at


def _row(actor, encounter: Encounter, data: VitalsInput, clean: dict, recorded_at) -> VitalSigns:
    return VitalSigns(
        encounter=encounter,
        recorded_at=recorded_at,
        recorded_by=actor,
        note=clean_text(data.note)[:500],
        **clean,
    )


def _audit_detail(facility: Facility, vitals: VitalSigns, clean: dict) -> dict:
    return {
        "facility_id": facility.pk,
        "encounter_id": vitals.encounter_id,
        "vitals_id": vitals.pk,
        "measured": sorted(k for k, v in clean.items() if v is not None),
    }


@transaction.atomic
def vitals_record(
    *, actor, facility: Facility, encounter: Encounter, data: VitalsInput
) -> VitalSigns:
    """Record a set of vital signs (the visit's vitals, or a nursing observation of a stay).
    Not in the future, not before the encounter began. Adds a row; never overwrites."""
    clean = vitals_validate(data)
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=VITALS_PERM
    )
    vitals = _row(actor, encounter, data, clean, _recorded_at(data, encounter, timezone.now()))
    vitals.save(force_insert=True)
    audit_record(
        actor=actor,
        action="vitals.record",
        target=encounter,
        patient_id=encounter.patient_id,
        detail=_audit_detail(facility, vitals, clean),
    )
    return vitals


@transaction.atomic
def vitals_record_many(
    *, actor, facility: Facility, items: list[tuple[Encounter | int, VitalsInput]]
) -> list[VitalSigns]:
    """`vitals_record` of each (encounter, data) item, all or nothing, in a constant number of
    statements (the vital signs of a partner's transaction): the permission asked once, every
    encounter locked in one statement (by pk: two batches never wait on each other in a cycle),
    the rows in one INSERT and their audit entries in another. Several items may share an
    encounter. The first item (in order) that `vitals_record` would refuse is raised as
    BatchItemError, with the error it would have raised there: a value, then the permission,
    then the encounter, then the time."""
    errors: dict[int, Exception] = {}
    cleans: dict[int, dict] = {}
    for i, (_encounter, data) in enumerate(items):
        try:
            cleans[i] = vitals_validate(data)
        except ValidationError as exc:
            errors[i] = exc
    if cleans:
        try:
            require_perm(actor, VITALS_PERM, facility.pk)
        except PermissionDenied as exc:
            errors[min(cleans)] = exc
            cleans = {}
    ids = {i: e.pk if isinstance(e, Encounter) else int(e) for i, (e, _d) in enumerate(items)}
    encounters: dict[int, Encounter] = {}
    if cleans:
        encounters = encounters_for_update(ids[i] for i in cleans)
    now = timezone.now()
    rows: list[VitalSigns] = []
    for i, clean in cleans.items():
        encounter, data = encounters.get(ids[i]), items[i][1]
        try:
            if encounter is None or encounter.voided_at is not None:
                raise Http404
            require_at_facility(encounter, facility)
            ensure_unlocked(encounter)
            rows.append(_row(actor, encounter, data, clean, _recorded_at(data, encounter, now)))
        except (Http404, EncounterLocked, ValidationError) as exc:
            errors[i] = exc
    if errors:
        first = min(errors)
        raise BatchItemError(first, errors[first])
    bulk_insert(VitalSigns, rows)
    audit_record_each(
        actor=actor,
        action="vitals.record",
        entries=[
            (row.encounter, row.encounter.patient_id, _audit_detail(facility, row, clean))
            for row, clean in zip(rows, cleans.values(), strict=True)
        ],
    )
    return rows
