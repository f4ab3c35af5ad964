"""Fixtures of the batch tests: the in-process simulator with its claims state reset, and the
settings pointing the claims client at it (short timeouts so a timeout test takes a second)."""

from __future__ import annotations

import pytest
import requests

from insurance.claims import sending
from insurance.simulator.claims import claims_state

TIMEOUT = 0.3


@pytest.fixture
def claims_portal(settings, simulator, signing):
    """The running simulator, no claims received, no rule, no fault; settings pointing at it."""
    settings.INSURER_PORTAL_URL = simulator.url
    settings.INSURER_PORTAL_TIMEOUT = TIMEOUT
    settings.INSURER_PORTAL_RETRIES = 0
    settings.INSURER_PORTAL_BACKOFF = 0.01
    sending._client_cache.clear()
    state = claims_state(simulator.app)
    state.reset()
    yield simulator
    state.reset()
    sending._client_cache.clear()


def control(simulator, path: str, body: dict) -> dict:
    """POST to a control route of the simulator (as a browser test or a person would)."""
    response = requests.post(f"{simulator.url}{path}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def reject(simulator, claim_key: str, code: str, text: str, times: int | None = None) -> None:
    rule = {"maLK": claim_key, "lyDo": [{"ma": code, "noiDung": text}]}
    if times is not None:
        rule["soLan"] = times
    control(simulator, "/_simulator/claims/rules", {"reject": [rule]})


def counts(simulator) -> dict:
    return requests.get(f"{simulator.url}/_simulator/claims", timeout=5).json()
