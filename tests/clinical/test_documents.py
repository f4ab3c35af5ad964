"""Clinical documents: built from real rows, rendered to PDF, read back with pypdf.

Checks that Vietnamese text survives intact (NFC, no tofu: every font is an embedded DejaVu
subset with a ToUnicode map, so the extracted text is the text drawn), that the ICD codes, drug
lines, flagged results and the facility header are on the page, that times are shown in
Asia/Ho_Chi_Minh, and that each builder reads with a fixed number of queries.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from ehealth.core.models import Role
from ehealth.core.models.catalogs import CostGroup
from patients.choices import IdentifierSystem, Sex
from patients.clinical.documents.data import (
    DiagnosisLine,
    DrugLine,
    FacilityInfo,
    PatientInfo,
    PrescriptionDoc,
    discharge_paper_doc,
    lab_result_doc,
    prescription_doc,
    transfer_paper_doc,
)
from patients.clinical.documents.discharge_paper import render_discharge_paper
from patients.clinical.documents.lab_results import render_lab_results
from patients.clinical.documents.prescription import render_prescription
from patients.clinical.documents.transfer_paper import render_transfer_paper
from patients.clinical_choices import (
    Conclusion,
    DiagnosisPhase,
    DischargeType,
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
    TreatmentResult,
)
from patients.models import (
    Diagnosis,
    Prescription,
    PrescriptionItem,
    ResultValue,
    ServiceOrder,
    VitalSigns,
)
from tests.clinical.factories import make_drug, make_encounter, make_room, make_service
from tests.core.factories import DepartmentFactory, FacilityFactory, ProvinceFactory, make_staff
from tests.patients.factories import make_patient, unique_card, unique_cccd

# 09:30 on 5 March 2026 in Đà Nẵng is 02:30 UTC.
VISIT_AT = datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
PATIENT_NAME = "Nguyễn Thị Ánh"


# --- Helpers ----------------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF, whitespace collapsed (line wraps do not split assertions)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def pdf_fonts(pdf: bytes) -> list[dict]:
    """Every font resource of every page, resolved."""
    reader = PdfReader(io.BytesIO(pdf))
    fonts = []
    for page in reader.pages:
        resources = page["/Resources"].get_object()
        for ref in resources.get("/Font", {}).get_object().values():
            fonts.append(ref.get_object())
    return fonts


def assert_embedded_dejavu_only(pdf: bytes) -> None:
    fonts = pdf_fonts(pdf)
    assert fonts
    names = set()
    for font in fonts:
        base = str(font["/BaseFont"])
        names.add(re.sub(r"^/[A-Z]{6}\+", "", base))
        assert font["/Subtype"] == "/TrueType", base
        assert re.fullmatch(r"/[A-Z]{6}\+DejaVuSans(-Bold)?", base), base
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, f"{base} is not embedded"
        assert "/ToUnicode" in font, f"{base} has no ToUnicode map: text would not extract"
    assert names == {"DejaVuSans", "DejaVuSans-Bold"}


def keep(pdf: bytes, name: str) -> bytes:
    """Write the PDF to $DOCUMENTS_ARTIFACT_DIR when set (to look at it, or keep it from CI)."""
    target = os.environ.get("DOCUMENTS_ARTIFACT_DIR")
    if target:
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, f"{name}.pdf"), "wb") as fh:
            fh.write(pdf)
    return pdf


def query_count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def hospital(db):
    return FacilityFactory(
        code="48001",
        name="Bệnh viện Đa khoa Hòa Vang",
        address="Thôn Dương Lâm 1, xã Hòa Vang, thành phố Đà Nẵng",
        phone="0236 3846 225",
        managing_body="Sở Y tế thành phố Đà Nẵng",
    )


@pytest.fixture
def department(hospital):
    return DepartmentFactory(facility=hospital, code="K03", name="Khoa Nội tổng hợp")


@pytest.fixture
def clinician(hospital):
    return make_staff(
        hospital, Role.DOCTOR, full_name="Lê Văn Đức", practitioner_code="004512/ĐNA-CCHN"
    )


@pytest.fixture
def card():
    return unique_card()


@pytest.fixture
def patient(hospital, card):
    return make_patient(
        hospital,
        full_name=PATIENT_NAME,
        sex=Sex.FEMALE,
        birth_date=date(1990, 3, 4),
        identifiers={
            IdentifierSystem.CCCD: unique_cccd(sex=Sex.FEMALE, birth_year=1990),
            IdentifierSystem.BHYT: card,
        },
        address_line="25 Ông Ích Khiêm",
        province=ProvinceFactory(),
        ethnicity_code="01",
        occupation="Giáo viên",
    )


def add_diagnosis(encounter, by, code, text, rank, phase=DiagnosisPhase.ENCOUNTER):
    return Diagnosis.objects.create(
        encounter=encounter,
        phase=phase,
        icd_code=code,
        text=text,
        rank=rank,
        recorded_by=by,
        recorded_at=encounter.started_at,
    )


@pytest.fixture
def visit(hospital, department, clinician, patient, card):
    """A concluded outpatient visit with pneumonia and hypertension."""
    encounter = make_encounter(
        facility=hospital,
        patient=patient,
        room=make_room(hospital, department=department, name="Phòng khám Nội 1"),
        status=EncounterStatus.CONCLUDED,
        started_at=VISIT_AT,
        ended_at=VISIT_AT + timedelta(hours=2),
        attending=clinician,
        closed_by=clinician,
        insurance_card_code=card,
        insurance_card_valid_from=date(2026, 1, 1),
        insurance_card_valid_to=date(2026, 12, 31),
        conclusion=Conclusion.FOLLOW_UP,
        conclusion_note="Uống nhiều nước ấm, nghỉ ngơi; tái khám ngay nếu khó thở.",
        follow_up_date=date(2026, 3, 12),
    )
    add_diagnosis(encounter, clinician, "J18.9", "Viêm phổi, không đặc hiệu", 0)
    add_diagnosis(encounter, clinician, "I10", "Bệnh lý tăng huyết áp vô căn", 1)
    return encounter


DRUGS = [
    ("Amoxicillin", "Amoxicillin 500mg", "500mg", "viên", "21"),
    ("Paracetamol", "Hapacol", "500mg", "viên", "10"),
    ("Ambroxol", "Ambroxol", "30mg", "viên", "15"),
    ("Amlodipin", "Amlor", "5mg", "viên", "30"),
    ("Natri clorid", "Natri clorid 0,9%", "0,9%", "chai", "2"),
    ("Omeprazol", "Omeprazol", "20mg", "viên", "14"),
    ("Loratadin", "Clarityne", "10mg", "viên", "7"),
    ("Vitamin C", "Vitamin C", "500mg", "viên", "20"),
    ("Salbutamol", "Ventolin", "100mcg/liều", "bình xịt", "1"),
    ("Acetylcystein", "Acemuc", "200mg", "gói", "15"),
]


def make_prescription(encounter, by, n_lines: int, **fields) -> Prescription:
    rx = Prescription.objects.create(
        encounter=encounter,
        prescribed_by=by,
        prescribed_at=encounter.started_at + timedelta(minutes=40),
        status=fields.pop("status", PrescriptionStatus.ISSUED),
        **fields,
    )
    for ingredient, name, strength, unit, quantity in DRUGS[:n_lines]:
        drug = make_drug(name=name, active_ingredient=ingredient, strength=strength, unit=unit)
        PrescriptionItem.objects.create(
            prescription=rx,
            drug=drug,
            dose=Decimal("1"),
            dose_unit=unit,
            route="Uống",
            times_per_day=3,
            days=7,
            quantity=Decimal(quantity),
            instructions="Sau ăn no.",
        )
    return rx


def make_lab_order(encounter, by, values, *, name="Tổng phân tích tế bào máu ngoại vi", **kw):
    order = ServiceOrder.objects.create(
        encounter=encounter,
        service=make_service(name=name, group=kw.pop("group", CostGroup.LAB)),
        status=kw.pop("status", OrderStatus.RESULTED),
        ordered_by=by,
        ordered_at=encounter.started_at + timedelta(minutes=10),
        resulted_at=encounter.started_at + timedelta(minutes=70),
        performed_by=by,
        **kw,
    )
    for code, vname, value, unit, low, high, flag in values:
        ResultValue.objects.create(
            order=order,
            code=code,
            name=vname,
            value=value,
            numeric_value=Decimal(value.replace(",", ".")),
            unit=unit,
            reference_low=low,
            reference_high=high,
            flag=flag,
            entered_by=by,
            entered_at=order.resulted_at,
        )
    return order


BLOOD_COUNT = [
    ("WBC", "Số lượng bạch cầu", "15.2", "G/L", Decimal("4"), Decimal("10"), "H"),
    ("HGB", "Huyết sắc tố", "98", "g/L", Decimal("120"), Decimal("160"), "L"),
    ("PLT", "Số lượng tiểu cầu", "250", "G/L", Decimal("150"), Decimal("400"), "N"),
]


# --- Prescription -----------------------------------------------------------------------------


def test_prescription_pdf_carries_header_patient_diagnoses_and_numbered_drug_lines(
    visit, clinician, card
):
    # given an issued prescription with three drugs
    rx = make_prescription(visit, clinician, 3, note="Kiêng rượu bia, ăn nhẹ.")

    # when it is built and rendered
    text = pdf_text(keep(render_prescription(prescription_doc(prescription=rx)), "prescription"))

    # then the facility header and the national motto are there
    assert "BỆNH VIỆN ĐA KHOA HÒA VANG" in text
    assert "Mã cơ sở KCB: 48001" in text
    assert "SỞ Y TẾ THÀNH PHỐ ĐÀ NẴNG" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "ĐƠN THUỐC" in text
    # the patient, with diacritics intact, age, sex, address and card
    assert "NGUYỄN THỊ ÁNH" in text
    assert "Tuổi: 36 tuổi" in text
    assert "Giới tính: Nữ" in text
    assert "25 Ông Ích Khiêm, Thành phố Đà Nẵng" in text
    assert f"Số thẻ BHYT: {card}" in text
    assert "01/01/2026 – 31/12/2026" in text
    # diagnoses with their ICD-10 codes, the main one first
    assert "Chẩn đoán: Viêm phổi, không đặc hiệu (J18.9)" in text
    assert "Bệnh kèm theo: Bệnh lý tăng huyết áp vô căn (I10)" in text
    # numbered drug lines: name (ingredient, trade name), strength, quantity, how to take it
    assert "1. Amoxicillin 500mg SL: 21 viên" in text
    assert "2. Paracetamol (Hapacol) 500mg SL: 10 viên" in text
    assert "3. Ambroxol 30mg SL: 15 viên" in text
    assert "Uống, ngày 3 lần, mỗi lần 1 viên, trong 7 ngày. Sau ăn no." in text
    assert "Cộng khoản: 3 loại thuốc" in text
    # advice, re-examination, date and doctor
    assert "Lời dặn của bác sĩ: Kiêng rượu bia, ăn nhẹ." in text
    assert "Ngày tái khám: 12/03/2026" in text
    assert "Ngày 05 tháng 03 năm 2026" in text
    assert "Lê Văn Đức" in text
    assert "Số CCHN: 004512/ĐNA-CCHN" in text
    assert "BẢN NHÁP" not in text


def test_prescription_times_are_shown_in_vietnam_time(visit, clinician):
    # given a prescription written at 03:10 UTC
    rx = make_prescription(visit, clinician, 1)

    # when rendered
    text = pdf_text(render_prescription(prescription_doc(prescription=rx)))

    # then the time is 10:10 in Đà Nẵng (UTC+7)
    assert "Thời điểm kê đơn: 05/03/2026 10:10" in text


def test_prescription_falls_back_to_the_visit_advice_and_marks_a_draft(visit, clinician):
    # given a draft prescription without its own advice, and a voided line
    rx = make_prescription(visit, clinician, 2, status=PrescriptionStatus.DRAFT)
    rx.items.filter(drug__active_ingredient="Paracetamol").update(
        voided_at=VISIT_AT, voided_by=clinician, void_reason="kê nhầm"
    )

    # when rendered
    text = pdf_text(render_prescription(prescription_doc(prescription=rx)))

    # then the visit's advice is printed, the draft is marked and the voided line is gone
    assert "Uống nhiều nước ấm, nghỉ ngơi; tái khám ngay nếu khó thở." in text
    assert "BẢN NHÁP" in text
    assert "Amoxicillin" in text
    assert "Hapacol" not in text
    assert "Cộng khoản: 1 loại thuốc" in text


def test_prescription_for_a_young_child_gives_age_in_months_guardian_and_weight(
    hospital, clinician
):
    # given a child of 18 months with a recorded weight
    child = make_patient(
        hospital,
        full_name="Trần Gia Bảo",
        sex=Sex.MALE,
        birth_date=date(2024, 9, 1),
        emergency_contact_name="Trần Thị Hạnh",
        emergency_contact_relation="mẹ",
    )
    encounter = make_encounter(facility=hospital, patient=child, started_at=VISIT_AT)
    VitalSigns.objects.create(
        encounter=encounter, recorded_at=VISIT_AT, recorded_by=clinician, weight_kg=Decimal("10.5")
    )
    rx = make_prescription(encounter, clinician, 1)

    # when rendered
    text = pdf_text(render_prescription(prescription_doc(prescription=rx)))

    # then the form shows months, the parent and the weight
    assert "Tuổi: 18 tháng tuổi" in text
    assert "Họ tên bố/mẹ hoặc người giám hộ: Trần Thị Hạnh (mẹ)" in text
    assert "Cân nặng: 10,5 kg" in text


def test_prescription_builder_reads_with_a_fixed_number_of_queries(visit, clinician):
    # given prescriptions of 1 and of 10 lines
    one = make_prescription(visit, clinician, 1)
    ten = make_prescription(visit, clinician, 10)

    # when each is built
    q_one = query_count(lambda: prescription_doc(prescription=one))
    q_ten = query_count(lambda: prescription_doc(prescription=ten))

    # then both take the same few queries, and the ten lines are all there
    assert q_one == q_ten <= 4
    assert len(prescription_doc(prescription=ten).lines) == 10


def test_rendering_makes_no_queries(visit, clinician, django_assert_num_queries):
    # given built documents
    rx = prescription_doc(prescription=make_prescription(visit, clinician, 2))
    make_lab_order(visit, clinician, BLOOD_COUNT)
    lab = lab_result_doc(encounter=visit)

    # when they are rendered, then the database is not touched
    with django_assert_num_queries(0):
        render_prescription(rx)
        render_lab_results(lab)


# --- Text normalisation and fonts (no database) ----------------------------------------------


def _bare_prescription(**overrides) -> PrescriptionDoc:
    values = {
        "facility": FacilityInfo(name="Trạm Y tế phường Hải Châu", code="48999"),
        "patient": PatientInfo(full_name=PATIENT_NAME, birth_year=1990, sex="Nữ"),
        "number": "000001",
        "prescribed_at": VISIT_AT,
        "doctor_name": "Phạm Thị Hồng",
        "diagnoses": (DiagnosisLine("J18.9", "Viêm phổi", True),),
        "lines": (
            DrugLine(
                number=1,
                name="Paracetamol",
                quantity=Decimal("10"),
                unit="viên",
                dose=Decimal("0.5"),
                dose_unit="viên",
                times_per_day=2,
                days=5,
                route="uống",
            ),
        ),
    }
    values.update(overrides)
    return PrescriptionDoc(**values)


def test_decomposed_text_is_drawn_as_precomposed_vietnamese_letters():
    # given a name and a diagnosis typed in decomposed form (NFD: base letter + combining marks)
    nfd_name = unicodedata.normalize("NFD", PATIENT_NAME)
    nfd_dx = unicodedata.normalize("NFD", "Viêm phổi")
    assert nfd_name != PATIENT_NAME
    doc = _bare_prescription(
        patient=PatientInfo(full_name=nfd_name, birth_year=1990, sex="Nữ"),
        diagnoses=(DiagnosisLine("J18.9", nfd_dx, True),),
    )

    # when rendered
    text = pdf_text(render_prescription(doc))

    # then the PDF holds the precomposed (NFC) letters, and no combining marks
    assert "NGUYỄN THỊ ÁNH" in text
    assert "Viêm phổi (J18.9)" in text
    assert not any(unicodedata.combining(ch) for ch in text)


def test_every_font_is_an_embedded_dejavu_subset_never_base14():
    # given a rendered prescription
    pdf = render_prescription(_bare_prescription())

    # then every font is an embedded TrueType DejaVu subset with a ToUnicode map
    assert_embedded_dejavu_only(pdf)
    assert b"/Helvetica" not in pdf
    # and a half tablet is written the Vietnamese way
    assert "mỗi lần 0,5 viên" in pdf_text(pdf)


def test_same_data_renders_the_same_bytes():
    # given one document, when rendered twice, then the output is identical (no timestamps)
    doc = _bare_prescription()
    assert render_prescription(doc) == render_prescription(doc)


# --- Lab results ------------------------------------------------------------------------------


def test_lab_sheet_lists_values_units_ranges_and_flags_out_of_range_values(visit, clinician):
    # given a resulted blood count with one high, one low and one normal value
    make_lab_order(visit, clinician, BLOOD_COUNT, result_conclusion="Tăng bạch cầu, thiếu máu nhẹ.")

    # when the encounter's result sheet is rendered
    pdf = keep(render_lab_results(lab_result_doc(encounter=visit)), "lab_results")
    text = pdf_text(pdf)

    # then header, patient and diagnosis are there
    assert "BỆNH VIỆN ĐA KHOA HÒA VANG" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "PHIẾU KẾT QUẢ XÉT NGHIỆM" in text
    assert "NGUYỄN THỊ ÁNH" in text
    assert "Viêm phổi, không đặc hiệu (J18.9)" in text
    # each value with unit, reference range and flag; out-of-range values flagged
    assert "1 Số lượng bạch cầu 15.2 G/L 4 – 10 ↑ Cao" in text
    assert "2 Huyết sắc tố 98 g/L 120 – 160 ↓ Thấp" in text
    assert "3 Số lượng tiểu cầu 250 G/L 150 – 400 Bình thường" in text
    assert "Có 2 chỉ số ngoài khoảng tham chiếu" in text
    assert "Kết luận: Tăng bạch cầu, thiếu máu nhẹ." in text
    assert "Có kết quả lúc: 05/03/2026 10:40" in text
    assert "Bác sĩ chỉ định: Lê Văn Đức" in text
    assert_embedded_dejavu_only(pdf)


def test_lab_sheet_flags_from_the_range_when_a_value_has_no_stored_flag(visit, clinician):
    # given values stored without flags (entered before flagging), one above its upper bound
    make_lab_order(
        visit,
        clinician,
        [
            ("GLU", "Glucose máu", "11,2", "mmol/L", Decimal("3.9"), Decimal("6.4"), ""),
            ("CRP", "CRP định lượng", "3", "mg/L", None, Decimal("5"), ""),
        ],
        name="Sinh hóa máu",
    )

    # when rendered
    text = pdf_text(render_lab_results(lab_result_doc(encounter=visit)))

    # then the high glucose is flagged, with the range written with the value's decimal comma
    assert "Glucose máu 11,2 mmol/L 3,9 – 6,4 ↑ Cao" in text
    assert "CRP định lượng 3 mg/L ≤ 5 Bình thường" in text


def test_lab_sheet_of_an_encounter_takes_resulted_lab_orders_only(visit, clinician):
    # given a resulted blood count, a pending test and a resulted X-ray
    make_lab_order(visit, clinician, BLOOD_COUNT)
    make_lab_order(visit, clinician, [], name="Điện giải đồ", status=OrderStatus.ORDERED)
    xray = make_lab_order(
        visit,
        clinician,
        [],
        name="Chụp X-quang ngực thẳng",
        group=CostGroup.IMAGING,
        result_conclusion="Đám mờ đáy phổi phải.",
    )

    # when the encounter's sheet and the X-ray's own sheet are built
    text = pdf_text(render_lab_results(lab_result_doc(encounter=visit)))
    xray_text = pdf_text(render_lab_results(lab_result_doc(order=xray)))

    # then the lab sheet has the blood count only
    assert "Tổng phân tích tế bào máu ngoại vi" in text
    assert "Điện giải đồ" not in text
    assert "X-quang" not in text
    # and the X-ray's sheet is a paraclinical result sheet with its conclusion
    assert "PHIẾU KẾT QUẢ CẬN LÂM SÀNG" in xray_text
    assert "Chụp X-quang ngực thẳng" in xray_text
    assert "Kết luận: Đám mờ đáy phổi phải." in xray_text
    assert "Tổng phân tích" not in xray_text


def test_lab_builder_reads_with_a_fixed_number_of_queries(visit, clinician, hospital):
    # given one encounter with one order of one value, another with three orders of ten values
    make_lab_order(visit, clinician, BLOOD_COUNT[:1])
    other = make_encounter(facility=hospital, started_at=VISIT_AT)
    for _ in range(3):
        make_lab_order(other, clinician, (BLOOD_COUNT * 4)[:10])

    # when each sheet is built
    q_small = query_count(lambda: lab_result_doc(encounter=visit))
    q_big = query_count(lambda: lab_result_doc(encounter=other))

    # then both take the same few queries
    assert q_small == q_big <= 5
    assert sum(len(o.values) for o in lab_result_doc(encounter=other).orders) == 30


def test_lab_builder_wants_exactly_one_of_encounter_or_order(visit):
    with pytest.raises(TypeError):
        lab_result_doc()
    with pytest.raises(TypeError):
        lab_result_doc(encounter=visit, order=ServiceOrder(encounter=visit))


# --- Transfer paper ---------------------------------------------------------------------------


@pytest.fixture
def transferred(visit, clinician):
    """The visit concluded with a transfer to the city's central hospital."""
    FacilityFactory(code="48010", name="Bệnh viện Đà Nẵng")
    visit.conclusion = Conclusion.TRANSFER
    visit.transfer_to_code = "48010"
    visit.transfer_paper_number = "125/2026/GCT"
    visit.transfer_reason = "Vượt quá khả năng chuyên môn: cần thở oxy lưu lượng cao."
    visit.examination_findings = "Ran nổ đáy phổi phải, thở nhanh 28 lần/phút."
    visit.treatment_method = "Kháng sinh đường uống, hạ sốt."
    visit.conclusion_note = "Tiếp tục kháng sinh, theo dõi SpO2."
    visit.save()
    VitalSigns.objects.create(
        encounter=visit,
        recorded_at=VISIT_AT + timedelta(minutes=90),
        recorded_by=clinician,
        pulse=112,
        systolic=100,
        diastolic=60,
        temperature=Decimal("39.2"),
        respiratory_rate=28,
        spo2=91,
    )
    return visit


