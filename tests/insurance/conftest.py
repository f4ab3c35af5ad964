"""The insurer-portal simulator, in-process on a free port, for the card lookup tests."""

from __future__ import annotations

import socket
from datetime import date

import pytest

from insurance.cards import lookup as card_lookup_module
from insurance.simulator.app import SimulatorApp
from insurance.simulator.server import SimulatorServer

# Short limits so that a timeout test takes about a second: each attempt waits at most TIMEOUT
# (connect and read), RETRIES more attempts follow, BACKOFF doubles between them.
TIMEOUT = 0.3
RETRIES = 2
BACKOFF = 0.01


@pytest.fixture(scope="session")
def simulator_server():
    server = SimulatorServer(SimulatorApp(), host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def simulator(simulator_server):
    """The running simulator with no cards, no fault and zeroed call counts."""
    app = simulator_server.app
    app.add_cards([], replace=True)
    app.set_fault(None)
    with app._lock:
        app.calls.clear()
        app.tokens.clear()
    yield simulator_server
    app.set_fault(None)


@pytest.fixture
def portal(settings, simulator):
    """Settings pointing the portal client (and reception's lookup) at the simulator."""
    settings.INSURER_PORTAL_URL = simulator.url
    settings.INSURER_PORTAL_TIMEOUT = TIMEOUT
    settings.INSURER_PORTAL_RETRIES = RETRIES
    settings.INSURER_PORTAL_BACKOFF = BACKOFF
    settings.INSURANCE_CARD_LOOKUP = "insurance.cards.portal_card_lookup"
    card_lookup_module._clients.clear()
    yield simulator
    card_lookup_module._clients.clear()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dmy(d: date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def portal_card(
    code: str,
    *,
    name: str = "Trần Thị Bình",
    birth: str = "04/03/1990",
    valid_from: date,
    valid_to: date | None,
    facility_code: str = "48001",
    **extra,
) -> dict:
    """A card as the simulator holds it (synthetic)."""
    return {
        "maThe": code,
        "hoTen": name,
        "ngaySinh": birth,
        "gioiTinh": "Nữ",
        "maDKBD": facility_code,
        "gtTheTu": dmy(valid_from),
        "gtTheDen": dmy(valid_to),
        "maKV": "",
        "ngayDu5Nam": "",
        "ngayMienCCT": "",
        **extra,
    }
