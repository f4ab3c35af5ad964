"""Observation and AllergyIntolerance mappers: pure functions, no database (one rule per test)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ehealth.core.models import Drug, MedicalService
from ehealth.core.models.catalogs import CostGroup
from fhir_api import systems
from fhir_api.fhir import dump, validate
from fhir_api.mappers.allergy import allergy_from_fhir, allergy_to_fhir
from fhir_api.mappers.observation import (
    BMI,
    BP,
    HEIGHT,
    PULSE,
    SLOTS,
    SPO2,
    TEMP,
    WEIGHT,
    ObservationId,
    parse_observation_id,
    result_to_fhir,
    vital_slots,
    vital_to_fhir,
    vitals_from_fhir,
)
from fhir_api.mappers.patient import MappingError
from fhir_api.outcomes import BadRequest
from fhir_api.search.observation import QuantityValue, parse_quantity
from patients.clinical_choices import AllergySeverity, OrderStatus, ResultFlag
from patients.models import Allergy, Encounter, ResultValue, ServiceOrder, VitalSigns

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City
T1 = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
UCUM = systems.UCUM_UNITS


def _vitals(**fields) -> VitalSigns:
    values = {
        "recorded_at": T0,
        "pulse": 88,
        "systolic": 130,
        "diastolic": 85,
        "temperature": Decimal("38.5"),
        "respiratory_rate": 20,
        "spo2": 97,
        "height_cm": Decimal("165.0"),
        "weight_kg": Decimal("60.50"),
    }
    values.update(fields)
    return VitalSigns(pk=5, encounter=Encounter(pk=9, patient_id=7), encounter_id=9, **values)


def _obs(vitals: VitalSigns, slot) -> dict:
    return dump(vital_to_fhir(vitals, slot))


def _loinc(data: dict) -> list[str]:
    return [c["code"] for c in data["code"]["coding"] if c["system"] == systems.LOINC]


# --- vital signs -> FHIR ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slot", "loinc", "value", "ucum", "profile"),
    [
        (PULSE, "8867-4", 88, "/min", "heartrate"),
        (TEMP, "8310-5", 38.5, "Cel", "bodytemp"),
        (SLOTS[3], "9279-1", 20, "/min", "resprate"),
        (SPO2, "59408-5", 97, "%", "oxygensat"),
        (HEIGHT, "8302-2", 165, "cm", "bodyheight"),
        (WEIGHT, "29463-7", 60.5, "kg", "bodyweight"),
        (BMI, "39156-5", 22.2, "kg/m2", "bmi"),
    ],
)
def test_each_vital_sign_is_one_observation_with_loinc_code_and_ucum_quantity(
    slot, loinc, value, ucum, profile
):
    data = _obs(_vitals(), slot)
    assert data["id"] == f"vs-5-{slot.key}"
    assert _loinc(data)[0] == loinc
    assert data["valueQuantity"]["value"] == value
    assert data["valueQuantity"]["system"] == UCUM and data["valueQuantity"]["code"] == ucum
    assert data["meta"]["profile"] == [f"http://hl7.org/fhir/StructureDefinition/{profile}"]
    assert data["category"][0]["coding"][0] == {
        "system": systems.OBSERVATION_CATEGORY_CS,
        "code": "vital-signs",
        "display": "Vital Signs",
    }
    assert data["status"] == "final" and data["meta"]["versionId"] == "1"


def test_vital_sign_points_to_patient_and_encounter_at_the_measured_time():
    data = _obs(_vitals(note="Sau khi chạy"), TEMP)
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["encounter"] == {"reference": "Encounter/9"}
    assert data["effectiveDateTime"] == "2026-03-01T08:00:00+07:00"
    assert data["note"] == [{"text": "Sau khi chạy"}]


def test_blood_pressure_is_the_panel_with_systolic_and_diastolic_components():
    data = _obs(_vitals(), BP)
    assert data["id"] == "vs-5-bp" and _loinc(data) == ["85354-9"]
    assert "valueQuantity" not in data
    systolic, diastolic = data["component"]
    assert systolic["code"]["coding"][0]["code"] == "8480-6"
    assert systolic["valueQuantity"] == {
        "value": 130,
        "unit": "mmHg",
        "system": UCUM,
        "code": "mm[Hg]",
    }
    assert diastolic["code"]["coding"][0]["code"] == "8462-4"
    assert diastolic["valueQuantity"]["value"] == 85


def test_blood_pressure_with_one_value_says_the_other_is_absent():
    data = _obs(_vitals(diastolic=None), BP)
    assert data["component"][1]["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "valueQuantity" not in data["component"][1]


def test_spo2_carries_both_loinc_codes_of_the_oxygen_saturation_profile():
    assert _loinc(_obs(_vitals(), SPO2)) == ["59408-5", "2708-6"]


def test_bmi_is_derived_from_height_and_weight_of_the_same_row():
    data = _obs(_vitals(), BMI)
    assert data["derivedFrom"] == [
        {"reference": "Observation/vs-5-height"},
        {"reference": "Observation/vs-5-weight"},
    ]


def test_a_row_yields_only_the_vital_signs_it_holds_in_slot_order():
    row = _vitals(pulse=None, diastolic=None, height_cm=None, respiratory_rate=None, spo2=None)
    assert [s.key for s in vital_slots(row)] == ["bp", "temp", "weight"]
    assert [s.key for s in vital_slots(_vitals())] == [s.key for s in SLOTS]


def test_voided_row_reads_as_entered_in_error_version_two():
    data = _obs(_vitals(voided_at=T1, void_reason="Nhầm người bệnh"), PULSE)
    assert data["status"] == "entered-in-error"
    assert data["meta"]["versionId"] == "2"
    assert data["meta"]["lastUpdated"] == "2026-03-01T08:30:00+07:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vs-5-temp", ObservationId("vs", 5, TEMP)),
        ("vs-12-bp", ObservationId("vs", 12, BP)),
        ("res-3", ObservationId("res", 3)),
        ("vs-5", None),
        ("vs-5-sugar", None),
        ("res-0", None),
        ("5", None),
        ("dept-1", None),
        ("", None),
    ],
)
def test_observation_ids_carry_their_source(text, expected):
    assert parse_observation_id(text) == expected


# --- FHIR -> vital signs (round trips) -------------------------------------------------------------


def _posted(vitals: VitalSigns, slot) -> dict:
    """What a partner would post: the rendered Observation without the server's elements."""
    data = _obs(vitals, slot)
    for name in ("id", "meta", "derivedFrom"):
        data.pop(name, None)
    return data


