"""A local SIMULATOR of the insurer's (BHXH) portal: not the real portal, never used in production.

The real portal is not reachable from here, so the demo and the tests talk to this small WSGI app
(`insurance.simulator.app.SimulatorApp`) served by wsgiref in a thread-per-request server
(`insurance.simulator.server`). It answers the same requests as the portal client sends, from its
own data (a JSON file, or the cards of the seeded demo patients), and fails on demand (timeout,
5xx, malformed answer, wrong person) through POST /_simulator/faults or special card codes.
Start it with `manage.py run_insurer_simulator [--port 8765] [--data FILE | --from-db]`.
"""
