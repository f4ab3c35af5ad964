"""The deployment files, checked statically: no Docker engine runs where the tests run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat", "migrate")
REQUIRED_APP_ENV = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DJANGO_SETTINGS_MODULE",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _command(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def _healthcheck(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def test_compose_declares_the_five_services_and_the_migrate_job(compose):
    # given / when
    services = set(compose["services"])

    # then
    assert {"web", "worker", "beat", "db", "redis", "migrate"} <= services


def test_web_serves_the_wsgi_app_with_gunicorn_and_production_settings(compose):
    # given
    web = compose["services"]["web"]

    # when
    command = _command(web)

    # then
    assert command.startswith("gunicorn ehealth.wsgi:application")
    assert "--bind=0.0.0.0:8000" in command
    assert web["environment"]["DJANGO_SETTINGS_MODULE"] == "ehealth.settings.production"
    assert any(str(port).endswith(":8000") for port in web["ports"])


def test_worker_and_beat_run_celery_from_the_web_image(compose):
    # given
    services = compose["services"]

    # when
    images = {services[name]["image"] for name in APP_SERVICES}
    builds = {services[name]["build"] for name in APP_SERVICES}

    # then
    assert len(images) == 1 and len(builds) == 1
    assert _command(services["worker"]).startswith("celery -A ehealth worker")
    assert _command(services["beat"]).startswith("celery -A ehealth beat")
    assert _command(services["migrate"]) == "python manage.py migrate --noinput"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_gets_its_configuration_from_the_environment(compose, name):
    # given
    environment = compose["services"][name]["environment"]

    # when
    missing = [key for key in REQUIRED_APP_ENV if not environment.get(key)]

    # then
    assert missing == []
    assert environment["DJANGO_SETTINGS_MODULE"] == "ehealth.settings.production"
    assert (
        environment["DATABASE_URL"].startswith("postgres://")
        and "@db:5432/" in (environment["DATABASE_URL"])
    )
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    # The secret has no default: compose refuses to start without it.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", environment["SECRET_KEY"])


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("db", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("web", "/healthz"),
        ("worker", "inspect ping"),
        ("beat", ".ping()"),
    ],
)
def test_every_long_running_service_has_a_health_check(compose, name, probe):
    # given
    service = compose["services"][name]

    # when
    check = _healthcheck(service)

    # then
    assert probe in check
    assert service["healthcheck"]["interval"]
    assert service["healthcheck"]["retries"] >= 3


def test_web_health_check_sends_an_allowed_host(compose):
    # given: production settings answer 400 to a Host outside ALLOWED_HOSTS
    check = _healthcheck(compose["services"]["web"])

    # then
    assert "ALLOWED_HOSTS" in check and "'Host'" in check


def test_database_and_broker_keep_their_data_in_named_volumes(compose):
    # given
    services, volumes = compose["services"], compose["volumes"]

    # when
    db_mounts = services["db"]["volumes"]
    redis_mounts = services["redis"]["volumes"]

    # then
    assert "pgdata:/var/lib/postgresql/data" in db_mounts
    assert "redisdata:/data" in redis_mounts
    assert {"pgdata", "redisdata"} <= set(volumes)
    assert re.fullmatch(r"postgres:1[67](\..*)?", services["db"]["image"])


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_app_services_wait_for_healthy_db_and_redis_and_applied_migrations(compose, name):
    # given
    depends_on = compose["services"][name]["depends_on"]

    # then
    assert depends_on["db"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_waits_for_a_healthy_database(compose):
    # given
    migrate = compose["services"]["migrate"]

    # then
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"


def test_dockerfile_installs_from_the_lock_collects_static_and_drops_root():
    # given
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.split()[0] for line in dockerfile.splitlines() if line[:1].isalpha()]

    # then
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert "pip install -r requirements.lock" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    # The last USER switches away from root before the command runs.
    user_lines = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user_lines and user_lines[-1] not in {"root", "0"}
    assert instructions.index("USER") > instructions.index("RUN")


def test_docker_build_context_excludes_local_state():
    # given
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()

    # then: the embedded server's data is owned by another user and unreadable to the builder
    assert {".git", ".venv", ".pgdata", "staticfiles"} <= set(ignored)
