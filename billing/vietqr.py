"""VietQR payloads: the NAPAS flavour of the EMVCo merchant-presented QR (domain brief §6.2).

A payload is a run of TLV data objects (2-character ID, 2-digit length, value), ending with the
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) of everything before it,
"6304" included, as 4 uppercase hex digits:

    00 "01"                 payload format
    01 "12" dynamic / "11" static (one-off amount vs a reusable code)
    38 account:  00 "A000000727" (NAPAS GUID)
                 01 {00 bank BIN (6 digits), 01 account or card number}
                 02 "QRIBFTTA" (transfer to an account) / "QRIBFTTC" (to a card)
    53 "704"                VND
    54 amount               integer VND; left out when there is no amount
    58 "VN"
    62 additional data: 01 bill number (optional), 08 purpose (the transfer text)
    63 CRC

Text limits (what we put in, so banks accept it):
- The purpose is the transfer text the payer's bank sends on. Banks accept plain ASCII, so
  `transfer_text()` removes Vietnamese diacritics (Unicode NFD, combining marks dropped, đ/Đ -> d/D),
  keeps letters, digits and spaces (anything else becomes a space, runs of spaces collapse), and cuts
  the result to 25 characters, the EMVCo limit of a sub-field of ID 62 (also the shortest limit
  banks apply). `vietqr_for_invoice()` puts the invoice reference FIRST so the cut never loses it.
- The bill number keeps letters and digits only, at most 25.
- Any value longer than 99 characters cannot be encoded (2-digit length) and is refused.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
SERVICE_TO_CARD = "QRIBFTTC"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
TEXT_MAX = 25  # EMVCo: each sub-field of ID 62 is ans..25
AMOUNT_MAX_DIGITS = 13  # EMVCo: ID 54 is ans..13

_NOT_ALNUM_SPACE = re.compile(r"[^A-Za-z0-9 ]+")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_SPACES = re.compile(r" {2,}")
_BIN = re.compile(r"\d{6}")
_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,19}")


def crc16_ccitt_false(data: bytes | str) -> str:
    """CRC-16/CCITT-FALSE as 4 uppercase hex digits ("123456789" -> "29B1")."""
    if isinstance(data, str):
        data = data.encode("ascii")
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return f"{crc:04X}"


def tlv(tag: str, value: str) -> str:
    """One data object: ID, 2-digit length, value. Longer than 99 characters is refused."""
    if len(tag) != 2 or not tag.isdigit():
        raise ValueError(f"VietQR: bad tag {tag!r}")
    if len(value) > 99:
        raise ValueError(f"VietQR: value of tag {tag} is {len(value)} characters (max 99)")
    return f"{tag}{len(value):02d}{value}"


def ascii_fold(value: str) -> str:
    """Vietnamese text without diacritics: 'Thanh toán viện phí Đà Nẵng' -> 'Thanh toan vien phi
    Da Nang'. đ/Đ are letters of their own (no decomposition), so they are mapped by hand."""
    value = unicodedata.normalize("NFC", value).replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def transfer_text(value: str, *, limit: int = TEXT_MAX) -> str:
    """The purpose as banks accept it: ASCII letters, digits, single spaces, at most `limit`."""
    folded = _NOT_ALNUM_SPACE.sub(" ", ascii_fold(value))
    return _SPACES.sub(" ", folded).strip()[:limit].rstrip()


def bill_reference(value: str) -> str:
    """An invoice number as a bill number / transfer reference: letters and digits only
    ('HĐ-2026/000123' -> 'HD2026000123'), at most 25 characters."""
    return _NOT_ALNUM.sub("", ascii_fold(value))[:TEXT_MAX]


