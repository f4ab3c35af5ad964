"""Celery tasks of the FHIR API: thin wrappers over `fhir_api.export`, taking ids only.

`export_task` runs one Bulk Data export (queued by the kick-off, `fhir_api.bulk`); a redelivered
task (its worker died) starts the job over. It has a time limit of its own
(FHIR_EXPORT_TIME_LIMIT), longer than the project's default. `export_cleanup_task` (Celery beat,
hourly) deletes the jobs and files older than FHIR_EXPORT_RETENTION_HOURS.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from ehealth.core import context


@shared_task(
    acks_late=True,
    time_limit=settings.FHIR_EXPORT_TIME_LIMIT,
    soft_time_limit=max(1, settings.FHIR_EXPORT_TIME_LIMIT - 60),
)
def export_task(job_id: str) -> str:
    """Write the NDJSON files of one export job; return its final status."""
    from fhir_api.export import export_run

    return export_run(job_id)


@shared_task(acks_late=True)
def export_cleanup_task() -> int:
    """Periodic: delete old export jobs and their files; return how many."""
    from fhir_api.export import export_cleanup

    token = context.set_current(context.ActorContext(channel="task"))
    try:
        return export_cleanup()
    finally:
        context.reset(token)