def test_transfer_paper_names_both_facilities_number_summary_reason_and_condition(
    transferred, clinician
):
    # given results and a prescription on the transferred visit
    make_lab_order(transferred, clinician, BLOOD_COUNT, result_conclusion="Tăng bạch cầu.")
    make_prescription(transferred, clinician, 2)

    # when the transfer paper is rendered
    pdf = keep(render_transfer_paper(transfer_paper_doc(encounter=transferred)), "transfer_paper")
    text = pdf_text(pdf)

    # then header, number, destination, patient, summary, reason, condition and time
    assert "BỆNH VIỆN ĐA KHOA HÒA VANG" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "GIẤY CHUYỂN CƠ SỞ KHÁM BỆNH, CHỮA BỆNH" in text
    assert "Số: 125/2026/GCT" in text
    assert "Kính gửi: Bệnh viện Đà Nẵng (mã 48010)" in text
    assert "NGUYỄN THỊ ÁNH" in text
    assert "Dân tộc: Kinh" in text
    assert "Nghề nghiệp: Giáo viên" in text
    assert "(Khám bệnh) tại Bệnh viện Đa khoa Hòa Vang" in text
    assert "từ 05/03/2026 09:30 đến 05/03/2026 11:30" in text
    assert "Dấu hiệu lâm sàng: Ran nổ đáy phổi phải, thở nhanh 28 lần/phút." in text
    assert "Số lượng bạch cầu 15.2 G/L (cao)" in text
    assert "Kết luận: Tăng bạch cầu." in text
    assert "Chẩn đoán: Viêm phổi, không đặc hiệu (J18.9)" in text
    assert "(I10)" in text
    assert "Kháng sinh đường uống, hạ sốt." in text
    assert "Thuốc đã dùng: Amoxicillin 500mg; Hapacol 500mg" in text
    assert (
        "Tình trạng người bệnh lúc chuyển: Mạch 112 lần/phút, Huyết áp 100/60 mmHg, "
        "Nhiệt độ 39,2 °C, Nhịp thở 28 lần/phút, SpO2 91 %"
    ) in text
    assert "Lý do chuyển: Vượt quá khả năng chuyên môn: cần thở oxy lưu lượng cao." in text
    assert "Hướng điều trị: Tiếp tục kháng sinh, theo dõi SpO2." in text
    assert "Chuyển hồi: 05/03/2026 11:30" in text
    assert "Lê Văn Đức" in text
    assert_embedded_dejavu_only(pdf)


