"""Bảng kê chi phí khám bệnh, chữa bệnh (form 01/KBCB, QĐ 6556/QĐ-BYT; domain brief §4), landscape A4.

Part I, administrative: the fields the record carries (patient, address and area, the card in its
four boxes with validity, registered facility, times, discharge, route boxes, diagnoses with ICD
codes, the 5-year and co-payment exemption dates); missing ones are dotted blanks to fill by hand.
Part II, costs: one block per card and benefit rate, rows grouped by cost group with columns
(1)–(13), a subtotal per group and per block and a grand total, where (10)+(11)+(12)+(13) = (7) on
every row (checked when the data is built, `billing.pdf.data.Split`). Then the totals in words and
the four signatures. Pure: no queries.
"""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from billing.pdf.common import by_cost_group, fmt_money, fmt_percent
from billing.pdf.data import (
    ROUTE_CORRECT,
    ROUTE_EMERGENCY,
    ROUTE_THONG_TUYEN,
    ROUTE_WRONG,
    CostStatementBlock,
    CostStatementDoc,
    CostStatementRow,
    Split,
)
from billing.words import amount_in_words_vi
from patients.clinical.documents import layout as L

PAGE = landscape(A4)
WIDTH = PAGE[0] - 2 * L.MARGIN - 2 * L.FRAME_PADDING
FORM_CODE = "Mẫu số: 01/KBCB"
CHECKED, UNCHECKED = "☒", "☐"

# Columns (2)-(13) in mm; column (1), the item, takes the rest of the width.
COLUMN_MM = (11, 12, 17, 17, 13, 22, 13, 22, 21, 20, 15, 21)
HEAD_ROWS = 3


def card_boxes(code: str) -> list[str]:
    """The 15-character card code in its four boxes: group, benefit digit, province, number."""
    code = L.nfc(code).strip()
    if len(code) != 15:
        return [code] if code else []
    return [code[:2], code[2], code[3:5], code[5:]]


def _box(checked: bool, label: str) -> str:
    return f"{CHECKED if checked else UNCHECKED} {L.text(label)}"


def _row(pairs: list[tuple[str, object]], fractions: list[float]) -> Table:
    return L.fields_row(pairs, [WIDTH * f for f in fractions])


def _card_table(data: CostStatementDoc) -> Table:
    s = L.styles()
    boxes = card_boxes(data.card_code)
    cells: list = [L.para("Mã thẻ BHYT:", s.body)]
    widths = [27 * mm]
    box_mm = {2: 10, 1: 7, 10: 30}
    for box in boxes or ["", "", "", ""]:
        cells.append(L.para(f"<b>{L.text(box)}</b>", s.center))
        widths.append(box_mm.get(len(box), 14) * mm if boxes else 12 * mm)
    validity = (
        f"Giá trị từ: <b>{L.text(L.fmt_date(data.card_valid_from))}</b>"
        f" đến: <b>{L.text(L.fmt_date(data.card_valid_to))}</b>"
        if data.card_code
        else "Không có thẻ BHYT"
    )
    cells.append(L.para(validity, s.body))
    widths.append(WIDTH - sum(widths))
    table = Table([cells], colWidths=widths)
    style = L.no_padding()
    for i in range(1, len(cells) - 1):
        style.add("BOX", (i, 0), (i, 0), 0.6, colors.black)
        style.add("VALIGN", (i, 0), (i, 0), "MIDDLE")
    style.add("LEFTPADDING", (len(cells) - 1, 0), (len(cells) - 1, 0), 4 * mm)
    table.setStyle(style)
    return table


