"""Text normalisation shared by registration, search and duplicate scoring.

`fold` must agree with the SQL expression `f_unaccent(lower(full_name))` that the trigram index is
built on, so that a query folded here matches the indexed text.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# Vietnamese numbers since the 2018 renumbering: mobile 0 + 9 digits (03, 05, 07, 08, 09),
# landline 0 + 2-digit area code (20–29) + 8 digits.
_MOBILE_RE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE_RE = re.compile(r"^02\d{9}$")


def clean_text(value: str | None) -> str:
    """NFC, trimmed, runs of blanks collapsed to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value or "")).strip()


def fold(value: str | None) -> str:
    """Lower case without diacritics: "Nguyễn Văn Đạt" -> "nguyen van dat"."""
    text = unicodedata.normalize("NFD", clean_text(value).lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return text.replace("đ", "d").replace("Đ", "d")


def name_words(value: str | None) -> list[str]:
    """The words of a folded name query: letters and digits only (safe inside a regex)."""
    return re.findall(r"[a-z0-9]+", fold(value))


def normalize_phone(value: str | None) -> str:
    """Digits only, with a leading 0 instead of +84/84; '' when empty."""
    digits = _PHONE_SEPARATORS.sub("", value or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits


def is_valid_phone(value: str) -> bool:
    """True for a normalised Vietnamese mobile or landline number."""
    return bool(_MOBILE_RE.match(value) or _LANDLINE_RE.match(value))
