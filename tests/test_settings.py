"""Settings come from the environment; the database driver is psycopg2 with persistent connections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

# Every variable the settings read; the subprocess starts from none of them.
SETTINGS_ENV = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "CONN_MAX_AGE",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_COOLOFF_MINUTES",
    "DEMO_PASSWORD",
    "LOG_LEVEL",
    "EHEALTH_PGDATA",
    "DJANGO_SETTINGS_MODULE",
)

READ_SETTINGS = """
import json
from django.conf import settings
from ehealth.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "db": {k: db[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT",
                               "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")},
    "embedded": settings.EMBEDDED_DATABASE,
    "secret_key": settings.SECRET_KEY,
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "csrf_trusted_origins": settings.CSRF_TRUSTED_ORIGINS,
    "broker": settings.CELERY_BROKER_URL,
    "result_backend": settings.CELERY_RESULT_BACKEND,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "app_eager": app.conf.task_always_eager,
    "app_broker": app.conf.broker_url,
    "axes_limit": settings.AXES_FAILURE_LIMIT,
    "axes_cooloff_hours": settings.AXES_COOLOFF_TIME,
    "demo_password": settings.DEMO_PASSWORD,
    "log_level": settings.LOGGING["root"]["level"],
    "time_zone": settings.TIME_ZONE,
    "use_tz": settings.USE_TZ,
    "language_code": settings.LANGUAGE_CODE,
}))
"""


def settings_from(env: dict[str, str], module: str = "ehealth.settings.base") -> dict:
    """Import the settings in a fresh interpreter with exactly these variables set."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    result = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def configured() -> dict:
    return settings_from(
        {
            "DATABASE_URL": "postgres://ehealth_app:s3cr%40t@db.internal.example:6543/ehealth_prod",
            "CELERY_BROKER_URL": "redis://broker.internal.example:6379/2",
            "CELERY_RESULT_BACKEND": "redis://broker.internal.example:6379/3",
            "SECRET_KEY": "k" * 60,
            "DEBUG": "true",
            "ALLOWED_HOSTS": "ehealth.example.vn,.danang.example.vn",
            "CSRF_TRUSTED_ORIGINS": "https://ehealth.example.vn",
            "CONN_MAX_AGE": "300",
            "LOGIN_FAILURE_LIMIT": "7",
            "LOGIN_COOLOFF_MINUTES": "30",
            "DEMO_PASSWORD": "another-demo-pass",
            "LOG_LEVEL": "WARNING",
        }
    )


def test_database_url_is_parsed_into_a_postgresql_connection(configured):
    # given: the module fixture's DATABASE_URL
    db = configured["db"]

    # then
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"]) == ("ehealth_app", "s3cr@t")
    assert (db["HOST"], str(db["PORT"]), db["NAME"]) == (
        "db.internal.example",
        "6543",
        "ehealth_prod",
    )
    assert configured["embedded"] is False


def test_connections_are_persistent_and_health_checked(configured):
    # given / then: CONN_MAX_AGE from the environment, > 0 so requests reuse connections
    assert configured["db"]["CONN_MAX_AGE"] == 300
    assert configured["db"]["CONN_HEALTH_CHECKS"] is True


def test_default_conn_max_age_is_persistent():
    # given / when
    defaults = settings_from({"DATABASE_URL": "postgres://u@h:5432/d"})

    # then
    assert defaults["db"]["CONN_MAX_AGE"] > 0


def test_web_and_login_settings_come_from_the_environment(configured):
    # then
    assert configured["secret_key"] == "k" * 60
    assert configured["debug"] is True
    assert configured["allowed_hosts"] == ["ehealth.example.vn", ".danang.example.vn"]
    assert configured["csrf_trusted_origins"] == ["https://ehealth.example.vn"]
    assert configured["axes_limit"] == 7
    assert configured["axes_cooloff_hours"] == pytest.approx(0.5)
    assert configured["demo_password"] == "another-demo-pass"
    assert configured["log_level"] == "WARNING"


def test_celery_uses_the_broker_and_does_not_run_eagerly_when_a_broker_is_set(configured):
    # then
    assert configured["broker"] == "redis://broker.internal.example:6379/2"
    assert configured["result_backend"] == "redis://broker.internal.example:6379/3"
    assert configured["eager"] is False
    assert configured["app_eager"] is False
    assert configured["app_broker"] == "redis://broker.internal.example:6379/2"


def test_celery_runs_tasks_eagerly_without_a_broker():
    # given / when
    without_broker = settings_from({"DATABASE_URL": "postgres://u@h:5432/d"})

    # then
    assert without_broker["broker"] == ""
    assert without_broker["eager"] is True
    assert without_broker["app_eager"] is True


def test_debug_is_off_unless_asked_for():
    # given / when
    defaults = settings_from({"DATABASE_URL": "postgres://u@h:5432/d"})

    # then
    assert defaults["debug"] is False


def test_city_time_zone_and_vietnamese_first(configured):
    # then: read from the settings module itself (the test conftest pins LANGUAGE_CODE too)
    assert configured["time_zone"] == "Asia/Ho_Chi_Minh"
    assert configured["use_tz"] is True
    assert configured["language_code"] == "vi"


@pytest.mark.django_db
def test_the_driver_in_use_is_psycopg2_not_psycopg3():
    # given: Django silently prefers psycopg 3 when it is importable
    connection.ensure_connection()

    # then
    assert connection.Database.__name__ == "psycopg2"
    assert type(connection.connection).__module__.startswith("psycopg2")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.mark.django_db
def test_the_database_server_is_postgresql_with_search_extensions():
    # given
    with connection.cursor() as cursor:
        # when
        cursor.execute("SELECT extname FROM pg_extension WHERE extname IN ('unaccent', 'pg_trgm')")
        extensions = {row[0] for row in cursor.fetchall()}

    # then
    assert connection.vendor == "postgresql"
    assert extensions == {"unaccent", "pg_trgm"}
