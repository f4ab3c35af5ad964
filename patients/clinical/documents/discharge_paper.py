"""Giấy ra viện: the discharge paper of an inpatient stay, after the MoH form, carrying the fields
of XML7 (QĐ 130/4750/3176): MA_YTE (record number), SO_LUU_TRU (archive number), MA_KHOA_RV
(department of discharge), NGAY_VAO, NGAY_RA, CHAN_DOAN_RV (with ICD-10 codes), PP_DIEUTRI,
GHI_CHU (advice), TEN_BS/MA_BS and NGAY_CT (date of the paper); plus the treatment result,
discharge type, treatment days and follow-up. Pure: no queries (see `data.py`).
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from patients.clinical.documents import layout as L
from patients.clinical.documents.data import DischargePaperDoc


def render_discharge_paper(data: DischargePaperDoc) -> bytes:
    """The discharge paper as PDF bytes."""
    s = L.styles()
    on = L.local_date(data.discharged_at or data.admitted_at)
    department = data.department_name
    if data.department_code:
        department = (
            f"{department} ({data.department_code})" if department else data.department_code
        )
    story: list[Flowable] = [
        L.header(data.facility, department=department, form_code="MS: 01/BV-RV"),
        L.fields_row(
            [("Mã y tế", data.patient.record_number), ("Số lưu trữ", data.storage_number)],
            [L.CONTENT_WIDTH * 0.5, L.CONTENT_WIDTH * 0.5],
        ),
        *L.title("Giấy ra viện"),
        *L.patient_block(data.patient, on=on),
        L.fields_row(
            [("Dân tộc", data.patient.ethnicity), ("Nghề nghiệp", data.patient.occupation)],
            [L.CONTENT_WIDTH * 0.4, L.CONTENT_WIDTH * 0.6],
        ),
        Spacer(1, 1.5 * mm),
        L.fields_row(
            [
                ("Vào viện lúc", L.fmt_datetime(data.admitted_at)),
                ("Ra viện lúc", L.fmt_datetime(data.discharged_at)),
            ],
            [L.CONTENT_WIDTH * 0.5, L.CONTENT_WIDTH * 0.5],
        ),
        L.field(
            "Số ngày điều trị",
            "" if data.treatment_days is None else f"{data.treatment_days} ngày",
        ),
        *L.diagnosis_block(list(data.diagnoses), label="Chẩn đoán ra viện"),
        L.field("Phương pháp điều trị", data.treatment_method, width=70, bold=False),
    ]
    if data.treatment_summary:
        story.append(L.field("Tóm tắt quá trình điều trị", data.treatment_summary, bold=False))
    story.append(
        L.fields_row(
            [
                ("Kết quả điều trị", data.treatment_result),
                ("Tình trạng ra viện", data.discharge_type),
            ],
            [L.CONTENT_WIDTH * 0.5, L.CONTENT_WIDTH * 0.5],
        )
    )
    story.append(L.field("Ghi chú (lời dặn)", data.advice, width=70, bold=False))
    if data.follow_up_date:
        story.append(L.field("Hẹn tái khám ngày", L.fmt_date(data.follow_up_date)))
    doctor_note = f"Mã BS: {data.doctor_code}" if data.doctor_code else ""
    story.extend(
        [
            Spacer(1, 4 * mm),
            KeepTogether(
                [
                    L.signatures(
                        [
                            ("Thủ trưởng đơn vị", "(Ký tên, đóng dấu)", "", ""),
                            (
                                "Bác sĩ điều trị",
                                "(Ký, ghi rõ họ tên)",
                                data.doctor_name,
                                doctor_note,
                            ),
                        ],
                        day=on,
                    )
                ]
            ),
        ]
    )
    if data.claim_key:
        story.append(Spacer(1, 3 * mm))
        story.append(L.para(f"Mã liên kết hồ sơ (MA_LK): {L.text(data.claim_key)}", s.small))
    return L.build_pdf(story, title="Giấy ra viện", author=data.facility.name)
