"""Settings of the Celery worker started by test_tasks_worker.py: the test settings, but tasks that
the worker itself queues (a retry, the next chunk, a resumed batch) go to the broker on the
worker's own queue instead of running inline."""

import os

from ehealth.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ROUTES = {"*": {"queue": os.environ["CLAIMS_TEST_QUEUE"]}}
