"""Formatting shared by the billing documents: money, percentages and the order of cost groups.

Layout primitives (font, header, paragraphs, signatures, build) come from
`patients.clinical.documents.layout`; only what is specific to money lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from itertools import groupby
from typing import TypeVar

T = TypeVar("T")

# Order of the cost groups (MA_NHOM) on form 01/KBCB Part II: examination, bed-days, lab tests,
# imaging and functional tests, procedures and surgery, blood, drugs, supplies, transport.
FORM_ORDER = {
    13: 1,  # khám bệnh
    14: 2,  # giường ban ngày
    15: 2,  # giường điều trị nội trú
    16: 2,  # giường lưu
    1: 3,  # xét nghiệm
    2: 4,  # chẩn đoán hình ảnh
    3: 4,  # thăm dò chức năng
    18: 5,  # thủ thuật
    8: 5,  # phẫu thuật
    7: 6,  # máu
    17: 6,  # chế phẩm máu
    4: 7,  # thuốc trong danh mục
    5: 7,  # thuốc ngoài danh mục
    6: 7,  # thuốc thanh toán theo tỷ lệ
    10: 8,  # vật tư y tế
    11: 8,  # vật tư thanh toán theo tỷ lệ
    12: 10,  # vận chuyển
}


def fmt_money(value: Decimal | int | None) -> str:
    """VND as printed in Vietnam: '.' between thousands, ',' before decimals (1.250.500;
    617,25). Never rounds: the amounts arrive rounded (`ehealth.core.money`)."""
    if value is None:
        return ""
    d = Decimal(value)
    sign = "-" if d < 0 else ""
    whole, _, frac = f"{abs(d):f}".partition(".")
    frac = frac.rstrip("0")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{sign}{grouped},{frac}" if frac else f"{sign}{grouped}"


def fmt_percent(value: Decimal | int | None) -> str:
    """A ratio in percent without trailing zeros: 100, 80, 32,5."""
    if value is None:
        return ""
    d = Decimal(value)
    if d == d.to_integral_value():
        return f"{d.to_integral_value():f}"
    return f"{d.normalize():f}".replace(".", ",")


def by_cost_group(items: Iterable[T], key: Callable[[T], int]) -> list[tuple[int, list[T]]]:
    """Items grouped by cost group, the groups in form order (then by MA_NHOM), items in their
    given order within a group."""
    ordered = sorted(items, key=lambda item: (FORM_ORDER.get(key(item), 9), key(item)))
    return [(group, list(members)) for group, members in groupby(ordered, key=key)]
