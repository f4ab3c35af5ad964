"""Shared layout of the clinical documents: the embedded font, styles, the facility header with the
national motto, the patient block, signature blocks and the formatting of dates and numbers.

Everything here is pure: it turns values into reportlab flowables. Every string that reaches a
flowable goes through `text()` (NFC normalisation, then XML escaping for reportlab's paragraph
markup), so Vietnamese letters are drawn from their precomposed glyphs, never as a base letter
with floating combining marks.

The font is DejaVu Sans (regular and bold), shipped in `fonts/` with its licence and embedded as a
TrueType subset in every PDF: no reader substitutes a base-14 font that lacks Vietnamese glyphs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

MOTTO_COUNTRY = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"

PAGE_SIZE = A4
MARGIN = 15 * mm
FRAME_PADDING = 6  # reportlab's default Frame padding, on each side
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN - 2 * FRAME_PADDING


# --- Font ------------------------------------------------------------------------------------


@cache
def register_fonts() -> str:
    """Register DejaVu Sans (regular, bold) once per process; returns the family name.

    Italic maps to regular: the forms use no italics beyond hints, and shipping two more font
    files for them is not worth it.
    """
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )
    return FONT


# --- Text and values -------------------------------------------------------------------------


def nfc(value: object) -> str:
    """The value as NFC-normalised text ('' for None)."""
    return unicodedata.normalize("NFC", "" if value is None else str(value))


def text(value: object) -> str:
    """NFC-normalised text, escaped for reportlab's paragraph markup."""
    return escape(nfc(value))


