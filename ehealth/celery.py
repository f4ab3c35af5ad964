"""The project's Celery application. Periodic schedules live in one place: CELERY_BEAT_SCHEDULE."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehealth.settings.local")

app = Celery("ehealth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
