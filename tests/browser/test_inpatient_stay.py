"""An inpatient stay in a real browser: a nurse admits a patient to a free bed from the bed
board and transfers them to another bed; the doctor discharges them (discharge diagnosis found by
typing part of its name) and downloads the discharge paper (Giấy ra viện)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ehealth.core.models import Role
from patients.clinical_choices import EncounterStatus
from patients.models import BedOccupancy, Encounter, Transfer
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_outpatient_visit import _login, _logout
from tests.clinical.factories import make_icd
from tests.core.factories import (
    BedFactory,
    DepartmentFactory,
    FacilityFactory,
    WardFactory,
    make_staff,
)
from tests.patients.factories import make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ward():
    facility = FacilityFactory()
    department = DepartmentFactory(facility=facility, code="K03", name="Khoa Nội tổng hợp")
    room = WardFactory(department=department, code="B1", name="Buồng 1")
    beds = [BedFactory(ward=room, code=f"G{n}") for n in (1, 2, 3)]
    make_staff(facility, Role.NURSE, username="dieuduong", full_name="ĐD. Phạm Thu Hà")
    make_staff(facility, Role.DOCTOR, username="bacsi", full_name="BS. Trần Minh Khoa")
    make_icd("J18.9", "Viêm phổi, không đặc hiệu", name_en="Pneumonia, unspecified")
    make_icd("I10", "Bệnh lý tăng huyết áp vô căn (nguyên phát)")
    patient = make_patient(facility, full_name="Võ Văn Tám")
    record_number = patient.identifiers.get(system="mrn").value
    return {"department": department, "beds": beds, "patient": patient, "mrn": record_number}


def test_nurse_admits_and_transfers_then_the_doctor_discharges_and_prints(page, ward, screenshot):
    # given the nurse opens the bed board of the department
    _login(page, "dieuduong")
    page.get_by_role("link", name="Buồng bệnh").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Khoa Nội tổng hợp")
    expect(page.locator("#bed-summary")).to_have_text("3 giường trống / 3 giường")

    # when they admit the patient to bed G2
    page.locator(f"#bed-{ward['beds'][1].pk}").get_by_role(
        "link", name="Nhận người bệnh vào giường"
    ).click()
    expect(page.get_by_label("Giường")).to_have_value(str(ward["beds"][1].pk))
    page.get_by_label("Mã người bệnh tại cơ sở").fill(ward["mrn"])
    page.get_by_label("Vào viện từ").select_option("emergency")
    page.get_by_label("Lý do vào viện").fill("Sốt cao, ho có đờm, khó thở")
    page.get_by_role("button", name="Nhận vào khoa").click()

    # then the stay page shows the bed
    expect(page.locator(".messages")).to_contain_text("Đã nhận người bệnh vào khoa")
    expect(page.locator("#current-bed")).to_have_text("G2")
    stay = Encounter.objects.get(patient=ward["patient"], kind="inpatient")

    # when the nurse moves the patient to bed G3
    transfer = page.locator("#sec-transfers")
    transfer.get_by_label("Chuyển đến khoa").select_option(str(ward["department"].pk))
    transfer.get_by_label("Giường mới").select_option(str(ward["beds"][2].pk))
    transfer.get_by_label("Lý do chuyển").fill("Chuyển gần phòng điều dưỡng để theo dõi sát")
    transfer.get_by_role("button", name="Chuyển").click()
    # then the history is kept and the board shows the new bed
    expect(page.locator("#current-bed")).to_have_text("G3")
    expect(page.locator("#transfer-list")).to_contain_text("Chuyển gần phòng điều dưỡng")
    page.get_by_role("link", name="Khoa Nội tổng hợp").click()
    expect(page.locator(f"#bed-{ward['beds'][2].pk}")).to_contain_text("Võ Văn Tám")
    expect(page.locator(f"#bed-{ward['beds'][1].pk}")).to_contain_text("Trống")
    screenshot("stay-00-bed-board")
    _logout(page)

    # when the doctor opens the stay from the bed board and discharges the patient
    _login(page, "bacsi")
    page.goto(f"/clinic/ward/{ward['department'].pk}/")
    page.locator(f"#bed-{ward['beds'][2].pk}").get_by_role("link", name="Mở hồ sơ điều trị").click()
    discharge = page.locator("#sec-discharge")
    discharge.get_by_label("Kết quả điều trị").select_option("2")
    discharge.get_by_label("Tình trạng ra viện").select_option("1")
    search = discharge.get_by_label("Tìm mã ICD-10 theo tên bệnh hoặc mã")
    search.press_sequentially("viem phoi", delay=40)
    discharge.locator("[data-icd-code='J18.9'][data-icd-target='main']").click()
    expect(discharge.locator("#id_dis-main_code")).to_have_value("J18.9")
    discharge.get_by_label("Tóm tắt quá trình điều trị").fill(
        "Kháng sinh tĩnh mạch 7 ngày, hết sốt, phổi giảm ran."
    )
    discharge.get_by_label("Lời dặn khi ra viện").fill("Uống thuốc đủ liều, tái khám sau 1 tuần")
    discharge.get_by_role("button", name="Cho ra viện").click()

    # then the stay is closed, the bed freed, and the discharge paper downloads
    expect(page.locator(".messages")).to_contain_text("Đã cho người bệnh ra viện")
    expect(page.locator("#discharge-summary")).to_contain_text("Đỡ")
    stay.refresh_from_db()
    assert stay.status == EncounterStatus.DISCHARGED
    assert not BedOccupancy.objects.filter(encounter=stay, ended_at__isnull=True).exists()
    moved = Transfer.objects.get(encounter=stay)
    assert (moved.from_bed, moved.to_bed) == (ward["beds"][1], ward["beds"][2])
    with page.expect_download() as download_info:
        page.locator("#pdf-discharge").click()
    download = download_info.value
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "stay-discharge-paper.pdf"
    download.save_as(str(target))
    assert target.read_bytes().startswith(b"%PDF")
    assert re.fullmatch(rf"giay-ra-vien-{stay.pk}\.pdf", download.suggested_filename)
    screenshot("stay-01-discharged")