@pytest.mark.parametrize("slot", [s for s in SLOTS if s is not BMI], ids=lambda s: s.key)
def test_vital_sign_round_trip_gives_back_the_same_value(slot):
    row = _vitals(note="Đo lại")
    write = vitals_from_fhir(_posted(row, slot))
    assert write.slot is slot and write.encounter_id == 9 and write.patient_id == 7
    assert write.data.recorded_at == T0 and write.data.note == "Đo lại"
    fields = ("systolic", "diastolic") if slot is BP else (slot.field,)
    for name in fields:
        assert Decimal(str(getattr(write.data, name))) == Decimal(str(getattr(row, name)))
    # and the row holding what was read renders the same Observation again
    again = VitalSigns(pk=5, encounter=row.encounter, encounter_id=9, recorded_at=T0, note="Đo lại")
    for name in fields:
        setattr(again, name, getattr(write.data, name))
    assert _posted(again, slot) == _posted(row, slot)


@pytest.mark.parametrize(
    ("field", "quantity", "expected"),
    [
        ("temperature", {"value": 100.4, "system": UCUM, "code": "[degF]"}, Decimal("38.0")),
        ("temperature", {"value": 37.2, "unit": "°C"}, Decimal("37.2")),
        ("weight_kg", {"value": 2500, "system": UCUM, "code": "g"}, Decimal("2.5")),
        ("weight_kg", {"value": 100, "system": UCUM, "code": "[lb_av]"}, Decimal("45.359237")),
        ("height_cm", {"value": 1.72, "system": UCUM, "code": "m"}, Decimal("172")),
        ("height_cm", {"value": 10, "system": UCUM, "code": "[in_i]"}, Decimal("25.4")),
        ("pulse", {"value": 72, "system": UCUM, "code": "{beats}/min"}, Decimal(72)),
    ],
)
def test_accepted_units_are_converted_to_the_domains(field, quantity, expected):
    slot = next(s for s in SLOTS if s.field == field)
    data = _posted(_vitals(), slot)
    data["valueQuantity"] = quantity
    value = getattr(vitals_from_fhir(data).data, field)
    assert Decimal(value).quantize(Decimal("0.000001")) == expected.quantize(Decimal("0.000001"))


