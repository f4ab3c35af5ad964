"""Biên lai thu tiền: the cashier's receipt for one payment against an invoice.

Facility header and receipt number; date and time (Asia/Ho_Chi_Minh); payer and visit; the charge
lines grouped by cost group, each with its split (fund share, co-payment, self-pay, other sources);
the totals; what was paid now, how, and what is still due; the amount paid in Vietnamese words; a
VietQR code for a bank transfer or an amount still due; signatures. Pure: no queries (the data
comes from `billing.selectors`), Vietnamese labels only (a statutory form, as the clinical ones).
"""

from __future__ import annotations

from decimal import Decimal

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from billing.pdf.common import by_cost_group, fmt_money, fmt_percent
from billing.pdf.data import METHOD_TRANSFER, BankAccount, ReceiptDoc, ReceiptLine, Split
from billing.vietqr import bill_reference, vietqr_for_invoice
from billing.words import amount_in_words_vi
from patients.clinical.documents import layout as L

QR_SIZE = 36 * mm


def receipt_qr_amount(data: ReceiptDoc) -> Decimal | None:
    """The amount the QR code asks for: what is still due, else (bank transfer) what was paid;
    None when the receipt carries no QR code (no payee account, or nothing to transfer)."""
    if data.payee is None:
        return None
    if data.amount_due > 0:
        return Decimal(data.amount_due)
    if data.method == METHOD_TRANSFER and data.amount_paid > 0:
        return Decimal(data.amount_paid)
    return None


def receipt_qr_payload(data: ReceiptDoc) -> str | None:
    """The VietQR payload printed on the receipt (None: no QR). The invoice number is the bill
    number and leads the transfer text. A fraction of a đồng cannot be transferred: such an
    amount is left out of the code (the payer types it) rather than rounded here."""
    amount = receipt_qr_amount(data)
    if amount is None or data.payee is None:
        return None
    return vietqr_for_invoice(
        bank_bin=data.payee.bank_bin,
        account=data.payee.account,
        invoice_number=data.invoice_number,
        amount=amount if amount == amount.to_integral_value() else None,
        to_card=data.payee.to_card,
    )


def qr_drawing(payload: str, size: float = QR_SIZE) -> Drawing:
    """The QR symbol (error correction M) as a square drawing of `size` points."""
    widget = QrCodeWidget(payload, barLevel="M", barBorder=2)
    widget.barWidth = widget.barHeight = size
    drawing = Drawing(size, size)
    drawing.add(widget)
    return drawing


# --- Blocks ---------------------------------------------------------------------------------


def _payer_block(data: ReceiptDoc) -> list[Flowable]:
    w = L.CONTENT_WIDTH
    rows: list[Flowable] = [
        L.fields_row(
            [
                ("Họ tên người bệnh", data.patient_name),
                ("Năm sinh", data.birth_year or ""),
                ("Mã người bệnh", data.patient_code),
            ],
            [w * 0.42, w * 0.2, w * 0.38],
        ),
    ]
    if data.address:
        rows.append(L.field("Địa chỉ", data.address, width=80, bold=False))
    card = data.card_code or "Không có thẻ BHYT"
    rate = f"{fmt_percent(data.benefit_rate)}%" if data.benefit_rate is not None else ""
    rows.append(
        L.fields_row(
            [("Số thẻ BHYT", card), ("Mức hưởng", rate), ("Hóa đơn số", data.invoice_number)],
            [w * 0.42, w * 0.2, w * 0.38],
        )
    )
    rows.append(
        L.fields_row(
            [("Khoa", data.department), ("Số khám bệnh", data.visit_number)],
            [w * 0.42, w * 0.58],
        )
    )
    return rows


def _money_cells(split: Split, *, with_other: bool, bold: bool = False) -> list:
    s = L.styles()
    style = s.cell_right
    values = [split.hospital_amount, split.fund, split.copay, split.self_pay]
    if with_other:
        values.append(split.other)
    out = []
    for v in values:
        shown = L.text(fmt_money(v))
        out.append(L.para(f"<b>{shown}</b>" if bold else shown, style))
    return out


