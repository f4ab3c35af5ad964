"""Encounter and Condition mappers, FHIR -> domain: pure functions, no database (one rule per test).

Round trips go domain -> FHIR (validated by the pinned `fhir.resources` models) -> domain.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ehealth.core.models import Facility, Province
from fhir_api import systems
from fhir_api.fhir import dump, validate
from fhir_api.mappers.condition import (
    PHASE_PATH,
    RANK_PATH,
    condition_from_fhir,
    condition_to_fhir,
)
from fhir_api.mappers.encounter import (
    MappingError,
    admission_input,
    checkin_input,
    encounter_from_fhir,
    encounter_to_fhir,
    encounter_version,
)
from patients.clinical.reception import CheckInInput
from patients.clinical_choices import (
    ArrivalMode,
    Conclusion,
    DiagnosisPhase,
    EncounterKind,
    EncounterStatus,
    VisitType,
)
from patients.models import Diagnosis, Encounter

UNIT = Facility(pk=5, code="48001", name="Bệnh viện Thử", province=Province(code="48"))
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City
CARD = "DN4480123456789"
ROOMS = systems.clinic_room_system("48001")


def _fhir(**elements: Any) -> dict[str, Any]:
    """A partner's outpatient Encounter, checked by the pinned models like a request body."""
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "arrived",
        "class": {"system": systems.ACT_CODE_CS, "code": "AMB"},
        "subject": {"reference": "Patient/7"},
    }
    data.update(elements)
    return dump(validate(data, "Encounter"))


def _ext(url: str, **value: Any) -> dict[str, Any]:
    return {"url": url, **value}


