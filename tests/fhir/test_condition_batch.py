"""Transactions create their plain Conditions together (`ConditionProvider.create_many`): the same
answers, rows, encounter versions, audit, kept elements and errors as one by one, in statements
that do not grow with the number of entries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent, Role
from fhir_api import systems
from fhir_api.models import ResourceExtra
from fhir_api.providers.condition import NOT_PERMITTED
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import Diagnosis, Encounter
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter, make_icd, make_room
from tests.core.factories import FacilityFactory, make_staff
from tests.fhir.conftest import body
from tests.fhir.test_bundle_api import bundle, outcome, post_entry, urn
from tests.fhir.test_condition_write_api import condition, rank
from tests.fhir.test_encounter_write_api import grant, visit_resource
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

CODES = ["J06.9", "I10", "E11.9", "K29.7", "R50.9", "M54.5", "N39.0", "L03.1"]
EXTRA_CODES = [f"A0{i}.1" for i in range(10)]  # for the twelve secondary places
KEPT = {
    "note": [{"text": "Khởi phát sau đi mưa"}],
    "severity": {"coding": [{"system": "http://snomed.info/sct", "code": "255604002"}]},
}


@pytest.fixture
def icd(db):
    for code in [*CODES, *EXTRA_CODES]:
        make_icd(code, f"Bệnh {code}")
    make_icd("E11", "Đái tháo đường typ 2 (nhóm)", billable=False)


@pytest.fixture
def doctor_api(api, facility):
    grant(api, facility, Role.DOCTOR)
    return api


def entry(resource: dict, full_url: str = "") -> dict:
    return post_entry(resource, full_url, url="Condition")


def open_visit(facility, **fields) -> Encounter:
    return make_encounter(facility=facility, status=EncounterStatus.IN_EXAMINATION, **fields)


def _statements(api, facility, size: int) -> tuple[int, dict]:
    visits = [open_visit(facility) for _ in range(size)]
    sent = bundle(
        "transaction",
        *(entry(condition(v, CODES[i % len(CODES)]), urn()) for i, v in enumerate(visits)),
    )
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("", sent)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), body(response)


def test_conditions_of_a_transaction_are_created_together_in_constant_statements(
    doctor_api, facility, icd
):
    _statements(doctor_api, facility, 2)  # warm: the client's prepared statements
    small, _ = _statements(doctor_api, facility, 3)
    large, data = _statements(doctor_api, facility, 20)
    assert small == large
    assert [e["response"]["status"] for e in data["entry"]] == ["201 Created"] * 20
    for answered in data["entry"]:
        created = answered["resource"]
        assert answered["response"]["location"] == f"Condition/{created['id']}/_history/1"
        assert answered["response"]["etag"] == 'W/"1"'
        assert answered["fullUrl"].endswith(f"Condition/{created['id']}")
    assert Diagnosis.objects.filter(rank=0).count() == 25


# --- the same as one by one -------------------------------------------------------------------


def _conditions(first: Encounter, second: Encounter) -> list[dict]:
    """Diagnoses on two visits, two in a row on the first (main, then the next secondary), ranks
    sent and not, elements the registry does not model."""
    coded = {"coding": [{"system": systems.ICD_10, "code": "J06.9"}, {"system": "x", "code": "1"}]}
    return [
        condition(first, code=coded, **KEPT),
        condition(first, "I10"),
        condition(second, "I10", extension=[rank(3)]),
        condition(first, "E11.9", extension=[rank(6)], note=[{"text": "Theo dõi"}]),
        condition(second, "J06.9"),
    ]


def _same_shape(answered: dict, visits: list[Encounter]) -> dict:
    """An answer without what differs between two equal histories (ids, instants)."""
    names = {f"Encounter/{v.pk}": f"visit {i}" for i, v in enumerate(visits)}
    names |= {f"Patient/{v.patient_id}": f"patient {i}" for i, v in enumerate(visits)}
    out = {k: v for k, v in answered.items() if k not in ("id", "meta", "recordedDate")}
    out.pop("onsetDateTime", None)
    out["subject"] = names[out["subject"]["reference"]]
    out["encounter"] = names[out["encounter"]["reference"]]
    return out


def _trail(visits: list[Encounter]) -> list[dict]:
    """The diagnosis.add audit of these visits, in order, with the visits named by place."""
    place = {v.pk: i for i, v in enumerate(visits)}
    ids = list(
        Diagnosis.objects.filter(encounter__in=visits).order_by("pk").values_list("pk", flat=True)
    )
    events = AuditEvent.objects.filter(action="diagnosis.add", patient_id__in=[
        v.patient_id for v in visits
    ]).order_by("pk")  # fmt: skip
    out = []
    for event in events:
        detail = dict(event.detail)
        detail["encounter_id"] = place[detail["encounter_id"]]
        detail["diagnosis_id"] = ids.index(detail["diagnosis_id"])
        assert event.target_id == str(visits[detail["encounter_id"]].pk)
        assert event.patient_id == visits[detail["encounter_id"]].patient_id
        out.append({**detail, "channel": event.channel, "actor": event.actor_id})
    return out


def _rows(visits: list[Encounter]) -> list[tuple]:
    place = {v.pk: i for i, v in enumerate(visits)}
    rows = Diagnosis.objects.filter(encounter__in=visits).order_by("pk")
    return [(place[d.encounter_id], d.phase, d.icd_code, d.text, d.rank) for d in rows]


def test_a_batch_answers_writes_and_audits_what_one_by_one_does(doctor_api, facility, icd):
    # given two equal pairs of visits, in examination
    batched, alone = (
        [open_visit(facility) for _ in range(2)],
        [open_visit(facility) for _ in range(2)],
    )
    # when the same diagnoses are sent in one transaction and one by one
    response = doctor_api.post("", bundle("transaction", *map(entry, _conditions(*batched))))
    assert response.status_code == 200, response.content
    in_batch = body(response)["entry"]
    one_by_one = [doctor_api.post("Condition", c) for c in _conditions(*alone)]
    # then the answers are the same: statuses, versions, bodies
    assert [e["response"]["status"] for e in in_batch] == ["201 Created"] * 5
    assert [r.status_code for r in one_by_one] == [201] * 5
    assert [e["response"]["etag"] for e in in_batch] == [r["ETag"] for r in one_by_one]
    assert [_same_shape(e["resource"], batched) for e in in_batch] == [
        _same_shape(body(r), alone) for r in one_by_one
    ]
    ranks = [e["resource"]["extension"][0]["valuePositiveInt"] for e in in_batch]
    assert ranks == [1, 2, 3, 6, 1]
    # the same rows, encounter versions and audit
    assert _rows(batched) == _rows(alone)
    for mine, theirs in zip(batched, alone, strict=True):
        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert mine.version == theirs.version
    assert _trail(batched) == _trail(alone)
    assert [e["version"] for e in _trail(batched)] == [
        batched[0].version - 2,
        batched[0].version - 1,
        batched[1].version - 1,
        batched[0].version,
        batched[1].version,
    ]
    # and the kept elements read back the same
    reads = [body(doctor_api.get(f"Condition/{e['resource']['id']}")) for e in in_batch]
    assert [_same_shape(r, batched) for r in reads] == [
        _same_shape(body(r), alone) for r in one_by_one
    ]
    assert reads[0]["note"] == KEPT["note"] and reads[0]["severity"] == KEPT["severity"]


def test_two_conditions_on_a_visit_created_in_the_same_transaction(doctor_api, facility, icd):
    # given a visit and two diagnoses referring to it by its fullUrl
    patient = make_patient(facility)
    visit_urn = urn()
    sent = bundle(
        "transaction",
        entry(condition(Encounter(pk=0, patient=patient), encounter={"reference": visit_urn})),
        post_entry(visit_resource(patient, make_room(facility)), visit_urn, url="Encounter"),
        entry(
            condition(Encounter(pk=0, patient=patient), "I10", encounter={"reference": visit_urn})
        ),
    )
    # when
    response = doctor_api.post("", sent)
    # then the first is the main diagnosis, the second the first secondary
    assert response.status_code == 200, response.content
    main, visit, secondary = (e["resource"] for e in body(response)["entry"])
    assert main["encounter"] == secondary["encounter"] == {"reference": f"Encounter/{visit['id']}"}
    rows = Diagnosis.objects.filter(encounter_id=visit["id"]).order_by("pk")
    assert [(d.icd_code, d.rank) for d in rows] == [("J06.9", 0), ("I10", 1)]
    # and the visit's version moved once per diagnosis, each audited with its own
    created = int(visit["meta"]["versionId"])
    assert doctor_api.get(f"Encounter/{visit['id']}")["ETag"] == f'W/"{created + 2}"'
    events = AuditEvent.objects.filter(action="diagnosis.add").order_by("pk")
    assert [e.detail["version"] for e in events] == [created + 1, created + 2]
    assert [e.detail["diagnosis_id"] for e in events] == [int(main["id"]), int(secondary["id"])]


# --- the first refused entry answers for the transaction ----------------------------------------


def _unknown_code(facility, api) -> list[dict]:
    first, second = open_visit(facility), open_visit(facility)
    return [condition(first), condition(second), condition(first, "Z99.99")]


def _not_billable(facility, api) -> list[dict]:
    return [condition(open_visit(facility)), condition(open_visit(facility), "E11")]


def _another_patients_encounter(facility, api) -> list[dict]:
    visit = open_visit(facility)
    other = make_patient(facility)
    return [condition(visit), condition(visit, "I10", subject={"reference": f"Patient/{other.pk}"})]


def _shared_encounter_of_another_unit(facility, api) -> list[dict]:
    elsewhere = FacilityFactory()
    shared = make_patient(elsewhere)
    visit = make_encounter(
        facility=elsewhere, patient=shared, status=EncounterStatus.IN_EXAMINATION
    )
    patient_share_with_facility(
        actor=make_staff(elsewhere, Role.DOCTOR),
        facility=elsewhere,
        patient=shared,
        target_facility=facility,
        reason="Hội chẩn",
    )
    return [condition(open_visit(facility)), condition(visit)]


def _encounter_not_visible(facility, api) -> list[dict]:
    hidden = make_encounter(facility=FacilityFactory(), status=EncounterStatus.IN_EXAMINATION)
    return [condition(open_visit(facility)), condition(hidden)]


def _concluded_encounter(facility, api) -> list[dict]:
    done = make_encounter(facility=facility, status=EncounterStatus.CONCLUDED)
    return [condition(open_visit(facility)), condition(done, "I10")]


def _thirteenth_secondary(facility, api) -> list[dict]:
    visit = open_visit(facility)
    for code in ["J06.9", *EXTRA_CODES, "I10"]:  # the main diagnosis and 11 secondary
        assert api.post("Condition", condition(visit, code)).status_code == 201
    return [condition(open_visit(facility)), condition(visit, "E11.9"), condition(visit, "K29.7")]


def _main_place_taken_in_the_batch(facility, api) -> list[dict]:
    visit = open_visit(facility)
    return [condition(visit), condition(visit, "I10", extension=[rank(1)])]


def _code_twice_in_the_batch(facility, api) -> list[dict]:
    visit = open_visit(facility)
    return [condition(visit), condition(visit, "I10"), condition(visit, extension=[rank(4)])]


def _bad_mapping(facility, api) -> list[dict]:
    visit = open_visit(facility)
    resolved = {"coding": [{"system": systems.CONDITION_CLINICAL_CS, "code": "resolved"}]}
    return [condition(visit), condition(visit, "I10", clinicalStatus=resolved)]


@pytest.mark.parametrize(
    ("scenario", "status"),
    [
        (_unknown_code, 422),
        (_not_billable, 422),
        (_another_patients_encounter, 422),
        (_shared_encounter_of_another_unit, 403),
        (_encounter_not_visible, 404),
        (_concluded_encounter, 422),
        (_thirteenth_secondary, 422),
        (_main_place_taken_in_the_batch, 422),
        (_code_twice_in_the_batch, 422),
        (_bad_mapping, 422),
    ],
)
def test_the_first_refused_entry_answers_as_alone_and_nothing_is_kept(
    doctor_api, facility, icd, scenario: Callable[..., list[dict]], status
):
    # given diagnoses of which the last would be refused after the ones before it
    sent = scenario(facility, doctor_api)
    bad = len(sent) - 1
    sent.append(condition(open_visit(facility), "R50.9"))  # a good one after it
    kept = _state()
    # when sent in one transaction
    response = doctor_api.post("", bundle("transaction", *map(entry, sent)))
    # then nothing is kept, and the answer is the refused entry's
    assert _state() == kept
    assert response.status_code == status, response.content
    issue = outcome(response)
    assert issue["diagnostics"].startswith(f"Bundle.entry[{bad}] (POST Condition): ")
    # the same as it answers sent alone after the ones before it
    for before in sent[:bad]:
        assert doctor_api.post("Condition", before).status_code == 201
    alone = doctor_api.post("Condition", sent[bad])
    assert alone.status_code == status
    assert issue["diagnostics"] == (
        f"Bundle.entry[{bad}] (POST Condition): {outcome(alone)['diagnostics']}"
    )
    assert issue["code"] == outcome(alone)["code"]
    assert issue["expression"] == [
        e.replace("Condition", f"Bundle.entry[{bad}].resource", 1)
        for e in outcome(alone)["expression"]
    ]


def _state() -> tuple:
    return (
        list(Diagnosis.objects.order_by("pk").values_list("pk", "voided_at")),
        list(Encounter.objects.order_by("pk").values_list("pk", "version")),
        AuditEvent.objects.filter(action="diagnosis.add").count(),
        ResourceExtra.objects.count(),
    )


def test_a_role_without_the_phases_permission_is_refused_at_its_entry(api, facility, icd):
    # given a nurse's account: admission diagnoses, not the visit's
    grant(api, facility, Role.NURSE)
    stay = make_encounter(facility=facility, kind=EncounterKind.INPATIENT)
    provisional = {"coding": [{"system": systems.CONDITION_VER_STATUS_CS, "code": "provisional"}]}
    sent = [
        condition(stay, "I10", verificationStatus=provisional),
        condition(open_visit(facility)),
        condition(stay, "J06.9", verificationStatus=provisional),
    ]
    response = api.post("", bundle("transaction", *map(entry, sent)))
    assert response.status_code == 403
    assert outcome(response)["diagnostics"] == f"Bundle.entry[1] (POST Condition): {NOT_PERMITTED}"
    assert not Diagnosis.objects.exists()
    assert api.post("Condition", sent[0]).status_code == 201


def test_a_structural_error_after_good_entries_is_answered_at_its_entry(doctor_api, facility, icd):
    visit = open_visit(facility)
    sent = [
        condition(visit),
        condition(visit, "I10"),
        condition(visit, "E11.9", onsetDateTime="tomorrow"),
    ]
    response = doctor_api.post("", bundle("transaction", *map(entry, sent)))
    assert response.status_code == 400
    assert outcome(response)["expression"][0].startswith("Bundle.entry[2].resource.onset")
    assert not Diagnosis.objects.exists()
