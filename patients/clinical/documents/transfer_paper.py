"""Giấy chuyển cơ sở khám bệnh, chữa bệnh: the transfer paper, after the MoH form (Thông tư
01/2025/TT-BYT appendix; XML13 of the claim): paper number, from and to facility, the patient, where
and when they were treated, a summary of the record (clinical signs, results, diagnoses with ICD-10
codes, treatment and drugs given, condition at transfer), the reason and the time of transfer.
What the record does not hold (means of transport, escort) is left as a dotted blank to fill by
hand, as on the paper form. Pure: no queries (see `data.py`).
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from patients.clinical.documents import layout as L
from patients.clinical.documents.data import TransferPaperDoc


def _destination(data: TransferPaperDoc) -> str:
    if data.destination_name and data.destination_code:
        return f"{data.destination_name} (mã {data.destination_code})"
    return data.destination_name or (
        f"Cơ sở KCB mã {data.destination_code}" if data.destination_code else ""
    )


def render_transfer_paper(data: TransferPaperDoc) -> bytes:
    """The transfer paper as PDF bytes."""
    s = L.styles()
    on = L.local_date(data.transferred_at or data.treated_from)
    story: list[Flowable] = [
        L.header(data.facility, department=data.department, number=data.paper_number),
        *L.title("Giấy chuyển cơ sở khám bệnh, chữa bệnh"),
        L.field("Kính gửi", _destination(data), width=70),
        L.para(
            f"Cơ sở khám bệnh, chữa bệnh <b>{L.text(data.facility.name)}</b> "
            "trân trọng giới thiệu người bệnh:"
        ),
        Spacer(1, 1 * mm),
        *L.patient_block(data.patient, on=on),
        L.fields_row(
            [("Dân tộc", data.patient.ethnicity), ("Nghề nghiệp", data.patient.occupation)],
            [L.CONTENT_WIDTH * 0.4, L.CONTENT_WIDTH * 0.6],
        ),
        L.para(
            f"Đã được khám bệnh, điều trị (<b>{L.text(data.care_kind)}</b>) tại "
            f"<b>{L.text(data.facility.name)}</b>"
            + (f", {L.text(data.department)}" if data.department else "")
            + f" từ <b>{L.text(L.fmt_datetime(data.treated_from))}</b>"
            + f" đến <b>{L.dotted(L.fmt_datetime(data.treated_to), 16)}</b>."
        ),
        L.para("TÓM TẮT BỆNH ÁN", s.section),
        L.field("Dấu hiệu lâm sàng", data.clinical_findings, width=70, bold=False),
    ]
    if data.results_summary:
        story.append(L.para("Kết quả xét nghiệm, cận lâm sàng:"))
        story.extend(L.para(f"- {L.text(r)}", s.cell) for r in data.results_summary)
    else:
        story.append(L.field("Kết quả xét nghiệm, cận lâm sàng", "", width=60))
    story.extend(L.diagnosis_block(list(data.diagnoses)))
    story.append(
        L.field(
            "Phương pháp, thủ thuật, kỹ thuật, thuốc đã sử dụng trong điều trị",
            data.treatment_given,
            width=40,
            bold=False,
        )
    )
    if data.drugs_given:
        story.append(L.para(f"Thuốc đã dùng: {L.text('; '.join(data.drugs_given))}", s.cell))
    story.append(L.field("Tình trạng người bệnh lúc chuyển", data.condition_at_transfer, width=60))
    reason = data.reason
    if data.reason_kind:
        reason = f"{data.reason_kind}. {reason}" if reason else data.reason_kind
    story.extend(
        [
            L.field("Lý do chuyển", reason, width=70),
            L.field("Hướng điều trị", data.plan, width=70, bold=False),
            L.field("Chuyển hồi", L.fmt_datetime(data.transferred_at)),
            L.field("Phương tiện vận chuyển", "", width=60),
            L.field("Họ tên, chức danh, trình độ chuyên môn của người hộ tống", "", width=40),
            Spacer(1, 3 * mm),
            KeepTogether(
                [
                    L.signatures(
                        [
                            (
                                "Y, bác sĩ khám, điều trị",
                                "(Ký, ghi rõ họ tên)",
                                data.doctor_name,
                                "",
                            ),
                            ("Người có thẩm quyền chuyển", "(Ký tên, đóng dấu)", "", ""),
                        ],
                        day=on,
                    )
                ]
            ),
        ]
    )
    return L.build_pdf(story, title="Giấy chuyển cơ sở KCB", author=data.facility.name)
