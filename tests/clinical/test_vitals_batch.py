"""`vitals_record_many`: each item recorded and audited as `vitals_record` records it, all or
nothing, in statements that do not grow with the items; the first refused item is the batch's
error, the one `vitals_record` raises for it alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from patients.clinical.common import EncounterLocked, _encounters_locked_statement
from patients.clinical.vitals import VitalsInput, vitals_record, vitals_record_many
from patients.clinical_choices import EncounterStatus
from patients.models import VitalSigns
from patients.services import BatchItemError
from tests.clinical.factories import make_encounter
from tests.core.factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse(facility):
    return make_staff(facility, Role.NURSE)


def visit(facility, status=EncounterStatus.IN_EXAMINATION):
    return make_encounter(
        facility=facility, status=status, started_at=timezone.now() - timedelta(hours=2)
    )


def an_hour_ago():
    return timezone.now() - timedelta(hours=1)


def _stored(vitals: VitalSigns) -> dict:
    """The row as stored, apart from its id and encounter."""
    vitals = VitalSigns.objects.get(pk=vitals.pk)
    fields = vitals._meta.concrete_fields
    return {
        f.attname: getattr(vitals, f.attname) for f in fields if f.name not in ("id", "encounter")
    }


def _audited(vitals: VitalSigns) -> dict:
    """The audit entry of the row, apart from the ids of the row and its encounter."""
    event = AuditEvent.objects.get(action="vitals.record", detail__vitals_id=vitals.pk)
    assert (event.target_id, event.detail["encounter_id"]) == (
        str(vitals.encounter_id),
        vitals.encounter_id,
    )
    assert event.patient_id == vitals.encounter.patient_id
    fields = ("actor_id", "role", "facility_id", "target_type", "channel", "ip_address")
    detail = {k: v for k, v in event.detail.items() if k not in ("vitals_id", "encounter_id")}
    return {**{f: getattr(event, f) for f in fields}, "detail": detail}


def _sets(at) -> list[VitalsInput]:
    return [
        VitalsInput(pulse="82", note="  Sốt   về chiều ", recorded_at=at),
        VitalsInput(temperature="37,5", systolic=120, diastolic=80, recorded_at=at),
        VitalsInput(height_cm="170", weight_kg="65", spo2=98, respiratory_rate=18, recorded_at=at),
    ]


def test_each_item_is_recorded_and_audited_as_vitals_record_does(facility, nurse):
    # given the same sets recorded one by one on one visit and together on another
    alone, together = visit(facility), visit(facility)
    sets = _sets(an_hour_ago())
    singles = [vitals_record(actor=nurse, facility=facility, encounter=alone, data=d) for d in sets]
    # when
    rows = vitals_record_many(actor=nurse, facility=facility, items=[(together, d) for d in sets])
    # then
    assert [r.encounter_id for r in rows] == [together.pk] * 3
    assert [_stored(r) for r in rows] == [_stored(s) for s in singles]
    assert [_audited(r) for r in rows] == [_audited(s) for s in singles]
    assert rows[2].bmi == singles[2].bmi


def test_several_items_on_one_encounter_and_encounters_given_by_id(facility, nurse):
    first, second = visit(facility), visit(facility)
    items = [
        (first, VitalsInput(temperature=38)),
        (second.pk, VitalsInput(pulse=90)),
        (first, VitalsInput(pulse=100)),
    ]
    rows = vitals_record_many(actor=nurse, facility=facility, items=items)
    assert [(r.encounter_id, r.temperature, r.pulse) for r in rows] == [
        (first.pk, 38, None),
        (second.pk, None, 90),
        (first.pk, None, 100),
    ]
    assert VitalSigns.objects.filter(encounter=first).count() == 2
    assert AuditEvent.objects.filter(action="vitals.record").count() == 3
    assert rows[1].recorded_at <= timezone.now()  # now when not given


def _statements(nurse, facility, size: int) -> list[str]:
    items = [(visit(facility), VitalsInput(pulse=80)) for _ in range(size)]
    with CaptureQueriesContext(connection) as ctx:
        vitals_record_many(actor=nurse, facility=facility, items=items)
    return [q["sql"] for q in ctx.captured_queries]


def test_statements_do_not_grow_and_the_encounters_are_locked_at_once_by_pk(facility, nurse):
    _statements(nurse, facility, 1)  # warm: the permissions cached on the user
    small = _statements(nurse, facility, 2)
    large = _statements(nurse, facility, 12)
    assert len(small) == len(large)
    locks = [sql for sql in large if "encounters_for_update" in sql]  # a prepared statement
    assert len(locks) == 1
    prepared = _encounters_locked_statement().prepare_sql
    assert prepared.endswith("WHERE e.id = ANY($1::bigint[]) ORDER BY e.id FOR UPDATE OF e")
    assert (
        len([sql for sql in large if sql.lstrip().startswith("INSERT")]) == 2
    )  # the rows, the audit


# refusal -> (the refused item on visit v at unit f (o: another unit), the error's class)
REFUSALS = {
    "temperature 80 °C": (lambda v, f, o: (v, VitalsInput(temperature=80)), ValidationError),
    "locked encounter": (
        lambda v, f, o: (visit(f, EncounterStatus.CONCLUDED), VitalsInput(pulse=80)),
        EncounterLocked,
    ),
    "other unit's encounter": (lambda v, f, o: (visit(o), VitalsInput(pulse=80)), Http404),
    "unknown encounter": (lambda v, f, o: (99999999, VitalsInput(pulse=80)), Http404),
    "in the future": (
        lambda v, f, o: (v, VitalsInput(pulse=80, recorded_at=timezone.now() + timedelta(hours=2))),
        ValidationError,
    ),
    "before the visit": (
        lambda v, f, o: (v, VitalsInput(pulse=80, recorded_at=v.started_at - timedelta(hours=1))),
        ValidationError,
    ),
}


def _error_alone(nurse, facility, item) -> Exception:
    encounter, data = item
    with pytest.raises(Exception) as exc:  # noqa: PT011 - compared with the batch's below
        vitals_record(actor=nurse, facility=facility, encounter=encounter, data=data)
    return exc.value


@pytest.mark.parametrize("refusal", REFUSALS)
def test_the_first_refused_item_is_the_batchs_error_and_nothing_is_written(
    facility, other_facility, nurse, refusal
):
    # given a good item, the refused one, and a later one refused too
    make, error_class = REFUSALS[refusal]
    good = visit(facility)
    refused = make(good, facility, other_facility)
    later = (visit(facility, EncounterStatus.CONCLUDED), VitalsInput(temperature=80))
    items = [(good, VitalsInput(pulse=80)), refused, later]
    # when
    with pytest.raises(BatchItemError) as exc:
        vitals_record_many(actor=nurse, facility=facility, items=items)
    # then the error is the refused item's, as alone
    assert exc.value.index == 1
    assert isinstance(exc.value.error, error_class)
    alone = _error_alone(nurse, facility, refused)
    assert type(exc.value.error) is type(alone)
    if isinstance(alone, ValidationError):
        assert exc.value.error.message_dict == alone.message_dict
    else:
        assert str(exc.value.error) == str(alone)
    assert not VitalSigns.objects.exists()
    assert not AuditEvent.objects.filter(action="vitals.record").exists()


def test_values_are_checked_before_the_permission_as_alone(facility, receptionist):
    good, bad = VitalsInput(pulse=80), VitalsInput(temperature=80)
    encounter = visit(facility)
    with pytest.raises(BatchItemError) as exc:
        vitals_record_many(
            actor=receptionist, facility=facility, items=[(encounter, bad), (encounter, good)]
        )
    assert (exc.value.index, type(exc.value.error)) == (0, ValidationError)
    with pytest.raises(BatchItemError) as exc:
        vitals_record_many(
            actor=receptionist, facility=facility, items=[(encounter, good), (encounter, bad)]
        )
    assert (exc.value.index, type(exc.value.error)) == (0, PermissionDenied)
    assert str(exc.value.error) == str(_error_alone(receptionist, facility, (encounter, good)))
    assert not VitalSigns.objects.exists()


def test_no_items_record_nothing(facility, nurse):
    assert vitals_record_many(actor=nurse, facility=facility, items=[]) == []
