"""Developer machine and the embedded demo."""

from ehealth.settings.base import *  # noqa: F403

DEBUG = env("DEBUG", default=True)  # noqa: F405
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
