"""Celery tasks of the claims: thin wrappers over `insurance.claims.sending`, taking ids only.

`batch_send_task` sends a submitting batch; a transient failure (timeout, 5xx, unreadable
answer) is retried with exponential backoff (CLAIMS_SEND_RETRY_BACKOFF seconds, doubling, at most
CLAIMS_SEND_MAX_RETRIES times), after which the batch is marked failed with the error (the
officer may submit it again: only what was not acknowledged is sent). A big batch is sent in
chunks, each run queuing the next. `answers_poll_task` (Celery beat) fetches the answers of every
batch awaiting them and resumes batches whose worker died while sending.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import context


def _as_task():
    return context.set_current(context.ActorContext(channel="task"))


@shared_task(bind=True, acks_late=True, max_retries=None)
def batch_send_task(self, batch_id: int) -> dict:
    """Send what the gateway has not acknowledged in a submitting batch; retry transient failures."""
    from insurance.claims import sending

    token = _as_task()
    try:
        summary = sending.batch_send(batch_id=batch_id)
        if summary.skipped_batch:
            return summary.as_dict()
        if summary.stopped == sending.TRANSIENT:
            retries = self.request.retries
            if retries < settings.CLAIMS_SEND_MAX_RETRIES:
                countdown = settings.CLAIMS_SEND_RETRY_BACKOFF * (2**retries)
                sending.batch_send_finish(
                    batch_id=batch_id,
                    give_up_error=summary.error,
                    retry_at=timezone.now() + timedelta(seconds=countdown),
                )
                raise self.retry(countdown=countdown, max_retries=settings.CLAIMS_SEND_MAX_RETRIES)
            sending.batch_send_finish(batch_id=batch_id, give_up_error=summary.error)
        elif summary.stopped == sending.ACCOUNT:
            sending.batch_send_finish(batch_id=batch_id, give_up_error=summary.error)
        elif summary.more:
            sending.batch_send_finish(batch_id=batch_id)
            batch_send_task.delay(batch_id)  # the next chunk, as a fresh task
        else:
            sending.batch_send_finish(batch_id=batch_id)
        return summary.as_dict()
    finally:
        context.reset(token)


@shared_task(acks_late=True)
def answers_fetch_task(batch_id: int) -> dict:
    """Fetch the insurer's answers of one batch now."""
    from insurance.claims import sending

    token = _as_task()
    try:
        return sending.answers_fetch(batch_id=batch_id).as_dict()
    finally:
        context.reset(token)


@shared_task(acks_late=True)
def answers_poll_task() -> dict:
    """Periodic: resume batches whose worker died while sending, then fetch every awaited answer."""
    from insurance.claims import sending

    token = _as_task()
    try:
        resumed = sending.batches_resume_stale()
        for batch_id in resumed:
            batch_send_task.delay(batch_id)
        return {"resumed": resumed, **sending.answers_fetch().as_dict()}
    finally:
        context.reset(token)


@shared_task(bind=True, acks_late=True)
def dossier_build_run_task(self, run_id: int) -> dict:
    """Build a period's dossiers (a `DossierBuildRun`) in chunks, each dossier its own transaction.

    A worker builds for BUILD_TASK_BUDGET seconds, then queues the rest as a fresh task; in eager
    mode (tests, a demo without broker) the whole run is built in the request that queued it.
    """
    from insurance.claims import workspace

    token = _as_task()
    try:
        budget = None if self.request.is_eager else workspace.BUILD_TASK_BUDGET
        try:
            more = workspace.build_run_step(run_id=run_id, budget_seconds=budget)
        except Exception as exc:
            workspace.build_run_fail(
                run_id=run_id,
                error=_("Lỗi hệ thống khi lập hồ sơ (%(kind)s): hãy bấm “Lập hồ sơ” lần nữa.")
                % {"kind": type(exc).__name__},
            )
            raise
        if more:
            dossier_build_run_task.delay(run_id)
        return {"run_id": run_id, "more": more}
    finally:
        context.reset(token)
