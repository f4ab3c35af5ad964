"""Production settings with real values pass `manage.py check --deploy` without a warning."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "ehealth.example.vn"


def production_env(**overrides: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "EHEALTH_PGDATA",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ehealth.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),  # 86 random characters
        DEBUG="False",
        ALLOWED_HOSTS=HOST,
        CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
        # The server the tests run against (set by the caller or by the embedded default).
        DATABASE_URL=os.environ["DATABASE_URL"],
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_issue_with_production_settings():
    # given
    env = production_env()

    # when
    result = manage("check", "--deploy", "--database", "default", env=env)
    output = result.stdout + result.stderr

    # then
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNINGS" not in output
    assert "ERRORS" not in output


def test_production_refuses_to_start_without_a_database_url():
    # given: no DATABASE_URL; base settings would otherwise start an embedded server
    env = production_env(DATABASE_URL=None, EHEALTH_PGDATA="/nonexistent/ehealth-pgdata")

    # when
    result = manage("check", env=env)

    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL must be set" in result.stderr
    assert not Path("/nonexistent/ehealth-pgdata").exists()


def test_production_refuses_to_start_without_a_secret_key():
    # given
    env = production_env(SECRET_KEY=None)

    # when
    result = manage("check", env=env)

    # then
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


PROBE = f"""
from django.test import Client
client = Client()
health = client.get("/healthz", HTTP_HOST="{HOST}")
page = client.get("/", HTTP_HOST="{HOST}")
behind_proxy = client.get("/healthz", HTTP_HOST="{HOST}", HTTP_X_FORWARDED_PROTO="https")
foreign = client.get("/healthz", HTTP_HOST="attacker.example")
print("RESULT", health.status_code, page.status_code, page.get("Location"),
      behind_proxy.status_code, behind_proxy.get("Strict-Transport-Security", "").split(";")[0],
      foreign.status_code)
"""


def test_production_redirects_pages_to_https_but_answers_health_probes_over_http():
    # given: the compose health check calls http://127.0.0.1:8000/healthz with an allowed Host
    env = production_env()

    # when
    result = manage("shell", "--no-imports", "-c", PROBE, env=env)
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    _, health, page, location, proxied, hsts, foreign = line.split()

    # then
    assert health == "200"
    assert (page, location) == ("301", f"https://{HOST}/")
    assert proxied == "200" and hsts == "max-age=31536000"
    assert foreign == "400"
