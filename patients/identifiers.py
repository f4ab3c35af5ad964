"""Checks (and, for demo data and tests, generators) of Vietnamese personal identifiers.

- CCCD / personal identification number (số định danh cá nhân), 12 digits (Thông tư 59/2021/TT-BCA):
  3 digits birth-registration province code (the 63 pre-2025 codes; numbers were not reissued after
  the 2025 merger), 1 digit century and sex, 2 digits year of birth, 6 digits serial.
- BHYT card code, 15 characters (domain brief section 1.1): 2-letter beneficiary group, benefit-level
  digit 1–5, 2-digit province of the issuing BHXH office, 10-digit social insurance number.
- Social insurance number (mã số BHXH), 10 digits.
- Passport: Vietnamese passports are one letter and 7 digits; foreign ones vary (5–20 letters/digits).

Error messages are Vietnamese and name the rule; each ValidationError carries a stable `code`.
"""

from __future__ import annotations

import random
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Birth-registration province codes used in CCCD numbers (63 provinces before 1 July 2025).
CCCD_PROVINCE_CODES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 "
    "036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 "
    "074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)

# Century/sex digit: (first year of the century, sex) with "1" male and "2" female (GIOI_TINH).
_CENTURY_SEX = {
    "0": (1900, "1"), "1": (1900, "2"),
    "2": (2000, "1"), "3": (2000, "2"),
    "4": (2100, "1"), "5": (2100, "2"),
    "6": (2200, "1"), "7": (2200, "2"),
    "8": (1800, "1"), "9": (1800, "2"),
}  # fmt: skip

# Beneficiary group codes (domain brief 1.1; the group -> benefit digit table is UNCONFIRMED, so
# only membership is checked here, never the pairing).
BHYT_GROUP_CODES = frozenset(
    "CC TE CK CB KC HN DT DK XD BT TS HT TC CN DN HX CH NN TK HC XK TB NO CT XB TN CS XN MS HD TQ "
    "TA TY HG LS PV HS SV GB GD QN CA CY LH".split()
)

# Province codes of issuing BHXH offices: the 2-digit pre-2025 province codes, plus 97 (BHXH of the
# Ministry of Defence) and 98 (BHXH of the People's Public Security). UNCONFIRMED: 97/98 come from
# card samples, not from QĐ 1351; kept here as the one place to change.
BHYT_PROVINCE_CODES = frozenset({c[1:] for c in CCCD_PROVINCE_CODES} | {"97", "98"})

_CCCD_RE = re.compile(r"^\d{12}$")
_BHYT_RE = re.compile(r"^([A-Z]{2})([1-5])(\d{2})(\d{10})$")
_SI_RE = re.compile(r"^\d{10}$")
_VN_PASSPORT_RE = re.compile(r"^[A-Z]\d{7}$")
_PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,20}$")


def normalize(value: str) -> str:
    """Strip blanks and separators staff type by habit; upper-case letters."""
    return re.sub(r"[\s.\-]", "", value or "").upper()


def validate_cccd(value: str, *, sex: str | None = None, birth_year: int | None = None) -> str:
    """Return the normalised CCCD, or raise ValidationError naming the broken rule."""
    value = normalize(value)
    if not _CCCD_RE.match(value):
        raise ValidationError(_("Số CCCD phải gồm đúng 12 chữ số."), code="cccd_format")
    if value[:3] not in CCCD_PROVINCE_CODES:
        raise ValidationError(
            _(
                "Số CCCD không hợp lệ: 3 chữ số đầu (%(code)s) không phải mã tỉnh nơi đăng ký khai sinh."
            ),
            code="cccd_province",
            params={"code": value[:3]},
        )
    century, card_sex = _CENTURY_SEX[value[3]]
    year = century + int(value[4:6])
    if sex in ("1", "2") and card_sex != sex:
        raise ValidationError(
            _("Số CCCD không khớp giới tính: chữ số thứ 4 (%(digit)s) là mã của giới tính khác."),
            code="cccd_sex",
            params={"digit": value[3]},
        )
    if birth_year is not None and year != birth_year:
        raise ValidationError(
            _("Số CCCD không khớp năm sinh: số CCCD ứng với năm sinh %(year)s."),
            code="cccd_birth_year",
            params={"year": year},
        )
    return value


def validate_bhyt_card(value: str) -> str:
    """Return the normalised 15-character card code, or raise ValidationError naming the rule."""
    value = normalize(value)
    m = _BHYT_RE.match(value)
    if not m:
        raise ValidationError(
            _(
                "Mã thẻ BHYT phải gồm 15 ký tự: 2 chữ cái mã đối tượng, 1 chữ số mức hưởng (1–5), "
                "2 chữ số mã tỉnh và 10 chữ số mã số BHXH."
            ),
            code="bhyt_format",
        )
    group, _level, province, _si = m.groups()
    if group not in BHYT_GROUP_CODES:
        raise ValidationError(
            _("Mã thẻ BHYT không hợp lệ: mã đối tượng %(group)s không có trong danh mục."),
            code="bhyt_group",
            params={"group": group},
        )
    if province not in BHYT_PROVINCE_CODES:
        raise ValidationError(
            _("Mã thẻ BHYT không hợp lệ: mã tỉnh %(province)s (ký tự 4–5) không tồn tại."),
            code="bhyt_province",
            params={"province": province},
        )
    return value


def validate_social_insurance_number(value: str) -> str:
    value = normalize(value)
    if not _SI_RE.match(value):
        raise ValidationError(_("Mã số BHXH phải gồm đúng 10 chữ số."), code="bhxh_format")
    return value


def validate_passport(value: str) -> str:
    value = normalize(value)
    if not _PASSPORT_RE.match(value):
        raise ValidationError(
            _(
                "Số hộ chiếu gồm 5–20 chữ cái in hoa hoặc chữ số (hộ chiếu Việt Nam: 1 chữ cái và 7 chữ số)."
            ),
            code="passport_format",
        )
    return value


def social_insurance_from_card(card: str) -> str:
    """Characters 6–15 of a (valid) card code: the holder's social insurance number."""
    return card[5:15]


def benefit_digit_from_card(card: str) -> int:
    return int(card[2])


# --- Generators for demo data and tests (synthetic identifiers that pass the checks) ---------


def generate_cccd(rng: random.Random, *, sex: str, birth_year: int, province: str = "048") -> str:
    century = (birth_year // 100) * 100
    digit = next(
        d
        for d, (c, s) in _CENTURY_SEX.items()
        if c == century and s == (sex if sex in ("1", "2") else "1")
    )
    return f"{province}{digit}{birth_year % 100:02d}{rng.randrange(10**6):06d}"


def generate_social_insurance_number(rng: random.Random, *, province: str = "48") -> str:
    return f"{province}{rng.randrange(10**8):08d}"


def generate_bhyt_card(
    rng: random.Random,
    *,
    group: str = "DN",
    level: int = 4,
    province: str = "48",
    si_number: str | None = None,
) -> str:
    si = si_number or generate_social_insurance_number(rng, province=province)
    return f"{group}{level}{province}{si}"
