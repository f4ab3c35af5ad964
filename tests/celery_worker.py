"""A real Celery worker for the tests that need one (`@pytest.mark.celery_worker`).

`celery_worker` starts `celery -A ehealth worker -P solo --concurrency 1` as a subprocess on the
TEST database and a real broker (CELERY_BROKER_URL, else redis://127.0.0.1:6379/15 when it
answers, else the test is skipped with the reason). The worker listens on a queue of its own, so
parallel test runs sharing a Redis never take each other's tasks, and the test process is switched
from eager mode to sending to that queue for the duration of the fixture.

`celery_eager` is for transactional tests that commit registrations but need no worker: the tasks
queued on commit then run in-process instead of piling up on a broker nobody reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from ehealth.celery import app

DEFAULT_TEST_BROKER = "redis://127.0.0.1:6379/15"
READY_TIMEOUT_SECONDS = 60


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or ""
    port = settings_dict.get("PORT") or ""
    name = quote(settings_dict["NAME"], safe="")
    if host.startswith("/"):  # Unix socket directory (the embedded server)
        return f"postgres://{auth}/{name}?host={quote(host, safe='')}" + (
            f"&port={port}" if port else ""
        )
    return f"postgres://{auth}{host}{':' + str(port) if port else ''}/{name}"


def _reachable_broker() -> str:
    url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_TEST_BROKER
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "no broker here"
        pytest.skip(f"no Celery broker reachable at {url.split('@')[-1]}: {exc.__class__.__name__}")
    return url


def _reset_app_connections() -> None:
    """Forget pools and routes built from the previous configuration."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    # kombu keeps producer pools in a process-wide registry keyed by connection; a pool closed
    # above would otherwise be handed out again ("Acquire on closed pool").
    kombu_pools.reset()
    app.amqp.__dict__.pop("router", None)
    app.amqp.flush_routes()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, tmp_path_factory):
    """Start a real worker on the test database (once per session)."""
    broker = _reachable_broker()
    queue = f"ehealth-test-{uuid.uuid4().hex[:10]}"
    log_path: Path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ehealth.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CONN_MAX_AGE": "0",  # no idle connection left on the test database between tasks
    }
    command = [
        sys.executable, "-m", "celery", "-A", "ehealth", "worker",
        "-P", "solo", "--concurrency", "1", "-Q", queue, "-n", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed command line
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while "ready." not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"Celery worker did not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.2)

        yield broker, queue, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def celery_worker(celery_worker_process):
    """Send this test's tasks to the real worker (not eagerly); yield the worker's log path."""
    broker, queue, log_path = celery_worker_process
    saved = {
        key: app.conf.get(key)
        for key in ("broker_url", "result_backend", "task_always_eager", "task_routes")
    }
    saved_settings = (settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER)
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = broker, False
    app.conf.update(
        broker_url=broker,
        result_backend=broker,
        task_always_eager=False,
        task_routes={"*": {"queue": queue}},
    )
    _reset_app_connections()
    try:
        yield log_path
    finally:
        app.conf.update(saved)
        settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = saved_settings
        _reset_app_connections()


@pytest.fixture
def celery_eager():
    """Run tasks queued on commit in-process for this test."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved
