"""Encounter mapper: pure function, no database (one rule per test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ehealth.core.models import Facility, Province
from fhir_api import systems
from fhir_api.fhir import dump
from fhir_api.mappers.encounter import FHIR_STATUS, encounter_to_fhir
from patients.clinical_choices import EncounterKind, EncounterStatus, VisitType
from patients.models import BedOccupancy, Encounter, Transfer

UNIT = Facility(pk=5, code="48001", name="Bệnh viện Thử", province=Province(code="48"))
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _encounter(**fields) -> Encounter:
    values = {
        "patient_id": 7,
        "facility": UNIT,
        "kind": EncounterKind.OUTPATIENT,
        "visit_type": VisitType.EXAMINATION,
        "status": EncounterStatus.CONCLUDED,
        "started_at": T0,
        "ended_at": _at(1),
        "department_id": 12,
        "claim_key": "A1B2C3",
        "reason": "Đau đầu",
        "updated_at": _at(1),
    }
    values.update(fields)
    return Encounter(pk=9, version=2, **values)


def _json(encounter=None, **kwargs) -> dict:
    return dump(encounter_to_fhir(encounter or _encounter(), **kwargs))


def _stay(**fields) -> Encounter:
    values = {
        "kind": EncounterKind.INPATIENT,
        "visit_type": VisitType.INPATIENT,
        "status": EncounterStatus.DISCHARGED,
        "admitted_at": T0,
        "ended_at": _at(72),
        "department_id": 14,
    }
    values.update(fields)
    return _encounter(**values)


def test_encounter_is_identified_by_its_claim_link():
    data = _json()
    assert data["id"] == "9" and data["meta"]["versionId"] == "2"
    assert data["identifier"] == [{"use": "official", "system": systems.MA_LK, "value": "A1B2C3"}]


@pytest.mark.parametrize(
    ("kind", "code"), [(EncounterKind.OUTPATIENT, "AMB"), (EncounterKind.INPATIENT, "IMP")]
)
def test_class_from_kind(kind, code):
    data = _json(_encounter(kind=kind))
    assert (data["class"]["system"], data["class"]["code"]) == (systems.ACT_CODE_CS, code)


@pytest.mark.parametrize(
    ("status", "fhir"),
    [
        (EncounterStatus.ARRIVED, "arrived"),
        (EncounterStatus.IN_EXAMINATION, "in-progress"),
        (EncounterStatus.AWAITING_RESULTS, "in-progress"),
        (EncounterStatus.CONCLUDED, "finished"),
        (EncounterStatus.ADMITTED, "in-progress"),
        (EncounterStatus.DISCHARGED, "finished"),
        (EncounterStatus.CANCELLED, "cancelled"),
    ],
)
def test_status_mapping(status, fhir):
    assert _json(_encounter(status=status, ended_at=None))["status"] == fhir


def test_every_domain_status_is_mapped():
    assert set(FHIR_STATUS) == set(EncounterStatus.values)


def test_period_in_local_time():
    assert _json()["period"] == {
        "start": "2026-03-01T08:00:00+07:00",
        "end": "2026-03-01T09:00:00+07:00",
    }


def test_open_encounter_has_no_period_end():
    data = _json(_encounter(status=EncounterStatus.IN_EXAMINATION, ended_at=None))
    assert "end" not in data["period"]


def test_subject_service_provider_and_visit_type():
    data = _json()
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["serviceProvider"]["reference"] == "Organization/5"
    assert data["serviceProvider"]["identifier"]["value"] == "48001"
    coding = data["type"][0]["coding"][0]
    assert (coding["system"], coding["code"]) == (systems.VISIT_TYPE_CS, "01")


def test_reason_as_text():
    assert _json()["reasonCode"] == [{"text": "Đau đầu"}]
    assert "reasonCode" not in _json(_encounter(reason=""))


def test_stay_from_a_visit_is_part_of_it():
    assert _json(_stay(parent_id=3))["partOf"] == {"reference": "Encounter/3"}


def test_outpatient_location_is_its_department():
    (place,) = _json()["location"]
    assert place["location"] == {"reference": "Location/dept-12"}
    assert place["status"] == "completed"


def test_stay_location_history_from_transfers_and_beds():
    # given a stay admitted to department 12 in bed 40, moved on day 2 to department 14, bed 41
    transfers = [
        Transfer(pk=1, from_department_id=12, to_department_id=14, moved_at=_at(24)),
    ]
    occupancies = [
        BedOccupancy(pk=2, bed_id=41, started_at=_at(24), ended_at=_at(72)),
        BedOccupancy(pk=1, bed_id=40, started_at=T0, ended_at=_at(24)),
    ]
    # when mapped
    places = _json(_stay(), transfers=transfers, occupancies=occupancies)["location"]
    # then the departments, then the beds, each with its period, in order
    assert [
        (p["location"]["reference"], p["period"]["start"], p["period"]["end"]) for p in places
    ] == [
        ("Location/dept-12", "2026-03-01T08:00:00+07:00", "2026-03-02T08:00:00+07:00"),
        ("Location/dept-14", "2026-03-02T08:00:00+07:00", "2026-03-04T08:00:00+07:00"),
        ("Location/bed-40", "2026-03-01T08:00:00+07:00", "2026-03-02T08:00:00+07:00"),
        ("Location/bed-41", "2026-03-02T08:00:00+07:00", "2026-03-04T08:00:00+07:00"),
    ]
    assert {p["status"] for p in places} == {"completed"}
    assert [p["physicalType"]["coding"][0]["code"] for p in places] == ["area", "area", "bd", "bd"]


def test_open_stay_current_places_are_active():
    stay = _stay(status=EncounterStatus.ADMITTED, ended_at=None)
    occupancies = [BedOccupancy(pk=1, bed_id=40, started_at=T0, ended_at=None)]
    places = _json(stay, occupancies=occupancies)["location"]
    assert [(p["location"]["reference"], p["status"]) for p in places] == [
        ("Location/dept-14", "active"),
        ("Location/bed-40", "active"),
    ]
    assert "end" not in places[1]["period"]


def test_bed_move_within_a_department_adds_no_department_entry():
    transfers = [Transfer(pk=1, from_department_id=14, to_department_id=14, moved_at=_at(5))]
    places = _json(_stay(), transfers=transfers)["location"]
    assert [p["location"]["reference"] for p in places] == ["Location/dept-14"]
