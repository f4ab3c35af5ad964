"""Correcting the coded diagnosis of a concluded visit in a real browser: the doctor follows the
claims page's anchor, picks the new code with the ICD-10 picker, gives the reason, saves (htmx);
the diagnosis list and the correction history update without a page load."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ehealth.core.models import Role
from patients.clinical.corrections import CORRECTION_ANCHOR
from patients.clinical.examination import diagnosis_set, encounter_conclude
from patients.models import Diagnosis
from tests.clinical.factories import make_icd, make_visit_in_examination
from tests.core.factories import FacilityFactory, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-2026!"  # tests.core.factories.UserFactory


def test_the_doctor_corrects_the_code_of_a_concluded_visit(page, screenshot):
    # given a visit concluded with J06.9
    facility = FacilityFactory()
    doctor = make_staff(facility, Role.DOCTOR, username="bacsi", full_name="BS. Trần Minh Khoa")
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp")
    make_icd("J20.9", "Viêm phế quản cấp, không đặc hiệu")
    visit = make_visit_in_examination(facility, doctor)
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="J06.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    encounter_conclude(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        conclusion="home",
    )
    page.goto("/login/")
    page.locator("input[name=username]").fill("bacsi")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))

    # when the doctor opens the link of the claims page and picks the new code
    page.goto(f"/clinic/visit/{visit.pk}/#{CORRECTION_ANCHOR}")
    section = page.locator(f"#{CORRECTION_ANCHOR}")
    expect(section).to_be_visible()
    search = section.get_by_label("Tìm mã ICD-10 theo tên bệnh hoặc mã")
    search.press_sequentially("viem phe quan", delay=40)
    choice = section.locator("#icd-results-dxfix [data-icd-code='J20.9'][data-icd-target='main']")
    choice.click()
    expect(section.get_by_label("Bệnh chính (mã ICD-10)")).to_have_value("J20.9")
    section.get_by_label("Lý do sửa chẩn đoán").fill("BHXH từ chối: mã bệnh chính không phù hợp")
    section.get_by_role("button", name="Lưu chẩn đoán đã sửa").click()

    # then the section says so, and the diagnoses and their history update in place
    expect(page.locator(f"#{CORRECTION_ANCHOR}")).to_contain_text("Đã sửa chẩn đoán.")
    expect(page.locator("#diagnosis-list")).to_contain_text("J20.9")
    history = page.locator("#diagnosis-corrections")
    expect(history).to_contain_text("J06.9")
    expect(history).to_contain_text("BHXH từ chối: mã bệnh chính không phù hợp")
    expect(history).to_contain_text("BS. Trần Minh Khoa")
    expect(page.locator("#addenda-list")).to_contain_text("Cũ: J06.9 (bệnh chính). Mới: J20.9")
    screenshot("diagnosis-correction")
    assert list(
        Diagnosis.objects.filter(encounter=visit, voided_at__isnull=True).values_list(
            "icd_code", flat=True
        )
    ) == ["J20.9"]
