"""Sending claim batches to the insurer's gateway and fetching its answers (worker side).

Called by `insurance.claims.tasks` with ids, no actor (audited as the task channel). The officer's
services are in `insurance.claims.batches`.

Sending one item (the gateway takes one GIAMDINHHS file per request) takes two transactions:
1. under the item's row lock it is marked SENT (attempts + 1) and committed, so that a worker
   killed during the request leaves a durable "a request may be out" mark;
2. under the same lock again (a second worker waits), with the attempt number unchanged, an item
   found SENT is first looked up at the gateway (by MA_LK and idempotency key), then sent only if
   the gateway does not know it; the receipt (ACKNOWLEDGED, dossier ready -> sent) or the failure
   is recorded in the same transaction, with the exchange logged.
A dossier accepted once is never sent again: the code sends only READY dossiers whose current
version is the item's, and a partial unique index allows one live-or-accepted item per dossier.
A malformed or partial answer changes no status: it is logged in PortalExchangeLog for review.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from insurance.claims.batch_models import (
    UNSENT_ITEM_STATES,
    BatchItem,
    BatchStatus,
    ClaimBatch,
    ExchangeOutcome,
    ItemState,
    PortalExchangeLog,
)
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.clients import portal as portal_api

logger = logging.getLogger(__name__)

# Outcomes of sending one item.
SENT_OK = "acknowledged"
SKIPPED = "skipped"
EXCLUDED = "excluded"
REFUSED = "refused"
TRANSIENT = "transient"
ACCOUNT = "account"


def _now() -> datetime:
    return timezone.now()


def idempotency_key(*, facility_code: str, claim_key: str, version: int) -> str:
    """The key of one send of one version of a dossier (a retry repeats it, a new version not)."""
    return f"{facility_code}-{claim_key}-v{version}"[:160]


def issue(rule: str, message: str, field_name: str = "", table: str = "") -> dict:
    """An error in the shape of ValidationIssue.as_dict()."""
    return {
        "table": table,
        "field": field_name,
        "line": None,
        "rule_code": rule,
        "message_vi": message,
        "fix_url_name_hint": "",
    }


_client_cache: dict[tuple, portal_api.ClaimPortalClient] = {}


def claims_client(facility) -> portal_api.ClaimPortalClient:
    """The gateway client for a facility (one per configuration, so its token is reused)."""
    key = (
        settings.INSURER_PORTAL_URL,
        settings.INSURER_PORTAL_TIMEOUT,
        settings.INSURER_PORTAL_RETRIES,
        getattr(settings, "INSURER_PORTAL_BACKOFF", 0.2),
        settings.INSURER_PORTAL_USERNAME,
        facility.code,
    )
    client = _client_cache.get(key)
    if client is None:
        client = _client_cache[key] = portal_api.ClaimPortalClient(
            settings.INSURER_PORTAL_URL,
            timeout=settings.INSURER_PORTAL_TIMEOUT,
            retries=settings.INSURER_PORTAL_RETRIES,
            backoff=key[3],
            username=settings.INSURER_PORTAL_USERNAME,
            password=settings.INSURER_PORTAL_PASSWORD,
            facility_code=facility.code,
            province_code=getattr(facility.province, "code", "") or "",
        )
    return client


def batch_recount(batch_id: int) -> None:
    """Recompute a batch's counts and amounts from its items (one aggregate query, one update)."""
    totals = BatchItem.objects.filter(batch_id=batch_id).aggregate(
        item_count=Count("id"),
        excluded_count=Count("id", filter=Q(state=ItemState.EXCLUDED)),
        acknowledged_count=Count("id", filter=Q(state=ItemState.ACKNOWLEDGED)),
        accepted_count=Count("id", filter=Q(state=ItemState.ACCEPTED)),
        rejected_count=Count("id", filter=Q(state=ItemState.REJECTED)),
        failed_count=Count("id", filter=Q(state=ItemState.FAILED)),
        total_hospital=Sum("amount_hospital", filter=~Q(state=ItemState.EXCLUDED)),
        total_claimed=Sum("amount_claimed", filter=~Q(state=ItemState.EXCLUDED)),
        total_accepted=Sum("amount_claimed", filter=Q(state=ItemState.ACCEPTED)),
        total_rejected=Sum("amount_claimed", filter=Q(state=ItemState.REJECTED)),
    )
    ClaimBatch.objects.filter(pk=batch_id).update(
        **{k: (v if v is not None else Decimal(0)) for k, v in totals.items()},
        progress_at=_now(),
    )


