"""Phiếu kết quả xét nghiệm: the lab result sheet. Facility header, patient block, diagnosis, then
per order a table of values with units and reference ranges; a value outside its range is printed
bold on a tinted row with "↑ Cao" / "↓ Thấp" in the flag column. Conclusions, who performed the
test and when the result came. Pure: no queries (see `data.py`).
"""

from __future__ import annotations

from decimal import Decimal

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from patients.clinical.documents import layout as L
from patients.clinical.documents.data import LabResultDoc, ResultLine, ResultOrder

FLAG_TEXT = {"H": "↑ Cao", "L": "↓ Thấp", "N": "Bình thường"}


def reference_range(line: ResultLine) -> str:
    """'3,5 – 5' / '≤ 5,7' / '≥ 60' with the decimal separator the value was typed with."""
    sep = "," if "," in line.value else "."

    def num(d: Decimal | None) -> str:
        return L.fmt_decimal(d, sep=sep)

    low, high = line.reference_low, line.reference_high
    if low is not None and high is not None:
        return f"{num(low)} – {num(high)}"
    if high is not None:
        return f"≤ {num(high)}"
    if low is not None:
        return f"≥ {num(low)}"
    return ""


def _values_table(order: ResultOrder) -> Flowable:
    s = L.styles()
    head = ["STT", "Tên xét nghiệm", "Kết quả", "Đơn vị", "Trị số tham chiếu", "Đánh giá"]
    rows: list[list] = [[L.para(f"<b>{L.text(h)}</b>", s.cell_center) for h in head]]
    flagged: list[int] = []
    for i, v in enumerate(order.values, start=1):
        value = L.text(v.value)
        flag = L.text(FLAG_TEXT.get(v.flag, ""))
        if v.out_of_range:
            value, flag = f"<b>{value}</b>", f"<b>{flag}</b>"
            flagged.append(i)
        rows.append(
            [
                L.para(str(i), s.cell_center),
                L.para(L.text(v.name), s.cell),
                L.para(value, s.cell_center),
                L.para(L.text(v.unit), s.cell_center),
                L.para(L.text(reference_range(v)), s.cell_center),
                L.para(flag, s.cell_center),
            ]
        )
    w = L.CONTENT_WIDTH
    widths = [10 * mm, w - 10 * mm - 24 * mm - 22 * mm - 34 * mm - 24 * mm, 24 * mm, 22 * mm]
    widths += [34 * mm, 24 * mm]
    return L.grid(rows, widths, highlight_rows=flagged)


def _order_block(order: ResultOrder) -> list[Flowable]:
    s = L.styles()
    out: list[Flowable] = [
        L.para(
            f"<b>{L.text(order.service_name)}</b> "
            f"<font size=8.5>({L.text(order.service_code)})</font>",
            s.section,
        ),
        L.para(
            f"Chỉ định lúc: {L.text(L.fmt_datetime(order.ordered_at))}"
            f" &nbsp;&nbsp; Có kết quả lúc: {L.dotted(L.fmt_datetime(order.resulted_at), 16)}"
            + (
                f" &nbsp;&nbsp; Nơi thực hiện: {L.text(order.performing_department)}"
                if order.performing_department
                else ""
            ),
            s.small,
        ),
        Spacer(1, 1.5 * mm),
    ]
    if order.values:
        out.append(_values_table(order))
    elif not order.conclusion and not order.description:
        out.append(L.para("(Chưa có kết quả)", s.small))
    if order.description:
        out.append(L.field("Mô tả", order.description, bold=False, style=s.cell))
    if order.conclusion:
        out.append(L.field("Kết luận", order.conclusion, style=s.cell))
    if order.performed_by:
        out.append(L.para(f"Người thực hiện: {L.text(order.performed_by)}", s.small))
    return [KeepTogether(out[:4]), *out[4:], Spacer(1, 3 * mm)]


def render_lab_results(data: LabResultDoc) -> bytes:
    """The lab result sheet as PDF bytes."""
    s = L.styles()
    first = data.orders[0].ordered_at if data.orders else data.encounter_started_at
    resulted = [o.resulted_at for o in data.orders if o.resulted_at]
    story: list[Flowable] = [
        L.header(data.facility, department=data.department, number=data.number),
        *L.title(data.title),
        *L.patient_block(data.patient, on=L.local_date(first)),
        *L.diagnosis_block(list(data.diagnoses)),
        L.field("Bác sĩ chỉ định", data.ordering_doctor),
    ]
    flagged = sum(v.out_of_range for o in data.orders for v in o.values)
    if flagged:
        story.append(
            L.para(
                f"Có <b>{flagged}</b> chỉ số ngoài khoảng tham chiếu (in đậm, đánh dấu ↑/↓).",
                s.small,
            )
        )
    story.append(Spacer(1, 2 * mm))
    if not data.orders:
        story.append(L.para("(Chưa có kết quả xét nghiệm)", s.body))
    for order in data.orders:
        story.extend(_order_block(order))
    day = L.local_date(max(resulted)) if resulted else L.local_date(first)
    story.append(
        KeepTogether(
            [
                L.signatures(
                    [
                        ("Bác sĩ chỉ định", "(Ký, ghi rõ họ tên)", data.ordering_doctor, ""),
                        ("Trưởng khoa xét nghiệm", "(Ký, ghi rõ họ tên)", "", ""),
                    ],
                    day=day,
                )
            ]
        )
    )
    return L.build_pdf(story, title=data.title, author=data.facility.name)