def _part_one(data: CostStatementDoc) -> list[Flowable]:
    s = L.styles()
    born = L.fmt_date(data.birth_date) if data.birth_date else str(data.birth_year)
    route = data.route
    out: list[Flowable] = [
        L.para("I. Phần hành chính:", s.section),
        _row(
            [
                ("Họ tên người bệnh", data.patient_name),
                ("Ngày sinh", born),
                ("Giới tính", data.sex),
                ("Mã số người bệnh", data.patient_code),
            ],
            [0.4, 0.18, 0.14, 0.28],
        ),
        _row(
            [("Địa chỉ hiện tại", data.address), ("Mã khu vực (K1/K2/K3)", data.area_code)],
            [0.66, 0.34],
        ),
        _card_table(data),
        _row(
            [
                ("Nơi ĐK KCB ban đầu", data.registered_facility_name),
                ("Mã", data.registered_facility_code),
            ],
            [0.72, 0.28],
        ),
        _row(
            [
                ("Đến khám", L.fmt_datetime(data.arrived_at)),
                ("Điều trị từ", L.fmt_datetime(data.started_at)),
                ("Kết thúc", L.fmt_datetime(data.ended_at)),
                ("Tổng số ngày điều trị", data.treatment_days if data.treatment_days else ""),
            ],
            [0.24, 0.24, 0.24, 0.28],
        ),
        _row(
            [
                ("Khoa", data.department),
                ("Mã khoa", data.department_code),
                ("Tình trạng ra viện", data.discharge_status),
                ("Kết quả điều trị", data.treatment_result),
            ],
            [0.3, 0.14, 0.28, 0.28],
        ),
        L.para(
            "&nbsp;&nbsp;&nbsp;&nbsp;".join(
                [
                    _box(route == ROUTE_EMERGENCY, "Cấp cứu"),
                    _box(route == ROUTE_CORRECT, "Đúng tuyến"),
                    _box(route == ROUTE_THONG_TUYEN, "Thông tuyến"),
                    _box(route == ROUTE_WRONG, "Trái tuyến"),
                ]
            )
            + f"&nbsp;&nbsp;&nbsp;&nbsp;Nơi chuyển đến từ: {L.dotted(data.referred_from, 30)}"
            + f"&nbsp;&nbsp;Nơi chuyển đi: {L.dotted(data.referred_to, 30)}"
        ),
        _row(
            [("Chẩn đoán xác định", data.main_diagnosis), ("Mã bệnh", data.main_icd)],
            [0.72, 0.28],
        ),
        _row(
            [("Bệnh kèm theo", data.other_diagnoses), ("Mã bệnh kèm theo", data.other_icd)],
            [0.72, 0.28],
        ),
        _row(
            [
                ("Thời điểm đủ 5 năm liên tục", L.fmt_date(data.five_years_date)),
                ("Miễn cùng chi trả trong năm từ ngày", L.fmt_date(data.copay_exempt_from)),
            ],
            [0.4, 0.6],
        ),
    ]
    return out


# --- Part II ----------------------------------------------------------------------------------


def _widths() -> list[float]:
    fixed = [w * mm for w in COLUMN_MM]
    return [WIDTH - sum(fixed), *fixed]


def _head() -> list[list]:
    s = L.styles()

    def h(label: str) -> object:
        return L.para(f"<b>{L.text(label)}</b>", s.small_center)

    first = [
        h("Nội dung"),
        h("Đơn vị tính"),
        h("Số lượng"),
        h("Đơn giá BV (đồng)"),
        h("Đơn giá BH (đồng)"),
        h("Tỷ lệ TT theo dịch vụ (%)"),
        h("Thành tiền BV (đồng)"),
        h("Tỷ lệ TT BHYT (%)"),
        h("Thành tiền BH (đồng)"),
        h("Nguồn thanh toán (đồng)"),
        "",
        "",
        "",
    ]
    second = [""] * 9 + [
        h("Quỹ BHYT"),
        h("Người bệnh cùng chi trả"),
        h("Khác"),
        h("Người bệnh tự trả"),
    ]
    numbers = [L.para(f"({i})", s.small_center) for i in range(1, 14)]
    return [first, second, numbers]


def _money(split: Split, *, bold: bool = False) -> list:
    s = L.styles()
    values = (
        split.hospital_amount,
        None,
        split.bhyt_amount,
        split.fund,
        split.copay,
        split.other,
        split.self_pay,
    )
    out = []
    for v in values:
        shown = L.text(fmt_money(v))
        out.append(L.para(f"<b>{shown}</b>" if bold and shown else shown, s.cell_right))
    return out


def _sum_row(label: str, split: Split) -> list:
    s = L.styles()
    return [
        L.para(f"<b>{L.text(label)}</b>", s.cell),
        "",
        "",
        "",
        "",
        "",
        *_money(split, bold=True),
    ]


def _item_row(row: CostStatementRow) -> list:
    s = L.styles()
    p = row.split
    return [
        L.para(L.text(row.name), s.cell),
        L.para(L.text(row.unit), s.cell_center),
        L.para(L.text(L.fmt_decimal(row.quantity)), s.cell_right),
        L.para(L.text(fmt_money(row.hospital_price)), s.cell_right),
        L.para(L.text(fmt_money(row.bhyt_price)), s.cell_right),
        L.para(L.text(fmt_percent(row.service_ratio)), s.cell_center),
        L.para(L.text(fmt_money(p.hospital_amount)), s.cell_right),
        L.para(L.text(fmt_percent(row.bhyt_ratio)), s.cell_center),
        L.para(L.text(fmt_money(p.bhyt_amount)), s.cell_right),
        L.para(L.text(fmt_money(p.fund)), s.cell_right),
        L.para(L.text(fmt_money(p.copay)), s.cell_right),
        L.para(L.text(fmt_money(p.other)), s.cell_right),
        L.para(L.text(fmt_money(p.self_pay)), s.cell_right),
    ]


def block_title(block: CostStatementBlock) -> str:
    if not block.card_code:
        return "Chi phí người bệnh tự chi trả (không có thẻ BHYT)"
    rate = fmt_percent(block.benefit_rate) if block.benefit_rate is not None else ""
    return f"Mã thẻ BHYT: {L.nfc(block.card_code)} – Mức hưởng: {rate}%"


