"""Test run: the real PostgreSQL server from DATABASE_URL (or the embedded one)."""

from ehealth.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
AXES_ENABLED = True
LANGUAGE_CODE = "vi"

# Ordinary tests run tasks in-process; the tests marked `celery_worker` switch the app to the real
# broker and a real worker (tests/celery_worker.py).
CELERY_TASK_ALWAYS_EAGER = True
