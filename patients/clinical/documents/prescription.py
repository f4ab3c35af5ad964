"""Đơn thuốc: the prescription form, laid out as the MoH prescription form (Thông tư 26/2025/TT-BYT,
formerly 52/2017): facility header; patient name, age (months under 72 months, with a guardian),
sex, address, identity and BHYT card; diagnosis with ICD-10 codes; numbered drug lines (name with
active ingredient and strength, quantity and unit, then how to take it); the doctor's advice, the
re-examination date and the doctor's dated signature. Pure: no queries (see `data.py`).
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table

from patients.clinical.documents import layout as L
from patients.clinical.documents.data import DrugLine, PrescriptionDoc


def drug_title(line: DrugLine) -> str:
    """The drug as the form names it: active ingredient (name) strength, dosage form.

    A single-ingredient drug is written by its active ingredient with the trade name in brackets;
    when the catalog name already is the ingredient, it is written once.
    """
    name = L.nfc(line.name).strip()
    ingredient = L.nfc(line.active_ingredient).strip()
    if ingredient and not name.casefold().startswith(ingredient.casefold()):
        name = f"{ingredient} ({name})"
    strength = L.nfc(line.strength).strip()
    if strength and strength.casefold() not in name.casefold():
        name = f"{name} {strength}"
    return name


def drug_usage(line: DrugLine) -> str:
    """'Uống, ngày 3 lần, mỗi lần 1 viên, trong 5 ngày. Sau ăn no.'"""
    usage = (
        f"{L.nfc(line.route).strip().capitalize() or 'Dùng'}, ngày {line.times_per_day} lần, "
        f"mỗi lần {L.fmt_decimal(line.dose)} {L.nfc(line.dose_unit)}, trong {line.days} ngày."
    )
    if line.instructions.strip():
        usage += f" {L.nfc(line.instructions).strip()}"
    return usage


def _drug_rows(lines: tuple[DrugLine, ...]) -> list[Flowable]:
    s = L.styles()
    out: list[Flowable] = []
    for line in lines:
        quantity = f"SL: <b>{L.text(L.fmt_decimal(line.quantity))}</b> {L.text(line.unit)}"
        row = Table(
            [
                [
                    L.para(f"<b>{line.number}.</b>"),
                    L.para(f"<b>{L.text(drug_title(line))}</b>"),
                    L.para(quantity, s.right),
                ],
                ["", L.para(f"Cách dùng: {L.text(drug_usage(line))}", s.cell), ""],
            ],
            colWidths=[8 * mm, L.CONTENT_WIDTH - 8 * mm - 38 * mm, 38 * mm],
        )
        style = L.no_padding()
        style.add("SPAN", (1, 1), (2, 1))  # the usage line runs under the quantity too
        row.setStyle(style)
        out.append(KeepTogether([row, Spacer(1, 2 * mm)]))
    return out


def render_prescription(data: PrescriptionDoc) -> bytes:
    """The prescription as PDF bytes."""
    s = L.styles()
    on = L.local_date(data.prescribed_at)
    story: list[Flowable] = [
        L.header(data.facility, department=data.department, number=data.number),
        *L.title("Đơn thuốc", "BẢN NHÁP – đơn chưa được phát hành" if data.is_draft else ""),
    ]
    extra: list[tuple[str, object]] = []
    if data.patient.guardian:
        extra.append(("Họ tên bố/mẹ hoặc người giám hộ", data.patient.guardian))
    story.extend(L.patient_block(data.patient, on=on, extra=extra))
    if data.weight_kg is not None:
        story.append(L.field("Cân nặng", f"{L.fmt_decimal(data.weight_kg)} kg"))
    story.extend(L.diagnosis_block(list(data.diagnoses)))
    story.append(L.para("Thuốc điều trị:", s.section))
    if data.lines:
        story.extend(_drug_rows(data.lines))
        story.append(L.para(f"Cộng khoản: <b>{len(data.lines)}</b> loại thuốc", s.small))
    else:
        story.append(L.para("(Không có thuốc)", s.small))
    story.append(Spacer(1, 2 * mm))
    story.append(L.field("Lời dặn của bác sĩ", data.advice, width=70, bold=False))
    if data.follow_up_date:
        story.append(L.field("Ngày tái khám", L.fmt_date(data.follow_up_date)))
    story.append(L.para(f"Thời điểm kê đơn: {L.text(L.fmt_datetime(data.prescribed_at))}", s.small))
    doctor_note = f"Số CCHN: {data.doctor_code}" if data.doctor_code else ""
    signature = L.signatures(
        [
            ("", "", "", ""),
            ("Bác sĩ/Y sĩ khám bệnh", "(Ký, ghi rõ họ tên)", data.doctor_name, doctor_note),
        ],
        day=on,
    )
    story.append(Spacer(1, 3 * mm))
    story.append(KeepTogether([signature]))
    story.append(Spacer(1, 4 * mm))
    story.append(L.para("- Khám lại xin mang theo đơn này.", s.small))
    story.append(
        L.para(
            "- Số điện thoại liên hệ: " + L.dotted(data.facility.phone, 20),
            s.small,
        )
    )
    return L.build_pdf(story, title="Đơn thuốc", author=data.facility.name)