def _lines_table(data: ReceiptDoc) -> Table:
    s = L.styles()
    with_other = any(line.split.other for line in data.lines) or data.totals.other > 0
    head = ["STT", "Nội dung", "ĐVT", "SL", "Đơn giá", "Thành tiền", "Quỹ BHYT", "Cùng chi trả"]
    head.append("Tự trả")
    money_w = [22 * mm, 20 * mm, 19 * mm, 19 * mm]
    if with_other:
        head.append("Nguồn khác")
        money_w = [20 * mm, 18 * mm, 17 * mm, 17 * mm, 16 * mm]
    fixed = [9 * mm, None, 11 * mm, 10 * mm, 18 * mm, *money_w]
    name_w = L.CONTENT_WIDTH - sum(w for w in fixed if w is not None)
    widths = [name_w if w is None else w for w in fixed]
    rows: list[list] = [[L.para(f"<b>{L.text(h)}</b>", s.cell_center) for h in head]]
    group_rows: list[int] = []
    number = 0
    groups = by_cost_group(data.lines, key=lambda line: line.cost_group)
    for index, (_group, lines) in enumerate(groups, start=1):
        subtotal = Split.total(line.split for line in lines)
        group_rows.append(len(rows))
        rows.append(
            [
                L.para(f"<b>{index}. {L.text(lines[0].cost_group_name)}</b>", s.cell),
                "",
                "",
                "",
                "",
                *_money_cells(subtotal, with_other=with_other, bold=True),
            ]
        )
        for line in lines:
            number += 1
            rows.append(_line_row(number, line, with_other=with_other))
    total_row = len(rows)
    rows.append(
        [
            L.para("<b>Tổng cộng</b>", s.cell),
            "",
            "",
            "",
            "",
            *_money_cells(data.totals, with_other=with_other, bold=True),
        ]
    )
    table = Table(rows, colWidths=widths, repeatRows=1)
    commands = [
        ("FONT", (0, 0), (-1, -1), L.FONT, 8),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8E8E8")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("SPAN", (0, total_row), (4, total_row)),
        ("BACKGROUND", (0, total_row), (-1, total_row), colors.HexColor("#E8E8E8")),
    ]
    for r in group_rows:
        commands += [
            ("SPAN", (0, r), (4, r)),
            ("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F4F4F4")),
        ]
    table.setStyle(TableStyle(commands))
    return table


def _line_row(number: int, line: ReceiptLine, *, with_other: bool) -> list:
    s = L.styles()
    return [
        L.para(str(number), s.cell_center),
        L.para(L.text(line.name), s.cell),
        L.para(L.text(line.unit), s.cell_center),
        L.para(L.text(L.fmt_decimal(line.quantity)), s.cell_right),
        L.para(L.text(fmt_money(line.unit_price)), s.cell_right),
        *_money_cells(line.split, with_other=with_other),
    ]


def _summary(data: ReceiptDoc) -> list[tuple[str, Decimal, bool]]:
    """(label, amount, bold) rows of the payment summary; empty optional rows are left out."""
    t = data.totals
    rows: list[tuple[str, Decimal, bool]] = [
        ("Tổng chi phí", t.hospital_amount, True),
        ("Quỹ BHYT thanh toán", t.fund, False),
        ("Người bệnh cùng chi trả", t.copay, False),
        ("Người bệnh tự trả", t.self_pay, False),
    ]
    if t.other:
        rows.append(("Nguồn khác", t.other, False))
    rows.append(("Người bệnh phải trả", t.patient_amount, True))
    if data.deposits_applied:
        rows.append(("Đã tạm ứng", data.deposits_applied, False))
    if data.previously_paid:
        rows.append(("Đã nộp trước", data.previously_paid, False))
    rows.append(("Số tiền nộp lần này", data.amount_paid, True))
    if data.amount_due:
        rows.append(("Còn phải nộp", data.amount_due, True))
    return rows


