"""HTTP client of the insurer's (BHXH) card-lookup portal, and the table of its result codes.

The request and answer are modelled on the BHXH lookup API the domain brief names in 1.2
("KQNhanLichSuKCB2024"): a token is taken with the facility's account, then the card is looked up
with the card code (or the 10-digit social insurance number), the holder's name and birth date.
The answer carries `maKetQua` (result code), `maThe`, `maDKBD`, `gtTheTu`/`gtTheDen`, `maKV`,
`ngayDu5Nam` (dates `dd/mm/yyyy`). The real portal is not reachable from here; the local simulator
(`insurance.simulator`) answers the same requests.

UNCONFIRMED: the result codes below and their meanings come from public HIS integrations, not
from the portal's own documentation; check them against it (and the exact paths, field names and
date formats) before going live. Unknown codes are treated like a malformed answer: nothing is
concluded, the lookup is kept for a person to look at.

Transient failures (timeout, connection error, HTTP 5xx) are retried a bounded number of times with
exponential backoff; every call leaves one CardLookup row (outcome, portal code, duration). Names
and birth dates are sent to the portal but never logged or stored.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime

import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from insurance.models import CardLookup

logger = logging.getLogger(__name__)

TOKEN_PATH = "/api/token/take"  # noqa: S105 - a path, not a secret
CARD_LOOKUP_PATH = "/api/egw/KQNhanLichSuKCB2024"

# Outcomes stored in CardLookup.outcome.
VALID = "valid"
INVALID = "invalid"
WRONG_PERSON = "wrong_person"
EXPIRED = "expired"
NOT_IN_PORTAL = "not_in_portal"  # the portal does not hold this card (army, police): paper dates
UNREACHABLE = "unreachable"  # down, timed out, 5xx after the retries: re-check later
REJECTED = "rejected"  # the portal refused our request (account, parameters): tell IT
MALFORMED = "malformed"  # not the answer we expect: nothing concluded, a person looks at it


@dataclass(frozen=True)
class PortalCode:
    """What a portal result code means for reception."""

    outcome: str
    message: str  # Vietnamese msgid (translated when used)


# UNCONFIRMED (see the module docstring): verify against the portal's documentation.
PORTAL_CODES: dict[str, PortalCode] = {
    "000": PortalCode(VALID, gettext_lazy("Cổng BHXH xác nhận thông tin thẻ chính xác.")),
    "001": PortalCode(
        NOT_IN_PORTAL,
        gettext_lazy(
            "Thẻ do BHXH Bộ Quốc phòng quản lý: cổng không có dữ liệu, kiểm tra thẻ giấy và "
            "giấy tờ tùy thân."
        ),
    ),
    "002": PortalCode(
        NOT_IN_PORTAL,
        gettext_lazy(
            "Thẻ do BHXH Bộ Công an quản lý: cổng không có dữ liệu, kiểm tra thẻ giấy và "
            "giấy tờ tùy thân."
        ),
    ),
    "003": PortalCode(
        INVALID,
        gettext_lazy("Thẻ cũ đã hết giá trị, người bệnh đã được cấp thẻ mới: nhập mã thẻ mới."),
    ),
    "004": PortalCode(
        VALID,
        gettext_lazy("Thẻ còn giá trị nhưng người bệnh đã được cấp thẻ mới: nên dùng thẻ mới."),
    ),
    "010": PortalCode(EXPIRED, gettext_lazy("Cổng BHXH báo thẻ đã hết giá trị sử dụng.")),
    "050": PortalCode(INVALID, gettext_lazy("Cổng BHXH không tìm thấy thông tin thẻ này.")),
    "051": PortalCode(INVALID, gettext_lazy("Cổng BHXH báo mã thẻ không đúng.")),
    "052": PortalCode(
        INVALID, gettext_lazy("Cổng BHXH báo mã tỉnh cấp thẻ (ký tự 4–5) không đúng.")
    ),
    "053": PortalCode(
        INVALID, gettext_lazy("Cổng BHXH báo mã quyền lợi (ký tự thứ 3) không đúng.")
    ),
    "060": PortalCode(
        WRONG_PERSON,
        gettext_lazy("Thẻ không đúng người: họ tên trên thẻ khác họ tên người bệnh."),
    ),
    "061": PortalCode(
        WRONG_PERSON,
        gettext_lazy(
            "Họ tên người bệnh khác họ tên trên thẻ (đúng ký tự đầu): kiểm tra lại cách viết."
        ),
    ),
    "070": PortalCode(
        WRONG_PERSON,
        gettext_lazy("Thẻ không đúng người: ngày sinh trên thẻ khác ngày sinh người bệnh."),
    ),
    "100": PortalCode(UNREACHABLE, gettext_lazy("Cổng BHXH lỗi khi lấy dữ liệu thẻ.")),
    "101": PortalCode(UNREACHABLE, gettext_lazy("Cổng BHXH đang lỗi máy chủ.")),
    "110": PortalCode(INVALID, gettext_lazy("Cổng BHXH báo thẻ đã bị thu hồi.")),
    "120": PortalCode(INVALID, gettext_lazy("Cổng BHXH báo thẻ đã bị báo giảm.")),
    "205": PortalCode(
        REJECTED,
        gettext_lazy(
            "Cổng BHXH từ chối yêu cầu tra cứu (sai định dạng tham số): báo bộ phận CNTT."
        ),
    ),
    "401": PortalCode(
        REJECTED,
        gettext_lazy("Tài khoản cổng BHXH của cơ sở không hợp lệ: báo bộ phận CNTT."),
    ),
}

# Codes whose answer must carry the card's data.
_CODES_WITH_CARD = {"000", "004", "010"}
# The only keys kept from an answer: the card's data, never the holder's name, birth date or address.
_KEPT_KEYS = (
    "maKetQua",
    "maThe",
    "maDKBD",
    "gtTheTu",
    "gtTheDen",
    "maKV",
    "ngayDu5Nam",
    "ngayMienCCT",
    "maTheMoi",
    "gtTheTuMoi",
    "gtTheDenMoi",
    "simulator",
)


class MalformedAnswer(Exception):
    """The portal answered something we cannot read (not JSON, fields missing or wrong)."""


class _Transient(Exception):
    """A failure worth another attempt (`portal_code` when the portal itself said it failed)."""

    def __init__(self, reason: str, portal_code: str = "") -> None:
        super().__init__(reason)
        self.portal_code = portal_code


@dataclass
class PortalAnswer:
    """What one lookup (all its attempts) came to."""

    outcome: str
    message_vi: str
    portal_code: str = ""
    card_code: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    registered_facility_code: str = ""
    region_code: str = ""
    five_years_date: date | None = None
    copay_exempt_from: date | None = None
    attempts: int = 0
    duration_ms: int = 0
    response: dict = field(default_factory=dict)
    lookup_id: int | None = None


def parse_portal_date(value) -> date | None:
    """`dd/mm/yyyy` (the portal) or `yyyymmdd` (QĐ 130); '' -> None; anything else is malformed."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MalformedAnswer("date is not a string")
    for fmt in ("%d/%m/%Y", "%Y%m%d"):
        try:
            return datetime.strptime(value.strip(), fmt).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    raise MalformedAnswer("unreadable date")