def test_transfer_to_a_facility_off_the_platform_shows_its_code(transferred):
    # given a destination code no facility on the platform carries
    transferred.transfer_to_code = "79001"
    transferred.save()

    # when rendered, then the code is named
    text = pdf_text(render_transfer_paper(transfer_paper_doc(encounter=transferred)))
    assert "Kính gửi: Cơ sở KCB mã 79001" in text


def test_transfer_builder_reads_with_a_fixed_number_of_queries(transferred, clinician, hospital):
    # given a transfer with one result and a one-line prescription, and one with many of each
    small = make_encounter(
        facility=hospital,
        started_at=VISIT_AT,
        status=EncounterStatus.CONCLUDED,
        conclusion=Conclusion.TRANSFER,
        transfer_to_code="48010",
    )
    make_lab_order(small, clinician, BLOOD_COUNT[:1])
    make_prescription(small, clinician, 1)
    for _ in range(3):
        make_lab_order(transferred, clinician, BLOOD_COUNT)
        make_prescription(transferred, clinician, 4)

    # when each is built
    q_small = query_count(lambda: transfer_paper_doc(encounter=small))
    q_full = query_count(lambda: transfer_paper_doc(encounter=transferred))

    # then both take the same few queries
    assert q_small == q_full <= 8
    assert len(transfer_paper_doc(encounter=transferred).results_summary) == 3


