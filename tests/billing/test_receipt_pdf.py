"""The receipt PDF: rendered from a ReceiptDoc, read back with pypdf.

No database: pytest-django refuses any query in these tests, so a render that queried would fail.
The QR code cannot be decoded here (no zbar); instead the widget is recorded through a seam (the
exact payload it was given, itself checked field by field and by CRC) and the page is checked to
draw the symbol.
"""

from __future__ import annotations

import io
import os
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.pdf import receipt as receipt_module
from billing.pdf.data import ReceiptDoc, Split
from billing.pdf.receipt import receipt_qr_payload, render_receipt
from billing.vietqr import tlv_parse, vietqr_for_invoice, vietqr_parse
from tests.billing.pdf_helpers import (
    CASHIER_NAME,
    FACILITY,
    PATIENT_NAME,
    RECEIPT_LINES,
    pdf_filled_rects,
    pdf_font_names,
    pdf_text,
    receipt_doc,
)


def keep(pdf: bytes, name: str) -> bytes:
    """Write the PDF to $DOCUMENTS_ARTIFACT_DIR when set (to look at it, or keep it from CI)."""
    target = os.environ.get("DOCUMENTS_ARTIFACT_DIR")
    if target:
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, f"{name}.pdf"), "wb") as fh:
            fh.write(pdf)
    return pdf


@pytest.fixture
def qr_values(monkeypatch):
    """Every value given to reportlab's QR widget during a render."""
    seen: list[str] = []
    real = receipt_module.QrCodeWidget

    class Recording(real):
        def __init__(self, value, **kw):
            seen.append(value)
            super().__init__(value, **kw)

    monkeypatch.setattr(receipt_module, "QrCodeWidget", Recording)
    return seen


def test_receipt_shows_header_patient_lines_split_and_words():
    # given a cash payment settling the patient's part of an insured visit
    data = receipt_doc()
    # when
    text = pdf_text(keep(render_receipt(data), "receipt_cash"))
    # then: header, number, date in Đà Nẵng time (02:30 UTC is 09:30), people with diacritics
    assert "BỆNH VIỆN ĐA KHOA HÒA VANG" in text
    assert "Mã cơ sở KCB: 48001" in text
    assert "BIÊN LAI THU TIỀN" in text
    assert "BL2026-000123" in text
    assert "Ngày 05 tháng 03 năm 2026 – lúc 09:30" in text
    assert PATIENT_NAME in text
    assert CASHIER_NAME in text
    assert "DN4480123456789" in text
    assert "HĐ-2026/000123" in text
    # the lines with quantity, unit price and amount, and their split
    assert "Paracetamol 500mg (Hapacol) Viên 20 1.200 24.000 19.200 4.800 0" in text
    assert "Chụp X-quang ngực thẳng Lần 1 120.000 120.000 77.760 19.440 22.800" in text
    # totals: hospital 216.100 = fund 154.640 + co-pay 38.660 + self-pay 22.800
    assert "Tổng cộng 216.100 154.640 38.660 22.800" in text
    assert "Người bệnh phải trả: 61.460 đ" in text
    assert "Số tiền nộp lần này: 61.460 đ" in text
    assert "Hình thức thanh toán: Tiền mặt" in text
    assert "Số tiền bằng chữ: Sáu mươi mốt nghìn bốn trăm sáu mươi đồng" in text


def test_lines_are_grouped_by_cost_group_in_form_order():
    # given lines entered lab, examination, drug, imaging
    data = receipt_doc()
    # when
    text = pdf_text(render_receipt(data))
    # then examination first, then lab, imaging, drugs, each group with its subtotal
    positions = [
        text.index("1. Khám bệnh 50.600"),
        text.index("2. Xét nghiệm 21.500"),
        text.index("3. Chẩn đoán hình ảnh 120.000"),
        text.index("4. Thuốc 24.000"),
    ]
    assert positions == sorted(positions)


def test_only_embedded_dejavu_fonts():
    # given / when
    pdf = render_receipt(receipt_doc())
    # then
    assert pdf_font_names(pdf) == {"DejaVuSans", "DejaVuSans-Bold"}


def test_cash_paid_in_full_has_no_qr_code(qr_values):
    # given a cash payment, nothing left to pay
    data = receipt_doc()
    # when
    pdf = render_receipt(data)
    # then
    assert receipt_qr_payload(data) is None
    assert qr_values == []
    assert "VietQR" not in pdf_text(pdf)