def _block_table(block: CostStatementBlock, *, grand_total: Split | None) -> Table:
    rows = _head()
    group_rows: list[int] = []
    sum_rows: list[int] = []
    for index, (_group, members) in enumerate(by_cost_group(block.rows, lambda r: r.cost_group), 1):
        group_rows.append(len(rows))
        subtotal = Split.total(r.split for r in members)
        rows.append(_sum_row(f"{index}. {members[0].cost_group_name}", subtotal))
        rows.extend(_item_row(r) for r in members)
    sum_rows.append(len(rows))
    rows.append(_sum_row("Cộng", block.totals))
    if grand_total is not None:
        sum_rows.append(len(rows))
        rows.append(_sum_row("Tổng cộng", grand_total))
    table = Table(rows, colWidths=_widths(), repeatRows=HEAD_ROWS)
    commands = [
        ("FONT", (0, 0), (-1, -1), L.FONT, 8),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
        ("BACKGROUND", (0, 0), (-1, HEAD_ROWS - 1), colors.HexColor("#E8E8E8")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("SPAN", (9, 0), (12, 0)),
    ]
    commands += [("SPAN", (c, 0), (c, 1)) for c in range(9)]
    for r in group_rows:
        commands += [
            ("SPAN", (0, r), (5, r)),
            ("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F4F4F4")),
        ]
    for r in sum_rows:
        commands += [
            ("SPAN", (0, r), (5, r)),
            ("BACKGROUND", (0, r), (-1, r), colors.HexColor("#E8E8E8")),
        ]
    table.setStyle(TableStyle(commands))
    return table


def _part_two(data: CostStatementDoc) -> list[Flowable]:
    s = L.styles()
    out: list[Flowable] = [L.para("II. Phần chi phí khám bệnh, chữa bệnh:", s.section)]
    if not data.blocks:
        out.append(L.para("(Không có chi phí)", s.small))
        return out
    last = len(data.blocks) - 1
    for i, block in enumerate(data.blocks):
        out.append(L.para(f"<b>{L.text(block_title(block))}</b>", s.body))
        # The grand total closes the last table when there are several blocks.
        grand = data.totals if i == last and last > 0 else None
        out.append(_block_table(block, grand_total=grand))
        out.append(Spacer(1, 2 * mm))
    return out


def _totals_text(data: CostStatementDoc) -> list[Flowable]:
    s = L.styles()
    t = data.totals
    episode = "cả đợt điều trị" if data.inpatient else "lần khám bệnh"

    def money(value) -> str:
        return f"<b>{L.text(fmt_money(value))}</b> đồng"

    return [
        L.para(
            f"Tổng chi phí {episode}: {money(t.hospital_amount)} "
            f"(Viết bằng chữ: <b>{L.text(amount_in_words_vi(t.hospital_amount))}</b>)"
        ),
        L.para("Trong đó, số tiền do:"),
        L.para(f"- Quỹ BHYT thanh toán: {money(t.fund)}"),
        L.para(
            f"- Người bệnh trả: {money(t.patient_amount)}, trong đó: cùng chi trả trong phạm vi "
            f"quyền lợi BHYT: {money(t.copay)}; các khoản phải tự trả: {money(t.self_pay)}"
        ),
        L.para(f"- Nguồn khác: {money(t.other)}"),
        *[L.para(f"- {L.text(note)}", s.small) for note in data.notes],
    ]


def render_cost_statement(data: CostStatementDoc) -> bytes:
    """The cost statement (01/KBCB) as PDF bytes, landscape A4."""
    kind = "Nội trú" if data.inpatient else "Ngoại trú"
    story: list[Flowable] = [
        L.header(data.facility, number=data.statement_number, form_code=FORM_CODE, width=WIDTH),
        *L.title(
            "Bảng kê chi phí khám bệnh, chữa bệnh",
            f"{kind} – Số khám bệnh: {L.nfc(data.visit_number)}",
        ),
        *_part_one(data),
        *_part_two(data),
        *_totals_text(data),
        Spacer(1, 3 * mm),
    ]
    signature = L.signatures(
        [
            ("Người lập bảng kê", "(Ký, ghi rõ họ tên)", data.prepared_by, ""),
            ("Kế toán viện phí", "(Ký, ghi rõ họ tên)", data.cashier_name, ""),
            ("Xác nhận của người bệnh", "(Ký, ghi rõ họ tên)", "", ""),
            ("Giám định BHYT", "(Ký, ghi rõ họ tên)", "", ""),
        ],
        day=data.printed_on,
        total_width=WIDTH,
    )
    story.append(KeepTogether([signature]))
    return L.build_pdf(story, title="Bảng kê chi phí KCB", author=data.facility.name, pagesize=PAGE)
