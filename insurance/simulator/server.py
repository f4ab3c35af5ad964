"""Serving the insurer-portal SIMULATOR: wsgiref with one thread per request.

Thread-per-request so that a request held back on purpose (the timeout fault) never blocks the
others; daemon threads and no join on close, so stopping the server never waits for a sleeper.
"""

from __future__ import annotations

import logging
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from insurance.simulator.app import SimulatorApp

logger = logging.getLogger(__name__)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """Logs method, path and status only (the query holds a token; bodies hold names)."""

    def log_request(self, code="-", size="-"):
        logger.info("simulator %s %s -> %s", self.command, self.path.split("?")[0], code)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib signature
        return


class SimulatorServer:
    """The simulator on host:port (port 0: a free one), in a background thread or the foreground."""

    def __init__(self, app: SimulatorApp, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.app = app
        self.httpd = make_server(
            host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.host, self.port = self.httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.5)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
