"""Developer machine and the embedded demo."""

from ehealth.settings.base import *  # noqa: F403

DEBUG = env("DEBUG", default=True)  # noqa: F405
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# The demo catalog's drug prices are illustrative (data/reference/README.md): billable in the demo
# only, so that a visit with a prescription can be paid at the cashier's desk.
BILLING_ACCEPT_ILLUSTRATIVE_PRICES = env.bool("BILLING_ACCEPT_ILLUSTRATIVE_PRICES", default=True)  # noqa: F405