def _error(call, *args, **kwargs) -> MappingError:
    with pytest.raises(MappingError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- Encounter: FHIR -> domain --------------------------------------------------------------------


def test_minimal_outpatient_visit():
    data = encounter_from_fhir(_fhir())
    assert (data.kind, data.status, data.patient_id) == (EncounterKind.OUTPATIENT, "arrived", 7)
    assert data.started_at is None and data.reason == "" and data.location_refs == ()


def test_visit_reads_into_the_reception_form():
    # given a visit with its start, reason, room, arrival route, card and referral
    resource = _fhir(
        period={"start": "2026-03-01T08:15:00+07:00"},
        reasonCode=[{"text": "Sốt, ho 3 ngày"}],
        location=[
            {
                "location": {
                    "reference": "Location/dept-12",
                    "identifier": {"system": ROOMS, "value": "P01"},
                }
            }
        ],
        serviceProvider={"reference": "Organization/5"},
        extension=[
            _ext(
                systems.ARRIVAL_MODE_EXT,
                valueCoding={"system": systems.ARRIVAL_MODE_CS, "code": "referral"},
            ),
            _ext(
                systems.ENCOUNTER_BHYT_CARD_EXT,
                valueIdentifier={
                    "system": systems.BHYT,
                    "value": CARD,
                    "period": {"start": "2026-01-01", "end": "2026-12-31"},
                },
            ),
            _ext(
                systems.BHYT_REGISTERED_FACILITY_EXT,
                valueIdentifier={"system": systems.FACILITY, "value": "48002"},
            ),
            _ext(systems.REFERRAL_PAPER_EXT, valueString="GCT-12"),
        ],
        hospitalization={"origin": {"identifier": {"system": systems.FACILITY, "value": "48003"}}},
    )
    # when read and turned into the reception's input
    data = encounter_from_fhir(resource)
    form = checkin_input(data, room_id=3)
    # then every value lands on its field (the room only named: the provider resolves it)
    assert data.department_id == 12 and data.room_code == "P01" and data.room_system == ROOMS
    assert data.service_provider_id == 5
    assert form == CheckInInput(
        patient_id=7,
        room_id=3,
        arrival_mode=ArrivalMode.REFERRAL,
        referral_paper_number="GCT-12",
        referral_from_code="48003",
        insurance_card_code=CARD,
        insurance_card_valid_from=date(2026, 1, 1),
        insurance_card_valid_to=date(2026, 12, 31),
        registered_facility_code="48002",
        reason="Sốt, ho 3 ngày",
        started_at=T0 + timedelta(minutes=15),
    )


def test_arrival_route_defaults_to_self_referred():
    assert checkin_input(encounter_from_fhir(_fhir()), room_id=1).arrival_mode == "self_referred"


def test_service_provider_by_facility_code():
    data = encounter_from_fhir(
        _fhir(serviceProvider={"identifier": {"system": systems.FACILITY, "value": "48001"}})
    )
    assert (data.service_provider_id, data.service_provider_code) == (None, "48001")


def test_reason_from_a_coding_display_when_there_is_no_text():
    resource = _fhir(reasonCode=[{"coding": [{"system": "urn:x", "code": "1", "display": "Ho"}]}])
    assert encounter_from_fhir(resource).reason == "Ho"


def test_stay_reads_into_the_admission_arguments():
    resource = _fhir(
        status="in-progress",
        **{"class": {"system": systems.ACT_CODE_CS, "code": "IMP"}},
        period={"start": "2026-03-01T08:00:00+07:00"},
        reasonCode=[{"text": "Đau ngực"}],
        location=[
            {"location": {"reference": "Location/dept-14"}},
            {"location": {"reference": "Location/bed-40"}},
        ],
        hospitalization={
            "admitSource": {"coding": [{"system": systems.ADMIT_SOURCE_CS, "code": "emd"}]}
        },
    )
    assert admission_input(encounter_from_fhir(resource)) == {
        "patient": 7,
        "department_id": 14,
        "bed_id": 40,
        "source": "emergency",
        "from_encounter": None,
        "referral_from_code": "",
        "referral_paper_number": "",
        "reason": "Đau ngực",
        "insurance_card_code": "",
        "admitted_at": T0,
    }


def test_stay_from_a_visit_needs_no_admit_source():
    resource = _fhir(
        status="in-progress",
        **{"class": {"code": "IMP"}},
        location=[{"location": {"reference": "Location/dept-14"}}],
        partOf={"reference": "Encounter/3"},
    )
    kwargs = admission_input(encounter_from_fhir(resource))
    assert (kwargs["source"], kwargs["from_encounter"]) == ("outpatient", 3)


@pytest.mark.parametrize(
    ("elements", "path"),
    [
        ({"location": []}, "Encounter.location"),
        ({"location": [{"location": {"reference": "Location/dept-1"}}]}, "Encounter.hospitalization.admitSource"),
        (
            {
                "location": [
                    {"location": {"reference": "Location/dept-1"}},
                    {"location": {"reference": "Location/dept-2"}},
                ],
                "hospitalization": {"admitSource": {"coding": [{"system": systems.ADMIT_SOURCE_CS, "code": "emd"}]}},
            },
            "Encounter.location",
        ),
    ],
)  # fmt: skip
def test_stay_needs_one_department_and_a_source(elements, path):
    resource = _fhir(status="in-progress", **{"class": {"code": "IMP"}}, **elements)
    assert _error(admission_input, encounter_from_fhir(resource)).path == path


@pytest.mark.parametrize(
    "location",
    [
        [{"location": {"reference": "Location/bed-40"}}],
        [{"location": {"reference": "Location/ward-3"}}],
        [{"location": {"reference": "Location/dept-1"}}, {"location": {"reference": "Location/dept-2"}}],
    ],
)  # fmt: skip
def test_visit_is_in_one_department_never_a_ward_or_bed(location):
    data = encounter_from_fhir(_fhir(location=location))
    assert _error(checkin_input, data, room_id=1).path == "Encounter.location"


def test_conclusion_from_the_local_code_or_hl7_discharge_disposition():
    local = _fhir(
        status="finished",
        hospitalization={
            "dischargeDisposition": {
                "coding": [{"system": systems.VISIT_CONCLUSION_CS, "code": "follow_up"}]
            }
        },
        extension=[_ext(systems.FOLLOW_UP_DATE_EXT, valueDate="2026-03-15")],
    )
    hl7 = _fhir(
        status="finished",
        hospitalization={
            "dischargeDisposition": {
                "coding": [{"system": systems.DISCHARGE_DISPOSITION_CS, "code": "other-hcf"}]
            },
            "destination": {"identifier": {"system": systems.FACILITY, "value": "79001"}},
        },
        extension=[_ext(systems.TRANSFER_REASON_EXT, valueString="Vượt khả năng chuyên môn")],
    )
    first, second = encounter_from_fhir(local), encounter_from_fhir(hl7)
    assert (first.conclusion, first.follow_up_date) == (Conclusion.FOLLOW_UP, date(2026, 3, 15))
    assert (second.conclusion, second.transfer_to_code) == (Conclusion.TRANSFER, "79001")
    assert second.transfer_reason == "Vượt khả năng chuyên môn"


@pytest.mark.parametrize(
    ("elements", "path"),
    [
        ({"class": {"system": systems.ACT_CODE_CS, "code": "EMER"}}, "Encounter.class"),
        ({"class": {"system": "urn:other", "code": "AMB"}}, "Encounter.class"),
        ({"status": "planned"}, "Encounter.status"),
        ({"status": "entered-in-error"}, "Encounter.status"),
        ({"subject": None}, "Encounter.subject"),
        ({"subject": {"reference": "Group/1"}}, "Encounter.subject.reference"),
        ({"subject": {"reference": "urn:uuid:6d0b5e1c-1a1a-4b4b-9c9c-0d0d0d0d0d0d"}}, "Encounter.subject.reference"),
        ({"serviceProvider": {"reference": "Location/dept-1"}}, "Encounter.serviceProvider.reference"),
        ({"serviceProvider": {"display": "Bệnh viện X"}}, "Encounter.serviceProvider"),
        ({"period": {"start": "2026-03-01"}}, "Encounter.period.start"),
        ({"location": [{"location": {"reference": "Location/room-3"}}]}, "Encounter.location[0].location.reference"),
        ({"location": [{"location": {"display": "Phòng 1"}}]}, "Encounter.location[0].location"),
        ({"partOf": {"reference": "Encounter/x1"}}, "Encounter.partOf.reference"),
        ({"extension": [_ext(systems.ARRIVAL_MODE_EXT, valueCoding={"code": "bus"})]}, f"Encounter.extension('{systems.ARRIVAL_MODE_EXT}')"),
        ({"extension": [_ext(systems.ENCOUNTER_BHYT_CARD_EXT, valueIdentifier={"system": systems.CCCD, "value": "1"})]}, f"Encounter.extension('{systems.ENCOUNTER_BHYT_CARD_EXT}')"),
        ({"extension": [_ext(systems.FOLLOW_UP_DATE_EXT, valueDate="2026-03")]}, f"Encounter.extension('{systems.FOLLOW_UP_DATE_EXT}')"),
        ({"hospitalization": {"admitSource": {"coding": [{"system": systems.ADMIT_SOURCE_CS, "code": "born"}]}}}, "Encounter.hospitalization.admitSource"),
        ({"hospitalization": {"dischargeDisposition": {"coding": [{"system": systems.DISCHARGE_DISPOSITION_CS, "code": "exp"}]}}}, "Encounter.hospitalization.dischargeDisposition"),
        ({"hospitalization": {"origin": {"reference": "Organization/3"}}}, "Encounter.hospitalization.origin"),
    ],
)  # fmt: skip
def test_what_the_registry_cannot_hold_is_refused_at_its_element(elements, path):
    data = {k: v for k, v in elements.items() if v is not None}
    resource = _fhir(**data)
    if elements.get("subject", "") is None:
        resource.pop("subject")
    error = _error(encounter_from_fhir, resource)
    assert error.path == path and error.message


def test_start_without_offset_and_condition_without_subject_are_refused():
    # (the pinned models refuse both before the mapper; the mapper alone refuses them too)
    raw = {**_fhir(), "period": {"start": "2026-03-01T08:00:00"}}
    assert _error(encounter_from_fhir, raw).path == "Encounter.period.start"
    condition = {**_condition()}
    condition.pop("subject")
    assert _error(condition_from_fhir, condition).path == "Condition.subject"


def test_room_named_in_its_own_location_entry():
    resource = _fhir(
        location=[
            {"location": {"reference": "Location/dept-12"}},
            {"location": {"identifier": {"system": ROOMS, "value": "P02"}}},
        ]
    )
    data = encounter_from_fhir(resource)
    assert (data.department_id, data.room_code, data.location_refs) == (
        12,
        "P02",
        ("Location/dept-12",),
    )


# --- Encounter: domain -> FHIR -> domain ----------------------------------------------------------


def _encounter(**fields) -> Encounter:
    values = {
        "patient_id": 7,
        "facility": UNIT,
        "kind": EncounterKind.OUTPATIENT,
        "visit_type": VisitType.EXAMINATION,
        "status": EncounterStatus.ARRIVED,
        "started_at": T0,
        "department_id": 12,
        "claim_key": "A1B2C3",
        "reason": "Đau đầu",
        "arrival_mode": ArrivalMode.REGISTERED,
        "insurance_card_code": CARD,
        "insurance_card_valid_from": date(2026, 1, 1),
        "insurance_card_valid_to": date(2026, 12, 31),
        "registered_facility_code": "48001",
        "updated_at": T0,
    }
    values.update(fields)
    return Encounter(pk=9, version=2, **values)


def test_visit_round_trip_keeps_what_the_reception_recorded():
    # given a visit as rendered (and validated by the pinned models)
    resource = dump(encounter_to_fhir(_encounter()))
    # when read back
    data = encounter_from_fhir(resource)
    # then the registry's values come back
    assert (data.kind, data.status, data.patient_id) == ("outpatient", "arrived", 7)
    assert data.started_at == T0 and data.reason == "Đau đầu"
    assert data.service_provider_id == 5 and data.department_id == 12
    assert data.location_refs == ("Location/dept-12",)
    assert (data.arrival_mode, data.insurance_card_code) == ("registered", CARD)
    assert (data.insurance_card_valid_from, data.insurance_card_valid_to) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert data.registered_facility_code == "48001"


def test_concluded_transfer_round_trip():
    visit = _encounter(
        status=EncounterStatus.CONCLUDED,
        ended_at=T0 + timedelta(hours=1),
        conclusion=Conclusion.TRANSFER,
        transfer_to_code="79001",
        transfer_reason="Vượt khả năng",
    )
    data = encounter_from_fhir(dump(encounter_to_fhir(visit)))
    assert (data.status, data.conclusion) == ("finished", Conclusion.TRANSFER)
    assert (data.transfer_to_code, data.transfer_reason) == ("79001", "Vượt khả năng")


def test_follow_up_round_trip():
    visit = _encounter(
        status=EncounterStatus.CONCLUDED,
        ended_at=T0 + timedelta(hours=1),
        conclusion=Conclusion.FOLLOW_UP,
        follow_up_date=date(2026, 3, 15),
    )
    data = encounter_from_fhir(dump(encounter_to_fhir(visit)))
    assert (data.conclusion, data.follow_up_date) == (Conclusion.FOLLOW_UP, date(2026, 3, 15))


@pytest.mark.parametrize(
    ("arrival", "source"),
    [
        (ArrivalMode.EMERGENCY, "emergency"),
        (ArrivalMode.TRANSFER_IN, "transfer_in"),
        (ArrivalMode.SELF_REFERRED, "outpatient"),
    ],
)
def test_stay_round_trip_keeps_its_admission_source(arrival, source):
    stay = _encounter(
        kind=EncounterKind.INPATIENT,
        visit_type=VisitType.INPATIENT,
        status=EncounterStatus.ADMITTED,
        admitted_at=T0,
        department_id=14,
        arrival_mode=arrival,
        referral_from_code="48003" if arrival == ArrivalMode.TRANSFER_IN else "",
    )
    data = encounter_from_fhir(dump(encounter_to_fhir(stay)))
    assert (data.kind, data.status, data.admit_source) == ("inpatient", "in-progress", source)
    assert data.department_id == 14
    if arrival == ArrivalMode.TRANSFER_IN:
        assert data.referral_from_code == "48003"


def test_version_counts_the_writes_of_kept_elements():
    visit = _encounter()
    assert encounter_version(visit) == 2 and encounter_version(visit, 3) == 5
    resource = dump(encounter_to_fhir(visit, version_id="5"))
    assert resource["meta"]["versionId"] == "5"


# --- Condition: FHIR -> domain --------------------------------------------------------------------


def _condition(**elements: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": systems.ICD_10, "code": "J06.9"}]},
        "subject": {"reference": "Patient/7"},
        "encounter": {"reference": "Encounter/9"},
    }
    data.update(elements)
    return dump(validate({k: v for k, v in data.items() if v is not None}, "Condition"))


def _rank(n: int) -> dict[str, Any]:
    return _ext(systems.DIAGNOSIS_RANK_EXT, valuePositiveInt=n)


def _phase(code: str) -> dict[str, Any]:
    return _ext(
        systems.DIAGNOSIS_PHASE_EXT,
        valueCoding={"system": systems.DIAGNOSIS_PHASE_CS, "code": code},
    )


def _verification(code: str) -> dict[str, Any]:
    return {"coding": [{"system": systems.CONDITION_VER_STATUS_CS, "code": code}]}


def test_minimal_condition_is_an_encounter_diagnosis_at_the_next_place():
    data = condition_from_fhir(_condition())
    assert (data.patient_id, data.encounter_id, data.code) == (7, 9, "J06.9")
    assert (data.phase, data.rank) == (DiagnosisPhase.ENCOUNTER, None)


@pytest.mark.parametrize(("rank", "expected"), [(1, 0), (2, 1), (13, 12)])
def test_rank_extension_one_is_the_main_diagnosis(rank, expected):
    assert condition_from_fhir(_condition(extension=[_rank(rank)])).rank == expected


def test_provisional_is_an_admission_diagnosis():
    data = condition_from_fhir(_condition(verificationStatus=_verification("provisional")))
    assert data.phase == DiagnosisPhase.ADMISSION


def test_phase_extension_agreeing_with_verification():
    data = condition_from_fhir(
        _condition(
            extension=[_phase("discharge")],
            verificationStatus=_verification("confirmed"),
            clinicalStatus={
                "coding": [{"system": systems.CONDITION_CLINICAL_CS, "code": "active"}]
            },
        )
    )
    assert data.phase == DiagnosisPhase.DISCHARGE


@pytest.mark.parametrize(
    ("elements", "path"),
    [
        ({"code": {"text": "Viêm họng"}}, "Condition.code"),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "195662009"}]}}, "Condition.code"),
        ({"category": [{"coding": [{"system": systems.CONDITION_CATEGORY_CS, "code": "problem-list-item"}]}]}, "Condition.category[0]"),
        ({"verificationStatus": _verification("refuted")}, "Condition.verificationStatus"),
        ({"verificationStatus": _verification("entered-in-error")}, "Condition.verificationStatus"),
        ({"verificationStatus": _verification("provisional"), "extension": [_phase("encounter")]}, "Condition.verificationStatus"),
        ({"clinicalStatus": {"coding": [{"system": systems.CONDITION_CLINICAL_CS, "code": "resolved"}]}}, "Condition.clinicalStatus"),
        ({"abatementDateTime": "2026-03-05T08:00:00+07:00"}, "Condition.abatementDateTime"),
        ({"extension": [_rank(14)]}, RANK_PATH),
        ({"extension": [_phase("ward-round")]}, PHASE_PATH),
        ({"encounter": None}, "Condition.encounter"),
        ({"encounter": {"reference": "Encounter/abc"}}, "Condition.encounter.reference"),
        ({"subject": {"reference": "Group/7"}}, "Condition.subject.reference"),
    ],
)  # fmt: skip
def test_condition_the_registry_cannot_hold_is_refused_at_its_element(elements, path):
    error = _error(condition_from_fhir, _condition(**elements))
    assert error.path == path and error.message


# --- Condition: domain -> FHIR -> domain ----------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "rank"),
    [
        (DiagnosisPhase.ENCOUNTER, 0),
        (DiagnosisPhase.ENCOUNTER, 3),
        (DiagnosisPhase.ADMISSION, 0),
        (DiagnosisPhase.DISCHARGE, 1),
    ],
)
def test_condition_round_trip(phase, rank):
    encounter = Encounter(pk=9, patient_id=7, status=EncounterStatus.ADMITTED, started_at=T0)
    diagnosis = Diagnosis(
        pk=31,
        encounter=encounter,
        phase=phase,
        icd_code="I21.0",
        text="Nhồi máu cơ tim cấp",
        rank=rank,
        recorded_at=T0,
    )
    data = condition_from_fhir(dump(condition_to_fhir(diagnosis)))
    assert (data.patient_id, data.encounter_id, data.code) == (7, 9, "I21.0")
    assert (data.phase, data.rank) == (phase, rank)
