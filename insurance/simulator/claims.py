"""Claim routes of the insurer-portal SIMULATOR (registered with `SimulatorApp.default_route`).

Portal routes (the requests of `insurance.clients.portal.ClaimPortalClient`; token in the query):
- POST /api/egw/guiHoSoGiamDinhQD3176?token&maCSKCB&maLK&loaiHoSo=3, body: the signed GIAMDINHHS
  file as a base64 JSON string, header `Idempotency-Key`.
  The file must decode (base64, XML rooted at GIAMDINHHS with one HOSO), hold an XML1 table that
  decodes with a non-empty MA_LK equal to the query's maLK, and a CHUKYDONVI signature element;
  otherwise 200 {maKetQua: 201 | 202 | 204 | 206, dsLoi}. Accepted files answer
  {maKetQua: "000", maGiaoDich, maLK}. A request whose Idempotency-Key was already received answers
  {maKetQua: "001", same maGiaoDich} and is NOT counted again (a replay).
- POST /api/egw/nhanKQGiamDinhHSQD3176?token&maLK[&maGiaoDich] (header Idempotency-Key when no
  maGiaoDich): {maKetQua: "000", maLK, maGiaoDich, trangThai: DANG_XU_LY | CHAP_NHAN | TU_CHOI,
  dsLoi: [{maLoi, moTaLoi}]}; {maKetQua: "050"} when no such submission was received.

How a submission is decided (at receipt; answered from the first answer request on, after
`pending_polls` answers saying DANG_XU_LY):
1. a rule set with POST /_simulator/claims/rules {"reject": [{"maLK", "lyDo": [{"ma", "noiDung"}],
   "soLan": n}]} rejects the next n submissions of that MA_LK (every one when soLan is absent)
   with those reasons;
2. otherwise XML1 MA_BENH_CHINH in `reject_icd` (default R69, "bệnh không rõ nguyên nhân")
   rejects with code GD-ICD-01;
3. otherwise XML1 T_TONGCHI_BV above `max_total` (when set) rejects with code GD-TIEN-01;
4. otherwise accepted.

Control routes:
- GET /_simulator/claims: per MA_LK `received` (distinct submissions: Idempotency-Keys),
  `requests` (every HTTP request to the send route, replays and faulted ones included),
  `replays`, and the decisions
- POST /_simulator/claims/rules {reject?, reject_icd?, max_total?, pending_polls?, answer_delay?}
  (answer_delay: seconds the send route waits AFTER recording a submission, before answering)
- POST /_simulator/claims/faults {mode: timeout | error | malformed | partial | none,
  on: send | answer | any (default any), count?: n (all when absent), delay?: s,
  claim_keys?: [MA_LK...]} (timeout: sleeps `delay` (default 30 s) then handles the request as
  usual: the answer goes nowhere, the client has given up; error: HTTP 503; malformed: an HTML
  page; partial: send "000" without maGiaoDich, answer without trangThai)
- POST /_simulator/claims/reset
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from lxml import etree

from insurance.simulator.app import SIMULATOR_NOTE, Request, SimulatorApp

SEND_PATH = "/api/egw/guiHoSoGiamDinhQD3176"
ANSWER_PATH = "/api/egw/nhanKQGiamDinhHSQD3176"
CLAIM_FAULT_MODES = ("timeout", "error", "malformed", "partial")
DEFAULT_REJECT_ICD = frozenset({"R69"})
DEFAULT_DELAY = 30.0


@dataclass
class Submission:
    key: str  # Idempotency-Key (or a generated one when the client sent none)
    claim_key: str
    transaction_id: str
    decision: str  # CHAP_NHAN / TU_CHOI
    reasons: list[dict]
    polls: int = 0


@dataclass
class ClaimsState:
    """The claims part of one simulator: submissions, counters, rules, faults."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_key: dict[str, Submission] = field(default_factory=dict)
    by_transaction: dict[str, Submission] = field(default_factory=dict)
    latest_by_claim: dict[str, Submission] = field(default_factory=dict)
    received: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)
    replays: Counter = field(default_factory=Counter)
    reject_rules: dict[str, dict] = field(default_factory=dict)
    reject_icd: frozenset[str] = DEFAULT_REJECT_ICD
    max_total: float | None = None
    pending_polls: int = 0
    answer_delay: float = 0.0
    fault: dict | None = None

    def reset(self) -> None:
        with self.lock:
            self.by_key.clear()
            self.by_transaction.clear()
            self.latest_by_claim.clear()
            self.received.clear()
            self.requests.clear()
            self.replays.clear()
            self.reject_rules.clear()
            self.reject_icd = DEFAULT_REJECT_ICD
            self.max_total = None
            self.pending_polls = 0
            self.answer_delay = 0.0
            self.fault = None

    def set_fault(
        self,
        mode: str | None,
        *,
        on: str = "any",
        count: int | None = None,
        delay: float | None = None,
        claim_keys=None,
    ) -> None:
        with self.lock:
            if not mode or mode == "none":
                self.fault = None
                return
            self.fault = {
                "mode": mode,
                "on": on or "any",
                "count": count,
                "delay": DEFAULT_DELAY if delay is None else float(delay),
                "claim_keys": set(claim_keys) if claim_keys else None,
            }

    def take_fault(self, route: str, claim_key: str) -> dict | None:
        with self.lock:
            fault = self.fault
            if fault is None or fault["on"] not in ("any", route):
                return None
            if fault["claim_keys"] is not None and claim_key not in fault["claim_keys"]:
                return None
            if fault["count"] is not None:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.fault = None
            return dict(fault)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "received": dict(self.received),
                "requests": dict(self.requests),
                "replays": dict(self.replays),
                "decisions": {
                    s.key: {"maLK": s.claim_key, "maGiaoDich": s.transaction_id, "kq": s.decision}
                    for s in self.by_key.values()
                },
                "fault": None if self.fault is None else {**self.fault, "claim_keys": None},
            }


