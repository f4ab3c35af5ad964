"""An outpatient visit in a real browser: the receptionist checks the patient in; the doctor takes
them from the queue, records vitals, finds a diagnosis by typing part of its name (keyboard only),
orders a lab test, prescribes, concludes, and downloads the prescription PDF."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ehealth.core.models import Role
from ehealth.core.models.catalogs import CostGroup
from patients.clinical_choices import EncounterStatus
from patients.models import Diagnosis, Encounter, PrescriptionItem, ServiceOrder, VitalSigns
from tests.browser.conftest import ARTIFACTS
from tests.clinical.factories import make_drug, make_icd, make_room, make_service
from tests.core.factories import FacilityFactory, make_staff
from tests.patients.factories import make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-2026!"  # tests.core.factories.UserFactory


@pytest.fixture
def clinic():
    facility = FacilityFactory()
    room = make_room(facility, name="Phòng khám Nội 1", code="P101")
    make_staff(facility, Role.RECEPTIONIST, username="letan", full_name="Lễ Tân Một")
    make_staff(facility, Role.DOCTOR, username="bacsi", full_name="BS. Trần Minh Khoa")
    make_icd("J02.9", "Viêm họng cấp tính, không xác định", name_en="Acute pharyngitis")
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp", name_en="Acute URI")
    make_icd("I10", "Bệnh lý tăng huyết áp vô căn (nguyên phát)")
    drug = make_drug(name="Paracetamol 500 mg", active_ingredient="Paracetamol", strength="500 mg")
    lab = make_service(name="Tổng phân tích tế bào máu ngoại vi", group=CostGroup.LAB)
    patient = make_patient(facility, full_name="Nguyễn Thị Ánh")
    return {"facility": facility, "room": room, "patient": patient, "drug": drug, "lab": lab}


def _login(page, username: str) -> None:
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def _logout(page) -> None:
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile(r"/login/"))


def test_check_in_examine_prescribe_conclude_and_download_the_prescription(
    page, clinic, screenshot
):
    patient = clinic["patient"]

    # given the receptionist opens the patient's summary and checks them in
    _login(page, "letan")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Tiếp đón khám").click()
    page.get_by_label("Phòng khám").select_option(str(clinic["room"].pk))
    page.get_by_label("Hình thức đến").select_option("self_referred")
    page.get_by_label("Lý do khám").fill("Đau họng, sốt nhẹ 2 ngày")
    page.get_by_role("button", name="Cấp số thứ tự").click()
    # then the room's queue shows the ticket
    expect(page.locator(".messages")).to_contain_text("Đã cấp số thứ tự 1 — Phòng khám Nội 1")
    expect(page.locator("#ticket-1")).to_contain_text("Nguyễn Thị Ánh")
    screenshot("visit-01-queue")
    _logout(page)

    # when the doctor takes the patient from the worklist
    _login(page, "bacsi")
    page.goto("/clinic/worklist/")
    row = page.locator("#worklist tbody tr", has_text="Nguyễn Thị Ánh")
    row.get_by_role("button", name="Mời vào khám").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nguyễn Thị Ánh")
    expect(page.locator("#visit-status")).to_have_text("Đang khám")
    encounter = Encounter.objects.get(patient=patient)

    # and records vitals (saved by htmx, the BMI computed)
    vitals = page.locator("#sec-vitals")
    vitals.get_by_label("Mạch (lần/phút)").fill("88")
    vitals.get_by_label("Huyết áp tâm thu (mmHg)").fill("120")
    vitals.get_by_label("Huyết áp tâm trương (mmHg)").fill("80")
    vitals.get_by_label("Nhiệt độ (°C)").fill("37,8")
    vitals.get_by_label("Chiều cao (cm)").fill("158")
    vitals.get_by_label("Cân nặng (kg)").fill("52")
    vitals.get_by_label("Cân nặng (kg)").press("Enter")  # Enter saves the section
    expect(page.locator("#bmi")).to_contain_text("BMI: 20,8 kg/m²")

    # and finds the diagnosis by typing part of its name, choosing it with the keyboard
    search = page.get_by_label("Tìm mã ICD-10 theo tên bệnh hoặc mã")
    search.press_sequentially("viem hong", delay=40)
    suggestion = page.locator("#icd-results-dx [data-icd-code='J02.9'][data-icd-target='main']")
    expect(suggestion).to_be_visible()
    search.press("ArrowDown")
    expect(suggestion).to_be_focused()
    page.keyboard.press("Enter")
    main_code = page.locator("#sec-diagnoses").get_by_label("Bệnh chính (mã ICD-10)")
    expect(main_code).to_have_value("J02.9")
    expect(main_code).to_be_focused()
    main_code.press("Enter")
    expect(page.locator("#diagnosis-list")).to_contain_text("J02.9")

    # and orders a lab test
    orders = page.locator("#sec-orders")
    orders.get_by_label("Dịch vụ chỉ định").select_option(str(clinic["lab"].pk))
    orders.get_by_role("button", name="Thêm chỉ định").click()
    expect(page.locator("#order-list")).to_contain_text("Tổng phân tích tế bào máu ngoại vi")

    # and prescribes paracetamol
    rx = page.locator("#sec-prescription")
    rx.locator("#id_rx-drug_id").select_option(str(clinic["drug"].pk))
    rx.get_by_label("Liều mỗi lần").fill("1")
    rx.get_by_label("Số lần/ngày").fill("3")
    rx.get_by_label("Số ngày").fill("5")
    rx.get_by_label("Tổng số lượng").fill("15")
    rx.get_by_label("Cách dùng").fill("Uống sau ăn, khi sốt trên 38,5 °C")
    rx.get_by_role("button", name="Thêm vào đơn").click()
    expect(page.locator("#rx-list")).to_contain_text("Paracetamol 500 mg")
    screenshot("visit-01b-examining")

    # and concludes the visit: home
    conclusion = page.locator("#sec-conclusion")
    conclusion.get_by_label("Cho về").check()
    conclusion.get_by_label("Lời dặn / kết luận").fill("Uống nhiều nước, tái khám khi sốt cao")
    conclusion.get_by_role("button", name="Kết thúc khám").click()

    # then the page is read-only, with the addendum form and the documents
    expect(page.locator("#locked-note")).to_be_visible()
    expect(page.locator("#visit-status")).to_have_text("Đã kết thúc khám")
    expect(page.locator("#field-addendum-text")).to_be_visible()
    expect(page.locator("#sec-notes form")).to_have_count(0)
    encounter.refresh_from_db()
    assert encounter.status == EncounterStatus.CONCLUDED
    assert VitalSigns.objects.filter(encounter=encounter, pulse=88).exists()
    assert Diagnosis.objects.get(encounter=encounter, rank=0, voided_at__isnull=True).icd_code == (
        "J02.9"
    )
    assert ServiceOrder.objects.filter(encounter=encounter).count() == 1
    assert PrescriptionItem.objects.filter(prescription__encounter=encounter).count() == 1

    # and the prescription PDF downloads
    with page.expect_download() as download_info:
        page.locator("#pdf-prescription").click()
    download = download_info.value
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "visit-prescription.pdf"
    download.save_as(str(target))
    assert target.read_bytes().startswith(b"%PDF")
    assert download.suggested_filename == f"don-thuoc-{encounter.pk}.pdf"
    screenshot("visit-02-concluded")
