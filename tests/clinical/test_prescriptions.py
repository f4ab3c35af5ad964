"""Orders and prescriptions: allergy and duplicate-drug checks, dose errors, drafts, issue."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ehealth.core.models import AuditEvent
from ehealth.core.models.catalogs import CostGroup
from patients.clinical.examination import (
    PrescriptionItemInput,
    allergy_record,
    allergy_void,
    encounter_await_results,
    encounter_resume_examination,
    order_cancel,
    order_create,
    prescription_add_item,
    prescription_issue,
    prescription_item_void,
)
from patients.clinical_choices import EncounterStatus, OrderStatus, PrescriptionStatus
from patients.models import Prescription, PrescriptionItem, ServiceOrder
from tests.clinical.factories import (
    make_drug,
    make_encounter,
    make_room,
    make_service,
    make_visit_in_examination,
)


@pytest.fixture
def visit(facility, doctor):
    return make_visit_in_examination(facility, doctor)


def line(drug, **overrides) -> PrescriptionItemInput:
    values = {
        "drug_id": drug.pk,
        "dose": "1",
        "dose_unit": "viên",
        "route": "Uống",
        "times_per_day": 3,
        "days": 5,
        "quantity": 15,
        "instructions": "Sau ăn",
    }
    values.update(overrides)
    return PrescriptionItemInput(**values)


def add(visit, doctor, facility, data):
    return prescription_add_item(actor=doctor, facility=facility, encounter=visit, data=data)


def test_a_drug_line_goes_into_one_draft_prescription(facility, doctor, visit):
    # when
    first = add(visit, doctor, facility, line(make_drug()))
    second = add(visit, doctor, facility, line(make_drug(active_ingredient="Loratadin")))
    # then
    assert first.prescription_id == second.prescription_id
    assert Prescription.objects.get().status == PrescriptionStatus.DRAFT
    assert first.dose == 1 and first.quantity == 15


def test_an_allergic_drug_is_refused_without_a_reason(facility, doctor, visit):
    # given an allergy to amoxicillin recorded as a substance (any case, without accents)
    allergy_record(actor=doctor, facility=facility, patient=visit.patient, substance="amoxicilin")
    drug = make_drug(active_ingredient="Amoxicilin + Acid clavulanic", name="Augmentin 625mg")
    # when
    with pytest.raises(ValidationError) as exc:
        add(visit, doctor, facility, line(drug))
    # then
    message = exc.value.message_dict["drug_id"][0]
    assert message.startswith("Người bệnh dị ứng với")
    assert not PrescriptionItem.objects.exists()


def test_an_allergic_drug_is_accepted_with_a_reason_kept_on_the_line_and_audited(
    facility, doctor, visit
):
    # given an allergy recorded against the catalog drug itself
    drug = make_drug(active_ingredient="Ibuprofen")
    allergy = allergy_record(
        actor=doctor, facility=facility, patient=visit.patient, drug_id=drug.pk
    )
    # when
    item = add(
        visit,
        doctor,
        facility,
        line(drug, allergy_override_reason="Đã dùng lại không phản ứng, theo dõi sát"),
    )
    # then
    assert item.allergy_override_reason == "Đã dùng lại không phản ứng, theo dõi sát"
    event = AuditEvent.objects.get(action="prescription.add_item")
    assert event.detail["allergy_override"] is True
    assert event.detail["allergy_ids"] == [allergy.pk]
    assert "theo dõi" not in str(event.detail)  # free text stays on the record, not in the audit


def test_a_voided_allergy_no_longer_blocks(facility, doctor, visit):
    # given
    drug = make_drug(active_ingredient="Cefuroxim")
    allergy = allergy_record(
        actor=doctor, facility=facility, patient=visit.patient, drug_id=drug.pk
    )
    allergy_void(actor=doctor, facility=facility, allergy=allergy, reason="Ghi nhầm")
    # when
    item = add(visit, doctor, facility, line(drug))
    # then
    assert item.allergy_override_reason == ""


def test_an_unrelated_drug_passes_the_allergy_check(facility, doctor, visit):
    allergy_record(actor=doctor, facility=facility, patient=visit.patient, substance="Penicilin")
    item = add(visit, doctor, facility, line(make_drug(active_ingredient="Paracetamol")))
    assert item.pk


def test_the_same_drug_twice_is_flagged_and_needs_a_reason(facility, doctor, visit):
    # given
    drug = make_drug()
    add(visit, doctor, facility, line(drug))
    # when
    with pytest.raises(ValidationError) as exc:
        add(visit, doctor, facility, line(drug, dose="2"))
    # then
    assert "đã có trong đơn" in exc.value.message_dict["drug_id"][0]
    assert PrescriptionItem.objects.count() == 1
    # and with a reason it is kept
    item = add(visit, doctor, facility, line(drug, duplicate_override_reason="Liều tấn công"))
    assert item.duplicate_override_reason == "Liều tấn công"


def test_another_brand_of_the_same_ingredient_is_a_duplicate(facility, doctor, visit):
    add(visit, doctor, facility, line(make_drug(active_ingredient="Paracetamol")))
    with pytest.raises(ValidationError):
        add(visit, doctor, facility, line(make_drug(active_ingredient="paracetamol")))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"dose": 0}, "dose"),
        ({"dose": "-1"}, "dose"),
        ({"dose": "abc"}, "dose"),
        ({"times_per_day": 0}, "times_per_day"),
        ({"days": 0}, "days"),
        ({"quantity": 0}, "quantity"),
        ({"dose_unit": ""}, "dose_unit"),
        ({"drug_id": 0}, "drug_id"),
    ],
)
def test_bad_drug_lines_are_field_errors(facility, doctor, visit, overrides, field):
    with pytest.raises(ValidationError) as exc:
        add(visit, doctor, facility, line(make_drug(), **overrides))
    assert field in exc.value.message_dict
    assert not PrescriptionItem.objects.exists() and not Prescription.objects.exists()


def test_dose_zero_message_is_vietnamese(facility, doctor, visit):
    with pytest.raises(ValidationError) as exc:
        add(visit, doctor, facility, line(make_drug(), dose=0))
    assert exc.value.message_dict["dose"] == ["Liều mỗi lần phải lớn hơn 0."]


def test_no_prescribing_before_the_examination_starts(facility, doctor):
    # given a patient still waiting
    waiting = make_encounter(facility=facility, room=make_room(facility), with_ticket=True)
    # when / then
    with pytest.raises(ValidationError):
        add(waiting, doctor, facility, line(make_drug()))


def test_issue_signs_the_draft_and_a_voided_line_is_kept(facility, doctor, visit):
    # given
    keep = add(visit, doctor, facility, line(make_drug()))
    drop = add(visit, doctor, facility, line(make_drug(active_ingredient="Vitamin C")))
    prescription_item_void(actor=doctor, facility=facility, item=drop, reason="Không cần")
    # when
    rx = prescription_issue(actor=doctor, facility=facility, prescription=keep.prescription)
    # then
    assert rx.status == PrescriptionStatus.ISSUED
    drop.refresh_from_db()
    assert drop.voided_at is not None and drop.void_reason == "Không cần"
    # and a new line after issue goes into a new draft
    again = add(visit, doctor, facility, line(make_drug(active_ingredient="Kẽm")))
    assert again.prescription_id != rx.pk


# --- Orders ------------------------------------------------------------------------------


def test_orders_come_from_the_catalog_and_drugs_are_not_orders(facility, doctor, visit):
    # given
    lab = make_service(group=CostGroup.LAB)
    drug_like = make_service(group=CostGroup.DRUG)
    # when
    order = order_create(actor=doctor, facility=facility, encounter=visit, service_id=lab.pk)
    with pytest.raises(ValidationError) as exc:
        order_create(actor=doctor, facility=facility, encounter=visit, service_id=drug_like.pk)
    # then
    assert order.status == OrderStatus.ORDERED and order.ordered_by == doctor
    assert order.ordering_department_id == visit.department_id
    assert "service_id" in exc.value.message_dict


def test_zero_quantity_order_is_refused(facility, doctor, visit):
    with pytest.raises(ValidationError) as exc:
        order_create(
            actor=doctor,
            facility=facility,
            encounter=visit,
            service_id=make_service().pk,
            quantity=0,
        )
    assert "quantity" in exc.value.message_dict


def test_awaiting_results_needs_a_pending_order_and_results_do_not_conclude(
    facility, doctor, visit
):
    # given no order
    with pytest.raises(ValidationError):
        encounter_await_results(
            actor=doctor, facility=facility, encounter=visit, expected_version=visit.version
        )
    order_create(actor=doctor, facility=facility, encounter=visit, service_id=make_service().pk)
    # when
    waiting = encounter_await_results(
        actor=doctor, facility=facility, encounter=visit, expected_version=visit.version
    )
    back = encounter_resume_examination(
        actor=doctor, facility=facility, encounter=waiting, expected_version=waiting.version
    )
    # then
    assert waiting.status == EncounterStatus.AWAITING_RESULTS
    assert back.status == EncounterStatus.IN_EXAMINATION


def test_cancelling_an_order_needs_a_reason_and_keeps_it(facility, doctor, visit):
    order = order_create(
        actor=doctor, facility=facility, encounter=visit, service_id=make_service().pk
    )
    with pytest.raises(ValidationError):
        order_cancel(actor=doctor, facility=facility, order=order, reason=" ")
    order_cancel(actor=doctor, facility=facility, order=order, reason="Chỉ định nhầm")
    order = ServiceOrder.objects.get(pk=order.pk)
    assert order.status == OrderStatus.CANCELLED and order.cancel_reason == "Chỉ định nhầm"
    with pytest.raises(ValidationError):
        order_cancel(actor=doctor, facility=facility, order=order, reason="lần nữa")