def item_exclude(
    item: BatchItem, dossier: Dossier, errors: list[dict], *, invalidate: bool
) -> None:
    item.state = ItemState.EXCLUDED
    item.errors = errors
    item.last_error = "; ".join(e["message_vi"] for e in errors)[:1000]
    item.save(update_fields=["state", "errors", "last_error", "updated_at"])
    if invalidate and dossier.can_move_to(DossierStatus.INVALID):
        dossier.move_to(DossierStatus.INVALID)
        dossier.row_version += 1
        dossier.save(update_fields=["status", "row_version", "updated_at"])


# --- the exchange log ----------------------------------------------------------------------------


def _log_exchange(
    exchange: portal_api.Exchange | None,
    *,
    outcome: str,
    item: BatchItem,
    facility_id: int,
    claim_key: str,
    message: str = "",
) -> PortalExchangeLog | None:
    if exchange is None:
        return None
    return PortalExchangeLog.objects.create(
        facility_id=facility_id,
        batch_id=item.batch_id,
        item=item,
        dossier_id=item.dossier_id,
        claim_key=claim_key[:100],
        operation=exchange.operation,
        outcome=outcome,
        attempt=exchange.attempt,
        http_status=exchange.http_status,
        portal_code=exchange.portal_code[:20],
        message=str(message)[:1000],
        request=exchange.request,
        response_body=exchange.body[: portal_api.RESPONSE_KEPT_CHARS],
        duration_ms=exchange.duration_ms,
    )


def _outcome_of(exc: portal_api.ClaimPortalError) -> str:
    if isinstance(exc, portal_api.ClaimMalformedAnswer):
        return ExchangeOutcome.PARTIAL if exc.partial else ExchangeOutcome.MALFORMED
    if isinstance(exc, portal_api.ClaimTransientError):
        return ExchangeOutcome.TRANSIENT
    return ExchangeOutcome.REFUSED


# --- sending (worker side) ----------------------------------------------------------------------


@dataclass
class SendSummary:
    """What one run of `batch_send` did."""

    batch_id: int
    skipped_batch: bool = False
    outcomes: dict[str, int] = field(default_factory=dict)
    stopped: str = ""  # TRANSIENT / ACCOUNT when the run stopped early, "" otherwise
    more: bool = False  # the run's budget ran out with items left: run again
    error: str = ""

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def as_dict(self) -> dict:
        return {
            "batch_id": self.batch_id,
            "skipped_batch": self.skipped_batch,
            "outcomes": self.outcomes,
            "stopped": self.stopped,
            "more": self.more,
        }


def _claim_item(item_id: int) -> tuple[BatchItem, int] | None:
    """Transaction 1: mark the item SENT (attempts + 1) unless it is no longer to be sent."""
    with transaction.atomic():
        item = (
            BatchItem.objects.select_for_update(of=("self",))
            .select_related("batch")
            .filter(pk=item_id)
            .first()
        )
        if item is None or item.state not in UNSENT_ITEM_STATES:
            return None
        if item.batch.status != BatchStatus.SUBMITTING:
            return None
        item.state = ItemState.SENT
        item.attempts += 1
        item.sent_at = _now()
        item.save(update_fields=["state", "attempts", "sent_at", "updated_at"])
        return item, item.attempts


