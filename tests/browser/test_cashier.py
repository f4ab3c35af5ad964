"""The cashier's desk in a real browser: find today's patient without typing diacritics, work out
the bill (BHYT card: the fund pays its share), open a shift when none is open, take a cash payment
and download the receipt PDF, whose text shows the patient's name with diacritics and the totals."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.models import CashierShift, Invoice, Payment, PaymentStatus
from ehealth.core.models import Role
from ehealth.core.models.catalogs import CostGroup
from patients.clinical_choices import ArrivalMode, EncounterStatus
from tests.billing.factories import card_for, exam_service, make_service, order, visit
from tests.browser.conftest import ARTIFACTS
from tests.clinical.factories import make_room
from tests.core.factories import FacilityFactory, make_staff
from tests.patients.factories import make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-2026!"  # tests.core.factories.UserFactory


@pytest.fixture
def desk():
    """Today's concluded visit of a patient with a DN4 card (80 %), correct route: an examination
    (50,600) and a full blood count (949,400) — 1,000,000 in all, the patient co-pays 200,000."""
    facility = FacilityFactory()
    doctor = make_staff(facility, Role.DOCTOR, username="bacsi", full_name="BS. Trần Minh Khoa")
    make_staff(facility, Role.CASHIER, username="thungan", full_name="Lê Thị Thu")
    exam_service(facility, price="50600")
    lab = make_service(
        group=CostGroup.LAB, price="949400", name="Tổng phân tích tế bào máu ngoại vi"
    )
    patient = make_patient(facility, full_name="Nguyễn Thị Ánh")
    card = card_for(patient)
    encounter = visit(
        facility,
        patient=patient,
        card_code=card.code,
        arrival_mode=ArrivalMode.REGISTERED,
        status=EncounterStatus.CONCLUDED,
        room=make_room(facility, name="Phòng khám Nội 1"),
        with_ticket=True,
        started_at=timezone.now() - timedelta(hours=1),
        ended_at=timezone.now(),
    )
    order(encounter, lab, doctor)
    return {"patient": patient, "encounter": encounter}


def _login(page, username: str) -> None:
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_cashier_finds_todays_patient_sees_the_split_takes_cash_and_prints_the_receipt(
    page, desk, screenshot
):
    encounter = desk["encounter"]

    # given the cashier signs in and opens the desk from the menu
    _login(page, "thungan")
    page.get_by_role("navigation", name="Trình đơn chính").get_by_role(
        "link", name="Thu ngân"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quầy thu ngân")

    # when they type the name without diacritics in the one search box
    page.get_by_role("searchbox").press_sequentially("nguyen thi anh", delay=30)
    # then today's visit appears (htmx, no page load), with its queue number
    row = page.locator(f"#enc-{encounter.pk}")
    expect(row).to_contain_text("Nguyễn Thị Ánh")
    expect(page).to_have_url(re.compile(r"/cashier/\?q=nguyen(\+|%20)thi(\+|%20)anh$"))
    expect(row.locator(".queue-number")).to_have_text("1")
    screenshot("cashier-01-search")

    # when they open the bill and work it out from the record
    row.get_by_role("link", name="Mở viện phí của Nguyễn Thị Ánh").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nguyễn Thị Ánh")
    page.get_by_role("button", name="Tính viện phí").click()

    # then the split shows: by cost group, the fund's share and the patient's co-payment
    expect(page.locator(".messages")).to_contain_text("người bệnh phải trả 200.000 đồng")
    expect(page.locator("#group-13")).to_contain_text("Cộng nhóm")
    expect(page.locator("#group-1")).to_contain_text("Tổng phân tích tế bào máu ngoại vi")
    total = page.locator("#bill-total")
    expect(total).to_contain_text("1.000.000")
    expect(total).to_contain_text("800.000")
    expect(total).to_contain_text("200.000")
    expect(page.locator("#total-fund")).to_have_text("800.000 đ")
    expect(page.locator("#amount-due")).to_have_text("200.000 đ")

    # and, no shift being open, they are told to open one
    expect(page.locator("#no-shift")).to_contain_text("Bạn chưa mở ca thu ngân")
    page.locator("#no-shift").get_by_role("link", name="Mở ca thu ngân").click()
    page.get_by_label("Tiền lẻ đầu ca (đồng)").fill("500.000")
    page.get_by_role("button", name="Mở ca").click()
    # back on the bill, the amount defaults to what is owed; cash is the default method
    expect(page.locator(".messages")).to_contain_text("Đã mở ca thu ngân")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nguyễn Thị Ánh")
    amount = page.get_by_label("Số tiền thu (đồng)")
    expect(amount).to_have_value("200.000")
    expect(page.get_by_label("Tiền mặt")).to_be_checked()

    # when they take the cash (keyboard: Enter in the amount box sends the form)
    amount.press("Enter")

    # then the payment is recorded once, in the open shift
    expect(page.locator(".messages")).to_contain_text("Đã thu 200.000 đồng")
    expect(page.locator("#paid-up")).to_be_visible()
    expect(page.locator("#amount-due")).to_have_text("0 đ")
    payment = Payment.objects.get(invoice__encounter=encounter)
    assert payment.amount == Decimal("200000.00") and payment.method == "cash"
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.shift == CashierShift.objects.get(opened_by__username="thungan")
    assert Invoice.objects.get(encounter=encounter).status == "paid"

    # and the receipt PDF downloads
    with page.expect_download() as download_info:
        page.locator(f"#payment-{payment.pk}").get_by_role("link", name="In biên lai (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"bien-lai-{payment.number}.pdf"
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "cashier-receipt.pdf"
    download.save_as(str(target))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert "Nguyễn Thị Ánh" in text
    for amount_text in ("1.000.000", "800.000", "200.000"):
        assert amount_text in text
    assert "Hai trăm nghìn đồng" in text
    screenshot("cashier-02-paid")
