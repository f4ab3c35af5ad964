"""The embedded default: no DATABASE_URL starts PostgreSQL 18 from a package, stopped on exit.

Each test runs real processes against a server in its own temporary data folder (startup takes
a second or two). Set EHEALTH_SKIP_EMBEDDED_TESTS=1 only where the package's PostgreSQL binaries
cannot run at all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    os.environ.get("EHEALTH_SKIP_EMBEDDED_TESTS") == "1",
    reason="EHEALTH_SKIP_EMBEDDED_TESTS=1: the embedded PostgreSQL server cannot run here",
)

PROBE = """
import json, os
from pathlib import Path
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW server_version_num")
    version = int(cursor.fetchone()[0])
    cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    cursor.execute("SELECT unaccent('Nguyễn Văn An'), similarity('nguyen van an', 'nguyen van anh')")
    plain, similarity = cursor.fetchone()
pgdata = Path(os.environ["EHEALTH_PGDATA"])
print(json.dumps({
    "embedded": settings.EMBEDDED_DATABASE,
    "version": version,
    "unaccent": plain,
    "similarity": similarity,
    "postmaster_pid": int((pgdata / "postmaster.pid").read_text().split()[0]),
    "driver": connection.Database.__name__,
}))
"""


def _data_folder():
    # A short path under /tmp: the server's Unix socket lives in the data folder.
    folder = Path(tempfile.mkdtemp(prefix="ehealth-pg-"))
    yield folder / "data"
    # A failed test may leave its server running: stop it before its folder goes.
    leftover = folder / "data" / "postmaster.pid"
    if leftover.exists():
        try:
            postmaster = psutil.Process(int(leftover.read_text().split()[0]))
            if postmaster.name() == "postgres":
                postmaster.terminate()
                postmaster.wait(timeout=10)
        except (psutil.Error, ValueError, IndexError):
            pass
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pgdata():
    """An empty data folder of its own."""
    yield from _data_folder()


@pytest.fixture(scope="module")
def demo_pgdata():
    """One folder for the rundemo runs: the first migrates, the others find it migrated."""
    yield from _data_folder()


def embedded_env(pgdata: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(EHEALTH_PGDATA=str(pgdata), DJANGO_SETTINGS_MODULE="ehealth.settings.local")
    return env


def shell(code: str, pgdata: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=embedded_env(pgdata),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def server_is_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def registered_handles(pgdata: Path) -> list[int]:
    return json.loads((pgdata / ".handle_pids.json").read_text())


def test_without_database_url_a_postgresql_18_server_starts_and_stops_on_exit(pgdata):
    # given: DATABASE_URL unset, an empty data folder

    # when
    result = shell(PROBE, pgdata)

    # then
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["embedded"] is True
    assert probe["version"] >= 180000
    assert probe["unaccent"] == "Nguyen Van An"
    assert probe["similarity"] > 0.5
    assert probe["driver"] == "psycopg2"
    assert server_is_gone(probe["postmaster_pid"])
    assert not (pgdata / "postmaster.pid").exists()
    assert registered_handles(pgdata) == []


def test_a_dead_process_left_registered_does_not_keep_the_server_running(pgdata):
    # given: an initialised folder whose handle list names a process killed with SIGKILL
    assert shell("pass", pgdata).returncode == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    dead.wait()
    (pgdata / ".handle_pids.json").write_text(json.dumps([dead.pid]))

    # when
    result = shell(PROBE, pgdata)

    # then
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert server_is_gone(probe["postmaster_pid"])
    assert registered_handles(pgdata) == []


def test_sigterm_to_a_process_using_the_server_stops_it_cleanly(pgdata):
    # given: a long-running management command that owns the server
    code = "import sys, time; print('ready', flush=True); time.sleep(120)"
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=embedded_env(pgdata),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])

    # when
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)

    # then
    assert process.returncode == 0
    assert server_is_gone(postmaster)
    assert registered_handles(pgdata) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(port: int, process: subprocess.Popen, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[1])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:  # noqa: S310
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError("rundemo did not answer /healthz in time")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_rundemo_serves_migrated_database_and_stops_postgresql_on_signal(demo_pgdata, stop_signal):
    # given: rundemo on a free port, embedded server, no demo data (seeding is tested elsewhere)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "rundemo", "--port", str(port), "--no-seed"],
        cwd=ROOT,
        env=embedded_env(demo_pgdata),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # when
        status = wait_for_health(port, process)
        postmaster = int((demo_pgdata / "postmaster.pid").read_text().split()[0])
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    # then
    assert status == 200
    assert process.returncode == 0, err
    assert "migrate" in out
    assert server_is_gone(postmaster)
    assert registered_handles(demo_pgdata) == []


def test_rundemo_on_a_busy_port_says_so_and_still_stops_postgresql(demo_pgdata):
    # given: the port is taken (runserver would os._exit and skip the server's shutdown)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # when
        result = subprocess.run(
            [sys.executable, "manage.py", "rundemo", "--port", str(port), "--no-seed"],
            cwd=ROOT,
            env=embedded_env(demo_pgdata),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # then
    assert result.returncode == 1
    assert f"Cổng {port}" in result.stderr
    assert not (demo_pgdata / "postmaster.pid").exists()
    assert registered_handles(demo_pgdata) == []