def test_blood_pressure_component_with_absent_value_is_left_blank():
    write = vitals_from_fhir(_posted(_vitals(diastolic=None), BP))
    assert write.data.systolic == 130 and write.data.diastolic is None


def test_a_minimal_post_needs_no_subject_nor_time():
    write = vitals_from_fhir(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": systems.LOINC, "code": "8867-4"}]},
            "encounter": {"reference": "Encounter/9"},
            "valueQuantity": {"value": 70, "system": UCUM, "code": "/min"},
        }
    )
    assert write.patient_id is None and write.data.recorded_at is None and write.data.pulse == 70


def _bad(slot=TEMP, **changes) -> dict:
    data = _posted(_vitals(), slot)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (_bad(status="preliminary"), "Observation.status"),
        (
            _bad(category=[{"coding": [{"code": "laboratory"}]}]),
            "Observation.category",
        ),
        (_bad(code={"coding": [{"system": systems.LOINC, "code": "2345-7"}]}), "Observation.code"),
        (_bad(code={"text": "Nhiệt độ"}), "Observation.code"),
        (_bad(BMI), "Observation.code"),
        (_bad(code={"coding": [{"system": systems.LOINC, "code": "8480-6"}]}), "Observation.code"),
        (_bad(encounter=None), "Observation.encounter"),
        (_bad(encounter={"reference": "Patient/7"}), "Observation.encounter"),
        (_bad(subject={"reference": "Group/7"}), "Observation.subject"),
        (_bad(effectiveDateTime="2026-03-01"), "Observation.effectiveDateTime"),
        (
            _bad(effectiveDateTime=None, effectivePeriod={"start": "2026-03-01T08:00:00+07:00"}),
            "Observation.effectivePeriod",
        ),
        (_bad(valueQuantity=None), "Observation.valueQuantity"),
        (_bad(valueQuantity=None, valueString="38"), "Observation.value[x]"),
        (_bad(valueQuantity={"value": 38, "unit": "độ"}), "Observation.valueQuantity.code"),
        (
            _bad(valueQuantity={"value": 38, "system": "http://snomed.info/sct", "code": "Cel"}),
            "Observation.valueQuantity.system",
        ),
        (_bad(note=[{"text": "x" * 501}]), "Observation.note[0].text"),
        (_bad(BP, valueQuantity={"value": 120, "code": "mm[Hg]"}), "Observation.valueQuantity"),
        (_bad(BP, component=None), "Observation.component"),
        (
            _bad(
                BP,
                component=[
                    {
                        "code": {"coding": [{"system": systems.LOINC, "code": "8480-6"}]},
                        "valueQuantity": {"value": 120, "system": UCUM, "code": "Cel"},
                    }
                ],
            ),
            "Observation.component[0].valueQuantity.code",
        ),
    ],
)
def test_what_the_vitals_cannot_hold_is_refused_at_its_element(data, path):
    with pytest.raises(MappingError) as caught:
        vitals_from_fhir(data)
    assert caught.value.path == path


def test_posted_observations_of_the_tests_are_valid_fhir():
    for slot in (TEMP, BP):
        validate(_posted(_vitals(), slot), "Observation")


# --- result values -> FHIR -----------------------------------------------------------------------


def _result(
    group=CostGroup.LAB, order_status=OrderStatus.RESULTED, service_fields=None, **fields
) -> ResultValue:
    service = MedicalService(
        pk=4,
        code="XN.GLU",
        name="Định lượng Glucose",
        group=group,
        moh_code="23.0075.1494",
        **(service_fields or {}),
    )
    order = ServiceOrder(
        pk=40,
        encounter=Encounter(pk=9, patient_id=7),
        encounter_id=9,
        service=service,
        status=order_status,
        ordered_at=T0,
        performed_at=T0,
        resulted_at=T1,
    )
    values = {
        "code": "GLU",
        "name": "Glucose",
        "value": "7,8",
        "numeric_value": Decimal("7.8000"),
        "unit": "mmol/L",
        "reference_low": Decimal("3.9000"),
        "reference_high": Decimal("6.4000"),
        "flag": ResultFlag.HIGH,
        "entered_at": T1,
    }
    values.update(fields)
    return ResultValue(pk=77, order=order, order_id=40, **values)


def _res(value: ResultValue) -> dict:
    return dump(result_to_fhir(value))


