"""The insurer-portal SIMULATOR as a tiny WSGI app with a routes table (no Django inside).

Routes (method, path) -> handler(app, request) -> (HTTP status, JSON-able body | bytes). The claims
work adds its own with `SimulatorApp.route(...)` without touching the card lookup.

Portal routes (same requests as `insurance.clients.portal`):
- POST /api/token/take {username, password} -> {maKetQua: "200", APIKey: {access_token, id_token}}
- POST /api/egw/KQNhanLichSuKCB2024?token=...  {maThe, hoTen, ngaySinh} -> card answer
Control routes (simulator only):
- GET /_simulator/health; GET /_simulator/calls (requests counted per route)
- POST /_simulator/faults {mode, count?, delay?}: mode timeout | error | malformed | partial |
  wrong_person | none; `count` answers are affected (all when absent), `delay` seconds for timeout
- POST /_simulator/cards {cards: [...], replace?: bool}; POST /_simulator/reset
Claim routes (send a dossier, fetch its answer, their controls): `insurance.simulator.claims`.
Special card codes: social insurance number 99999999NN fails every time, NN = 01 timeout,
02 HTTP 503, 03 malformed (not JSON), 04 wrong person, 05 partial answer (dates missing).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SIMULATOR_NOTE = "[MÔ PHỎNG] "  # every answer says it comes from the simulator
FAULT_MODES = ("timeout", "error", "malformed", "partial", "wrong_person")
SPECIAL_FAULTS = {
    "9999999901": "timeout",
    "9999999902": "error",
    "9999999903": "malformed",
    "9999999904": "wrong_person",
    "9999999905": "partial",
}
DEFAULT_TIMEOUT_DELAY = 30.0

Handler = Callable[["SimulatorApp", "Request"], tuple[int, object]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, "-" separated

    def json(self):
        return json.loads(self.body.decode("utf-8") or "null")


def _fold(text: str) -> str:
    """Name comparison without diacritics, case or extra blanks."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(text.upper().split())


def _parse_date(value: str) -> date | None:
    for fmt in ("%d/%m/%Y", "%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a date only
        except (TypeError, ValueError):
            continue
    return None


class SimulatorApp:
    """State (cards, issued tokens, faults, call counts) behind one lock; WSGI callable."""

    routes: dict[tuple[str, str], Handler] = {}

    def __init__(
        self, cards: Iterable[dict] = (), *, today: Callable[[], date] | None = None
    ) -> None:
        self.routes = dict(type(self).routes)  # per instance: extensions stay local
        self._lock = threading.Lock()
        self._today = today or (lambda: datetime.now(VN).date())
        self.cards: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.fault: dict | None = None
        self.add_cards(cards)

    # --- extension -----------------------------------------------------------------------------

    @classmethod
    def default_route(cls, method: str, path: str):
        def register(handler: Handler) -> Handler:
            cls.routes[(method, path)] = handler
            return handler

        return register

    def route(self, method: str, path: str):
        """Register a handler on this app (the claims simulator adds its endpoints this way)."""

        def register(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler

        return register

    # --- state ---------------------------------------------------------------------------------

    def add_cards(self, cards: Iterable[dict], *, replace: bool = False) -> int:
        with self._lock:
            if replace:
                self.cards.clear()
            n = 0
            for card in cards:
                self.cards[str(card["maThe"]).upper()] = dict(card)
                n += 1
            return n

    def set_fault(self, mode: str | None, *, count: int | None = None, delay: float | None = None):
        with self._lock:
            if not mode or mode == "none":
                self.fault = None
            else:
                self.fault = {
                    "mode": mode,
                    "count": count,
                    "delay": DEFAULT_TIMEOUT_DELAY if delay is None else float(delay),
                }

    def take_fault(self, si_number: str) -> dict | None:
        """The fault for this lookup (a special card code wins), consuming one of `count`."""
        if si_number in SPECIAL_FAULTS:
            return {"mode": SPECIAL_FAULTS[si_number], "delay": DEFAULT_TIMEOUT_DELAY}
        with self._lock:
            fault = self.fault
            if fault is None:
                return None
            if fault["count"] is not None:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.fault = None
            return dict(fault)

    def today(self) -> date:
        return self._today()

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        headers = {
            k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        request = Request(
            environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query, body, headers
        )
        handler = self.routes.get((request.method, request.path))
        with self._lock:
            self.calls[f"{request.method} {request.path}"] += 1
        if handler is None:
            status, payload = 404, {"maKetQua": "404", "ghiChu": SIMULATOR_NOTE + "Không có API."}
        else:
            try:
                status, payload = handler(self, request)
            except Exception as exc:  # noqa: BLE001 - a simulator answers 500 like a real server
                status, payload = 500, {"ghiChu": SIMULATOR_NOTE + type(exc).__name__}
        if isinstance(payload, bytes):
            data, content_type = payload, "text/html; charset=utf-8"
        else:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
        start_response(
            f"{status} {reason.get(status, 'Error')}",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(data))),
                ("X-Insurer-Simulator", "1"),
            ],
        )
        return [data]