def fmt_datetime(moment: datetime | None) -> str:
    """dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh; '' for None. Naive datetimes are refused."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


def fmt_date(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def local_date(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def date_line(day: date, place: str = "") -> str:
    """'Đà Nẵng, ngày 05 tháng 03 năm 2026' as written above signatures on Vietnamese forms."""
    prefix = f"{nfc(place)}, ngày" if place else "Ngày"
    return f"{prefix} {day.day:02d} tháng {day.month:02d} năm {day.year}"


def fmt_decimal(value: Decimal | int | None, *, sep: str = ",") -> str:
    """A quantity without trailing zeros, Vietnamese decimal comma by default: 1.500 -> '1,5'."""
    if value is None:
        return ""
    d = Decimal(value)
    if d == d.to_integral_value():
        return f"{d.to_integral_value():f}"
    return f"{d.normalize():f}".replace(".", sep)


def age_in_months(birth_date: date, on: date) -> int:
    """Completed months of age on `on` (never negative)."""
    months = (on.year - birth_date.year) * 12 + on.month - birth_date.month
    if on.day < birth_date.day:
        months -= 1
    return max(months, 0)


def age_label(birth_date: date | None, birth_year: int, on: date) -> str:
    """Age as the prescription form wants it: months for a child under 72 months, else years."""
    if birth_date is None:
        return f"{on.year - birth_year} tuổi"
    months = age_in_months(birth_date, on)
    if months < 72:
        return f"{months} tháng tuổi"
    return f"{months // 12} tuổi"


def dotted(value: object, width: int = 30) -> str:
    """The value, or a dotted blank to fill by hand as on the paper form."""
    s = nfc(value).strip()
    return escape(s) if s else "." * width


# --- Styles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    small_center: ParagraphStyle
    center: ParagraphStyle
    center_bold: ParagraphStyle
    right: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    section: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    cell_center: ParagraphStyle
    cell_right: ParagraphStyle


@cache
def styles() -> Styles:
    font = register_fonts()

    def style(name: str, **kw) -> ParagraphStyle:
        base = {"fontName": font, "fontSize": 10, "leading": 13.5, "alignment": TA_LEFT}
        base.update(kw)
        return ParagraphStyle(name, **base)

    return Styles(
        body=style("body"),
        small=style("small", fontSize=8.5, leading=11),
        small_center=style("small_center", fontSize=8.5, leading=11, alignment=TA_CENTER),
        center=style("center", alignment=TA_CENTER),
        center_bold=style("center_bold", fontName=FONT_BOLD, alignment=TA_CENTER),
        right=style("right", alignment=TA_RIGHT),
        title=style(
            "title",
            fontName=FONT_BOLD,
            fontSize=16,
            leading=20,
            alignment=TA_CENTER,
            spaceBefore=4,
            spaceAfter=2,
        ),
        subtitle=style("subtitle", fontSize=9.5, leading=12, alignment=TA_CENTER, spaceAfter=6),
        section=style("section", fontName=FONT_BOLD, spaceBefore=6, spaceAfter=2),
        cell=style("cell", fontSize=9, leading=11.5),
        cell_bold=style("cell_bold", fontName=FONT_BOLD, fontSize=9, leading=11.5),
        cell_center=style("cell_center", fontSize=9, leading=11.5, alignment=TA_CENTER),
        cell_right=style("cell_right", fontSize=9, leading=11.5, alignment=TA_RIGHT),
    )


def para(markup: str, style: ParagraphStyle | None = None) -> Paragraph:
    """A paragraph from markup whose variable parts were passed through `text()`."""
    return Paragraph(unicodedata.normalize("NFC", markup), style or styles().body)


def field(
    label: str,
    value: object,
    *,
    width: int = 30,
    bold: bool = True,
    style: ParagraphStyle | None = None,
) -> Paragraph:
    """'Label: value', the value bold unless told otherwise (a dotted blank when empty).

    Line breaks in the value are kept."""
    shown = dotted(value, width).replace("\n", "<br/>")
    if bold and nfc(value).strip():
        shown = f"<b>{shown}</b>"
    return para(f"{text(label)}: {shown}", style)


def fields_row(pairs: Sequence[tuple[str, object]], widths: Sequence[float] | None = None) -> Table:
    """Several 'label: value' fields side by side on one line."""
    cells = [field(label, value) for label, value in pairs]
    widths = widths or [CONTENT_WIDTH / len(cells)] * len(cells)
    table = Table([cells], colWidths=list(widths))
    table.setStyle(no_padding())
    return table


def no_padding() -> TableStyle:
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 9),  # plain-string cells, e.g. empty ones
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ]
    )


# --- Blocks ----------------------------------------------------------------------------------


class _Rule(Flowable):
    """A short centred line under the motto, as printed on administrative forms."""

    def __init__(self, width: float, line: float):
        super().__init__()
        self.width, self.line, self.height = width, line, 3

    def draw(self) -> None:
        x = (self.width - self.line) / 2
        self.canv.setLineWidth(0.6)
        self.canv.line(x, 1.5, x + self.line, 1.5)


def header(
    facility,
    *,
    department: str = "",
    number: str = "",
    form_code: str = "",
    width: float = CONTENT_WIDTH,
) -> Table:
    """The facility header: managing body, facility name and code, address on the left; the
    national motto on the right, with the document number and form code under it. `width` is the
    frame width (a landscape page passes its own)."""
    s = styles()
    left_w, right_w = width * 0.46, width * 0.54
    left = []
    if facility.managing_body:
        left.append(para(text(facility.managing_body.upper()), s.small_center))
    left.append(para(f"<b>{text(facility.name.upper())}</b>", s.center))
    left.append(para(f"Mã cơ sở KCB: <b>{text(facility.code)}</b>", s.small_center))
    if facility.address:
        left.append(para(text(facility.address), s.small_center))
    if facility.phone:
        left.append(para(f"Điện thoại: {text(facility.phone)}", s.small_center))
    if department:
        left.append(para(f"Khoa: <b>{text(department)}</b>", s.small_center))
    right = [
        para(f"<b>{text(MOTTO_COUNTRY)}</b>", s.center),
        para(f"<b>{text(MOTTO)}</b>", s.center),
        _Rule(right_w - 12, 52 * mm),
    ]
    if form_code:
        right.append(para(text(form_code), s.small_center))
    if number:
        right.append(para(f"Số: <b>{text(number)}</b>", s.small_center))
    table = Table([[left, right]], colWidths=[left_w, right_w])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def title(main: str, sub: str = "") -> list[Flowable]:
    s = styles()
    out: list[Flowable] = [Spacer(1, 4 * mm), para(text(main.upper()), s.title)]
    if sub:
        out.append(para(text(sub), s.subtitle))
    else:
        out.append(Spacer(1, 3 * mm))
    return out


def diagnosis_text(diagnoses: Iterable) -> str:
    """'Viêm phổi (J18.9); Tăng huyết áp (I10)': main diagnosis first, each with its ICD-10 code."""
    return "; ".join(f"{nfc(d.text)} ({nfc(d.icd_code)})" for d in diagnoses)


def diagnosis_block(diagnoses: Sequence, label: str = "Chẩn đoán") -> list[Flowable]:
    """Main diagnosis in bold, secondary ones after 'Bệnh kèm theo', each with its ICD-10 code."""
    main = [d for d in diagnoses if d.is_main]
    other = [d for d in diagnoses if not d.is_main]
    out: list[Flowable] = []
    if not diagnoses:
        out.append(para(f"{text(label)}: {dotted('', 60)}"))
        return out
    first = main[0] if main else other.pop(0)
    out.append(
        para(f"{text(label)}: <b>{text(first.text)} ({text(first.icd_code)})</b>"),
    )
    if other:
        out.append(para(f"Bệnh kèm theo: {text(diagnosis_text(other))}"))
    return out


def patient_block(patient, *, on: date, extra: Sequence[tuple[str, object]] = ()) -> list[Flowable]:
    """Name, age, sex; address; identity and insurance card: the administrative part of a form."""
    born = fmt_date(patient.birth_date) if patient.birth_date else str(patient.birth_year)
    rows: list[Flowable] = [
        fields_row(
            [
                ("Họ và tên", patient.full_name.upper()),
                ("Ngày sinh", born),
                ("Giới tính", patient.sex),
            ],
            [CONTENT_WIDTH * 0.5, CONTENT_WIDTH * 0.28, CONTENT_WIDTH * 0.22],
        ),
        fields_row(
            [
                ("Tuổi", age_label(patient.birth_date, patient.birth_year, on)),
                ("Mã người bệnh", patient.record_number),
                ("Số CCCD/định danh", patient.identity_number),
            ],
            [CONTENT_WIDTH * 0.22, CONTENT_WIDTH * 0.36, CONTENT_WIDTH * 0.42],
        ),
        field("Địa chỉ", patient.address, width=80),
        fields_row(
            [
                ("Số thẻ BHYT", patient.insurance_card_code),
                ("Giá trị sử dụng", card_validity(patient)),
            ],
            [CONTENT_WIDTH * 0.5, CONTENT_WIDTH * 0.5],
        ),
    ]
    rows.extend(field(label, value, width=60) for label, value in extra)
    return rows


def card_validity(patient) -> str:
    if not patient.insurance_card_code:
        return ""
    if patient.card_valid_from or patient.card_valid_to:
        return f"{fmt_date(patient.card_valid_from)} – {fmt_date(patient.card_valid_to)}"
    return ""


def signatures(
    columns: Sequence[tuple[str, str, str, str]],
    *,
    day: date | None = None,
    total_width: float = CONTENT_WIDTH,
) -> Table:
    """Signature columns: (role, hint, name, note under the name). The date line sits above the
    last column. An all-empty tuple leaves a column blank."""
    s = styles()
    width = total_width / len(columns)
    row = []
    for i, (role, hint, name, note) in enumerate(columns):
        cell: list[Flowable] = []
        if day is not None and i == len(columns) - 1:
            cell.append(para(text(date_line(day)), s.center))
        else:
            cell.append(Spacer(1, 13.5))
        cell.append(para(f"<b>{text(role)}</b>", s.center))
        if hint:
            cell.append(para(text(hint), s.small_center))
        cell.append(Spacer(1, 18 * mm))
        cell.append(para(f"<b>{text(name)}</b>" if name else "", s.center))
        if note:
            cell.append(para(text(note), s.small_center))
        row.append(cell)
    table = Table([row], colWidths=[width] * len(columns))
    table.setStyle(no_padding())
    return table


def grid(rows: list[list], widths: Sequence[float], *, highlight_rows: Iterable[int] = ()) -> Table:
    """A ruled table with a bold shaded header row; `highlight_rows` are tinted (flagged values)."""
    table = Table(rows, colWidths=list(widths), repeatRows=1)
    commands = [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8E8E8")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    commands.extend(
        ("BACKGROUND", (0, r), (-1, r), colors.HexColor("#FDECEC")) for r in highlight_rows
    )
    table.setStyle(TableStyle(commands))
    return table


# --- Document --------------------------------------------------------------------------------


def build_pdf(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    pagesize: tuple[float, float] = PAGE_SIZE,
) -> bytes:
    """Lay the story out on A4 (portrait unless `pagesize` says otherwise) with page numbers;
    returns the PDF bytes.

    `invariant` keeps the output byte-stable for the same input (no creation timestamp, fixed id).
    """
    register_fonts()
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=nfc(title),
        author=nfc(author),
        creator="ehealth",
        invariant=1,
        # The canvas would otherwise start in Helvetica and list it, unembedded, in the PDF.
        initialFontName=FONT,
    )

    def number_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawRightString(
            pagesize[0] - MARGIN, 8 * mm, nfc(f"{title} – trang {document.page}")
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=number_page, onLaterPages=number_page)
    return buffer.getvalue()
