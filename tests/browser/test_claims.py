"""The insurance officer in a real browser: this month's dossiers, one rejected by the insurer with
its reason; the officer follows the link to the patient's record, reception corrects the birth
date there, the officer rebuilds the dossier with a reason, puts it in a new batch, submits it
and sees it accepted. The insurer-portal simulator runs in-process; Celery runs eagerly, so the
sending task runs in the web request once its transaction commits."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ehealth.core.models import Role
from insurance.claims import batches
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.workspace import Period
from tests.core.factories import FacilityFactory, make_staff
from tests.insurance.claims import batch_fixtures
from tests.insurance.claims.batch_fixtures import counts, reject
from tests.insurance.claims.conftest import signing, signing_files  # noqa: F401  (fixtures)
from tests.insurance.claims.workspace_records import build, claimable_visit
from tests.insurance.conftest import simulator, simulator_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-2026!"  # tests.core.factories.UserFactory
claims_portal = batch_fixtures.claims_portal


@pytest.fixture
def rejected(claims_portal):
    """This month's visit of Nguyễn Thị Ánh (born 04/03/1990), its dossier sent in a batch and
    rejected by the insurer: the birth date does not match the card."""
    facility = FacilityFactory()
    officer = make_staff(
        facility, Role.INSURANCE_OFFICER, username="giamdinh", full_name="Phạm Giám Định"
    )
    make_staff(facility, Role.RECEPTIONIST, username="letan", full_name="Lê Tiếp Đón")
    encounter = claimable_visit(facility, name="Nguyễn Thị Ánh")
    build(officer, claimable_visit(facility, name="Trần Văn Bình"))  # accepted beside it
    dossier = build(officer, encounter).dossier
    reject(
        claims_portal,
        dossier.claim_key,
        "GD-HC-02",
        "Ngày sinh trong hồ sơ khác với thẻ BHYT",
        times=1,
    )
    period = Period.current()
    batch = batches.batch_create(
        actor=officer, facility=facility, year=period.year, month=period.month
    )
    batches.batch_submit(actor=officer, batch=batch)  # sends on commit (eager Celery)
    batches.answers_fetch(batch_id=batch.pk)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.REJECTED
    return {"dossier": dossier, "patient": encounter.patient, "simulator": claims_portal}


def _login(page, username: str) -> None:
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_officer_sees_a_rejection_gets_the_record_corrected_resubmits_and_it_is_accepted(
    page, browser, live_server, rejected, screenshot
):
    dossier, patient = rejected["dossier"], rejected["patient"]

    # given the officer signs in; the home page offers the claims workspace
    _login(page, "giamdinh")
    expect(page.locator("#card-claims")).to_be_visible()
    page.get_by_role("navigation", name="Trình đơn chính").get_by_role(
        "link", name="Giám định BHYT"
    ).click()

    # then this month's dossiers: one accepted, one rejected with the insurer's reason
    expect(page.get_by_role("heading", level=1)).to_have_text("Hồ sơ giám định BHYT")
    expect(page.locator("#status-rejected .stat__value")).to_have_text("1")
    expect(page.locator("#status-accepted .stat__value")).to_have_text("1")
    row = page.locator(f"#dossier-{dossier.pk}")
    expect(row).to_contain_text("Nguyễn Thị Ánh")
    expect(row).to_contain_text("Bị từ chối")
    expect(row).to_contain_text("Ngày sinh trong hồ sơ khác với thẻ BHYT")
    screenshot("claims-01-list")

    # when they narrow the list to the rejected ones (htmx, no page load) and open it
    page.get_by_label("Trạng thái").select_option("rejected")
    expect(page).to_have_url(re.compile(r"status=rejected"))
    expect(page.locator("#dossier-table tbody tr")).to_have_count(1)
    row.get_by_role("link", name=f"Mở hồ sơ {dossier.claim_key}").click()

    # then the detail shows the reason and where to correct the record
    expect(page.get_by_role("heading", level=1)).to_have_text("Nguyễn Thị Ánh")
    expect(page.locator("#rejection-reasons")).to_contain_text("GD-HC-02")
    expect(page.locator("#xml1-NGAY_SINH")).to_have_text("04/03/1990")
    screenshot("claims-02-rejected")
    page.locator("#reason-links").get_by_role(
        "link", name="Thông tin hành chính người bệnh"
    ).click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nguyễn Thị Ánh")

    # when reception corrects the birth date on the patient's record
    desk = browser.new_context(base_url=live_server.url, locale="vi-VN")
    reception = desk.new_page()
    _login(reception, "letan")
    reception.goto(f"/patients/{patient.pk}/edit/")
    reception.get_by_label("Ngày sinh").fill("1990-03-14")
    reception.get_by_role("button", name=re.compile("Lưu")).click()
    expect(reception.locator(".messages")).to_contain_text("Đã lưu thay đổi hồ sơ người bệnh")
    desk.close()

    # and the officer rebuilds the dossier with the reason
    page.goto(f"/claims/dossier/{dossier.pk}/")
    page.get_by_label("Lý do lập lại").fill("Sửa ngày sinh theo thông báo giám định GD-HC-02")
    page.get_by_role("button", name="Lập lại hồ sơ").click()

    # then version 2 is ready with the corrected date; version 1 stays readable
    expect(page.locator(".messages")).to_contain_text("Đã lập phiên bản 2: hồ sơ sẵn sàng gửi.")
    expect(page.locator("#dossier-status")).to_have_text("Sẵn sàng gửi")
    expect(page.locator("#xml1-NGAY_SINH")).to_have_text("14/03/1990")
    expect(page.locator("#version-1")).to_be_visible()

    # when they put it in a new batch and submit it
    page.locator(".claims-nav").get_by_role("link", name="Lô gửi cổng BHXH").click()
    expect(page.locator("#ready-count")).to_contain_text("1 hồ sơ sẵn sàng gửi")
    page.get_by_role("button", name="Lập lô").click()
    expect(page.locator(".messages")).to_contain_text("Đã lập lô gồm 1 hồ sơ")
    page.get_by_role("button", name="Gửi lô").click()
    expect(page.locator(".messages")).to_contain_text("Đã gửi lô")
    expect(page.locator("#state-acknowledged")).to_have_text("1")

    # and ask for the insurer's answer
    page.get_by_role("button", name="Lấy kết quả giám định").click()

    # then it is accepted
    expect(page.locator("#state-accepted")).to_have_text("1")
    expect(page.locator("#batch-status")).to_have_text("Hoàn tất")
    screenshot("claims-03-accepted")
    page.get_by_role("link", name=f"Mở hồ sơ {dossier.claim_key}").click()
    expect(page.locator("#dossier-status")).to_have_text("Được chấp nhận")
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.ACCEPTED
    # each version reached the insurer once
    assert counts(rejected["simulator"])["received"][dossier.claim_key] == 2

    # when the insurer's settlement arrives: the other dossier approved in full, this one short
    other = Dossier.objects.exclude(pk=dossier.pk).get()
    settlement = (
        f"ma_lk,so_tien_duyet\n{other.claim_key},800000\n{dossier.claim_key},750000\n"
    ).encode()
    page.locator(".claims-nav").get_by_role("link", name="Đối chiếu quyết toán").click()
    page.get_by_label("Tệp quyết toán của BHXH (CSV hoặc XLSX)").set_input_files(
        {"name": "quyet-toan.csv", "mimeType": "text/csv", "buffer": settlement}
    )
    page.get_by_role("button", name="Nhập", exact=True).click()

    # then both are paid and the difference shows per dossier
    expect(page.locator(".messages")).to_contain_text("2 hồ sơ chuyển sang “Đã thanh toán”")
    expect(page.locator("#total-difference")).to_have_text("-50.000")
    expect(page.locator(f"#recon-{dossier.pk}")).to_contain_text("-50.000")
    screenshot("claims-04-reconciliation")
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.PAID