def format_portal_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _kept(payload: dict) -> dict:
    kept = {k: payload[k] for k in _KEPT_KEYS if k in payload and not isinstance(payload[k], dict)}
    kept["_keys"] = sorted(str(k) for k in payload)[:40]
    return kept


def interpret_answer(payload) -> PortalAnswer:
    """Turn the portal's JSON into a PortalAnswer; raise MalformedAnswer when it cannot be read."""
    if not isinstance(payload, dict):
        raise MalformedAnswer("answer is not an object")
    code = payload.get("maKetQua")
    if not isinstance(code, str) or code not in PORTAL_CODES:
        raise MalformedAnswer("missing or unknown result code")
    meaning = PORTAL_CODES[code]
    answer = PortalAnswer(
        outcome=meaning.outcome, message_vi=str(meaning.message), portal_code=code
    )
    if code in _CODES_WITH_CARD:
        missing = [k for k in ("maThe", "gtTheTu", "gtTheDen") if k not in payload]
        if missing:
            raise MalformedAnswer("card fields missing")
        answer.card_code = str(payload["maThe"] or "").strip().upper()
        answer.valid_from = parse_portal_date(payload.get("gtTheTu"))
        answer.valid_to = parse_portal_date(payload.get("gtTheDen"))
        if answer.valid_from is None:
            raise MalformedAnswer("card start date missing")
        if answer.valid_to and answer.valid_to < answer.valid_from:
            raise MalformedAnswer("card dates reversed")
        answer.registered_facility_code = str(payload.get("maDKBD") or "").strip().upper()
        answer.region_code = str(payload.get("maKV") or "").strip().upper()[:2]
        answer.five_years_date = parse_portal_date(payload.get("ngayDu5Nam"))
        answer.copay_exempt_from = parse_portal_date(payload.get("ngayMienCCT"))
    return answer


