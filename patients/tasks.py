"""Celery tasks of the registry: thin, idempotent wrappers over services, taking ids only."""

from __future__ import annotations

from celery import shared_task

from ehealth.core import context


@shared_task(acks_late=True, max_retries=3, default_retry_delay=10)
def patient_duplicates_recompute_task(patient_id: int) -> int:
    """Recompute and store a patient's ranked possible duplicates; return how many."""
    from patients.services import patient_duplicates_recompute

    token = context.set_current(context.ActorContext(channel="task"))
    try:
        return len(patient_duplicates_recompute(patient_id=patient_id))
    finally:
        context.reset(token)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=10)
def patient_duplicates_recompute_many_task(patient_ids: list[int]) -> int:
    """`patient_duplicates_recompute_task` for each patient of a batch registration; return how
    many candidates were stored in all."""
    from patients.services import patient_duplicates_recompute

    token = context.set_current(context.ActorContext(channel="task"))
    try:
        return sum(len(patient_duplicates_recompute(patient_id=pk)) for pk in patient_ids)
    finally:
        context.reset(token)
