"""`manage.py run_insurer_simulator`: the local SIMULATOR of the insurer's (BHXH) portal.

Not the real portal: it answers the card-lookup requests of `insurance.clients.portal` from its own
synthetic data, and fails on demand (POST /_simulator/faults). Point INSURER_PORTAL_URL at it.
"""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from insurance.simulator.app import VN, SimulatorApp
from insurance.simulator.data import DEFAULT_DATA_FILE, cards_from_db, cards_from_file
from insurance.simulator.server import SimulatorServer


class Command(BaseCommand):
    help = "Run the local insurer-portal SIMULATOR (not the real BHXH portal)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--data", default=None, help=f"JSON file of cards (default {DEFAULT_DATA_FILE.name})"
        )
        parser.add_argument(
            "--from-db",
            action="store_true",
            help="also load the cards of the patients in the database (seeded demo patients)",
        )

    def handle(self, *args, host, port, data, from_db, **options):
        try:
            cards = cards_from_file(data or DEFAULT_DATA_FILE)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"Cannot read the simulator data file: {exc}") from exc
        app = SimulatorApp(cards)
        if from_db:
            n = app.add_cards(cards_from_db(today=datetime.now(VN).date()))
            self.stdout.write(f"Loaded {n} cards of patients in the database.")
        try:
            server = SimulatorServer(app, host=host, port=port)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write(
            self.style.WARNING(
                f"Insurer portal SIMULATOR (not the real BHXH portal) on {server.url} "
                f"with {len(app.cards)} cards. Set INSURER_PORTAL_URL={server.url}. Ctrl+C stops."
            )
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