def _summary_table(data: ReceiptDoc, width: float) -> Table:
    s = L.styles()
    rows = []
    for label, amount, bold in _summary(data):
        value = L.text(fmt_money(amount)) + " đ"
        rows.append(
            [
                L.para(f"<b>{L.text(label)}:</b>" if bold else f"{L.text(label)}:", s.body),
                L.para(f"<b>{value}</b>" if bold else value, s.right),
            ]
        )
    rows.append([L.field("Hình thức thanh toán", data.method_label), ""])
    table = Table(rows, colWidths=[width * 0.6, width * 0.4])
    style = L.no_padding()
    style.add("SPAN", (0, len(rows) - 1), (1, len(rows) - 1))
    table.setStyle(style)
    return table


def _qr_block(data: ReceiptDoc, payee: BankAccount, payload: str) -> list[Flowable]:
    s = L.styles()
    amount = receipt_qr_amount(data)
    out: list[Flowable] = [
        L.para("<b>Quét mã VietQR để chuyển khoản</b>", s.small_center),
        qr_drawing(payload),
    ]
    if payee.bank_name:
        out.append(L.para(L.text(payee.bank_name), s.small_center))
    out.append(L.para(f"STK: <b>{L.text(payee.account)}</b>", s.small_center))
    if payee.holder_name:
        out.append(L.para(L.text(payee.holder_name), s.small_center))
    if amount is not None:
        out.append(L.para(f"Số tiền: <b>{L.text(fmt_money(amount))} đ</b>", s.small_center))
    reference = bill_reference(data.invoice_number)
    out.append(L.para(f"Nội dung: <b>{L.text(reference)}</b>", s.small_center))
    return out


def render_receipt(data: ReceiptDoc) -> bytes:
    """The receipt as PDF bytes."""
    s = L.styles()
    issued_on = L.local_date(data.issued_at)
    story: list[Flowable] = [
        L.header(data.facility, number=data.number),
        *L.title(
            "Biên lai thu tiền",
            f"{L.date_line(issued_on)} – lúc {L.fmt_datetime(data.issued_at)[-5:]}",
        ),
        *_payer_block(data),
        Spacer(1, 2 * mm),
    ]
    if data.lines:
        story.append(_lines_table(data))
    else:
        story.append(L.para("(Không có dòng chi phí)", s.small))
    story.append(Spacer(1, 3 * mm))

    payload = receipt_qr_payload(data)
    if payload and data.payee is not None:
        qr_w = 50 * mm
        summary = _summary_table(data, L.CONTENT_WIDTH - qr_w - 6 * mm)
        block = Table([[summary, _qr_block(data, data.payee, payload)]], colWidths=[None, qr_w])
        style = L.no_padding()
        style.add("ALIGN", (1, 0), (1, 0), "CENTER")
        style.add("LEFTPADDING", (1, 0), (1, 0), 6 * mm)
        block.setStyle(style)
        story.append(block)
    else:
        story.append(_summary_table(data, L.CONTENT_WIDTH * 0.62))
    story.append(Spacer(1, 2 * mm))
    story.append(L.para(f"Số tiền bằng chữ: <b>{L.text(amount_in_words_vi(data.amount_paid))}</b>"))
    if data.note:
        story.append(L.field("Ghi chú", data.note, width=60, bold=False))
    story.append(Spacer(1, 3 * mm))
    signature = L.signatures(
        [
            ("Người nộp tiền", "(Ký, ghi rõ họ tên)", "", ""),
            ("Người thu tiền", "(Ký, ghi rõ họ tên)", data.cashier_name, ""),
        ],
        day=issued_on,
    )
    story.append(KeepTogether([signature]))
    return L.build_pdf(story, title="Biên lai thu tiền", author=data.facility.name)