# --- Discharge paper --------------------------------------------------------------------------


@pytest.fixture
def stay(hospital, department, clinician, patient, card):
    """A discharged inpatient stay: 18:45 on 1 March to 08:15 on 6 March, Đà Nẵng time."""
    encounter = make_encounter(
        facility=hospital,
        patient=patient,
        kind=EncounterKind.INPATIENT,
        status=EncounterStatus.DISCHARGED,
        started_at=datetime(2026, 3, 1, 11, 45, tzinfo=UTC),
        ended_at=datetime(2026, 3, 6, 1, 15, tzinfo=UTC),
        department=department,
        closed_by=clinician,
        insurance_card_code=card,
        treatment_method="Nội khoa: kháng sinh tĩnh mạch, thở oxy, bù dịch.",
        treatment_summary="Hết sốt từ ngày thứ 3, phổi giảm ran.",
        treatment_result=TreatmentResult.IMPROVED,
        discharge_type=DischargeType.DISCHARGED,
        discharge_advice="Uống thuốc theo đơn, tái khám sau 7 ngày.",
        follow_up_date=date(2026, 3, 13),
        treatment_days=6,
    )
    add_diagnosis(encounter, clinician, "J18.0", "Viêm phế quản phổi", 0, DiagnosisPhase.ADMISSION)
    add_diagnosis(
        encounter, clinician, "J18.9", "Viêm phổi, không đặc hiệu", 0, DiagnosisPhase.DISCHARGE
    )
    add_diagnosis(
        encounter, clinician, "E11.9", "Đái tháo đường típ 2", 1, DiagnosisPhase.DISCHARGE
    )
    return encounter