def test_numeric_result_is_a_ucum_quantity_with_range_and_interpretation():
    data = _res(_result())
    assert data["id"] == "res-77" and data["status"] == "final"
    assert data["valueQuantity"] == {
        "value": 7.8,
        "unit": "mmol/L",
        "system": UCUM,
        "code": "mmol/L",
    }
    assert data["referenceRange"] == [
        {
            "low": {"value": 3.9, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
            "high": {"value": 6.4, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
        }
    ]
    assert data["interpretation"][0]["coding"][0] == {
        "system": systems.OBSERVATION_INTERPRETATION_CS,
        "code": "H",
        "display": "High",
    }


def test_result_code_is_the_values_code_then_the_services():
    data = _res(_result())
    assert [(c["system"], c["code"]) for c in data["code"]["coding"]] == [
        (systems.RESULT_INDEX_CS, "GLU"),
        (systems.SERVICE_CATALOG_CS, "XN.GLU"),
        (systems.MOH_SERVICE_CS, "23.0075.1494"),
    ]
    assert data["code"]["text"] == "Glucose"
    assert [c["system"] for c in _res(_result(code=""))["code"]["coding"]] == [
        systems.SERVICE_CATALOG_CS,
        systems.MOH_SERVICE_CS,
    ]


def test_result_points_to_patient_encounter_and_order_with_its_times():
    data = _res(_result())
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["encounter"] == {"reference": "Encounter/9"}
    assert data["basedOn"] == [{"reference": "ServiceRequest/40"}]
    assert data["effectiveDateTime"] == "2026-03-01T08:00:00+07:00"
    assert data["issued"] == "2026-03-01T08:30:00+07:00"


def test_text_result_is_a_value_string_without_interpretation():
    data = _res(
        _result(
            value="Âm tính",
            numeric_value=None,
            unit="",
            flag="",
            reference_low=None,
            reference_high=None,
        )
    )
    assert data["valueString"] == "Âm tính"
    assert "valueQuantity" not in data and "interpretation" not in data
    assert "referenceRange" not in data


@pytest.mark.parametrize(
    ("unit", "code"),
    [("G/L", "10*9/L"), ("g/L", "g/L"), ("T/L", "10*12/L"), ("U/L", "U/L"), ("lần", None)],
)
def test_result_units_map_to_ucum_where_known_case_matters(unit, code):
    quantity = _res(_result(unit=unit))["valueQuantity"]
    assert quantity["unit"] == unit
    assert quantity.get("code") == code
    assert ("system" in quantity) == (code is not None)


@pytest.mark.parametrize(
    ("group", "category"),
    [
        (CostGroup.LAB, "laboratory"),
        (CostGroup.IMAGING, "imaging"),
        (CostGroup.FUNCTIONAL, "procedure"),
    ],
)
def test_result_category_follows_the_service_group(group, category):
    assert _res(_result(group=group))["category"][0]["coding"][0]["code"] == category


@pytest.mark.parametrize(
    ("status", "fhir_status", "version"),
    [
        (OrderStatus.RESULTED, "final", "1"),
        (OrderStatus.IN_PROGRESS, "preliminary", "1"),
        (OrderStatus.CANCELLED, "entered-in-error", "2"),
    ],
)
def test_result_status_follows_the_order(status, fhir_status, version):
    data = _res(_result(order_status=status))
    assert data["status"] == fhir_status and data["meta"]["versionId"] == version


# --- quantity search values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("38", QuantityValue("eq", Decimal("38"), None, None)),
        ("gt38.5|http://unitsofmeasure.org|Cel", QuantityValue("gt", Decimal("38.5"), UCUM, "Cel")),
        ("le100||mm[Hg]", QuantityValue("le", Decimal("100"), None, "mm[Hg]")),
        ("ap-1.5e2", QuantityValue("ap", Decimal("-1.5e2"), None, None)),
    ],
)
def test_quantity_values_parse(raw, expected):
    assert parse_quantity(raw, "value-quantity") == expected


@pytest.mark.parametrize("raw", ["abc", "gt", "38|Cel", "NaN", "Infinity", "zz38", "3 8"])
def test_bad_quantity_values_are_400(raw):
    with pytest.raises(BadRequest) as caught:
        parse_quantity(raw, "value-quantity")
    assert caught.value.issues[0].expression == ["value-quantity"]


# --- AllergyIntolerance ------------------------------------------------------------------------