_STATE_LOCK = threading.Lock()


def claims_state(app: SimulatorApp) -> ClaimsState:
    """The claims state of a simulator app (made on first use)."""
    with _STATE_LOCK:
        state = app.__dict__.get("claims_state")
        if state is None:
            state = app.__dict__["claims_state"] = ClaimsState()
        return state


def _note(text: str) -> str:
    return SIMULATOR_NOTE + text


def _refuse(code: str, text: str) -> tuple[int, dict]:
    return 200, {
        "maKetQua": code,
        "simulator": True,
        "thongDiep": _note(text),
        "dsLoi": [{"maLoi": code, "moTaLoi": text}],
    }


def _authorized(app: SimulatorApp, request: Request) -> bool:
    return request.query.get("token") in app.tokens


def _read_file(request: Request) -> tuple[bytes | None, tuple[int, dict] | None]:
    try:
        body = request.json()
    except ValueError:
        return None, _refuse("201", "Nội dung gửi không phải JSON.")
    if not isinstance(body, str) or not body.strip():
        return None, _refuse("204", "Tệp hồ sơ rỗng.")
    try:
        return base64.b64decode(body, validate=True), None
    except (binascii.Error, ValueError):
        return None, _refuse("201", "Tệp hồ sơ không phải base64.")


def _summary(data: bytes) -> tuple[dict | None, tuple[int, dict] | None]:
    """XML1's MA_LK, MA_BENH_CHINH, T_TONGCHI_BV from the envelope, or the refusal."""
    try:
        root = etree.fromstring(
            data, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError:
        return None, _refuse("201", "Tệp hồ sơ không phải XML hợp lệ.")
    if root.tag != "GIAMDINHHS":
        return None, _refuse("202", "Phần tử gốc phải là GIAMDINHHS.")
    if root.find("CHUKYDONVI") is None or not len(root.find("CHUKYDONVI")):
        return None, _refuse("202", "Thiếu chữ ký số của cơ sở (CHUKYDONVI).")
    hosos = root.findall("THONGTINHOSO/DANHSACHHOSO/HOSO")
    if len(hosos) != 1:
        return None, _refuse("202", "Mỗi lần gửi một hồ sơ (HOSO).")
    xml1 = None
    for f in hosos[0].iterfind("FILEHOSO"):
        if f.findtext("LOAIHOSO") == "XML1":
            try:
                xml1 = etree.fromstring(
                    base64.b64decode(f.findtext("NOIDUNGFILE") or "", validate=True),
                    parser=etree.XMLParser(resolve_entities=False, no_network=True),
                )
            except (binascii.Error, ValueError, etree.XMLSyntaxError):
                return None, _refuse("202", "Bảng XML1 không giải mã được.")
    if xml1 is None:
        return None, _refuse("202", "Thiếu bảng XML1.")
    claim_key = (xml1.findtext(".//MA_LK") or "").strip()
    if not claim_key:
        return None, _refuse("206", "Bảng XML1 thiếu MA_LK.")
    return {
        "maLK": claim_key,
        "icd": (xml1.findtext(".//MA_BENH_CHINH") or "").strip(),
        "total": (xml1.findtext(".//T_TONGCHI_BV") or "").strip(),
    }, None


def _decide(state: ClaimsState, summary: dict) -> tuple[str, list[dict]]:
    """Called under state.lock."""
    rule = state.reject_rules.get(summary["maLK"])
    if rule is not None:
        if rule.get("soLan") is not None:
            rule["soLan"] -= 1
            if rule["soLan"] <= 0:
                del state.reject_rules[summary["maLK"]]
        return "TU_CHOI", [dict(r) for r in rule["lyDo"]]
    if summary["icd"] in state.reject_icd:
        return "TU_CHOI", [
            {
                "maLoi": "GD-ICD-01",
                "moTaLoi": f"Mã bệnh chính {summary['icd']} không được quỹ BHYT thanh toán "
                "(bệnh không rõ nguyên nhân).",
            }
        ]
    if state.max_total is not None:
        try:
            over = float(summary["total"]) > state.max_total
        except ValueError:
            over = False
        if over:
            return "TU_CHOI", [
                {"maLoi": "GD-TIEN-01", "moTaLoi": "Tổng chi phí vượt mức giám định tự động."}
            ]
    return "CHAP_NHAN", []


def _fault_answer(fault: dict | None, route: str):
    """The faulted answer, or None to go on (a timeout sleeps then goes on)."""
    if fault is None:
        return None
    mode = fault["mode"]
    if mode == "timeout":
        time.sleep(fault["delay"])
        return None
    if mode == "error":
        return 503, b"<html><body>503 Service Unavailable (simulator)</body></html>"
    if mode == "malformed":
        return 200, b"<html><body>Loi he thong (simulator)</body></html>"
    return None  # partial: answered below


@SimulatorApp.default_route("POST", SEND_PATH)
def claim_send(app: SimulatorApp, request: Request):
    state = claims_state(app)
    claim_key = request.query.get("maLK", "")
    with state.lock:
        state.requests[claim_key] += 1
    if not _authorized(app, request):
        return 401, {"maKetQua": "401", "simulator": True, "thongDiep": _note("Token sai.")}
    fault = state.take_fault("send", claim_key)
    faulted = _fault_answer(fault, "send")
    if faulted is not None:
        return faulted
    data, refusal = _read_file(request)
    if refusal:
        return refusal
    summary, refusal = _summary(data)
    if refusal:
        return refusal
    if summary["maLK"] != claim_key:
        return _refuse("206", "MA_LK trong XML1 khác MA_LK của yêu cầu.")
    key = request_key(request) or f"auto-{secrets.token_hex(8)}"
    with state.lock:
        known = state.by_key.get(key)
        if known is not None:
            state.replays[claim_key] += 1
            code, submission = "001", known
        else:
            decision, reasons = _decide(state, summary)
            submission = Submission(
                key, claim_key, f"GD{secrets.token_hex(6).upper()}", decision, reasons
            )
            state.by_key[key] = submission
            state.by_transaction[submission.transaction_id] = submission
            state.latest_by_claim[claim_key] = submission
            state.received[claim_key] += 1
            code = "000"
        delay = state.answer_delay
    if delay:
        time.sleep(delay)
    body = {
        "maKetQua": code,
        "simulator": True,
        "maLK": claim_key,
        "thongDiep": _note(
            "Đã nhận hồ sơ." if code == "000" else "Hồ sơ này đã được nhận trước đó."
        ),
    }
    if not (fault is not None and fault["mode"] == "partial"):
        body["maGiaoDich"] = submission.transaction_id
    return 200, body


def request_key(request: Request) -> str:
    return request.headers.get("idempotency-key", "").strip()[:200]


@SimulatorApp.default_route("POST", ANSWER_PATH)
def claim_answer(app: SimulatorApp, request: Request):
    state = claims_state(app)
    claim_key = request.query.get("maLK", "")
    if not _authorized(app, request):
        return 401, {"maKetQua": "401", "simulator": True, "thongDiep": _note("Token sai.")}
    fault = state.take_fault("answer", claim_key)
    faulted = _fault_answer(fault, "answer")
    if faulted is not None:
        return faulted
    transaction_id = request.query.get("maGiaoDich", "")
    key = request_key(request)
    with state.lock:
        if transaction_id:
            submission = state.by_transaction.get(transaction_id)
        elif key:
            submission = state.by_key.get(key)
        else:
            submission = state.latest_by_claim.get(claim_key)
        if submission is not None and submission.claim_key != claim_key:
            submission = None
        if submission is None:
            return 200, {
                "maKetQua": "050",
                "simulator": True,
                "thongDiep": _note("Không có hồ sơ đã gửi với thông tin này."),
            }
        submission.polls += 1
        processing = submission.polls <= state.pending_polls
        body = {
            "maKetQua": "000",
            "simulator": True,
            "maLK": submission.claim_key,
            "maGiaoDich": submission.transaction_id,
            "trangThai": "DANG_XU_LY" if processing else submission.decision,
            "dsLoi": [] if processing else [dict(r) for r in submission.reasons],
            "thongDiep": _note("Kết quả giám định."),
        }
    if fault is not None and fault["mode"] == "partial":
        body.pop("trangThai")
    return 200, body


# --- control routes ----------------------------------------------------------------------------


@SimulatorApp.default_route("GET", "/_simulator/claims")
def claims_counts(app: SimulatorApp, request: Request):
    return 200, {"simulator": True, **claims_state(app).snapshot()}


@SimulatorApp.default_route("POST", "/_simulator/claims/rules")
def claims_rules(app: SimulatorApp, request: Request):
    state = claims_state(app)
    try:
        wanted = request.json() or {}
        rules = {}
        for rule in wanted.get("reject", []):
            reasons = [{"maLoi": str(r["ma"]), "moTaLoi": str(r["noiDung"])} for r in rule["lyDo"]]
            times = rule.get("soLan")
            rules[str(rule["maLK"])] = {
                "lyDo": reasons,
                "soLan": None if times is None else int(times),
            }
        with state.lock:
            state.reject_rules.update(rules)
            if "reject_icd" in wanted:
                state.reject_icd = frozenset(str(c) for c in wanted["reject_icd"])
            if "max_total" in wanted:
                state.max_total = (
                    None if wanted["max_total"] is None else float(wanted["max_total"])
                )
            if "pending_polls" in wanted:
                state.pending_polls = int(wanted["pending_polls"])
            if "answer_delay" in wanted:
                state.answer_delay = float(wanted["answer_delay"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return 400, {
            "simulator": True,
            "error": '{"reject": [{"maLK", "lyDo": [{"ma", "noiDung"}], "soLan"?}], ...} expected',
        }
    return 200, {"simulator": True, "rules": len(state.reject_rules)}


@SimulatorApp.default_route("POST", "/_simulator/claims/faults")
def claims_faults(app: SimulatorApp, request: Request):
    try:
        wanted = request.json() or {}
        mode = wanted.get("mode")
        if mode not in (*CLAIM_FAULT_MODES, "none", None):
            raise ValueError(mode)
        if wanted.get("on", "any") not in ("send", "answer", "any"):
            raise ValueError(wanted.get("on"))
        claims_state(app).set_fault(
            mode,
            on=wanted.get("on", "any"),
            count=wanted.get("count"),
            delay=wanted.get("delay"),
            claim_keys=wanted.get("claim_keys"),
        )
    except (ValueError, TypeError, AttributeError):
        return 400, {
            "simulator": True,
            "error": f"mode must be one of {CLAIM_FAULT_MODES} or none; on send|answer|any",
        }
    return 200, {"simulator": True, "fault": claims_state(app).snapshot()["fault"]}


_cards_reset = SimulatorApp.routes[("POST", "/_simulator/reset")]


@SimulatorApp.default_route("POST", "/_simulator/reset")
def reset_all(app: SimulatorApp, request: Request):
    """The simulator's reset also forgets the claims (submissions, counters, rules, fault)."""
    claims_state(app).reset()
    return _cards_reset(app, request)


@SimulatorApp.default_route("POST", "/_simulator/claims/reset")
def claims_reset(app: SimulatorApp, request: Request):
    claims_state(app).reset()
    return 200, {"simulator": True}
