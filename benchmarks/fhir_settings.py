"""Settings of the gunicorn server that benchmarks/fhir.py starts: the local settings, DEBUG off,
persistent database connections, and the bare view of `benchmarks/fhir_urls.py` beside the
product's URLs (never part of the product)."""

from ehealth.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "benchmarks.fhir_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Persistent connections: one per worker thread, kept for the whole run (health-checked).
DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
# The rate limit is still counted on every request (its cost is part of the path), at a limit the
# benchmark never reaches.
FHIR_RATE_LIMIT = "100000000/minute"
FHIR_RATE_LIMIT_STAFF = FHIR_RATE_LIMIT
LOGGING = {  # refusals and errors are counted by the load generator, not logged per request
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django.request": {"level": "ERROR"}},
}