def _send_locked(item: BatchItem, attempt: int, client) -> str:
    """Transaction 2 (caller holds the item's lock): look up, send, record."""
    dossier = (
        Dossier.objects.select_for_update(of=("self",))
        .select_related("encounter")
        .get(pk=item.dossier_id)
    )
    facility_id = item.batch.facility_id
    claim_key = dossier.claim_key

    def fail(exc: portal_api.ClaimPortalError, *, state: str | None = None) -> str:
        _log_exchange(
            exc.exchange,
            outcome=_outcome_of(exc),
            item=item,
            facility_id=facility_id,
            claim_key=claim_key,
            message=exc.message,
        )
        item.last_error = exc.message[:1000]
        fields = ["last_error", "updated_at"]
        if state is not None:
            item.state = state
            fields.append("state")
        item.save(update_fields=fields)
        if isinstance(exc, portal_api.ClaimAccountError):
            return ACCOUNT
        return TRANSIENT  # transient or malformed: whether it arrived is unknown; ask next time

    if attempt > 1:  # a request may have gone out before: ask the gateway first
        try:
            known = client.claim_answer(claim_key=claim_key, idempotency_key=item.idempotency_key)
        except portal_api.ClaimPortalError as exc:
            return fail(exc)
        if known.state != portal_api.CLAIM_UNKNOWN:
            _log_exchange(
                known.exchange,
                outcome=ExchangeOutcome.OK,
                item=item,
                facility_id=facility_id,
                claim_key=claim_key,
                message=_("Cổng đã nhận hồ sơ ở lần gửi trước: không gửi lại."),
            )
            return _acknowledge(item, dossier, known.transaction_id)

    # Never send an accepted (or otherwise moved) dossier, nor a version other than the item's.
    if dossier.status != DossierStatus.READY or dossier.current_version != item.version_number:
        item_exclude(
            item,
            dossier,
            [
                issue(
                    "CHANGED",
                    _("Hồ sơ đã thay đổi sau khi đưa vào lô (trạng thái %(status)s, phiên bản "
                      "%(version)s): không gửi.")
                    % {"status": dossier.get_status_display(), "version": dossier.current_version},
                )
            ],
            invalidate=False,
        )  # fmt: skip
        return EXCLUDED
    envelope = (
        DossierVersion.objects.filter(dossier=dossier, number=item.version_number)
        .values_list("envelope", flat=True)
        .get()
    )
    try:
        receipt = client.claim_send(
            envelope=envelope.encode("utf-8"),
            claim_key=claim_key,
            idempotency_key=item.idempotency_key,
            attempt=attempt,
        )
    except portal_api.ClaimRefusedError as exc:
        fail(exc, state=ItemState.FAILED)
        if dossier.can_move_to(DossierStatus.INVALID):
            dossier.move_to(DossierStatus.INVALID)
            dossier.row_version += 1
            dossier.save(update_fields=["status", "row_version", "updated_at"])
        audit_record(
            actor=None,
            action="claims.dossier_send_refused",
            target=dossier,
            patient_id=dossier.encounter.patient_id,
            detail={"batch_id": item.batch_id, "item_id": item.pk, "code": exc.code},
        )
        return REFUSED
    except portal_api.ClaimAccountError as exc:
        # Not received (the account was refused before the file was taken).
        return fail(exc, state=ItemState.PENDING)
    except portal_api.ClaimPortalError as exc:
        return fail(exc)
    _log_exchange(
        receipt.exchange,
        outcome=ExchangeOutcome.OK,
        item=item,
        facility_id=facility_id,
        claim_key=claim_key,
        message=_(
            "Cổng đã nhận hồ sơ (gửi lại trùng)." if receipt.replay else "Cổng đã nhận hồ sơ."
        ),
    )
    return _acknowledge(item, dossier, receipt.transaction_id)


