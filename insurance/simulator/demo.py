"""Start the insurer-portal SIMULATOR inside `manage.py rundemo`, so the demo's reception looks
cards up through the real client code path (settings DEMO_SERVICES names this function)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from insurance.simulator.app import VN, SimulatorApp
from insurance.simulator.data import DEFAULT_DATA_FILE, cards_from_db, cards_from_file
from insurance.simulator.server import SimulatorServer

DEMO_PORT = 8765


def start_for_demo() -> str:
    """Serve the simulator in a background thread with the demo cards and the seeded patients'
    cards, and point the card lookup at it. A configured INSURER_PORTAL_URL is left alone."""
    if settings.INSURER_PORTAL_URL:
        return f"Cổng BHXH: {settings.INSURER_PORTAL_URL}"
    app = SimulatorApp(cards_from_file(DEFAULT_DATA_FILE))
    app.add_cards(cards_from_db(today=datetime.now(VN).date()))
    try:
        server = SimulatorServer(app, host="127.0.0.1", port=DEMO_PORT).start()
    except OSError:  # the port is taken: any free port will do
        server = SimulatorServer(app, host="127.0.0.1", port=0).start()
    settings.INSURER_PORTAL_URL = server.url
    settings.INSURANCE_CARD_LOOKUP = "insurance.cards.portal_card_lookup"
    return f"Trình MÔ PHỎNG cổng BHXH (không phải cổng thật): {server.url} – {len(app.cards)} thẻ"
