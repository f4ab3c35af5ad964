"""Synthetic data and PDF probes shared by the billing document tests (no database)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from pypdf import PdfReader

from billing.pdf.data import (
    BankAccount,
    CostStatementBlock,
    CostStatementDoc,
    CostStatementRow,
    FacilityHeader,
    ReceiptDoc,
    ReceiptLine,
    Split,
)

# 09:30 on 5 March 2026 in Đà Nẵng is 02:30 UTC.
ISSUED_AT = datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
PATIENT_NAME = "Nguyễn Thị Ánh"
CASHIER_NAME = "Trần Văn Đức"
FACILITY = FacilityHeader(
    name="Bệnh viện Đa khoa Hòa Vang",
    code="48001",
    address="Thôn Dương Lâm 1, xã Hòa Vang, thành phố Đà Nẵng",
    phone="0236 3846 225",
    managing_body="Sở Y tế thành phố Đà Nẵng",
)
PAYEE = BankAccount(
    bank_bin="970415",
    account="0011001932418",
    holder_name="BENH VIEN DA KHOA HOA VANG",
    bank_name="VietinBank",
)


def split_80(amount: Decimal, bhyt_amount: Decimal | None = None, rate: int = 80) -> Split:
    """A split as the benefit engine gives it for a card at `rate` %, without other sources."""
    bhyt = amount if bhyt_amount is None else bhyt_amount
    fund = bhyt * rate / 100
    return Split(amount, fund=fund, copay=bhyt - fund, self_pay=amount - bhyt, bhyt_amount=bhyt)


def receipt_line(name, group, group_name, quantity, price, *, bhyt_price=None, unit="Lần"):
    quantity, price = Decimal(quantity), Decimal(price)
    bhyt = None if bhyt_price is None else quantity * Decimal(bhyt_price)
    return ReceiptLine(
        name=name,
        quantity=quantity,
        unit_price=price,
        split=split_80(quantity * price, bhyt),
        cost_group=group,
        cost_group_name=group_name,
        unit=unit,
    )


RECEIPT_LINES = (
    receipt_line("Định lượng Glucose [Máu]", 1, "Xét nghiệm", 1, 21500),
    receipt_line("Khám Nội tổng hợp", 13, "Khám bệnh", 1, 50600),
    receipt_line("Paracetamol 500mg (Hapacol)", 4, "Thuốc", 20, 1200, unit="Viên"),
    receipt_line("Chụp X-quang ngực thẳng", 2, "Chẩn đoán hình ảnh", 1, 120000, bhyt_price=97200),
)
# Σ hospital 216.100; fund 0.8 × (21.500 + 50.600 + 24.000 + 97.200) = 154.640;
# co-pay 38.660; self-pay (price difference of the X-ray) 22.800; patient owes 61.460.


def receipt_doc(**overrides) -> ReceiptDoc:
    lines = overrides.pop("lines", RECEIPT_LINES)
    values = {
        "facility": FACILITY,
        "number": "BL2026-000123",
        "issued_at": ISSUED_AT,
        "cashier_name": CASHIER_NAME,
        "patient_name": PATIENT_NAME,
        "invoice_number": "HĐ-2026/000123",
        "lines": lines,
        "totals": Split.total(line.split for line in lines),
        "amount_paid": Decimal("61460.00"),
        "method": "cash",
        "method_label": "Tiền mặt",
        "patient_code": "BN0001",
        "birth_year": 1985,
        "card_code": "DN4480123456789",
        "benefit_rate": Decimal(80),
        "visit_number": "48001.2026.000123",
        "department": "Khoa Khám bệnh",
        "payee": PAYEE,
    }
    values.update(overrides)
    return ReceiptDoc(**values)


def statement_row(
    name,
    group,
    group_name,
    quantity,
    price,
    *,
    bhyt_price=None,
    bhyt_ratio=100,
    unit="Lần",
    rate=80,
):
    quantity, price = Decimal(quantity), Decimal(price)
    unit_bhyt = price if bhyt_price is None else Decimal(bhyt_price)
    bhyt_amount = quantity * unit_bhyt * Decimal(bhyt_ratio) / 100
    return CostStatementRow(
        name=name,
        unit=unit,
        quantity=quantity,
        hospital_price=price,
        bhyt_price=unit_bhyt,
        split=split_80(quantity * price, bhyt_amount, rate),
        cost_group=group,
        cost_group_name=group_name,
        bhyt_ratio=Decimal(bhyt_ratio),
    )


CARD_BLOCK = CostStatementBlock(
    card_code="DN4480123456789",
    benefit_rate=Decimal(80),
    rows=(
        statement_row("Xét nghiệm tổng phân tích tế bào máu ngoại vi", 1, "Xét nghiệm", 1, 46200),
        statement_row("Khám Nội tổng hợp", 13, "Khám bệnh", 1, 50600),
        statement_row(
            "Ngày giường bệnh Nội khoa loại 1", 15, "Ngày giường", 3, 265000, unit="Ngày"
        ),
        statement_row(
            "Chụp X-quang ngực thẳng", 2, "Chẩn đoán hình ảnh", 1, 120000, bhyt_price=97200
        ),
        statement_row("Albumin 20% 50ml", 4, "Thuốc", 1, 800000, bhyt_ratio=50, unit="Chai"),
    ),
)
SELF_PAY_BLOCK = CostStatementBlock(
    rows=(
        statement_row(
            "Phòng dịch vụ theo yêu cầu",
            15,
            "Ngày giường",
            3,
            200000,
            bhyt_price=0,
            unit="Ngày",
            rate=0,
        ),
    ),
)
# Card block: (7) 46.200 + 50.600 + 795.000 + 120.000 + 800.000 = 1.811.800;
# (9) 46.200 + 50.600 + 795.000 + 97.200 + 400.000 = 1.389.000; (10) 1.111.200; (11) 277.800;
# (13) 22.800 + 400.000 = 422.800. Self-pay block: 600.000. Grand total (7) 2.411.800.


def statement_doc(**overrides) -> CostStatementDoc:
    values = {
        "facility": FACILITY,
        "visit_number": "48001.2026.000123",
        "patient_name": PATIENT_NAME,
        "birth_year": 1985,
        "birth_date": date(1985, 4, 2),
        "sex": "Nữ",
        "blocks": (CARD_BLOCK, SELF_PAY_BLOCK),
        "printed_on": date(2026, 3, 8),
        "inpatient": True,
        "statement_number": "BK-000123",
        "patient_code": "BN0001",
        "address": "Tổ 5, phường Hải Châu, thành phố Đà Nẵng",
        "card_code": "DN4480123456789",
        "card_valid_from": date(2026, 1, 1),
        "card_valid_to": date(2026, 12, 31),
        "registered_facility_name": "Trạm Y tế phường Hải Châu",
        "registered_facility_code": "48123",
        "five_years_date": date(2024, 1, 1),
        "department": "Khoa Nội tổng hợp",
        "department_code": "K02",
        "arrived_at": ISSUED_AT,
        "started_at": ISSUED_AT,
        "ended_at": datetime(2026, 3, 8, 2, 0, tzinfo=UTC),
        "treatment_days": 3,
        "discharge_status": "Ra viện",
        "treatment_result": "Đỡ",
        "route": "correct",
        "main_diagnosis": "Viêm phổi, không đặc hiệu",
        "main_icd": "J18.9",
        "other_diagnoses": "Tăng huyết áp vô căn",
        "other_icd": "I10",
        "prepared_by": "Lê Thị Hồng",
        "cashier_name": CASHIER_NAME,
    }
    values.update(overrides)
    return CostStatementDoc(**values)


# --- PDF probes -------------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF, whitespace collapsed (line wraps do not split assertions)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def pdf_font_names(pdf: bytes) -> set[str]:
    """Base names of every font of every page; fails unless each is an embedded TrueType subset
    with a ToUnicode map (so the extracted text is the text drawn)."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        fonts = page["/Resources"].get_object().get("/Font", {}).get_object()
        for ref in fonts.values():
            font = ref.get_object()
            base = str(font["/BaseFont"])
            assert font["/Subtype"] == "/TrueType", base
            assert "/FontFile2" in font["/FontDescriptor"].get_object(), base
            assert "/ToUnicode" in font, base
            names.add(re.sub(r"^/[A-Z]{6}\+", "", base))
    return names


def pdf_filled_rects(pdf: bytes) -> int:
    """How many rectangles the page content draws (a QR code draws one per dark module run)."""
    reader = PdfReader(io.BytesIO(pdf))
    return sum(len(re.findall(rb" re\b", page.get_contents().get_data())) for page in reader.pages)