def _acknowledge(item: BatchItem, dossier: Dossier, transaction_id: str) -> str:
    item.state = ItemState.ACKNOWLEDGED
    item.transaction_id = transaction_id
    item.acknowledged_at = _now()
    item.last_error = ""
    item.save(
        update_fields=["state", "transaction_id", "acknowledged_at", "last_error", "updated_at"]
    )
    if dossier.status == DossierStatus.READY:
        dossier.move_to(DossierStatus.SENT)
        dossier.row_version += 1
        dossier.save(update_fields=["status", "row_version", "updated_at"])
    audit_record(
        actor=None,
        action="claims.dossier_send",
        target=dossier,
        patient_id=dossier.encounter.patient_id,
        detail={
            "batch_id": item.batch_id,
            "item_id": item.pk,
            "version": item.version_number,
            "transaction_id": transaction_id,
            "attempts": item.attempts,
        },
    )
    return SENT_OK


def item_send(*, item_id: int, client) -> str:
    """Send one batch item (see the module docstring); returns an outcome constant."""
    claimed = _claim_item(item_id)
    if claimed is None:
        return SKIPPED
    _item, attempt = claimed
    with transaction.atomic():
        item = (
            BatchItem.objects.select_for_update(of=("self",))
            .select_related("batch")
            .filter(pk=item_id)
            .first()
        )
        # Another worker took it over meanwhile (it bumped the attempt) or finished it.
        if item is None or item.state != ItemState.SENT or item.attempts != attempt:
            return SKIPPED
        return _send_locked(item, attempt, client)


def batch_send(
    *, batch_id: int, client=None, max_items: int | None = None, max_seconds: float | None = None
) -> SendSummary:
    """Send every item of a submitting batch that the gateway has not acknowledged, in order;
    stop at the first transient failure (the task retries with backoff) or account refusal, or
    when the budget (items, seconds) is spent (`more`: the task runs again)."""
    summary = SendSummary(batch_id)
    batch = ClaimBatch.objects.select_related("facility__province").filter(pk=batch_id).first()
    if batch is None or batch.status != BatchStatus.SUBMITTING:
        summary.skipped_batch = True
        return summary
    client = client or claims_client(batch.facility)
    max_items = max_items or getattr(settings, "CLAIMS_SEND_CHUNK", 200)
    max_seconds = max_seconds or getattr(settings, "CLAIMS_SEND_SECONDS", 120.0)
    started = timezone.now()
    ids = list(
        BatchItem.objects.filter(batch_id=batch_id, state__in=UNSENT_ITEM_STATES)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for n, item_id in enumerate(ids):
        if n >= max_items or (timezone.now() - started).total_seconds() > max_seconds:
            summary.more = True
            break
        outcome = item_send(item_id=item_id, client=client)
        summary.add(outcome)
        if outcome != SKIPPED:
            batch_recount(batch_id)
        if outcome in (TRANSIENT, ACCOUNT):
            summary.stopped = outcome
            summary.error = (
                BatchItem.objects.filter(pk=item_id).values_list("last_error", flat=True).first()
                or ""
            )
            break
    return summary


def batch_send_finish(*, batch_id: int, give_up_error: str = "", retry_at=None) -> ClaimBatch:
    """Settle a submitting batch's status after a send run: `failed` (with the error) when items
    are left unsent and the worker gives up, else submitted / partly answered / done. With
    `retry_at` the batch stays submitting and its heartbeat is set to the retry's time."""
    with transaction.atomic():
        batch = ClaimBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != BatchStatus.SUBMITTING:
            return batch
        batch_recount(batch_id)
        batch.refresh_from_db()
        if retry_at is not None:
            batch.progress_at = retry_at
            batch.last_error = give_up_error[:1000]
            batch.save(update_fields=["progress_at", "last_error"])
            return batch
        unsent = BatchItem.objects.filter(batch=batch, state__in=UNSENT_ITEM_STATES).count()
        if unsent:
            if not give_up_error:
                return batch  # a run is still due (chunked)
            batch.move_to(BatchStatus.FAILED)
            batch.last_error = give_up_error[:1000]
        else:
            _settle_after_send(batch)
        batch.row_version += 1
        batch.save()
        audit_record(
            actor=None,
            action="claims.batch_sent",
            target=batch,
            detail={"status": batch.status, "unsent": unsent},
        )
        return batch


def _settle_after_send(batch: ClaimBatch) -> None:
    through = batch.acknowledged_count + batch.accepted_count + batch.rejected_count
    if through == 0:
        batch.move_to(BatchStatus.FAILED)
        batch.last_error = _("Cổng BHXH không tiếp nhận hồ sơ nào của lô.")
        batch.finished_at = _now()
    elif batch.acknowledged_count == 0:
        batch.move_to(BatchStatus.DONE)
        batch.finished_at = _now()
    elif batch.accepted_count + batch.rejected_count:
        batch.move_to(BatchStatus.PARTLY_ANSWERED)
    else:
        batch.move_to(BatchStatus.SUBMITTED)
    if batch.status != BatchStatus.FAILED:
        batch.last_error = ""


def batches_resume_stale(*, now: datetime | None = None) -> list[int]:
    """Batches left `submitting` whose worker made no progress for CLAIMS_STALE_SUBMITTING_SECONDS
    (it died): their ids, with the heartbeat moved on so they are not picked up again at once.
    The caller queues their send."""
    now = now or _now()
    limit = now - timedelta(seconds=getattr(settings, "CLAIMS_STALE_SUBMITTING_SECONDS", 900))
    ids = []
    with transaction.atomic():
        for batch in ClaimBatch.objects.select_for_update(skip_locked=True).filter(
            Q(progress_at__lt=limit) | Q(progress_at__isnull=True, submitted_at__lt=limit),
            status=BatchStatus.SUBMITTING,
        ):
            batch.progress_at = now
            batch.save(update_fields=["progress_at"])
            ids.append(batch.pk)
    return ids


# --- answers (worker side) -----------------------------------------------------------------------


@dataclass
class AnswersSummary:
    """What one run of `answers_fetch` did."""

    asked: int = 0
    accepted: int = 0
    rejected: int = 0
    processing: int = 0
    unreadable: int = 0  # malformed or partial answers: logged, nothing changed
    failed: int = 0  # transient or account failures
    batches: set[int] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "asked": self.asked,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "processing": self.processing,
            "unreadable": self.unreadable,
            "failed": self.failed,
            "batches": sorted(self.batches),
        }