class InsurerPortalClient:
    """Talks to the portal (or its simulator) at `base_url`.

    `timeout` bounds each attempt (connect and read, seconds); `retries` extra attempts follow a
    transient failure, `backoff` seconds before the first retry, doubling each time. The worst case
    of one lookup is therefore about (retries + 1) × 2 × timeout plus the backoff sum.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        username: str = "",
        password: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.username = username
        self.password = password
        self._token: dict | None = None
        self._lock = threading.Lock()

    # --- one lookup, logged ------------------------------------------------------------------

    def card_lookup(
        self,
        *,
        card_code: str,
        full_name: str = "",
        birth_date: date | None = None,
        birth_year: int | None = None,
        patient=None,
        card=None,
        actor=None,
    ) -> PortalAnswer:
        """Look a card up; always returns an answer (never raises on the portal's failures) and
        records the call in CardLookup."""
        body = {
            "maThe": card_code,
            "hoTen": full_name,
            "ngaySinh": format_portal_date(birth_date) or (str(birth_year) if birth_year else ""),
        }
        started = time.monotonic()
        attempts = 0
        answer: PortalAnswer | None = None
        while answer is None:
            attempts += 1
            try:
                answer = self._attempt(body)
            except _Transient as exc:
                if attempts > self.retries:
                    answer = PortalAnswer(
                        outcome=UNREACHABLE,
                        message_vi=_("Cổng BHXH không phản hồi (%(reason)s).")
                        % {"reason": str(exc)},
                        portal_code=exc.portal_code,
                        response={"_error": str(exc)},
                    )
                else:
                    time.sleep(self.backoff * (2 ** (attempts - 1)))
            except MalformedAnswer as exc:
                answer = PortalAnswer(
                    outcome=MALFORMED,
                    message_vi=_("Cổng BHXH trả lời không đúng định dạng."),
                    response={"_error": str(exc), **getattr(exc, "kept", {})},
                )
        answer.attempts = attempts
        answer.duration_ms = int((time.monotonic() - started) * 1000)
        answer.lookup_id = self._log(
            answer, card_code=card_code, patient=patient, card=card, actor=actor
        )
        if answer.outcome == MALFORMED:
            logger.warning("insurer portal: malformed answer, card lookup id=%s", answer.lookup_id)
        elif answer.outcome == UNREACHABLE:
            logger.warning(
                "insurer portal unreachable after %s attempts, card lookup id=%s",
                attempts,
                answer.lookup_id,
            )
        return answer

    def _log(self, answer: PortalAnswer, *, card_code, patient, card, actor) -> int:
        response = dict(answer.response)
        response["attempts"] = answer.attempts
        row = CardLookup.objects.create(
            card=card,
            patient=patient,
            requested_code=(card_code or "")[:15],
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            outcome=answer.outcome,
            portal_code=answer.portal_code,
            message=answer.message_vi[:500],
            duration_ms=answer.duration_ms,
            response=response,
        )
        return row.pk

    # --- HTTP --------------------------------------------------------------------------------

    def _post(self, path: str, *, json: dict, params: dict | None = None) -> requests.Response:
        try:
            response = requests.post(
                self.base_url + path,
                json=json,
                params=params,
                timeout=(self.timeout, self.timeout),
                headers={"Accept": "application/json"},
            )
        except requests.Timeout:
            raise _Transient("timeout") from None
        except requests.ConnectionError:
            raise _Transient("connection") from None
        if response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}")
        return response

    @staticmethod
    def _json(response: requests.Response):
        try:
            return response.json()
        except ValueError:
            exc = MalformedAnswer("not JSON")
            exc.kept = {  # type: ignore[attr-defined]
                "_status": response.status_code,
                "_content_type": response.headers.get("Content-Type", "")[:100],
                "_length": len(response.content),
            }
            raise exc from None

    def _take_token(self) -> dict:
        with self._lock:
            if self._token is not None:
                return self._token
        response = self._post(
            TOKEN_PATH, json={"username": self.username, "password": self.password}
        )
        payload = self._json(response)
        key = payload.get("APIKey") if isinstance(payload, dict) else None
        if response.status_code in (401, 403) or (
            isinstance(payload, dict) and payload.get("maKetQua") == "401"
        ):
            raise _Rejected("401")
        if not isinstance(key, dict) or not key.get("access_token"):
            raise MalformedAnswer("token answer without APIKey")
        token = {
            "token": str(key["access_token"]),
            "id_token": str(key.get("id_token") or ""),
            "username": self.username,
        }
        with self._lock:
            self._token = token
        return token

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _attempt(self, body: dict) -> PortalAnswer:
        try:
            for _try in range(2):  # an expired token is taken again once
                token = self._take_token()
                response = self._post(CARD_LOOKUP_PATH, json=body, params=token)
                if response.status_code in (401, 403):
                    self._forget_token()
                    continue
                break
            else:
                raise _Rejected("401")
        except _Rejected as exc:
            meaning = PORTAL_CODES[exc.code]
            return PortalAnswer(
                outcome=meaning.outcome,
                message_vi=str(meaning.message),
                portal_code=exc.code,
                response={"maKetQua": exc.code},
            )
        payload = self._json(response)
        try:
            answer = interpret_answer(payload)
        except MalformedAnswer as exc:
            exc.kept = _kept(payload) if isinstance(payload, dict) else {}  # type: ignore[attr-defined]
            raise
        answer.response = _kept(payload)
        if answer.outcome == UNREACHABLE:  # the portal says it failed (100/101): worth a retry
            raise _Transient(f"code {answer.portal_code}", answer.portal_code)
        return answer


class _Rejected(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# --- claims: send one dossier's signed GIAMDINHHS file, ask for its answer ----------------------
#
# Modelled on the BHXH gateway's published web services (4210 generation: `guiHoSoGiamDinh4210`
# takes ONE XML file per request, query token/id_token/username/loaiHoSo=3/maTinh/maCSKCB, body the
# file's bytes as a JSON string (base64), answer {maKetQua, maGiaoDich}; `nhanChiTietLoiHS4210`
# gives the errors of a maGiaoDich as dsLoi[{maLoi, moTaLoi}]). UNCONFIRMED: the QĐ 3176 paths
# below (the brief only says the endpoints end in "QD3176"), the answer route and its fields
# (trangThai), the `Idempotency-Key` header and the lookup by MA_LK of a send whose receipt was
# lost. Check them against the portal's documentation before going live.

CLAIM_SEND_PATH = "/api/egw/guiHoSoGiamDinhQD3176"
CLAIM_ANSWER_PATH = "/api/egw/nhanKQGiamDinhHSQD3176"
CLAIM_FILE_KIND = "3"  # loaiHoSo 3 = hồ sơ KCB

# Answer states (trangThai) and what they mean here.
CLAIM_PROCESSING = "processing"  # DANG_XU_LY: received, not assessed yet
CLAIM_ACCEPTED = "accepted"  # CHAP_NHAN
CLAIM_REJECTED = "rejected"  # TU_CHOI, with dsLoi
CLAIM_UNKNOWN = "unknown"  # the portal holds no such submission (maKetQua 050)
_CLAIM_STATES = {
    "DANG_XU_LY": CLAIM_PROCESSING,
    "CHAP_NHAN": CLAIM_ACCEPTED,
    "TU_CHOI": CLAIM_REJECTED,
}
# maKetQua of the claim routes. 000 received / answered; 001 the same request was received
# before (a replay: same maGiaoDich); 050 no such submission; 201/202/204/206 the file was refused
# (permanent for this version of the dossier); 401 the account; 100/101/408/500 the portal failed.
CLAIM_OK_CODES = {"000", "001"}
CLAIM_NOT_FOUND = "050"
CLAIM_REFUSED_CODES = {"201", "202", "204", "205", "206"}
CLAIM_ACCOUNT_CODES = {"401"}
CLAIM_TRANSIENT_CODES = {"100", "101", "408", "500"}
RESPONSE_KEPT_CHARS = 20_000


@dataclass
class Exchange:
    """One HTTP exchange with the portal, for the exchange log (no envelope, no token)."""

    operation: str
    attempt: int = 1
    http_status: int | None = None
    portal_code: str = ""
    body: str = ""
    duration_ms: int = 0
    request: dict = field(default_factory=dict)


class ClaimPortalError(Exception):
    """A claim request that did not come to a usable answer; `exchange` says what happened."""

    def __init__(self, message: str, exchange: Exchange | None = None, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.code = code


class ClaimTransientError(ClaimPortalError):
    """Timeout, connection refused, HTTP 5xx, or the portal saying it failed: try again later."""


class ClaimRefusedError(ClaimPortalError):
    """The portal refused this dossier's file (bad XML, empty, MA_LK missing): permanent for it."""


class ClaimAccountError(ClaimPortalError):
    """The portal refused the facility's account (token): nothing can be sent until IT fixes it."""


class ClaimMalformedAnswer(ClaimPortalError):
    """The portal answered something unreadable (`partial` False) or a readable answer lacking
    what it must carry (`partial` True). Nothing may be concluded from it."""

    def __init__(self, message: str, exchange: Exchange | None = None, *, partial: bool) -> None:
        super().__init__(message, exchange)
        self.partial = partial


@dataclass
class ClaimReceipt:
    """The portal took the file: its transaction id (maGiaoDich)."""

    transaction_id: str
    replay: bool
    exchange: Exchange


@dataclass
class ClaimAnswer:
    """The portal's answer about one submission."""

    state: str  # CLAIM_PROCESSING / CLAIM_ACCEPTED / CLAIM_REJECTED / CLAIM_UNKNOWN
    transaction_id: str = ""
    claim_key: str = ""
    reasons: list[dict] = field(default_factory=list)  # [{"code", "message"}]
    exchange: Exchange | None = None


def _claim_code(payload) -> str:
    code = payload.get("maKetQua") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else ""


class ClaimPortalClient(InsurerPortalClient):
    """The portal client with the claim endpoints (same timeouts, token, error mapping).

    `claim_send` makes ONE attempt and raises ClaimTransientError on a transient failure: whether
    the file arrived is then unknown, so the caller asks `claim_answer` (by MA_LK and idempotency
    key) before sending it again; the Celery task does that with backoff. `claim_answer` is a read
    and retries transient failures itself (`retries`, `backoff`)."""

    def __init__(self, base_url: str, *, facility_code: str = "", province_code: str = "", **kw):
        super().__init__(base_url, **kw)
        self.facility_code = facility_code
        self.province_code = province_code

    # --- HTTP with the exchange recorded ---------------------------------------------------

    def _claim_post(
        self, path: str, *, exchange: Exchange, params: dict, json_body, headers: dict
    ) -> tuple[int, object]:
        """POST with a token; returns (HTTP status, parsed JSON); fills `exchange`."""
        started = time.monotonic()
        try:
            for _try in range(2):  # an expired token is taken again once
                try:
                    token = self._take_token()
                except _Rejected:
                    raise ClaimAccountError(
                        _("Tài khoản cổng BHXH của cơ sở không hợp lệ: báo bộ phận CNTT."),
                        exchange,
                        "401",
                    ) from None
                except MalformedAnswer as exc:
                    raise ClaimMalformedAnswer(
                        _("Cổng BHXH trả lời sai định dạng khi cấp token."), exchange, partial=False
                    ) from exc
                try:
                    response = requests.post(
                        self.base_url + path,
                        params={**params, **token},
                        json=json_body,
                        headers={"Accept": "application/json", **headers},
                        timeout=(self.timeout, self.timeout),
                    )
                except requests.Timeout:
                    raise ClaimTransientError(
                        _("Cổng BHXH không trả lời trong thời hạn."), exchange, "timeout"
                    ) from None
                except requests.ConnectionError:
                    raise ClaimTransientError(
                        _("Không kết nối được cổng BHXH."), exchange, "connection"
                    ) from None
                exchange.http_status = response.status_code
                exchange.body = response.text[:RESPONSE_KEPT_CHARS]
                if response.status_code in (401, 403):
                    self._forget_token()
                    continue
                break
            else:
                raise ClaimAccountError(
                    _("Tài khoản cổng BHXH của cơ sở không hợp lệ: báo bộ phận CNTT."),
                    exchange,
                    "401",
                )
        except _Transient as exc:  # taking the token timed out or got a 5xx
            raise ClaimTransientError(
                _("Cổng BHXH không phản hồi (%(reason)s).") % {"reason": str(exc)}, exchange
            ) from None
        finally:
            exchange.duration_ms = int((time.monotonic() - started) * 1000)
        if response.status_code >= 500:
            raise ClaimTransientError(
                _("Cổng BHXH lỗi máy chủ (HTTP %(status)s).") % {"status": response.status_code},
                exchange,
                str(response.status_code),
            )
        try:
            payload = response.json()
        except ValueError:
            raise ClaimMalformedAnswer(
                _("Cổng BHXH trả lời không phải JSON."), exchange, partial=False
            ) from None
        code = _claim_code(payload)
        exchange.portal_code = code[:20]
        if not code:
            raise ClaimMalformedAnswer(
                _("Cổng BHXH trả lời thiếu mã kết quả."), exchange, partial=False
            )
        if code in CLAIM_TRANSIENT_CODES:
            raise ClaimTransientError(
                _("Cổng BHXH báo lỗi xử lý (mã %(code)s).") % {"code": code}, exchange, code
            )
        if code in CLAIM_ACCOUNT_CODES:
            self._forget_token()
            raise ClaimAccountError(
                _("Tài khoản cổng BHXH của cơ sở không hợp lệ: báo bộ phận CNTT."), exchange, code
            )
        return response.status_code, payload

    def _base_params(self) -> dict:
        return {
            "username": self.username,
            "loaiHoSo": CLAIM_FILE_KIND,
            "maTinh": self.province_code,
            "maCSKCB": self.facility_code,
        }

    # --- the claim endpoints ---------------------------------------------------------------

    def claim_send(
        self, *, envelope: bytes, claim_key: str, idempotency_key: str, attempt: int = 1
    ) -> ClaimReceipt:
        """Send one dossier's signed GIAMDINHHS file; one attempt. Raises ClaimTransientError,
        ClaimRefusedError, ClaimAccountError or ClaimMalformedAnswer."""
        exchange = Exchange(
            operation="send",
            attempt=attempt,
            request={
                "path": CLAIM_SEND_PATH,
                "maLK": claim_key,
                "idempotency_key": idempotency_key,
                "bytes": len(envelope),
                "sha256": hashlib.sha256(envelope).hexdigest(),
            },
        )
        _status, payload = self._claim_post(
            CLAIM_SEND_PATH,
            exchange=exchange,
            params={**self._base_params(), "maLK": claim_key},
            json_body=base64.b64encode(envelope).decode("ascii"),
            headers={"Idempotency-Key": idempotency_key},
        )
        code = _claim_code(payload)
        if code in CLAIM_REFUSED_CODES:
            raise ClaimRefusedError(_errors_text(payload) or code, exchange, code)
        if code not in CLAIM_OK_CODES:
            raise ClaimMalformedAnswer(
                _("Cổng BHXH trả lời mã kết quả không rõ (%(code)s).") % {"code": code[:20]},
                exchange,
                partial=False,
            )
        transaction_id = payload.get("maGiaoDich")
        if not isinstance(transaction_id, str) or not transaction_id.strip():
            raise ClaimMalformedAnswer(
                _("Cổng BHXH báo đã nhận nhưng thiếu mã giao dịch."), exchange, partial=True
            )
        return ClaimReceipt(transaction_id.strip()[:100], code == "001", exchange)

    def claim_answer(
        self, *, claim_key: str, idempotency_key: str = "", transaction_id: str = ""
    ) -> ClaimAnswer:
        """The portal's answer about a submission (by maGiaoDich, else by MA_LK and idempotency
        key). Retries transient failures; raises the last ClaimTransientError, or ClaimAccountError
        / ClaimMalformedAnswer (the exchange of the last attempt is on the exception)."""
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._claim_answer_once(
                    claim_key=claim_key,
                    idempotency_key=idempotency_key,
                    transaction_id=transaction_id,
                    attempt=attempts,
                )
            except ClaimTransientError:
                if attempts > self.retries:
                    raise
                time.sleep(self.backoff * (2 ** (attempts - 1)))

    def _claim_answer_once(
        self, *, claim_key: str, idempotency_key: str, transaction_id: str, attempt: int
    ) -> ClaimAnswer:
        exchange = Exchange(
            operation="status",
            attempt=attempt,
            request={
                "path": CLAIM_ANSWER_PATH,
                "maLK": claim_key,
                "maGiaoDich": transaction_id,
                "idempotency_key": idempotency_key,
            },
        )
        params = {**self._base_params(), "maLK": claim_key}
        if transaction_id:
            params["maGiaoDich"] = transaction_id
        _status, payload = self._claim_post(
            CLAIM_ANSWER_PATH,
            exchange=exchange,
            params=params,
            json_body=None,
            headers={"Idempotency-Key": idempotency_key} if idempotency_key else {},
        )
        code = _claim_code(payload)
        if code == CLAIM_NOT_FOUND:
            return ClaimAnswer(CLAIM_UNKNOWN, claim_key=claim_key, exchange=exchange)
        if code not in CLAIM_OK_CODES:
            raise ClaimMalformedAnswer(
                _("Cổng BHXH trả lời mã kết quả không rõ (%(code)s).") % {"code": code[:20]},
                exchange,
                partial=False,
            )
        return _interpret_claim_answer(payload, claim_key, exchange)


def _errors_text(payload) -> str:
    errors = payload.get("dsLoi") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return str(payload.get("thongDiep") or "")[:500] if isinstance(payload, dict) else ""
    return "; ".join(
        f"{e.get('maLoi', '')}: {e.get('moTaLoi', '')}" for e in errors if isinstance(e, dict)
    )[:1000]


def _interpret_claim_answer(payload: dict, claim_key: str, exchange: Exchange) -> ClaimAnswer:
    """Check an answer carries what its state needs; ClaimMalformedAnswer(partial) otherwise."""

    def partial(message: str) -> ClaimMalformedAnswer:
        return ClaimMalformedAnswer(message, exchange, partial=True)

    raw_state = payload.get("trangThai")
    if not isinstance(raw_state, str) or raw_state not in _CLAIM_STATES:
        raise partial(_("Cổng BHXH trả lời thiếu hoặc sai trạng thái giám định."))
    answered_key = payload.get("maLK")
    if not isinstance(answered_key, str) or answered_key != claim_key:
        raise partial(_("Cổng BHXH trả lời thiếu MA_LK hoặc MA_LK không khớp hồ sơ đã hỏi."))
    transaction_id = payload.get("maGiaoDich")
    if not isinstance(transaction_id, str) or not transaction_id.strip():
        raise partial(_("Cổng BHXH trả lời thiếu mã giao dịch."))
    state = _CLAIM_STATES[raw_state]
    reasons: list[dict] = []
    if state == CLAIM_REJECTED:
        errors = payload.get("dsLoi")
        if not isinstance(errors, list) or not errors:
            raise partial(_("Cổng BHXH báo từ chối nhưng không nêu lý do."))
        for e in errors:
            if not isinstance(e, dict) or not str(e.get("moTaLoi") or "").strip():
                raise partial(_("Cổng BHXH báo từ chối với lý do không đọc được."))
            reasons.append(
                {"code": str(e.get("maLoi") or "")[:50], "message": str(e["moTaLoi"])[:1000]}
            )
    return ClaimAnswer(
        state,
        transaction_id=transaction_id.strip()[:100],
        claim_key=claim_key,
        reasons=reasons,
        exchange=exchange,
    )
