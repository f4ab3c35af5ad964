"""Diagnoses added together (`diagnosis_add_many`, a partner's transaction): the same places,
rows, encounter versions, audit and refusals as `diagnosis_add` one after the other, all or
nothing, in statements that do not grow with the number of items."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent, Role
from patients.clinical.common import EncounterLocked
from patients.clinical.diagnoses import DiagnosisItem, diagnosis_add, diagnosis_add_many
from patients.clinical_choices import DiagnosisPhase, EncounterStatus
from patients.models import Diagnosis, Encounter
from patients.services import BatchItemError
from patients.validation import VN_TZ
from tests.clinical.factories import make_encounter, make_icd
from tests.core.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

CODES = ["J06.9", "I10", "E11.9", "K29.7", "R50.9", "M54.5", "N39.0", "L03.1"]
EXTRA_CODES = [f"A0{i}.1" for i in range(10)]


@pytest.fixture
def icd(db):
    for code in [*CODES, *EXTRA_CODES]:
        make_icd(code, f"Bệnh {code}")
    make_icd("E11", "Đái tháo đường typ 2 (nhóm)", billable=False)
    make_icd("B05.9", "Sởi (cũ)", valid_to=date(2019, 12, 31))


def open_visit(facility, **fields) -> Encounter:
    return make_encounter(facility=facility, status=EncounterStatus.IN_EXAMINATION, **fields)


def _items(first: Encounter, second: Encounter) -> list[DiagnosisItem]:
    return [
        DiagnosisItem(first, "J06.9"),
        DiagnosisItem(first, "i10"),  # typed without its dot
        DiagnosisItem(second.pk, "I10", rank=2),
        DiagnosisItem(first, "E11.9", rank=5),
        DiagnosisItem(second, "J06.9"),
    ]


def _one_by_one(doctor, facility, items: list[DiagnosisItem]) -> list[Diagnosis]:
    return [
        diagnosis_add(
            actor=doctor,
            facility=facility,
            encounter=i.encounter,
            code=i.code,
            phase=i.phase,
            rank=i.rank,
        )
        for i in items
    ]


def _rows(visits: list[Encounter]) -> list[tuple]:
    place = {v.pk: n for n, v in enumerate(visits)}
    rows = Diagnosis.objects.filter(encounter__in=visits).order_by("pk")
    return [
        (place[d.encounter_id], d.phase, d.icd_code, d.text, d.rank, d.recorded_by_id) for d in rows
    ]


def _trail(visits: list[Encounter]) -> list[tuple]:
    place = {v.pk: n for n, v in enumerate(visits)}
    ids = list(
        Diagnosis.objects.filter(encounter__in=visits).order_by("pk").values_list("pk", flat=True)
    )
    events = AuditEvent.objects.filter(
        action="diagnosis.add", target_id__in=[str(v.pk) for v in visits]
    ).order_by("pk")
    out = []
    for event in events:
        detail = dict(event.detail)
        n = place[detail.pop("encounter_id")]
        assert event.target_id == str(visits[n].pk) and event.patient_id == visits[n].patient_id
        detail["diagnosis_id"] = ids.index(detail["diagnosis_id"])
        out.append((n, event.target_type, event.actor_id, detail))
    return out


def test_a_batch_writes_what_adding_one_by_one_writes(facility, doctor, icd):
    # given two equal pairs of open visits, one of each pair with a main diagnosis already
    batched = [open_visit(facility), open_visit(facility)]
    alone = [open_visit(facility), open_visit(facility)]
    for visits in (batched, alone):
        _one_by_one(doctor, facility, [DiagnosisItem(visits[1], "R50.9")])
    # when the same items are added together and one by one
    together = diagnosis_add_many(actor=doctor, facility=facility, items=_items(*batched))
    single = _one_by_one(doctor, facility, _items(*alone))
    # then the same places, rows, versions and audit
    assert [(d.icd_code, d.rank) for d in together] == [
        ("J06.9", 0),
        ("I10", 1),
        ("I10", 2),
        ("E11.9", 5),
        ("J06.9", 3),
    ]
    assert [(d.icd_code, d.rank, d.text) for d in together] == [
        (d.icd_code, d.rank, d.text) for d in single
    ]
    assert _rows(batched) == _rows(alone)
    assert _trail(batched) == _trail(alone)
    for mine, theirs in zip(batched, alone, strict=True):
        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert mine.version == theirs.version
    assert [e[3]["version"] for e in _trail(batched)] == [2, 2, 3, 3, 4, 4]
    # each returned diagnosis carries its (locked, bumped) encounter
    assert together[0].encounter.version == batched[0].version
    assert Diagnosis.objects.get(pk=together[2].pk).recorded_at == together[2].recorded_at


def test_the_catalog_version_in_force_on_the_visit_day_is_used(facility, doctor, icd):
    # given a code renamed in 2020 and a code withdrawn at the end of 2019
    make_icd("K52.9", "Tên cũ", valid_from=date(2000, 1, 1), valid_to=date(2019, 12, 31))
    make_icd("K52.9", "Tên mới", valid_from=date(2020, 1, 1))
    old = open_visit(facility, started_at=datetime(2019, 6, 1, 9, tzinfo=VN_TZ))
    new = open_visit(facility)
    # when added together on a visit of 2019 and one of today
    added = diagnosis_add_many(
        actor=doctor,
        facility=facility,
        items=[
            DiagnosisItem(old, "K52.9"),
            DiagnosisItem(new, "K52.9"),
            DiagnosisItem(old, "B05.9"),
        ],
    )
    # then each takes the name in force on its visit's day
    assert [d.text for d in added] == ["Tên cũ", "Tên mới", "Sởi (cũ)"]
    # and a code no longer in force today is refused as one by one refuses it
    with pytest.raises(BatchItemError) as caught:
        diagnosis_add_many(actor=doctor, facility=facility, items=[DiagnosisItem(new, "B05.9")])
    with pytest.raises(ValidationError) as alone:
        diagnosis_add(actor=doctor, facility=facility, encounter=new, code="B05.9")
    assert caught.value.error.message_dict == alone.value.message_dict
    assert "không còn hiệu lực" in alone.value.message_dict["code"][0]


def test_statements_do_not_grow_with_the_items(facility, doctor, icd):
    def statements(size: int) -> int:
        visits = [open_visit(facility) for _ in range(size)]
        items = [DiagnosisItem(v, CODES[n % len(CODES)]) for n, v in enumerate(visits)]
        items += [DiagnosisItem(visits[0], "A00.1")]  # a second on one visit
        with CaptureQueriesContext(connection) as ctx:
            diagnosis_add_many(actor=doctor, facility=facility, items=items)
        return len(ctx.captured_queries)

    statements(1)  # warm: the actor's permissions
    # savepoint, lock, catalog, live diagnoses, insert, versions, audit, release
    assert statements(3) == statements(20) == 8


# --- refusals ---------------------------------------------------------------------------------


def _duplicate_in_the_batch(facility, doctor):
    visit = open_visit(facility)
    return doctor, [DiagnosisItem(visit, "J06.9"), DiagnosisItem(visit, "j069", rank=3)], 1


def _main_place_taken_in_the_batch(facility, doctor):
    visit = open_visit(facility)
    return doctor, [DiagnosisItem(visit, "J06.9"), DiagnosisItem(visit, "I10", rank=0)], 1


def _secondary_place_taken(facility, doctor):
    visit = open_visit(facility)
    _one_by_one(doctor, facility, [DiagnosisItem(visit, "J06.9"), DiagnosisItem(visit, "R50.9")])
    return (
        doctor,
        [DiagnosisItem(open_visit(facility), "J06.9"), DiagnosisItem(visit, "I10", rank=1)],
        1,
    )


def _thirteenth_secondary(facility, doctor):
    visit = open_visit(facility)
    _one_by_one(doctor, facility, [DiagnosisItem(visit, c) for c in ["J06.9", *EXTRA_CODES, "I10"]])
    return doctor, [DiagnosisItem(visit, "E11.9"), DiagnosisItem(visit, "K29.7")], 1


def _unknown_code(facility, doctor):
    visit = open_visit(facility)
    return doctor, [DiagnosisItem(visit, "J06.9"), DiagnosisItem(visit, "Z99.99")], 1


def _not_billable(facility, doctor):
    return doctor, [DiagnosisItem(open_visit(facility), "E11")], 0


def _no_code(facility, doctor):
    return (
        doctor,
        [DiagnosisItem(open_visit(facility), "J06.9"), DiagnosisItem(open_visit(facility), " ")],
        1,
    )


def _bad_phase(facility, doctor):
    return doctor, [DiagnosisItem(open_visit(facility), "J06.9", phase="later")], 0


def _concluded(facility, doctor):
    done = make_encounter(facility=facility, status=EncounterStatus.CONCLUDED)
    return doctor, [DiagnosisItem(open_visit(facility), "I10"), DiagnosisItem(done, "I10")], 1


def _another_unit(facility, doctor):
    elsewhere = make_encounter(facility=FacilityFactory(), status=EncounterStatus.IN_EXAMINATION)
    return doctor, [DiagnosisItem(open_visit(facility), "I10"), DiagnosisItem(elsewhere, "I10")], 1


def _voided(facility, doctor):
    voided = open_visit(facility)
    Encounter.objects.filter(pk=voided.pk).update(voided_at=voided.started_at)
    return doctor, [DiagnosisItem(voided, "I10")], 0


def _nurse_on_the_visit(facility, doctor):
    nurse = make_staff(facility, Role.NURSE)
    stay = make_encounter(facility=facility, kind="inpatient")
    items = [
        DiagnosisItem(stay, "I10", phase=DiagnosisPhase.ADMISSION),
        DiagnosisItem(open_visit(facility), "I10"),
    ]
    return nurse, items, 1


def _two_refusals(facility, doctor):
    visit = open_visit(facility)
    items = [
        DiagnosisItem(visit, "J06.9"),
        DiagnosisItem(visit, "Z99.99"),
        DiagnosisItem(visit, "E11"),
    ]
    return doctor, items, 1


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        (_duplicate_in_the_batch, ValidationError),
        (_main_place_taken_in_the_batch, ValidationError),
        (_secondary_place_taken, ValidationError),
        (_thirteenth_secondary, ValidationError),
        (_unknown_code, ValidationError),
        (_not_billable, ValidationError),
        (_no_code, ValidationError),
        (_bad_phase, ValidationError),
        (_concluded, EncounterLocked),
        (_another_unit, Http404),
        (_voided, Http404),
        (_nurse_on_the_visit, PermissionDenied),
        (_two_refusals, ValidationError),
    ],
)
def test_the_first_refusal_is_raised_at_its_item_as_one_by_one_and_nothing_is_written(
    facility, doctor, icd, scenario, kind
):
    actor, items, index = scenario(facility, doctor)
    before = _state()
    # when added together
    with pytest.raises(BatchItemError) as caught:
        diagnosis_add_many(actor=actor, facility=facility, items=items)
    # then the item and its error, and nothing written
    assert caught.value.index == index
    assert type(caught.value.error) is kind
    assert _state() == before
    # the same error as one by one after the items before it
    _one_by_one(actor, facility, items[:index])
    with pytest.raises(kind) as alone:
        _one_by_one(actor, facility, items[index : index + 1])
    if kind is ValidationError:
        assert caught.value.error.message_dict == alone.value.message_dict
    else:
        assert str(caught.value.error) == str(alone.value)


def _state() -> tuple:
    return (
        list(Diagnosis.objects.order_by("pk").values_list("pk", flat=True)),
        list(Encounter.objects.order_by("pk").values_list("pk", "version")),
        AuditEvent.objects.filter(action="diagnosis.add").count(),
    )


def test_no_items_writes_nothing(facility, doctor):
    with CaptureQueriesContext(connection) as ctx:
        assert diagnosis_add_many(actor=doctor, facility=facility, items=[]) == []
    assert [q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]] == []
