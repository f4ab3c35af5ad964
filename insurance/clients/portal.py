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
