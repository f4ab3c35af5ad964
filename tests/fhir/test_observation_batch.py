"""Transactions create their vital-sign Observations together (`ObservationProvider.create_many`):
the same answers, rows, kept elements, audit and errors as one by one, in statements that do not
grow with the number of entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from fhir_api import systems
from fhir_api.models import ResourceExtra
from patients.clinical_choices import EncounterStatus
from patients.models import VitalSigns
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter, make_room
from tests.core.factories import make_staff
from tests.fhir.conftest import body
from tests.fhir.test_bundle_api import bundle, outcome, post_entry, urn
from tests.fhir.test_encounter_write_api import arrival_now, grant
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

# (LOINC, value, unit, UCUM) of the two vital signs the benchmark sends per visit.
TEMPERATURE = ("8310-5", 37.2, "°C", "Cel")
PULSE = ("8867-4", 78, "beats/minute", "/min")
KEPT = {
    "method": {"text": "Nhiệt kế điện tử ở nách"},
    "interpretation": [
        {"coding": [{"system": systems.OBSERVATION_INTERPRETATION_CS, "code": "N"}]}
    ],
}


def an_hour_ago() -> str:
    return (
        timezone.localtime(timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    )


def vital(visit, kind=TEMPERATURE, /, *, value=None, at=None, **elements) -> dict:
    """A vital-sign Observation a partner sends on `visit` (a row or a reference string)."""
    code, default, unit, ucum = kind
    if isinstance(visit, str):
        subject, target = {}, visit
    else:
        subject = {"subject": {"reference": f"Patient/{visit.patient_id}"}}
        target = f"Encounter/{visit.pk}"
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": systems.OBSERVATION_CATEGORY_CS, "code": "vital-signs"}]}
        ],
        "code": {"coding": [{"system": systems.LOINC, "code": code}]},
        **subject,
        "encounter": {"reference": target},
        "effectiveDateTime": at or an_hour_ago(),
        "valueQuantity": {
            "value": default if value is None else value,
            "unit": unit,
            "system": systems.UCUM_UNITS,
            "code": ucum,
        },
        **elements,
    }


def entry(resource: dict, full_url: str = "") -> dict:
    return post_entry(resource, full_url, url="Observation")


def open_visit(facility, status=EncounterStatus.IN_EXAMINATION):
    return make_encounter(
        facility=facility,
        patient=make_patient(facility),
        status=status,
        started_at=timezone.now() - timedelta(hours=2),
    )


@pytest.fixture
def nurse_api(api, facility):
    grant(api, facility, Role.NURSE)
    return api


def _statements(api, facility, size: int) -> tuple[int, dict]:
    """A transaction of `size` Observations, temperature and pulse by turns on fresh visits."""
    visits = [open_visit(facility) for _ in range((size + 1) // 2)]
    sent = bundle(
        "transaction",
        *(entry(vital(visits[i // 2], (TEMPERATURE, PULSE)[i % 2])) for i in range(size)),
    )
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("", sent)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), body(response)


def test_observations_of_a_transaction_are_created_together_in_constant_statements(
    nurse_api, facility
):
    _statements(nurse_api, facility, 2)  # warm: the client's prepared statements
    small, _ = _statements(nurse_api, facility, 3)
    large, data = _statements(nurse_api, facility, 20)
    assert small == large
    # every entry answered in Bundle order, each a created Observation with its location and ETag
    assert [e["response"]["status"] for e in data["entry"]] == ["201 Created"] * 20
    for i, answered in enumerate(data["entry"]):
        created = answered["resource"]
        assert created["id"].endswith(("-temp", "-pulse")[i % 2])
        assert answered["response"]["location"] == f"Observation/{created['id']}/_history/1"
        assert answered["response"]["etag"] == 'W/"1"'
        assert answered["fullUrl"].endswith(f"Observation/{created['id']}")
    assert VitalSigns.objects.count() == 2 + 3 + 20


def _row(vitals: VitalSigns) -> dict:
    fields = ("encounter_id", "recorded_at", "recorded_by_id", "note", "voided_at")
    values = ("pulse", "systolic", "diastolic", "temperature", "respiratory_rate", "spo2")
    return {f: getattr(vitals, f) for f in (*fields, *values, "height_cm", "weight_kg")}


def _audit(vitals: VitalSigns) -> dict:
    event = AuditEvent.objects.get(action="vitals.record", detail__vitals_id=vitals.pk)
    fields = ("actor_id", "role", "facility_id", "target_type", "target_id", "patient_id")
    fields += ("ip_address", "user_agent", "channel")
    detail = {k: v for k, v in event.detail.items() if k != "vitals_id"}
    return {**{f: getattr(event, f) for f in fields}, "detail": detail}


def test_a_batched_create_answers_writes_keeps_and_audits_what_a_create_alone_does(
    nurse_api, facility
):
    visit, at = open_visit(facility), an_hour_ago()
    # given a temperature (with elements the domain does not model) posted alone ...
    response = nurse_api.post("Observation", vital(visit, at=at, **KEPT))
    assert response.status_code == 201, response.content
    single = body(response)
    # ... and the same in a transaction, after a pulse on the same visit
    sent = bundle("transaction", entry(vital(visit, PULSE)), entry(vital(visit, at=at, **KEPT)))
    answered = nurse_api.post("", sent)
    assert answered.status_code == 200, answered.content
    batched = body(answered)["entry"][1]
    # then the answers are the same apart from the id
    assert batched["response"]["etag"] == response["ETag"]
    assert batched["response"]["location"] == f"Observation/{batched['resource']['id']}/_history/1"
    assert response["Location"].endswith(f"Observation/{single['id']}/_history/1")
    created = batched["resource"]
    assert created.pop("id") != single.pop("id")
    assert created == single
    # the rows and their audit entries are the same apart from the row id
    alone, pulse, together = VitalSigns.objects.filter(encounter=visit).order_by("pk")
    assert _row(together) == _row(alone)
    assert (pulse.pulse, pulse.temperature) == (78, None)
    assert _audit(together) == _audit(alone)
    assert _audit(pulse)["detail"]["measured"] == ["pulse"]
    # the kept elements are the same and come back on read
    extras = ResourceExtra.objects.filter(resource_type="Observation").order_by("pk")
    assert [e.content for e in extras] == [extras[0].content] * 2
    read = body(nurse_api.get(f"Observation/vs-{together.pk}-temp"))
    assert read["method"] == KEPT["method"] and read["interpretation"] == KEPT["interpretation"]
    assert read == {**batched["resource"], "id": f"vs-{together.pk}-temp"}


def test_observations_on_a_visit_created_in_the_same_transaction(nurse_api, facility):
    # given a Patient, its visit and two vital signs, linked by urn:uuid, listed backwards
    room = make_room(facility, code="P01")
    patient_url, visit_url = urn(), urn()
    at = arrival_now()
    subject = {"subject": {"reference": patient_url}}
    visit = {
        "resourceType": "Encounter",
        "status": "arrived",
        "class": {"system": systems.ACT_CODE_CS, "code": "AMB"},
        **subject,
        "period": {"start": at},
        "location": [{"location": {"reference": f"Location/dept-{room.department_id}"}}],
    }
    sent = bundle(
        "transaction",
        entry(vital(visit_url, PULSE, at=at, **subject), urn()),
        entry(vital(visit_url, TEMPERATURE, at=at, **subject), urn()),
        post_entry(visit, visit_url, url="Encounter"),
        post_entry(new_patient(), patient_url),
    )
    # when
    response = nurse_api.post("", sent)
    # then both vital signs are on the new visit, one row each
    assert response.status_code == 200, response.content
    data = body(response)
    visit_ref = f"Encounter/{data['entry'][2]['resource']['id']}"
    patient_ref = f"Patient/{data['entry'][3]['resource']['id']}"
    for answered in data["entry"][:2]:
        assert answered["response"]["status"] == "201 Created"
        assert answered["resource"]["encounter"] == {"reference": visit_ref}
        assert answered["resource"]["subject"] == {"reference": patient_ref}
    rows = VitalSigns.objects.filter(encounter_id=int(visit_ref.split("/")[1])).order_by("pk")
    assert [(r.pulse, r.temperature is not None) for r in rows] == [(78, False), (None, True)]
    assert AuditEvent.objects.filter(action="vitals.record").count() == 2


def _other_units_visit(facility, other_facility):
    """A visit at another unit of a patient that unit shared with ours (visible, not writable)."""
    patient = make_patient(other_facility)
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=patient,
        target_facility=facility,
        reason="Chuyển tuyến",
    )
    return make_encounter(
        facility=other_facility, patient=patient, started_at=timezone.now() - timedelta(hours=2)
    )


def _kept() -> tuple[int, int, int]:
    records = AuditEvent.objects.filter(action="vitals.record").count()
    return VitalSigns.objects.count(), ResourceExtra.objects.count(), records


# refusal -> (the refused Observation of visit v at unit f (o: another unit), status, whether the
# provider refuses it before the vitals service is asked)
REFUSALS = {
    "temperature 80 °C": (lambda v, f, o: vital(v, value=80), 422, False),
    "unknown encounter": (
        lambda v, f, o: vital(v, encounter={"reference": "Encounter/99999999"}),
        404,
        True,
    ),
    "subject not the visit's patient": (
        lambda v, f, o: vital(v, subject={"reference": "Patient/99999999"}),
        422,
        True,
    ),
    "other unit's encounter": (lambda v, f, o: vital(_other_units_visit(f, o)), 403, True),
    "locked encounter": (
        lambda v, f, o: vital(open_visit(f, EncounterStatus.CONCLUDED)),
        422,
        False,
    ),
    "in the future": (lambda v, f, o: vital(v, at="2099-01-01T08:00:00+07:00"), 422, False),
    "before the visit": (lambda v, f, o: vital(v, at="2000-01-01T08:00:00+07:00"), 422, False),
    "not a vital sign": (
        lambda v, f, o: vital(v, code={"coding": [{"system": systems.LOINC, "code": "2345-7"}]}),
        422,
        True,
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_the_first_refused_entry_answers_for_the_transaction_and_nothing_is_kept(
    nurse_api, facility, other_facility, refusal
):
    # given a good entry, the refused one, then one refused by the other layer (the provider's
    # checks or the vitals service's), which must not answer instead
    make, status, by_provider = REFUSALS[refusal]
    visit = open_visit(facility)
    refused = make(visit, facility, other_facility)
    if by_provider:
        later = vital(visit, value=80)
    else:
        later = vital(visit, encounter={"reference": "Encounter/99999999"})
    sent = bundle("transaction", entry(vital(visit, **KEPT)), entry(refused), entry(later))
    counts = _kept()
    # when
    response = nurse_api.post("", sent)
    # then nothing is kept (the refusal itself is audited) ...
    assert _kept() == counts
    # ... and the answer is entry 1's, as a create of it alone answers
    alone = nurse_api.post("Observation", refused)
    assert response.status_code == alone.status_code == status, response.content
    issue, alone_issue = outcome(response), outcome(alone)
    assert (
        issue["diagnostics"] == f"Bundle.entry[1] (POST Observation): {alone_issue['diagnostics']}"
    )
    assert issue["code"] == alone_issue["code"]
    inside = [
        f"Bundle.entry[1].resource{e.removeprefix('Observation')}"
        for e in alone_issue.get("expression", [])
    ]
    assert issue["expression"] == (inside or ["Bundle.entry[1]"])


def test_without_the_vitals_permission_the_first_entry_answers_after_its_values(api, facility):
    # the client's service account is a receptionist only: no record_vitals at the unit
    visit = open_visit(facility)
    response = api.post("", bundle("transaction", entry(vital(visit)), entry(vital(visit, PULSE))))
    alone = api.post("Observation", vital(visit))
    assert response.status_code == alone.status_code == 403
    assert outcome(response)["diagnostics"] == (
        f"Bundle.entry[0] (POST Observation): {outcome(alone)['diagnostics']}"
    )
    # impossible values are refused before the permission is asked, as alone
    response = api.post(
        "", bundle("transaction", entry(vital(visit, value=80)), entry(vital(visit, PULSE)))
    )
    assert response.status_code == api.post("Observation", vital(visit, value=80)).status_code
    assert response.status_code == 422
    assert outcome(response)["diagnostics"].startswith("Bundle.entry[0] (POST Observation): ")
    assert not VitalSigns.objects.exists()


def test_a_structural_error_after_good_entries_is_answered_at_its_entry(nurse_api, facility):
    visit = open_visit(facility)
    bad = vital(visit, valueQuantity={"value": "hot"})
    sent = bundle("transaction", entry(vital(visit)), entry(vital(visit, PULSE)), entry(bad))
    response = nurse_api.post("", sent)
    assert response.status_code == 400
    assert outcome(response)["expression"][0].startswith(
        "Bundle.entry[2].resource.valueQuantity.value"
    )
    assert not VitalSigns.objects.exists()
