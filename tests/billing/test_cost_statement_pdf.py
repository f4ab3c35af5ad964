"""The cost statement (Bảng kê chi phí KCB, form 01/KBCB) rendered from a CostStatementDoc.

No database: pytest-django refuses any query in these tests, so a render that queried would fail.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.pdf.cost_statement import card_boxes, render_cost_statement
from billing.pdf.data import CostStatementBlock, CostStatementRow, Split
from tests.billing.pdf_helpers import (
    CARD_BLOCK,
    PATIENT_NAME,
    pdf_font_names,
    pdf_text,
    statement_doc,
)


@pytest.fixture(scope="module")
def text() -> str:
    return pdf_text(render_cost_statement(statement_doc()))


def test_landscape_a4_with_embedded_dejavu():
    # given / when
    pdf = render_cost_statement(statement_doc())
    reader = PdfReader(io.BytesIO(pdf))
    # then
    for page in reader.pages:
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (842, 595)
    assert pdf_font_names(pdf) == {"DejaVuSans", "DejaVuSans-Bold"}


def test_part_one_administrative_fields(text):
    # given the doc's administrative data / when rendered / then
    assert "BẢNG KÊ CHI PHÍ KHÁM BỆNH, CHỮA BỆNH" in text
    assert "Mẫu số: 01/KBCB" in text
    assert "Nội trú – Số khám bệnh: 48001.2026.000123" in text
    assert f"Họ tên người bệnh: {PATIENT_NAME}" in text
    assert "Ngày sinh: 02/04/1985" in text
    assert "Giới tính: Nữ" in text
    # the card in its four boxes, with validity
    assert "Mã thẻ BHYT: DN 4 48 0123456789" in text
    assert "Giá trị từ: 01/01/2026 đến: 31/12/2026" in text
    assert "Nơi ĐK KCB ban đầu: Trạm Y tế phường Hải Châu" in text
    assert "Mã: 48123" in text
    # times in Đà Nẵng (02:30 UTC is 09:30), days, discharge, route box, diagnoses
    assert "Đến khám: 05/03/2026 09:30" in text
    assert "Kết thúc: 08/03/2026 09:00" in text
    assert "Tổng số ngày điều trị: 3" in text
    assert "Tình trạng ra viện: Ra viện" in text
    assert "☒ Đúng tuyến" in text
    assert "☐ Cấp cứu" in text
    assert "Chẩn đoán xác định: Viêm phổi, không đặc hiệu" in text
    assert "Mã bệnh: J18.9" in text
    assert "Mã bệnh kèm theo: I10" in text
    assert "Thời điểm đủ 5 năm liên tục: 01/01/2024" in text


def test_part_two_columns_rows_and_groups(text):
    # given / when rendered / then all 13 column numbers are printed
    for column in range(1, 14):
        assert f"({column})" in text
    # a row: (1)..(13) — unit, qty, prices, ratio, amount BV, ratio BHYT, amount BH, split
    assert (
        "Albumin 20% 50ml Chai 1 800.000 800.000 100 800.000 50 400.000 320.000 80.000 0 400.000"
    ) in text
    assert "Chụp X-quang ngực thẳng Lần 1 120.000 97.200 100 120.000 100 97.200 77.760" in text
    # groups in form order: examination, bed-days, lab, imaging, drugs
    positions = [
        text.index("1. Khám bệnh"),
        text.index("2. Ngày giường"),
        text.index("3. Xét nghiệm"),
        text.index("4. Chẩn đoán hình ảnh"),
        text.index("5. Thuốc"),
    ]
    assert positions == sorted(positions)


def test_blocks_per_card_and_totals_add_up(text):
    # given a card block at 80 % and a block without card
    doc = statement_doc()
    # when rendered / then each block has its title and total
    assert "Mã thẻ BHYT: DN4480123456789 – Mức hưởng: 80%" in text
    assert "Chi phí người bệnh tự chi trả (không có thẻ BHYT)" in text
    assert "Cộng 1.811.800 1.389.000 1.111.200 277.800 0 422.800" in text
    assert "Cộng 600.000 0 0 0 0 600.000" in text
    assert "Tổng cộng 2.411.800 1.389.000 1.111.200 277.800 0 1.022.800" in text
    # and (10)+(11)+(12)+(13) = (7) on the grand total printed
    t = doc.totals
    assert t.fund + t.copay + t.other + t.self_pay == t.hospital_amount == Decimal(2411800)


def test_totals_in_words_and_who_pays(text):
    # given / when rendered / then
    assert (
        "Tổng chi phí cả đợt điều trị: 2.411.800 đồng (Viết bằng chữ: Hai triệu bốn trăm mười "
        "một nghìn tám trăm đồng)"
    ) in text
    assert "Quỹ BHYT thanh toán: 1.111.200 đồng" in text
    assert "Người bệnh trả: 1.300.600 đồng" in text
    assert "cùng chi trả trong phạm vi quyền lợi BHYT: 277.800 đồng" in text
    assert "các khoản phải tự trả: 1.022.800 đồng" in text
    assert "Người lập bảng kê" in text
    assert "Lê Thị Hồng" in text


def test_outpatient_wording_and_single_block():
    # given an outpatient visit with one block and no card fields
    doc = statement_doc(
        inpatient=False, blocks=(CARD_BLOCK,), card_code="", route="", ended_at=None
    )
    # when
    text = pdf_text(render_cost_statement(doc))
    # then
    assert "Ngoại trú" in text
    assert "Tổng chi phí lần khám bệnh: 1.811.800 đồng" in text
    assert "Không có thẻ BHYT" in text
    assert "Tổng cộng" not in text  # one block: its "Cộng" is the total
    assert "☒" not in text


def test_long_statement_repeats_the_column_header_on_each_page():
    # given 120 drug rows
    rows = tuple(
        CostStatementRow(
            name=f"Thuốc số {i}",
            unit="Viên",
            quantity=Decimal(1),
            hospital_price=Decimal(1000),
            bhyt_price=Decimal(1000),
            split=Split(Decimal(1000), fund=Decimal(800), copay=Decimal(200), bhyt_amount=1000),
            cost_group=4,
            cost_group_name="Thuốc",
        )
        for i in range(120)
    )
    doc = statement_doc(blocks=(CostStatementBlock(rows=rows, card_code="DN4480123456789"),))
    # when
    reader = PdfReader(io.BytesIO(render_cost_statement(doc)))
    # then every page with rows has the column numbers
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for page in pages[:-1]:
        assert re.search(r"\(10\)\s*\(11\)\s*\(12\)\s*\(13\)", page)
    assert "Cộng 120.000" in " ".join(" ".join(pages).split())


def test_card_boxes():
    # given / when / then
    assert card_boxes("HS4010120878811") == ["HS", "4", "01", "0120878811"]
    assert card_boxes("") == []
    assert card_boxes("ABC") == ["ABC"]


def test_a_row_that_does_not_add_up_is_refused():
    # given (10)+(11)+(12)+(13) != (7)
    # when / then
    with pytest.raises(ValueError, match="add up"):
        Split(Decimal(1000), fund=Decimal(800), copay=Decimal(100))
    with pytest.raises(ValueError, match="negative"):
        Split(Decimal(1000), fund=Decimal(1200), copay=Decimal(-200))