def _answer(code: str, note: str, card: dict | None = None) -> dict:
    body = {"maKetQua": code, "ghiChu": SIMULATOR_NOTE + note, "simulator": True}
    if card is not None:
        body.update({k: v for k, v in card.items() if k != "trangThai"})
    return body


# --- portal routes ---------------------------------------------------------------------------


@SimulatorApp.default_route("POST", "/api/token/take")
def token_take(app: SimulatorApp, request: Request):
    try:
        creds = request.json()
    except ValueError:
        return 400, _answer("205", "Sai định dạng tham số.")
    if not isinstance(creds, dict) or "username" not in creds:
        return 200, _answer("401", "Sai tài khoản hoặc mật khẩu.")
    token = secrets.token_hex(16)
    with app._lock:
        app.tokens.add(token)
    return 200, {
        "maKetQua": "200",
        "simulator": True,
        "APIKey": {
            "access_token": token,
            "id_token": secrets.token_hex(8),
            "token_type": "Bearer",
            "username": creds.get("username", ""),
        },
    }


def _newer_card(app: SimulatorApp, card: dict) -> dict | None:
    si = card["maThe"][5:]
    start = _parse_date(card.get("gtTheTu", "")) or date.min
    with app._lock:
        later = [
            c
            for code, c in app.cards.items()
            if code[5:] == si and (_parse_date(c.get("gtTheTu", "")) or date.min) > start
        ]
    return max(later, key=lambda c: _parse_date(c.get("gtTheTu", ""))) if later else None