def test_discharge_paper_carries_the_fields_of_xml7(stay, card):
    # when the discharge paper of the stay is rendered
    pdf = keep(render_discharge_paper(discharge_paper_doc(encounter=stay)), "discharge_paper")
    text = pdf_text(pdf)

    # then the header with department, the title and the patient
    assert "BỆNH VIỆN ĐA KHOA HÒA VANG" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "Khoa: Khoa Nội tổng hợp (K03)" in text
    assert "GIẤY RA VIỆN" in text
    assert "NGUYỄN THỊ ÁNH" in text
    assert f"Số thẻ BHYT: {card}" in text
    assert re.search(r"Mã y tế: 48001-?\d+", text)
    # admission and discharge in Đà Nẵng time, treatment days
    assert "Vào viện lúc: 01/03/2026 18:45" in text
    assert "Ra viện lúc: 06/03/2026 08:15" in text
    assert "Số ngày điều trị: 6 ngày" in text
    # discharge diagnoses (not the admission ones) with ICD codes
    assert "Chẩn đoán ra viện: Viêm phổi, không đặc hiệu (J18.9)" in text
    assert "Bệnh kèm theo: Đái tháo đường típ 2 (E11.9)" in text
    assert "J18.0" not in text
    # treatment, outcome, advice, follow-up, doctor, date
    assert "Phương pháp điều trị: Nội khoa: kháng sinh tĩnh mạch, thở oxy, bù dịch." in text
    assert "Kết quả điều trị: Đỡ" in text
    assert "Tình trạng ra viện: Ra viện" in text
    assert "Ghi chú (lời dặn): Uống thuốc theo đơn, tái khám sau 7 ngày." in text
    assert "Hẹn tái khám ngày: 13/03/2026" in text
    assert "Lê Văn Đức" in text
    assert "Ngày 06 tháng 03 năm 2026" in text
    assert f"MA_LK): {stay.claim_key}" in text
    assert_embedded_dejavu_only(pdf)


