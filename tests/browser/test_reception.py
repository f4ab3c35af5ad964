"""The reception desk in a real browser: log in, find a patient without typing diacritics,
register a new one, and be told about a duplicate CCCD beside the field."""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import expect

from ehealth.core.models import AdminUnit, Role
from patients.choices import IdentifierSystem
from patients.identifiers import generate_cccd
from patients.models import Patient
from patients.services import PatientInput, patient_register
from tests.core.factories import FacilityFactory, ProvinceFactory, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-2026!"  # tests.core.factories.UserFactory


@pytest.fixture
def desk():
    """A facility in Đà Nẵng, its receptionist, a registered patient, a ward for addresses."""
    province = ProvinceFactory()
    AdminUnit.objects.create(
        code="20194", province=province, name="Phường Hải Vân", kind=AdminUnit.Kind.WARD
    )
    AdminUnit.objects.create(
        code="20209", province=province, name="Phường Thanh Khê", kind=AdminUnit.Kind.WARD
    )
    facility = FacilityFactory(province=province)
    receptionist = make_staff(facility, Role.RECEPTIONIST, username="letan")
    rng = random.Random(7)
    existing = patient_register(
        actor=receptionist,
        facility=facility,
        data=PatientInput(
            full_name="Nguyễn Thị Ánh",
            sex="2",
            birth_year=1992,
            cccd=generate_cccd(rng, sex="2", birth_year=1992),
        ),
    )
    new_cccd = generate_cccd(rng, sex="1", birth_year=1988)
    return {"receptionist": receptionist, "existing": existing, "new_cccd": new_cccd}


def _fill_registration(page, *, full_name: str, cccd: str) -> None:
    page.get_by_label("Họ và tên").fill(full_name)
    page.locator("#field-sex").get_by_text("Nam", exact=True).click()
    page.get_by_label("Ngày sinh").fill("1988-07-15")
    page.get_by_label("Số CCCD/định danh cá nhân").fill(cccd)
    page.get_by_label("Dân tộc").select_option("01")
    page.get_by_label("Điện thoại", exact=True).fill("0905123456")
    page.get_by_label("Tỉnh/thành phố").select_option("48")
    # htmx loads the wards of the chosen province into the next select
    expect(page.locator("#id_commune_code option[value='20209']")).to_be_attached()
    # the province change fires an htmx request that replaces the commune select: let it land
    # before choosing, or the fresh select would drop the choice
    page.wait_for_load_state("networkidle")
    page.get_by_label("Xã/phường/đặc khu").select_option("20209")
    expect(page.get_by_label("Xã/phường/đặc khu")).to_have_value("20209")
    page.get_by_label("Số nhà, đường, thôn/tổ").fill("25 Hà Huy Tập")


def test_receptionist_finds_registers_and_is_told_about_a_duplicate_cccd(page, desk, screenshot):
    # given the receptionist signs in through the login page
    page.goto("/login/")
    page.locator("input[name=username]").fill("letan")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))

    # when they search "nguyen" (no diacritics) in the one search box
    page.goto("/patients/")
    page.get_by_role("searchbox").press_sequentially("nguyen", delay=40)
    # then the patient with diacritics appears (htmx, without reloading the page)
    result = page.locator("#search-results").get_by_role("link", name="Nguyễn Thị Ánh")
    expect(result).to_be_visible()
    expect(page).to_have_url(re.compile(r"/patients/\?q=nguyen$"))
    screenshot("01-search-nguyen")

    # when they register a new patient through the form
    page.get_by_role("link", name="Đăng ký người bệnh mới").first.click()
    _fill_registration(page, full_name="Trần Văn Minh", cccd=desk["new_cccd"])
    screenshot("02-register-filled")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    # then the summary page of the new patient opens, with a confirmation
    expect(page.get_by_role("heading", level=1)).to_have_text("Trần Văn Minh")
    expect(page.locator(".messages")).to_contain_text("Đã đăng ký người bệnh mới")
    expect(page.locator("#identifiers")).to_contain_text(desk["new_cccd"])
    screenshot("03-summary-new-patient")
    new = Patient.objects.get(full_name="Trần Văn Minh")
    assert new.identifiers.filter(system=IdentifierSystem.CCCD, value=desk["new_cccd"]).exists()
    assert new.commune_id == "20209"

    # when they try to register another person with the same CCCD
    page.goto("/patients/register/")
    _fill_registration(page, full_name="Lê Văn Hùng", cccd=desk["new_cccd"])
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    # then the duplicate is told beside the CCCD field, and nothing is saved
    cccd_field = page.locator("#field-cccd")
    expect(cccd_field.locator(".field__errors")).to_contain_text(
        "Số CCCD này đã được đăng ký cho một người bệnh khác"
    )
    expect(cccd_field.get_by_role("link", name="Mở hồ sơ người bệnh đã có")).to_be_visible()
    expect(page.get_by_label("Họ và tên")).to_have_value("Lê Văn Hùng")
    screenshot("04-duplicate-cccd")
    assert not Patient.objects.filter(full_name="Lê Văn Hùng").exists()
