"""Báo cáo tổng hợp hồ sơ đề nghị thanh toán BHYT theo tháng: the unit director's monthly summary.

Landscape A4 with the shared facility header (`patients.clinical.documents.layout`, embedded
DejaVu Sans): I. the month's dossiers per status (count, T_TONGCHI_BV, T_BHTT); II. the claimed
dossiers' lines per cost group (MA_NHOM, in the order of the cost statement 01/KBCB) with the
split of their money; signatures. Pure: the data comes from `workspace.monthly_summary`; no
patient is named. Vietnamese only (an administrative form, as the other PDFs).
"""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from billing.pdf.common import fmt_money
from insurance.claims.workspace import MonthlySummary
from patients.clinical.documents import layout as L

PAGE = landscape(A4)
WIDTH = PAGE[0] - 2 * L.MARGIN - 2 * L.FRAME_PADDING
TITLE = "Tổng hợp hồ sơ đề nghị thanh toán BHYT"


def _table(rows: list[list], widths: list[float], *, total_rows: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), L.FONT, 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8E8E8")),
                ("BACKGROUND", (0, -total_rows), (-1, -1), colors.HexColor("#E8E8E8")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _cells(values: list[str], *, bold: bool = False, first_left: int = 2) -> list:
    """Cells of one row: the first `first_left` left-aligned, the others right-aligned numbers."""
    s = L.styles()
    out = []
    for i, value in enumerate(values):
        style = (
            s.cell_bold if bold and i < first_left else s.cell if i < first_left else s.cell_right
        )
        text = L.text(value)
        out.append(L.para(f"<b>{text}</b>" if bold else text, style))
    return out


def _head(labels: list[str]) -> list:
    s = L.styles()
    return [L.para(f"<b>{L.text(label)}</b>", s.cell_center) for label in labels]


def _statuses(data: MonthlySummary) -> list[Flowable]:
    s = L.styles()
    t = data.statuses
    rows = [_head(["STT", "Trạng thái hồ sơ", "Số hồ sơ", "Tổng chi phí (T_TONGCHI_BV)", "Quỹ BHYT thanh toán (T_BHTT)"])]  # fmt: skip
    for i, row in enumerate(t.rows, 1):
        rows.append(
            _cells(
                [str(i), row.label, str(row.count), fmt_money(row.hospital), fmt_money(row.fund)]
            )
        )
    rows.append(
        _cells(["", "Tổng cộng", str(t.count), fmt_money(t.hospital), fmt_money(t.fund)], bold=True)
    )
    widths = [WIDTH * w for w in (0.06, 0.34, 0.14, 0.23, 0.23)]
    return [
        L.para("I. Hồ sơ trong tháng theo trạng thái", s.section),
        _table(rows, widths),
    ]


def _groups(data: MonthlySummary) -> list[Flowable]:
    s = L.styles()
    out: list[Flowable] = [
        L.para("II. Chi phí đề nghị thanh toán theo nhóm chi phí", s.section),
        L.para(
            L.text(
                f"Gồm {data.claimed_dossiers} hồ sơ sẵn sàng gửi, đã gửi, được chấp nhận, bị từ "
                "chối hoặc đã thanh toán (không gồm hồ sơ nháp và hồ sơ có lỗi), theo phiên bản "
                "hiện tại của từng hồ sơ (bảng XML2 và XML3)."
            ),
            s.small,
        ),
        Spacer(1, 1.5 * mm),
    ]
    rows = [
        _head(
            [
                "STT",
                "Nhóm chi phí (MA_NHOM)",
                "Số dòng",
                "Tổng chi phí BV",
                "Trong phạm vi BHYT",
                "Quỹ BHYT trả",
                "Người bệnh cùng chi trả",
                "Người bệnh tự trả",
                "Nguồn khác",
            ]
        )
    ]
    for i, g in enumerate(data.groups, 1):
        rows.append(
            _cells(
                [
                    str(i),
                    f"{g.label} ({g.cost_group})",
                    str(g.lines),
                    fmt_money(g.hospital),
                    fmt_money(g.bhyt),
                    fmt_money(g.fund),
                    fmt_money(g.copay),
                    fmt_money(g.self_pay),
                    fmt_money(g.other),
                ]
            )
        )
    if not data.groups:
        rows.append(_cells(["", "(Không có hồ sơ đề nghị thanh toán)", "", "", "", "", "", "", ""]))
    rows.append(
        _cells(
            [
                "",
                "Tổng cộng",
                str(sum(g.lines for g in data.groups)),
                *(
                    fmt_money(data.group_total(n))
                    for n in ("hospital", "bhyt", "fund", "copay", "self_pay", "other")
                ),
            ],
            bold=True,
        )
    )
    widths = [WIDTH * w for w in (0.05, 0.23, 0.07, 0.11, 0.11, 0.11, 0.11, 0.11, 0.10)]
    out.append(_table(rows, widths))
    return out


def _signatures(data: MonthlySummary) -> Table:
    """Three signatures (who made it, the claims lead, the director), more compact than the
    clinical forms' so that a usual month fits on one landscape page."""
    s = L.styles()
    day = L.date_line(L.local_date(data.printed_at))
    columns = [
        ("Người lập biểu", "(Ký, ghi rõ họ tên)", data.printed_by),
        ("Phụ trách giám định BHYT", "(Ký, ghi rõ họ tên)", ""),
        ("Giám đốc", "(Ký, ghi rõ họ tên, đóng dấu)", ""),
    ]
    top = ["", "", L.para(L.text(day), s.center)]
    roles = [L.para(f"<b>{L.text(role)}</b>", s.center) for role, _hint, _name in columns]
    hints = [L.para(L.text(hint), s.small_center) for _role, hint, _name in columns]
    names = [L.para(f"<b>{L.text(name)}</b>", s.center) for _role, _hint, name in columns]
    table = Table(
        [top, roles, hints, ["", "", ""], names],
        colWidths=[WIDTH / 3] * 3,
        rowHeights=[None, None, None, 14 * mm, None],
    )
    table.setStyle(L.no_padding())
    return table


def render_monthly_summary(data: MonthlySummary) -> bytes:
    """The monthly summary of claims as PDF bytes, landscape A4."""
    s = L.styles()
    printed = L.fmt_datetime(data.printed_at)
    story: list[Flowable] = [
        L.header(data.facility, width=WIDTH),
        *L.title(TITLE, f"Tháng {data.period.month:02d} năm {data.period.year}"),
        L.para(
            L.text(
                f"Lập lúc {printed}"
                + (f" – người lập: {data.printed_by}" if data.printed_by else "")
            ),
            s.small,
        ),  # fmt: skip
        *_statuses(data),
        Spacer(1, 2 * mm),
        *_groups(data),
        Spacer(1, 2 * mm),
    ]
    signature = _signatures(data)
    story.append(KeepTogether([signature]))
    return L.build_pdf(story, title=TITLE, author=data.facility.name, pagesize=PAGE)
