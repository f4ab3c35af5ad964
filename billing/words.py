"""Amounts in Vietnamese words, as written on receipts ("Bằng chữ: Một trăm hai mươi nghìn đồng").

Reading rules (standard written Vietnamese, as accounting forms print it):
- Digits: không, một, hai, ba, bốn, năm, sáu, bảy, tám, chín.
- Tens: 10-19 are "mười ..." (11 "mười một", 14 "mười bốn", 15 "mười lăm"); 20-99 are
  "<digit> mươi ..." with three spoken forms of the unit: 1 -> "mốt" (21 "hai mươi mốt"),
  5 -> "lăm" (25 "hai mươi lăm"), 4 -> "tư" (24 "hai mươi tư"; "hai mươi bốn" is also correct,
  pass `four="bốn"`). After "mười" and "linh" the plain forms stay: "mười một", "linh bốn".
- A zero tens digit before a unit is read "linh" (105 "một trăm linh năm"), the northern form used
  on official forms and the default; `linh="lẻ"` gives the southern "một trăm lẻ năm".
- Groups of three digits take "nghìn" (or "ngàn", `thousand="ngàn"`), "triệu", "tỷ"; above a
  thousand billion the scale repeats ("một nghìn tỷ", "một tỷ tỷ"). All-zero groups are not read
  (1,000,000 "một triệu"); a group after the first is read in full, hundreds included, so a zero
  hundreds digit is spoken: 1,005 "một nghìn không trăm linh năm", 2,000,000,005 "hai tỷ không trăm
  linh năm".
- First letter capitalised, "đồng" appended. Decimal or int only (a float is refused), never
  negative. Amounts are whole đồng in practice; a fraction (after dropping trailing zeros) is read
  after "phẩy" ("mười hai phẩy năm đồng") rather than rounded here: rounding lives in
  `ehealth.core.money`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
BILLION = 10**9


def _tens_units(tens: int, units: int, *, linh: str, four: str, in_full: bool) -> list[str]:
    """The last two digits of a group (`in_full`: a hundreds digit was read before them)."""
    if tens == 0:
        if units == 0:
            return []
        return [linh, DIGITS[units]] if in_full else [DIGITS[units]]
    words = ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if units == 1:
        words.append("mốt" if tens >= 2 else "một")
    elif units == 4:
        words.append(four if tens >= 2 else "bốn")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _group(n: int, *, full: bool, linh: str, four: str) -> list[str]:
    """Words of a number 0..999. `full` reads the hundreds even when zero ("không trăm ...")."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    words += _tens_units(tens, units, linh=linh, four=four, in_full=bool(words))
    return words


def _below_billion(n: int, *, leading: bool, linh: str, four: str, thousand: str) -> list[str]:
    words: list[str] = []
    for value, unit in (
        (n // 1_000_000, "triệu"),
        (n // 1000 % 1000, thousand),
        (n % 1000, ""),
    ):
        if value == 0:
            continue
        words += _group(value, full=not (leading and not words), linh=linh, four=four)
        if unit:
            words.append(unit)
    return words


def _integer_words(n: int, *, leading: bool, linh: str, four: str, thousand: str) -> list[str]:
    if n >= BILLION:
        billions, rest = divmod(n, BILLION)
        words = _integer_words(billions, leading=leading, linh=linh, four=four, thousand=thousand)
        words.append("tỷ")
        if rest:
            words += _integer_words(rest, leading=False, linh=linh, four=four, thousand=thousand)
        return words
    return _below_billion(n, leading=leading, linh=linh, four=four, thousand=thousand)


def number_in_words_vi(
    n: int, *, linh: str = "linh", four: str = "tư", thousand: str = "nghìn"
) -> str:
    """A non-negative integer in Vietnamese words, lower case ("một nghìn không trăm linh năm")."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("an int is required")
    if n < 0:
        raise ValueError("negative number")
    if n == 0:
        return DIGITS[0]
    return " ".join(_integer_words(n, leading=True, linh=linh, four=four, thousand=thousand))


def amount_in_words_vi(
    amount: Decimal | int,
    *,
    linh: str = "linh",
    four: str = "tư",
    thousand: str = "nghìn",
    currency: str = "đồng",
) -> str:
    """'Một trăm hai mươi nghìn đồng' for 120000 (see the module docstring for the rules)."""
    if isinstance(amount, float | bool) or not isinstance(amount, Decimal | int):
        raise TypeError("the amount must be a Decimal or an int")
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:  # pragma: no cover - Decimal/int always convert
        raise ValueError("not a number") from exc
    if not value.is_finite():
        raise ValueError("not a finite amount")
    if value < 0:
        raise ValueError("negative amount")
    whole = int(value)
    style = {"linh": linh, "four": four, "thousand": thousand}
    text = number_in_words_vi(whole, **style)
    fraction = value - whole
    if fraction:
        digits = format(fraction.normalize(), "f").split(".")[1]
        if digits.startswith("0"):
            spoken = " ".join(DIGITS[int(d)] for d in digits)
        else:
            spoken = number_in_words_vi(int(digits), **style)
        text = f"{text} phẩy {spoken}"
    if currency:
        text = f"{text} {currency}"
    return text[0].upper() + text[1:]
