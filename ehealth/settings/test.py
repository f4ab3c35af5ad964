"""Test run: the real PostgreSQL server from DATABASE_URL (or the embedded one)."""

from ehealth.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
AXES_ENABLED = True
LANGUAGE_CODE = "vi"
