"""Every clinical read and write leaves an audit entry in the same transaction; a refused or
rolled-back write leaves none; audit details carry ids and codes, never names or free text."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from ehealth.core.models import AuditEvent, Role
from patients.clinical.examination import (
    PrescriptionItemInput,
    VitalsInput,
    allergy_record,
    allergy_void,
    encounter_await_results,
    encounter_resume_examination,
    order_cancel,
    prescription_add_item,
    prescription_issue,
    prescription_item_void,
    vitals_record,
)
from patients.clinical.reception import encounter_cancel
from patients.clinical.results import order_start
from patients.clinical.selectors import orders_to_perform
from patients.clinical_choices import EncounterStatus
from patients.models import Allergy, Encounter, PrescriptionItem, ServiceOrder, VitalSigns
from tests.clinical.factories import make_drug, make_icd, make_room
from tests.clinical.test_clinical_permissions import ACTIONS, _arrange, _perform
from tests.core.factories import FacilityFactory, make_staff
from tests.patients.factories import make_patient

AUDIT_ACTION = {
    "check_in": "encounter.check_in",
    "start_examination": "encounter.start_examination",
    "update_notes": "encounter.update_notes",
    "vitals": "vitals.record",
    "diagnosis": "diagnosis.set",
    "order": "order.create",
    "prescription": "prescription.add_item",
    "conclude": "encounter.conclude",
    "addendum": "addendum.add",
    "allergy": "allergy.record",
    "result": "result.enter",
    "queue": "queue.view",
    "worklist": "worklist.view",
    "encounter_get": "encounter.view",
    "encounter_chart": "encounter.view",
    "patient_record": "patient.record_view",
}
ACTOR_ROLE = {"check_in": Role.RECEPTIONIST, "queue": Role.RECEPTIONIST}


@pytest.fixture
def world(db):
    home = FacilityFactory()
    patient = make_patient(home, full_name="Lê Thị Riêng Tư")
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp")
    return {
        "home": home,
        "elsewhere": FacilityFactory(),
        "patient": patient,
        "room": make_room(home),
    }


def _actor(world, action):
    return make_staff(world["home"], ACTOR_ROLE.get(action, Role.DOCTOR))


@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_read_and_write_is_audited_without_phi(world, action):
    # given
    _arrange(world, action, "own")
    actor = _actor(world, action)
    since = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # when
    _perform(action, actor, world["home"], world)
    # then
    events = list(AuditEvent.objects.filter(id__gt=since, action=AUDIT_ACTION[action]))
    assert events, f"no {AUDIT_ACTION[action]} entry"
    assert all(e.actor_id == actor.pk and e.patient_id == world["patient"].pk for e in events)
    details = json.dumps([e.detail for e in AuditEvent.objects.filter(id__gt=since)])
    assert "Riêng Tư" not in details
    assert all(e.target_id and e.target_type for e in events if action not in ("queue", "worklist"))


@pytest.mark.parametrize("action", [a for a in ACTIONS if a not in ("queue", "worklist")])
def test_when_the_audit_entry_cannot_be_written_nothing_is_written_or_shown(
    world, action, monkeypatch
):
    # given an audit trail that fails
    _arrange(world, action, "own")
    actor = _actor(world, action)
    encounter = world["encounter"]
    counts = (Encounter.objects.count(), ServiceOrder.objects.count(), VitalSigns.objects.count())

    def boom(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(AuditEvent.objects, "create", boom)
    monkeypatch.setattr(AuditEvent.objects, "bulk_create", boom)
    # and the table refusing new rows, for entries written by the statement that reads (a chart)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent ADD CONSTRAINT down CHECK (false) NOT VALID")
    # when (in a savepoint: a failed statement leaves the test's transaction usable)
    with pytest.raises((RuntimeError, IntegrityError)), transaction.atomic():
        _perform(action, actor, world["home"], world)
    # then the write was rolled back with it
    fresh = Encounter.objects.get(pk=encounter.pk)
    assert (fresh.version, fresh.status) == (encounter.version, encounter.status)
    assert counts == (
        Encounter.objects.count(),
        ServiceOrder.objects.count(),
        VitalSigns.objects.count(),
    )


def test_a_refused_write_leaves_no_audit_entry(world):
    # given
    _arrange(world, "vitals", "own")
    doctor = _actor(world, "vitals")
    before = AuditEvent.objects.count()
    # when
    with pytest.raises(ValidationError):
        vitals_record(
            actor=doctor,
            facility=world["home"],
            encounter=world["encounter"],
            data=VitalsInput(temperature=80),
        )
    # then
    assert AuditEvent.objects.count() == before


def test_a_rolled_back_write_takes_its_audit_entry_with_it(world):
    # given
    _arrange(world, "vitals", "own")
    doctor = _actor(world, "vitals")
    before = AuditEvent.objects.count()
    # when the caller's transaction fails after the service returned
    with pytest.raises(RuntimeError), transaction.atomic():
        vitals_record(
            actor=doctor,
            facility=world["home"],
            encounter=world["encounter"],
            data=VitalsInput(pulse=80),
        )
        raise RuntimeError("later step failed")
    # then
    assert AuditEvent.objects.count() == before
    assert not VitalSigns.objects.exists()


def test_the_other_clinical_writes_are_audited(world):
    # given a visit under examination with an order
    _arrange(world, "order", "own")
    home, e = world["home"], world["encounter"]
    doctor = make_staff(home, Role.DOCTOR)
    nurse = make_staff(home, Role.NURSE)
    since = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # when
    allergy = allergy_record(
        actor=doctor, facility=home, patient=world["patient"], substance="Sulfamid"
    )
    allergy_void(actor=doctor, facility=home, allergy=allergy, reason="Ghi nhầm")
    orders_to_perform(user=nurse, facility=home)
    order_start(actor=nurse, facility=home, order=world["order"])
    waiting = encounter_await_results(
        actor=doctor, facility=home, encounter=e, expected_version=e.version
    )
    back = encounter_resume_examination(
        actor=doctor, facility=home, encounter=waiting, expected_version=waiting.version
    )
    item = prescription_add_item(
        actor=doctor,
        facility=home,
        encounter=back,
        data=PrescriptionItemInput(make_drug().pk, 1, "viên", "Uống", 2, 5, 10),
    )
    other = prescription_add_item(
        actor=doctor,
        facility=home,
        encounter=back,
        data=PrescriptionItemInput(
            make_drug(active_ingredient="Kẽm").pk, 1, "viên", "Uống", 1, 5, 5
        ),
    )
    prescription_item_void(actor=doctor, facility=home, item=other, reason="Không cần")
    prescription_issue(actor=doctor, facility=home, prescription=item.prescription)
    order_cancel(actor=doctor, facility=home, order=world["order"], reason="Không làm nữa")
    # then
    actions = set(AuditEvent.objects.filter(id__gt=since).values_list("action", flat=True))
    assert {
        "allergy.record",
        "allergy.void",
        "orders.view",
        "order.start",
        "encounter.await_results",
        "encounter.resume_examination",
        "prescription.add_item",
        "prescription.void_item",
        "prescription.issue",
        "order.cancel",
    } <= actions
    assert Allergy.objects.get().voided_at and PrescriptionItem.objects.count() == 2


def test_a_cancelled_check_in_is_audited(world):
    _arrange(world, "check_in", "own")
    receptionist = make_staff(world["home"], Role.RECEPTIONIST)
    e = world["encounter"]
    encounter_cancel(
        actor=receptionist,
        facility=world["home"],
        encounter=e,
        expected_version=e.version,
        reason="Bỏ về",
    )
    event = AuditEvent.objects.get(action="encounter.cancel")
    assert event.patient_id == e.patient_id and "Bỏ về" not in json.dumps(event.detail)
    assert Encounter.objects.get(pk=e.pk).status == EncounterStatus.CANCELLED