def test_bank_transfer_carries_the_exact_vietqr_payload(qr_values):
    # given a payment by bank transfer
    data = receipt_doc(method="transfer", method_label="Chuyển khoản")
    expected = vietqr_for_invoice(
        bank_bin="970415",
        account="0011001932418",
        invoice_number="HĐ-2026/000123",
        amount=Decimal(61460),
    )
    # when
    pdf = render_receipt(data)
    cash_pdf = render_receipt(receipt_doc())
    # then the widget drew exactly that payload, which asks for the amount paid
    assert qr_values == [expected]
    fields = vietqr_parse(qr_values[0])
    assert fields["54"] == "61460"
    assert tlv_parse(tlv_parse(fields["38"])["01"]) == {"00": "970415", "01": "0011001932418"}
    assert tlv_parse(fields["62"])["01"] == "HD2026000123"
    # and the symbol is on the page (hundreds of modules), with its caption
    assert pdf_filled_rects(pdf) - pdf_filled_rects(cash_pdf) > 100
    text = pdf_text(pdf)
    assert "Quét mã VietQR để chuyển khoản" in text
    assert "STK: 0011001932418" in text
    assert "Nội dung: HD2026000123" in text


def test_amount_still_due_gets_a_qr_for_the_rest(qr_values):
    # given a part payment in cash: 20.000 of 61.460 paid
    data = receipt_doc(amount_paid=Decimal(20000), amount_due=Decimal(41460))
    # when
    text = pdf_text(render_receipt(data))
    # then the QR asks for what is still due
    assert vietqr_parse(qr_values[0])["54"] == "41460"
    assert "Còn phải nộp: 41.460 đ" in text
    assert "Số tiền: 41.460 đ" in text
    assert "Số tiền bằng chữ: Hai mươi nghìn đồng" in text


def test_fraction_of_a_dong_due_leaves_the_amount_out_of_the_qr(qr_values):
    # given a due amount that is not a whole number of đồng
    data = receipt_doc(amount_paid=Decimal(20000), amount_due=Decimal("41460.50"))
    # when
    render_receipt(data)
    # then the code is still valid, without an amount the bank could not transfer
    fields = vietqr_parse(qr_values[0])
    assert "54" not in fields
    assert tlv_parse(fields["62"])["01"] == "HD2026000123"


def test_no_payee_account_means_no_qr(qr_values):
    # given a facility without a transfer account
    data = receipt_doc(method="transfer", method_label="Chuyển khoản", payee=None)
    # when
    render_receipt(data)
    # then
    assert qr_values == []


def test_deposits_and_other_sources_are_shown_when_present():
    # given a stay settled against a deposit, with a line partly paid by another source
    line = RECEIPT_LINES[1]
    donated = type(line)(
        name="Khám Nội tổng hợp",
        quantity=Decimal(1),
        unit_price=Decimal(50600),
        split=Split(Decimal(50600), fund=Decimal(30000), copay=Decimal(600), other=Decimal(20000)),
        cost_group=13,
        cost_group_name="Khám bệnh",
    )
    data = receipt_doc(
        lines=(donated,),
        deposits_applied=Decimal(500),
        amount_paid=Decimal(100),
    )
    # when
    text = pdf_text(render_receipt(data))
    # then
    assert "Nguồn khác" in text
    assert "Nguồn khác: 20.000 đ" in text
    assert "Đã tạm ứng: 500 đ" in text
    assert "Số tiền bằng chữ: Một trăm đồng" in text


def test_a_receipt_that_does_not_add_up_is_refused():
    # given totals that differ from the lines
    data = receipt_doc()
    wrong = Split(Decimal(1), self_pay=Decimal(1))
    # when / then
    with pytest.raises(ValueError, match="totals"):
        ReceiptDoc(**{**data.__dict__, "totals": wrong})
    with pytest.raises(ValueError, match="add up"):
        Split(Decimal(100), fund=Decimal(80), copay=Decimal(10))
    with pytest.raises(ValueError, match="naive"):
        ReceiptDoc(**{**data.__dict__, "issued_at": data.issued_at.replace(tzinfo=None)})


def test_page_is_one_a4_portrait_and_titled():
    # given / when
    reader = PdfReader(io.BytesIO(render_receipt(receipt_doc())))
    # then
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert reader.metadata.title == "Biên lai thu tiền"
    assert reader.metadata.author == FACILITY.name


def test_the_facility_bank_account_comes_before_the_settings_account(settings):
    # given a facility with its own account and a settings account
    from types import SimpleNamespace

    from billing.selectors import payee_account

    settings.BILLING_BANK_BIN, settings.BILLING_BANK_ACCOUNT = "970415", "0011001932418"
    facility = SimpleNamespace(
        bank_bin="970436",
        bank_account="1234567890",
        bank_account_name="BV DA NANG",
        bank_name="VCB",
    )
    # when / then the facility's own account is used, the settings one otherwise
    assert payee_account(facility).bank_bin == "970436"
    assert payee_account(SimpleNamespace(bank_bin="", bank_account="")).bank_bin == "970415"
    settings.BILLING_BANK_BIN = ""
    assert payee_account(None) is None
