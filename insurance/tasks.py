"""Celery autodiscovery looks for `<app>.tasks`: the insurance app's tasks live by sub-domain."""

from insurance.claims.tasks import (  # noqa: F401
    answers_fetch_task,
    answers_poll_task,
    batch_send_task,
)