def test_discharge_builder_reads_with_a_fixed_number_of_queries(stay, clinician, hospital):
    # given a stay with 1 diagnosis and one with 13
    small = make_encounter(facility=hospital, kind=EncounterKind.INPATIENT, started_at=VISIT_AT)
    add_diagnosis(small, clinician, "A09", "Tiêu chảy", 0, DiagnosisPhase.DISCHARGE)
    for rank in range(2, 13):
        add_diagnosis(
            stay, clinician, f"Z{rank:02d}", f"Bệnh kèm {rank}", rank, DiagnosisPhase.DISCHARGE
        )

    # when each is built
    q_small = query_count(lambda: discharge_paper_doc(encounter=small))
    q_big = query_count(lambda: discharge_paper_doc(encounter=stay))

    # then both take the same queries
    assert q_small == q_big <= 3
    assert len(discharge_paper_doc(encounter=stay).diagnoses) == 13


def test_markup_in_clinical_text_is_printed_literally_not_interpreted():
    # given free text that looks like reportlab paragraph markup
    doc = _bare_prescription(
        diagnoses=(DiagnosisLine("R07.4", "Đau <b>ngực</b> & khó thở <font size=40>", True),),
        advice="Huyết áp < 140/90 & đường huyết > 7",
    )

    # when rendered
    text = pdf_text(render_prescription(doc))

    # then the characters are printed as typed
    assert "Đau <b>ngực</b> & khó thở <font size=40> (R07.4)" in text
    assert "Huyết áp < 140/90 & đường huyết > 7" in text


def test_empty_sections_print_dotted_blanks_to_fill_by_hand():
    # given a prescription without diagnoses, lines or advice
    doc = _bare_prescription(diagnoses=(), lines=())

    # when rendered
    text = pdf_text(render_prescription(doc))

    # then the form still has its fields, as blanks
    assert "Chẩn đoán: ....." in text
    assert "(Không có thuốc)" in text
    assert "Lời dặn của bác sĩ: ....." in text