def _amount_text(amount: Decimal | int) -> str:
    if isinstance(amount, float | bool):
        raise TypeError("VietQR: the amount must be a Decimal or an int, never a float")
    value = Decimal(amount)
    if value <= 0:
        raise ValueError("VietQR: the amount must be positive")
    if value != value.to_integral_value():
        raise ValueError("VietQR: the amount must be a whole number of đồng")
    digits = f"{value.to_integral_value():f}"
    if len(digits) > AMOUNT_MAX_DIGITS:
        raise ValueError("VietQR: the amount is too large")
    return digits


def vietqr_payload(
    *,
    bank_bin: str,
    account: str,
    amount: Decimal | int | None,
    purpose: str,
    to_card: bool = False,
    dynamic: bool = True,
    bill_number: str = "",
) -> str:
    """The EMVCo/NAPAS payload to transfer `amount` VND to `account` at bank `bank_bin`.

    `purpose` is folded to plain ASCII and cut to 25 characters (see the module docstring);
    `bill_number` (sub-tag 62.01) is optional. The amount must be a whole, positive number of đồng
    (round it with `ehealth.core.money` first); None leaves tag 54 out.
    """
    if not _BIN.fullmatch(bank_bin or ""):
        raise ValueError("VietQR: the bank BIN must be 6 digits")
    if not _ACCOUNT.fullmatch(account or ""):
        raise ValueError("VietQR: the account must be 1 to 19 letters or digits")
    beneficiary = tlv("00", bank_bin) + tlv("01", account)
    merchant = (
        tlv("00", NAPAS_GUID)
        + tlv("01", beneficiary)
        + tlv("02", SERVICE_TO_CARD if to_card else SERVICE_TO_ACCOUNT)
    )
    parts = [
        tlv("00", "01"),
        tlv("01", "12" if dynamic else "11"),
        tlv("38", merchant),
        tlv("53", CURRENCY_VND),
    ]
    if amount is not None:
        parts.append(tlv("54", _amount_text(amount)))
    parts.append(tlv("58", COUNTRY_VN))
    additional = ""
    bill = bill_reference(bill_number) if bill_number else ""
    if bill:
        additional += tlv("01", bill)
    text = transfer_text(purpose or "")
    if text:
        additional += tlv("08", text)
    if additional:
        parts.append(tlv("62", additional))
    body = "".join(parts) + "6304"
    return body + crc16_ccitt_false(body)


def vietqr_for_invoice(
    *,
    bank_bin: str,
    account: str,
    invoice_number: str,
    amount: Decimal | int | None,
    to_card: bool = False,
    label: str = "TT",
) -> str:
    """A dynamic payload paying an invoice: the invoice reference is both the bill number and
    the start of the transfer text ('HD2026000123 TT'), so it reaches the facility's statement
    whatever the bank shows."""
    reference = bill_reference(invoice_number)
    if not reference:
        raise ValueError("VietQR: the invoice number has no letters or digits")
    return vietqr_payload(
        bank_bin=bank_bin,
        account=account,
        amount=amount,
        purpose=f"{reference} {label}",
        to_card=to_card,
        dynamic=True,
        bill_number=reference,
    )


def vietqr_parse(payload: str) -> dict[str, str]:
    """Top-level data objects of a payload by ID (nested templates left as text); raises
    ValueError on a truncated payload or a wrong CRC. For tests and for checking scanned codes."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise ValueError("VietQR: no CRC at the end")
    if crc16_ccitt_false(payload[:-4]) != payload[-4:].upper():
        raise ValueError("VietQR: wrong CRC")
    return tlv_parse(payload)


def tlv_parse(value: str) -> dict[str, str]:
    """Split a run of TLV data objects into {ID: value}."""
    out: dict[str, str] = {}
    i = 0
    while i < len(value):
        if i + 4 > len(value) or not value[i + 2 : i + 4].isdigit():
            raise ValueError("VietQR: malformed data object")
        tag, length = value[i : i + 2], int(value[i + 2 : i + 4])
        if i + 4 + length > len(value):
            raise ValueError("VietQR: truncated data object")
        out[tag] = value[i + 4 : i + 4 + length]
        i += 4 + length
    return out
