"""The 54 ethnic groups of Viet Nam with their 2-digit codes, for the MA_DANTOC field (C2).

Codes follow the GSO list "Danh mục các thành phần dân tộc Việt Nam" (Quyết định 121-TCTK/PPCĐ,
02/3/1979), the list the health sector's forms have used: 01 Kinh, 04 Hoa, 06 Mường ... 53 Ơ Đu,
54 Rơ Măm. UNCONFIRMED: check every code against the BHYT MA_DANTOC table (QĐ 130/QĐ-BYT as
amended by QĐ 4750/QĐ-BYT) before production. The later GSO list (Quyết định 1019/QĐ-TCTK, 2008)
orders the groups differently (04 Mường, 06 Hoa, ... 54 Ơ Đu); if the insurer's table follows that
one, this module is the one place to change.
"""

from __future__ import annotations

ETHNICITIES: list[tuple[str, str]] = [
    ("01", "Kinh"),
    ("02", "Tày"),
    ("03", "Thái"),
    ("04", "Hoa"),
    ("05", "Khơ-me"),
    ("06", "Mường"),
    ("07", "Nùng"),
    ("08", "Mông"),
    ("09", "Dao"),
    ("10", "Gia-rai"),
    ("11", "Ngái"),
    ("12", "Ê-đê"),
    ("13", "Ba Na"),
    ("14", "Xơ-đăng"),
    ("15", "Sán Chay"),
    ("16", "Cơ-ho"),
    ("17", "Chăm"),
    ("18", "Sán Dìu"),
    ("19", "Hrê"),
    ("20", "Mnông"),
    ("21", "Ra-glai"),
    ("22", "Xtiêng"),
    ("23", "Bru-Vân Kiều"),
    ("24", "Thổ"),
    ("25", "Giáy"),
    ("26", "Cơ-tu"),
    ("27", "Gié-Triêng"),
    ("28", "Mạ"),
    ("29", "Khơ-mú"),
    ("30", "Co"),
    ("31", "Tà-ôi"),
    ("32", "Chơ-ro"),
    ("33", "Kháng"),
    ("34", "Xinh-mun"),
    ("35", "Hà Nhì"),
    ("36", "Chu-ru"),
    ("37", "Lào"),
    ("38", "La Chí"),
    ("39", "La Ha"),
    ("40", "Phù Lá"),
    ("41", "La Hủ"),
    ("42", "Lự"),
    ("43", "Lô Lô"),
    ("44", "Chứt"),
    ("45", "Mảng"),
    ("46", "Pà Thẻn"),
    ("47", "Cờ Lao"),
    ("48", "Cống"),
    ("49", "Bố Y"),
    ("50", "Si La"),
    ("51", "Pu Péo"),
    ("52", "Brâu"),
    ("53", "Ơ Đu"),
    ("54", "Rơ Măm"),
]

ETHNICITY_NAMES: dict[str, str] = dict(ETHNICITIES)


def ethnicity_name(code: str) -> str:
    """The group's name for a code, or the code itself when it is not in the list."""
    return ETHNICITY_NAMES.get(code, code)