def _allergy(drug: Drug | None = None, **fields) -> Allergy:
    values = {
        "substance": "Penicilin",
        "reaction": "Nổi mề đay",
        "severity": AllergySeverity.MODERATE,
        "recorded_at": T0,
    }
    values.update(fields)
    return Allergy(pk=3, patient_id=7, drug=drug, **values)


def _ai(allergy: Allergy) -> dict:
    return dump(allergy_to_fhir(allergy))


def _drug() -> Drug:
    return Drug(
        pk=8,
        code="TH.AMOX500",
        name="Amoxicilin 500mg",
        active_ingredient="Amoxicilin",
        active_ingredient_code="40.150",
    )


def test_allergy_is_active_with_the_substance_as_written():
    data = _ai(_allergy())
    assert data["id"] == "3" and data["meta"]["versionId"] == "1"
    assert data["clinicalStatus"]["coding"][0] == {
        "system": systems.ALLERGY_CLINICAL_CS,
        "code": "active",
    }
    assert "verificationStatus" not in data and "category" not in data
    assert data["code"] == {"text": "Penicilin"}
    assert data["patient"] == {"reference": "Patient/7"}
    assert data["recordedDate"] == "2026-03-01T08:00:00+07:00"
    assert data["reaction"] == [{"manifestation": [{"text": "Nổi mề đay"}], "severity": "moderate"}]


def test_allergy_to_a_catalog_drug_is_a_medication_allergy_with_its_codes():
    data = _ai(_allergy(drug=_drug(), substance="Amoxicilin", encounter_id=9))
    assert data["category"] == ["medication"]
    assert [(c["system"], c["code"]) for c in data["code"]["coding"]] == [
        (systems.DRUG_CATALOG_CS, "TH.AMOX500"),
        (systems.MOH_DRUG_CS, "40.150"),
    ]
    assert data["encounter"] == {"reference": "Encounter/9"}


def test_severity_without_written_reaction_says_the_manifestation_is_unknown():
    data = _ai(_allergy(reaction=""))
    (manifestation,) = data["reaction"][0]["manifestation"]
    assert manifestation["coding"][0]["code"] == "unknown"
    assert "reaction" not in _ai(_allergy(reaction="", severity=""))


def test_voided_allergy_is_entered_in_error_without_clinical_status():
    data = _ai(_allergy(voided_at=T1, void_reason="Nhầm"))
    assert data["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in data and data["meta"]["versionId"] == "2"


@pytest.mark.parametrize(
    "allergy",
    [
        _allergy(),
        _allergy(drug=_drug(), substance="Amoxicilin", encounter_id=9),
        _allergy(reaction=""),
        _allergy(reaction="", severity=""),
    ],
    ids=["text", "drug", "severity-only", "bare"],
)
def test_allergy_round_trip(allergy):
    data = _ai(allergy)
    write = allergy_from_fhir(data)
    assert write.patient_id == 7
    assert write.encounter_id == allergy.encounter_id
    assert write.substance == allergy.substance
    assert write.drug_code == (allergy.drug.code if allergy.drug else None)
    assert write.reaction == allergy.reaction and write.severity == allergy.severity


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"patient": {"reference": "Group/7"}}, "AllergyIntolerance.patient"),
        (
            {"clinicalStatus": {"coding": [{"system": systems.ALLERGY_CLINICAL_CS, "code": "resolved"}]}},
            "AllergyIntolerance.clinicalStatus",
        ),
        (
            {"verificationStatus": {"coding": [{"system": systems.ALLERGY_VERIFICATION_CS, "code": "refuted"}]}},
            "AllergyIntolerance.verificationStatus",
        ),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007"}]}},
         "AllergyIntolerance.code"),
        ({"reaction": [{"manifestation": [{"text": "x"}], "severity": "fatal"}]},
         "AllergyIntolerance.reaction[0].severity"),
        ({"encounter": {"reference": "Encounter/abc"}}, "AllergyIntolerance.encounter"),
    ],
)  # fmt: skip
def test_what_the_allergy_record_cannot_hold_is_refused_at_its_element(changes, path):
    data = {**_ai(_allergy()), **changes}
    with pytest.raises(MappingError) as caught:
        allergy_from_fhir(data)
    assert caught.value.path == path


def test_allergy_needs_a_patient():
    data = _ai(_allergy())
    del data["patient"]
    with pytest.raises(MappingError) as caught:
        allergy_from_fhir(data)
    assert caught.value.path == "AllergyIntolerance.patient"