def answers_fetch(*, batch_id: int | None = None, client=None) -> AnswersSummary:
    """Ask the gateway for the answers of acknowledged items (of one batch, or of every batch
    awaiting answers) and move the dossiers to accepted / rejected with the insurer's reasons.
    A malformed or partial answer changes nothing and is logged for a person to look at."""
    summary = AnswersSummary()
    items = BatchItem.objects.filter(state=ItemState.ACKNOWLEDGED).select_related(
        "batch__facility__province", "dossier"
    )
    if batch_id is not None:
        items = items.filter(batch_id=batch_id)
    clients: dict[int, object] = {}
    for item in items.order_by("batch_id", "id").iterator(chunk_size=200):
        facility = item.batch.facility
        portal = client or clients.get(facility.pk)
        if portal is None:
            portal = clients[facility.pk] = claims_client(facility)
        summary.asked += 1
        summary.batches.add(item.batch_id)
        _item_answer(item, portal, summary)
    for touched in sorted(summary.batches):
        batch_after_answers(batch_id=touched)
    return summary


def _item_answer(item: BatchItem, client, summary: AnswersSummary) -> None:
    facility_id = item.batch.facility_id
    claim_key = item.dossier.claim_key
    try:
        answer = client.claim_answer(
            claim_key=claim_key,
            idempotency_key=item.idempotency_key,
            transaction_id=item.transaction_id,
        )
    except portal_api.ClaimPortalError as exc:
        _log_exchange(
            exc.exchange,
            outcome=_outcome_of(exc),
            item=item,
            facility_id=facility_id,
            claim_key=claim_key,
            message=exc.message,
        )
        if isinstance(exc, portal_api.ClaimMalformedAnswer):
            summary.unreadable += 1
            logger.warning("claims: unreadable answer for batch item id=%s", item.pk)
        else:
            summary.failed += 1
        return
    if answer.state == portal_api.CLAIM_PROCESSING:
        summary.processing += 1
        return  # no news: not logged (the poll asks again)
    if answer.state == portal_api.CLAIM_UNKNOWN:
        summary.unreadable += 1
        _log_exchange(
            answer.exchange,
            outcome=ExchangeOutcome.PARTIAL,
            item=item,
            facility_id=facility_id,
            claim_key=claim_key,
            message=_("Cổng không tìm thấy hồ sơ đã có biên nhận: cần kiểm tra."),
        )
        return
    with transaction.atomic():
        locked = BatchItem.objects.select_for_update().filter(pk=item.pk).first()
        if locked is None or locked.state != ItemState.ACKNOWLEDGED:
            return  # answered meanwhile
        dossier = (
            Dossier.objects.select_for_update(of=("self",))
            .select_related("encounter")
            .get(pk=locked.dossier_id)
        )
        accepted = answer.state == portal_api.CLAIM_ACCEPTED
        _log_exchange(
            answer.exchange,
            outcome=ExchangeOutcome.OK,
            item=locked,
            facility_id=facility_id,
            claim_key=claim_key,
            message=_("Hồ sơ được chấp nhận.") if accepted else _("Hồ sơ bị từ chối."),
        )
        locked.state = ItemState.ACCEPTED if accepted else ItemState.REJECTED
        locked.rejection_reasons = answer.reasons
        locked.answered_at = _now()
        locked.save(update_fields=["state", "rejection_reasons", "answered_at", "updated_at"])
        target = DossierStatus.ACCEPTED if accepted else DossierStatus.REJECTED
        if dossier.status == DossierStatus.SENT:
            dossier.move_to(target)
            dossier.rejection_reasons = answer.reasons
            dossier.row_version += 1
            dossier.save(update_fields=["status", "rejection_reasons", "row_version", "updated_at"])
        else:  # e.g. already paid: the item keeps the answer, the dossier is not moved back
            logger.warning(
                "claims: answer for dossier id=%s in status %s left as is",
                dossier.pk,
                dossier.status,
            )
        audit_record(
            actor=None,
            action="claims.dossier_answer",
            target=dossier,
            patient_id=dossier.encounter.patient_id,
            detail={
                "batch_id": locked.batch_id,
                "item_id": locked.pk,
                "answer": locked.state,
                "reasons": [r["code"] for r in answer.reasons],
            },
        )
    if accepted:
        summary.accepted += 1
    else:
        summary.rejected += 1


def batch_after_answers(*, batch_id: int) -> ClaimBatch:
    """Recount a batch and move it to partly answered / done when answers came in (a batch still
    submitting or failed keeps its status: the send settles it)."""
    with transaction.atomic():
        batch = ClaimBatch.objects.select_for_update().get(pk=batch_id)
        batch_recount(batch_id)
        batch.refresh_from_db()
        if batch.status not in (BatchStatus.SUBMITTED, BatchStatus.PARTLY_ANSWERED):
            return batch
        answered = batch.accepted_count + batch.rejected_count
        waiting = BatchItem.objects.filter(
            batch=batch, state__in=(*UNSENT_ITEM_STATES, ItemState.ACKNOWLEDGED)
        ).count()
        target = batch.status
        if waiting == 0:
            target = BatchStatus.DONE
        elif answered:
            target = BatchStatus.PARTLY_ANSWERED
        if target != batch.status:
            batch.move_to(target)
            if target == BatchStatus.DONE:
                batch.finished_at = _now()
            batch.row_version += 1
            batch.save()
            audit_record(
                actor=None, action="claims.batch_answered", target=batch, detail={"status": target}
            )
        return batch
