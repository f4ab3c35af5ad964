"""Batches: grouping ready dossiers, submission, sending one file per request, the insurer's
answers, and what must never happen (a dossier sent twice, an unreadable answer acted on).

The worker-side functions are called directly here against the in-process simulator; the same
flow through a real Celery worker is in test_tasks_worker.py.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, InternalError, transaction
from django.utils import timezone

from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import AuditEvent, Role
from ehealth.core.permissions import ROLE_PERMISSIONS
from insurance.claims import batches
from insurance.claims.batch_models import (
    BatchItem,
    BatchStatus,
    ClaimBatch,
    ExchangeOutcome,
    IllegalBatchMove,
    ItemState,
    PortalExchangeLog,
)
from insurance.claims.batches import BatchError
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.services import DossierNotBuildable
from tests.core.factories import make_staff
from tests.insurance.claims import batch_fixtures
from tests.insurance.claims.batch_fixtures import control, counts, reject
from tests.insurance.claims.batch_records import (
    FUND_PER_VISIT,
    HOSPITAL_PER_VISIT,
    build,
    ready_dossiers,
    unit,
    visit,
)

pytestmark = pytest.mark.django_db

claims_portal = batch_fixtures.claims_portal  # the simulator, claims reset, settings pointing at it


def make_batch(u, **filters) -> ClaimBatch:
    return batches.batch_create(
        actor=u.officer, facility=u.facility, year=2026, month=11, **filters
    )


def submit(u, batch) -> ClaimBatch:
    return batches.batch_submit(actor=u.officer, batch=batch)


def send_all(batch_id: int):
    summary = batches.batch_send(batch_id=batch_id)
    batches.batch_send_finish(batch_id=batch_id)
    return summary


def statuses(dossiers) -> list[str]:
    return [Dossier.objects.get(pk=d.pk).status for d in dossiers]


# --- roles and permissions ---------------------------------------------------------------------


def test_the_insurance_officer_role_may_manage_claims():
    assert "insurance.manage_claims" in ROLE_PERMISSIONS[Role.INSURANCE_OFFICER]


def test_someone_without_the_claims_permission_cannot_create_or_submit(signing):
    # given
    u = unit()
    ready_dossiers(u, 1)
    doctor = make_staff(u.facility, Role.DOCTOR)
    batch = make_batch(u)
    # when / then
    with pytest.raises(PermissionDenied):
        batches.batch_create(actor=doctor, facility=u.facility, year=2026, month=11)
    with pytest.raises(PermissionDenied):
        batches.batch_submit(actor=doctor, batch=batch)
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.DRAFT


# --- creation ----------------------------------------------------------------------------------


def test_create_groups_the_ready_dossiers_of_the_period_with_counts_amounts_and_audit(signing):
    # given three ready dossiers of November, and one visit whose dossier has an error
    u = unit()
    ready = ready_dossiers(u, 3)
    broken = visit(u)
    broken.diagnoses.update(voided_at=broken.ended_at, void_reason="nhập nhầm")
    assert build(u, broken).status == DossierStatus.INVALID
    # when
    batch = make_batch(u)
    # then only the ready ones are in it, with the version each had, and the sums
    items = list(batch.items.order_by("dossier_id"))
    assert [i.dossier_id for i in items] == [d.pk for d in ready]
    assert {(i.state, i.version_number) for i in items} == {(ItemState.PENDING, 1)}
    assert (batch.status, batch.item_count) == (BatchStatus.DRAFT, 3)
    assert batch.total_hospital == 3 * HOSPITAL_PER_VISIT
    assert batch.total_claimed == 3 * FUND_PER_VISIT
    assert AuditEvent.objects.filter(action="claims.batch_create", target_id=str(batch.pk)).exists()
    assert AuditEvent.objects.filter(action="claims.batch_add_dossier").count() == 3


def test_create_filters_by_department_and_visit_type_and_says_when_nothing_is_ready(signing):
    # given
    u = unit()
    ready_dossiers(u, 2)
    # when / then: the visits are in K02 and of type 01
    assert make_batch(u, department_code="K02", visit_type="01").item_count == 2
    with pytest.raises(BatchError, match="Không có hồ sơ sẵn sàng gửi cho kỳ 11/2026"):
        make_batch(u, department_code="K03")
    with pytest.raises(BatchError, match="Kỳ quyết toán không hợp lệ"):
        batches.batch_create(actor=u.officer, facility=u.facility, year=2026, month=13)


def test_a_dossier_is_in_at_most_one_live_batch(signing):
    # given all ready dossiers in a first batch
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    first = make_batch(u)
    # when another batch is asked for, then nothing is left for it
    with pytest.raises(BatchError):
        make_batch(u)
    # and the database refuses a second live item whatever the code path
    other = ClaimBatch.objects.create(facility=u.facility, year=2026, month=11)
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchItem.objects.create(
            batch=other, dossier=dossier, version_number=1, idempotency_key="x"
        )
    # and cancelling the first batch frees the dossier
    batches.batch_cancel(actor=u.officer, batch=first)
    assert make_batch(u).item_count == 1


# --- submission ------------------------------------------------------------------------------


def test_submit_excludes_a_dossier_whose_file_was_tampered_with_and_queues_the_send(
    claims_portal, django_capture_on_commit_callbacks
):
    # given a batch of three, one of whose signed files had one byte changed after it was built
    u = unit()
    dossiers = ready_dossiers(u, 3)
    batch = make_batch(u)
    version = DossierVersion.objects.get(dossier=dossiers[1], number=1)
    version.envelope = version.envelope.replace("<MACSKCB>48901<", "<MACSKCB>48902<")
    version.save()
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        batch = submit(u, batch)
    # then the tampered one is excluded with the reason and never sent; the rest wait to be sent
    item = batch.items.get(dossier=dossiers[1])
    assert item.state == ItemState.EXCLUDED
    assert [e["rule_code"] for e in item.errors] == ["SIGNATURE"]
    assert "Chữ ký số" in item.errors[0]["message_vi"]
    assert Dossier.objects.get(pk=dossiers[1].pk).status == DossierStatus.INVALID
    assert (batch.status, batch.excluded_count) == (BatchStatus.SUBMITTING, 1)
    assert batch.total_claimed == 2 * FUND_PER_VISIT
    assert len(callbacks) == 1  # the send task, queued after commit
    assert AuditEvent.objects.filter(action="claims.batch_submit", target_id=str(batch.pk)).exists()


def test_submit_lists_a_dossier_that_no_longer_passes_the_rules(claims_portal):
    # given: the ICD-10 code used is withdrawn from the catalog after the dossier was built
    from ehealth.core.models import IcdCode

    u = unit()
    ready_dossiers(u, 1)
    batch = make_batch(u)
    IcdCode.objects.filter(code="J06.9").update(billable=False)
    # when
    batch = submit(u, batch)
    # then
    (item,) = batch.items.all()
    assert (item.state, [(e["table"], e["field"]) for e in item.errors]) == (
        ItemState.EXCLUDED,
        [("XML1", "MA_BENH_CHINH")],
    )
    assert (batch.status, batch.last_error) == (
        BatchStatus.FAILED,
        "Không còn hồ sơ nào gửi được: mọi hồ sơ trong lô đều có lỗi.",
    )


def test_a_stale_form_cannot_submit_and_a_sent_batch_cannot_be_submitted_again(claims_portal):
    u = unit()
    ready_dossiers(u, 1)
    batch = make_batch(u)
    with pytest.raises(ConcurrentEditError):
        batches.batch_submit(actor=u.officer, batch=batch, row_version=batch.row_version - 1)
    batch = submit(u, batch)
    with pytest.raises(BatchError, match="không gửi được"):
        submit(u, batch)
    with pytest.raises(IllegalBatchMove):
        batch.move_to(BatchStatus.CANCELLED)


# --- sending and answers -----------------------------------------------------------------------


def test_sent_dossiers_are_accepted_or_rejected_with_the_insurers_reasons(claims_portal):
    # given three dossiers, the insurer rejecting the second
    u = unit()
    dossiers = ready_dossiers(u, 3)
    reject(claims_portal, dossiers[1].claim_key, "GD-XML1-05", "Sai mã đối tượng KCB")
    batch = submit(u, make_batch(u))
    # when sent
    send_all(batch.pk)
    # then each file went once, the portal's receipt is kept, the dossiers are "sent"
    assert statuses(dossiers) == [DossierStatus.SENT] * 3
    assert {i.transaction_id[:2] for i in batch.items.all()} == {"GD"}
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.SUBMITTED
    # when the answers are fetched
    summary = batches.answers_fetch()
    # then
    assert (summary.accepted, summary.rejected) == (2, 1)
    assert statuses(dossiers) == [
        DossierStatus.ACCEPTED,
        DossierStatus.REJECTED,
        DossierStatus.ACCEPTED,
    ]
    assert Dossier.objects.get(pk=dossiers[1].pk).rejection_reasons == [
        {"code": "GD-XML1-05", "message": "Sai mã đối tượng KCB"}
    ]
    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count, batch.rejected_count) == (BatchStatus.DONE, 2, 1)
    assert (batch.total_accepted, batch.total_rejected) == (2 * FUND_PER_VISIT, FUND_PER_VISIT)
    assert counts(claims_portal)["received"] == {d.claim_key: 1 for d in dossiers}
    assert AuditEvent.objects.filter(action="claims.dossier_answer").count() == 3


def test_answers_still_being_assessed_leave_the_batch_waiting(claims_portal):
    u = unit()
    dossiers = ready_dossiers(u, 2)
    control(claims_portal, "/_simulator/claims/rules", {"pending_polls": 1})
    batch = submit(u, make_batch(u))
    send_all(batch.pk)
    # when the first poll says "being assessed"
    assert batches.answers_fetch().processing == 2
    # then nothing moved
    assert statuses(dossiers) == [DossierStatus.SENT] * 2
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.SUBMITTED
    # and the next poll brings the answers
    assert batches.answers_fetch().accepted == 2
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.DONE


def test_a_timed_out_send_is_looked_up_before_it_is_sent_again(claims_portal):
    # given the claims_portal holds the first file past the client's timeout, then takes it
    u = unit()
    dossiers = ready_dossiers(u, 2)
    control(
        claims_portal,
        "/_simulator/claims/faults",
        {"mode": "timeout", "on": "send", "count": 1, "delay": 0.6},
    )
    batch = submit(u, make_batch(u))
    # when the first run stops at the timeout
    summary = batches.batch_send(batch_id=batch.pk)
    # then the item is "sent" with no receipt, and the run stopped there (transient)
    assert summary.stopped == batches.TRANSIENT
    first = batch.items.get(dossier=dossiers[0])
    assert (first.state, first.attempts) == (ItemState.SENT, 1)
    assert batch.items.get(dossier=dossiers[1]).state == ItemState.PENDING
    assert PortalExchangeLog.objects.get(item=first).outcome == ExchangeOutcome.TRANSIENT
    # when the retry comes after the claims_portal took the first file
    time.sleep(0.8)
    send_all(batch.pk)
    # then it was looked up, not sent again: one request and one receipt per MA_LK
    first.refresh_from_db()
    assert (first.state, first.attempts) == (ItemState.ACKNOWLEDGED, 2)
    seen = counts(claims_portal)
    assert seen["received"] == {d.claim_key: 1 for d in dossiers}
    assert seen["requests"] == {d.claim_key: 1 for d in dossiers}


def test_a_retry_racing_a_slow_portal_is_received_once(claims_portal):
    # given the claims_portal holds the file longer than the retry takes to come
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    control(
        claims_portal,
        "/_simulator/claims/faults",
        {"mode": "timeout", "on": "send", "count": 1, "delay": 0.8},
    )
    batch = submit(u, make_batch(u))
    assert batches.batch_send(batch_id=batch.pk).stopped == batches.TRANSIENT
    # when the retry does not find it at the claims_portal yet and sends it again
    send_all(batch.pk)
    time.sleep(1.0)  # the held request is handled now
    # then the claims_portal counts one submission (same idempotency key), the second request a replay
    seen = counts(claims_portal)
    assert seen["received"] == {dossier.claim_key: 1}
    assert seen["replays"] == {dossier.claim_key: 1}
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.SENT


@pytest.mark.parametrize(
    ("mode", "outcome"), [("malformed", ExchangeOutcome.MALFORMED), ("partial", "partial")]
)
def test_an_unreadable_answer_changes_nothing_and_is_kept_for_review(claims_portal, mode, outcome):
    # given two sent dossiers
    u = unit()
    dossiers = ready_dossiers(u, 2)
    batch = submit(u, make_batch(u))
    send_all(batch.pk)
    control(claims_portal, "/_simulator/claims/faults", {"mode": mode, "on": "answer"})
    # when the answers are unreadable
    summary = batches.answers_fetch()
    # then no status moved, and each answer is logged to be looked at
    assert summary.unreadable == 2
    assert statuses(dossiers) == [DossierStatus.SENT] * 2
    assert set(batch.items.values_list("state", flat=True)) == {ItemState.ACKNOWLEDGED}
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.SUBMITTED
    logs = PortalExchangeLog.objects.filter(operation="status", outcome=outcome)
    assert logs.count() == 2 and all(log.needs_review for log in logs)
    assert all(log.response_body for log in logs)
    # and when the claims_portal answers properly again, the dossiers move
    control(claims_portal, "/_simulator/claims/faults", {"mode": "none"})
    assert batches.answers_fetch().accepted == 2


def test_a_partial_receipt_is_not_taken_for_a_receipt(claims_portal):
    # given the claims_portal says "received" without a transaction id
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    control(
        claims_portal, "/_simulator/claims/faults", {"mode": "partial", "on": "send", "count": 1}
    )
    batch = submit(u, make_batch(u))
    # when
    summary = batches.batch_send(batch_id=batch.pk)
    # then nothing is concluded: the item stays "sent", the answer is logged as partial
    assert summary.stopped == batches.TRANSIENT
    assert batch.items.get().state == ItemState.SENT
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.READY
    log = PortalExchangeLog.objects.get(operation="send")
    assert (log.outcome, log.needs_review) == (ExchangeOutcome.PARTIAL, True)
    # and the next run finds it at the claims_portal without sending it again
    send_all(batch.pk)
    assert batch.items.get().state == ItemState.ACKNOWLEDGED
    assert counts(claims_portal)["requests"] == {dossier.claim_key: 1}


def test_a_5xx_stops_the_run_and_the_rest_is_sent_on_the_retry(claims_portal):
    u = unit()
    dossiers = ready_dossiers(u, 3)
    control(claims_portal, "/_simulator/claims/faults", {"mode": "error", "on": "send", "count": 1})
    batch = submit(u, make_batch(u))
    assert batches.batch_send(batch_id=batch.pk).stopped == batches.TRANSIENT
    send_all(batch.pk)
    assert statuses(dossiers) == [DossierStatus.SENT] * 3
    # the 503 never reached the portal's desk: each MA_LK was received once
    assert counts(claims_portal)["received"] == {d.claim_key: 1 for d in dossiers}


def test_a_batch_left_unsent_after_the_retries_is_failed_and_can_be_submitted_again(claims_portal):
    u = unit()
    dossiers = ready_dossiers(u, 2)
    control(claims_portal, "/_simulator/claims/faults", {"mode": "error", "on": "send", "count": 1})
    batch = submit(u, make_batch(u))
    summary = batches.batch_send(batch_id=batch.pk)
    # when the worker gives up
    batch = batches.batch_send_finish(batch_id=batch.pk, give_up_error=summary.error)
    assert (batch.status, batch.last_error) == (
        BatchStatus.FAILED,
        "Cổng BHXH lỗi máy chủ (HTTP 503).",
    )
    # then the officer submits it again, and only what was not acknowledged goes
    batch = submit(u, batch)
    send_all(batch.pk)
    assert statuses(dossiers) == [DossierStatus.SENT] * 2
    assert counts(claims_portal)["received"] == {d.claim_key: 1 for d in dossiers}


def test_a_file_the_portal_refuses_fails_its_item_and_sends_the_dossier_back(claims_portal):
    # given a file whose MA_LK the claims_portal cannot read (changed after submission)
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    batch = submit(u, make_batch(u))
    version = DossierVersion.objects.get(dossier=dossier, number=1)
    version.envelope = version.envelope.replace("<CHUKYDONVI>", "<CHUKYDONVI_X>").replace(
        "</CHUKYDONVI>", "</CHUKYDONVI_X>"
    )
    version.save()
    # when
    send_all(batch.pk)
    # then
    item = batch.items.get()
    assert item.state == ItemState.FAILED
    assert "Thiếu chữ ký số" in item.last_error
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.INVALID
    batch.refresh_from_db()
    assert (batch.status, batch.failed_count) == (BatchStatus.FAILED, 1)
    assert batch.last_error == "Cổng BHXH không tiếp nhận hồ sơ nào của lô."


def test_a_dossier_rebuilt_after_submission_is_not_sent_in_its_old_version(claims_portal):
    u = unit()
    dossiers = ready_dossiers(u, 2)
    batch = submit(u, make_batch(u))
    # when one gets a version 2 before the worker reaches it (dossier_build refuses that while
    # it waits in a batch: written here behind the service's back, the sender must still catch it)
    v1 = dossiers[0].versions.get(number=1)
    DossierVersion.objects.create(
        dossier=dossiers[0], number=2, tables=v1.tables, envelope=v1.envelope, reason="sửa"
    )
    Dossier.objects.filter(pk=dossiers[0].pk).update(current_version=2)
    send_all(batch.pk)
    # then it is left out, not sent; the other went
    item = batch.items.get(dossier=dossiers[0])
    assert (item.state, item.errors[0]["rule_code"]) == (ItemState.EXCLUDED, "CHANGED")
    assert counts(claims_portal)["received"] == {dossiers[1].claim_key: 1}


def test_an_accepted_dossier_is_never_sent_again(claims_portal):
    # given an accepted dossier
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    batch = submit(u, make_batch(u))
    send_all(batch.pk)
    batches.answers_fetch()
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.ACCEPTED
    # then no new batch takes it
    with pytest.raises(BatchError):
        make_batch(u)
    # and the database refuses an item that could send it, even written directly
    other = ClaimBatch.objects.create(facility=u.facility, year=2026, month=11)
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchItem.objects.create(
            batch=other, dossier=dossier, version_number=1, idempotency_key="again"
        )
    # and re-running the old batch's send sends nothing
    ClaimBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.SUBMITTING)
    assert batches.batch_send(batch_id=batch.pk).outcomes == {}
    assert counts(claims_portal)["requests"] == {dossier.claim_key: 1}


def test_a_rejected_dossier_corrected_into_a_new_version_is_sent_again_and_accepted(
    claims_portal,
):
    # given a dossier rejected once
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    reject(claims_portal, dossier.claim_key, "GD-ICD-02", "Chẩn đoán không phù hợp", times=1)
    first = submit(u, make_batch(u))
    send_all(first.pk)
    batches.answers_fetch()
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.REJECTED
    # when corrected (version 2, with a reason) and put in a new batch
    dossier = build(u, dossier.encounter, reason="Sửa chẩn đoán theo giám định")
    assert (dossier.status, dossier.current_version) == (DossierStatus.READY, 2)
    second = submit(u, make_batch(u))
    send_all(second.pk)
    batches.answers_fetch()
    # then it is accepted; the claims_portal received two submissions of the MA_LK, one per version
    dossier.refresh_from_db()
    assert (dossier.status, dossier.rejection_reasons) == (DossierStatus.ACCEPTED, [])
    assert second.items.get().version_number == 2
    seen = counts(claims_portal)
    assert seen["received"] == {dossier.claim_key: 2}
    assert sorted(v["kq"] for v in seen["decisions"].values()) == ["CHAP_NHAN", "TU_CHOI"]


# --- the exchange log, stale batches -----------------------------------------------------------


def test_the_exchange_log_is_append_only_but_can_be_marked_reviewed(claims_portal):
    u = unit()
    ready_dossiers(u, 1)
    batch = submit(u, make_batch(u))
    send_all(batch.pk)
    log = PortalExchangeLog.objects.get()
    # when a person marks it reviewed
    reviewed = batches.exchange_review(actor=u.officer, exchange=log, note="Đã xem")
    assert (reviewed.reviewed, reviewed.reviewed_by_id) == (True, u.officer.pk)
    # then any other change, or a deletion, is refused by the database
    with pytest.raises(InternalError), transaction.atomic():
        PortalExchangeLog.objects.filter(pk=log.pk).update(response_body="sửa")
    with pytest.raises(InternalError), transaction.atomic():
        PortalExchangeLog.objects.filter(pk=log.pk).delete()


def test_a_batch_whose_worker_died_is_picked_up_again(claims_portal):
    u = unit()
    ready_dossiers(u, 1)
    batch = submit(u, make_batch(u))
    now = timezone.now()
    ClaimBatch.objects.filter(pk=batch.pk).update(progress_at=now - timedelta(hours=1))
    # when the poll looks, it is resumed once (not again at the next look)
    assert batches.batches_resume_stale(now=now) == [batch.pk]
    assert batches.batches_resume_stale(now=now) == []


def test_the_task_sends_and_the_poll_answers_in_process(claims_portal, settings):
    """The tasks as Celery runs them eagerly (no broker): same outcome as the services."""
    from insurance.claims.tasks import answers_poll_task, batch_send_task

    u = unit()
    dossiers = ready_dossiers(u, 2)
    batch = submit(u, make_batch(u))
    result = batch_send_task.apply(args=(batch.pk,)).get()
    assert result["outcomes"] == {"acknowledged": 2}
    polled = answers_poll_task.apply().get()
    assert (polled["accepted"], polled["resumed"]) == (2, [])
    assert statuses(dossiers) == [DossierStatus.ACCEPTED] * 2
    assert ClaimBatch.objects.get(pk=batch.pk).total_accepted == Decimal(2) * FUND_PER_VISIT


def test_a_dossier_waiting_in_a_batch_is_not_rebuilt_until_the_batch_is_cancelled(signing):
    # given a ready dossier grouped into a draft batch
    u = unit()
    (dossier,) = ready_dossiers(u, 1)
    batch = make_batch(u)
    # when the officer tries to rebuild it, it is refused and no version is added
    with pytest.raises(DossierNotBuildable, match="lô chờ gửi"):
        build(u, dossier.encounter)
    assert Dossier.objects.get(pk=dossier.pk).current_version == 1
    # then, the batch cancelled, it can be rebuilt
    batches.batch_cancel(actor=u.officer, batch=batch)
    assert build(u, dossier.encounter).current_version == 2