@SimulatorApp.default_route("POST", "/api/egw/KQNhanLichSuKCB2024")
def card_lookup(app: SimulatorApp, request: Request):
    if request.query.get("token") not in app.tokens:
        return 401, _answer("401", "Token không hợp lệ hoặc đã hết hạn.")
    try:
        asked = request.json()
    except ValueError:
        return 400, _answer("205", "Sai định dạng tham số.")
    if not isinstance(asked, dict) or not str(asked.get("maThe") or "").strip():
        return 200, _answer("205", "Thiếu mã thẻ.")
    code = str(asked["maThe"]).strip().upper()
    si_number = code[-10:]

    fault = app.take_fault(si_number)
    if fault is not None:
        mode = fault["mode"]
        if mode == "timeout":
            time.sleep(fault["delay"])  # past the client's timeout: it has given up by now
        elif mode == "error":
            return 503, b"<html><body>503 Service Unavailable (simulator)</body></html>"
        elif mode == "malformed":
            return 200, b"<html><body>Loi he thong (simulator)</body></html>"
        elif mode == "wrong_person":
            return 200, _answer("070", "Thẻ sai ngày sinh.")

    with app._lock:
        if len(code) == 10:  # the 10-digit social insurance number: the holder's latest card
            held = [c for k, c in app.cards.items() if k[5:] == code]
            card = (
                max(held, key=lambda c: _parse_date(c.get("gtTheTu", "")) or date.min)
                if held
                else None
            )
        else:
            card = app.cards.get(code)
    if fault is not None and fault["mode"] == "partial":  # "ok" without the card's dates
        partial = {k: v for k, v in (card or {"maThe": code}).items() if not k.startswith("gtThe")}
        return 200, _answer("000", "Thông tin thẻ chính xác.", partial)
    if card is None:
        if len(code) == 15 and code[2] not in "12345":
            return 200, _answer("053", "Mã quyền lợi thẻ (ký tự thứ 3) không đúng.")
        return 200, _answer("050", "Không thấy thông tin thẻ BHYT.")

    status = card.get("trangThai", "")
    if status == "revoked":
        return 200, _answer("110", "Thẻ đã thu hồi.")
    if status == "reduced":
        return 200, _answer("120", "Thẻ đã báo giảm.")
    name = str(asked.get("hoTen") or "")
    if name and _fold(name) != _fold(card.get("hoTen", "")):
        if _fold(name)[:1] == _fold(card.get("hoTen", ""))[:1]:
            return 200, _answer("061", "Thẻ sai họ tên (đúng ký tự đầu).")
        return 200, _answer("060", "Thẻ sai họ tên.")
    born = str(asked.get("ngaySinh") or "")
    card_born = str(card.get("ngaySinh") or "")
    year_only = len(born) == 4 or len(card_born) == 4  # a year of birth alone compares by year
    if born and card_born and (born[-4:] != card_born[-4:] if year_only else born != card_born):
        return 200, _answer("070", "Thẻ sai ngày sinh.")

    today = app.today()
    valid_to = _parse_date(card.get("gtTheDen", ""))
    expired = valid_to is not None and today > valid_to
    newer = _newer_card(app, card)
    if newer is not None:
        new_fields = {
            "maTheMoi": newer["maThe"],
            "gtTheTuMoi": newer.get("gtTheTu", ""),
            "gtTheDenMoi": newer.get("gtTheDen", ""),
        }
        if expired:
            return 200, _answer("003", "Thẻ cũ hết giá trị, đã được cấp thẻ mới.", new_fields)
        return 200, _answer(
            "004", "Thẻ cũ còn giá trị, đã được cấp thẻ mới.", {**card, **new_fields}
        )
    if expired:
        return 200, _answer("010", "Thẻ hết giá trị sử dụng.", card)
    return 200, _answer("000", "Thông tin thẻ chính xác.", card)


# --- control routes --------------------------------------------------------------------------


@SimulatorApp.default_route("GET", "/_simulator/health")
def health(app: SimulatorApp, request: Request):
    with app._lock:
        return 200, {"simulator": True, "cards": len(app.cards), "fault": app.fault}


@SimulatorApp.default_route("GET", "/_simulator/calls")
def calls(app: SimulatorApp, request: Request):
    with app._lock:
        return 200, {"simulator": True, "calls": dict(app.calls)}


@SimulatorApp.default_route("POST", "/_simulator/faults")
def faults(app: SimulatorApp, request: Request):
    try:
        wanted = request.json() or {}
    except ValueError:
        return 400, {"simulator": True, "error": "JSON expected"}
    mode = wanted.get("mode")
    if mode not in (*FAULT_MODES, "none", None):
        return 400, {"simulator": True, "error": f"mode must be one of {FAULT_MODES} or none"}
    app.set_fault(mode, count=wanted.get("count"), delay=wanted.get("delay"))
    return 200, {"simulator": True, "fault": app.fault}


@SimulatorApp.default_route("POST", "/_simulator/cards")
def cards(app: SimulatorApp, request: Request):
    try:
        wanted = request.json() or {}
        n = app.add_cards(wanted.get("cards", []), replace=bool(wanted.get("replace")))
    except (ValueError, KeyError, TypeError, AttributeError):
        return 400, {"simulator": True, "error": "{cards: [{maThe, ...}]} expected"}
    return 200, {"simulator": True, "added": n}


@SimulatorApp.default_route("POST", "/_simulator/reset")
def reset(app: SimulatorApp, request: Request):
    app.set_fault(None)
    with app._lock:
        app.calls.clear()
        app.tokens.clear()
    return 200, {"simulator": True}


# The claim routes register themselves on the class (imported last: they import this module).
import insurance.simulator.claims  # noqa: E402, F401
