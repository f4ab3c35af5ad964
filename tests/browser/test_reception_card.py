"""The BHYT card check at the reception desk in a real browser, through the insurer-portal
simulator: type the card, press "Kiểm tra thẻ", read the result panel (no visit opened yet), check
the patient in, and see the card badge in the room's queue. Then the same with the portal down:
the card is not confirmed, the check-in warns, and the queue flags the card for re-check."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ehealth.core.models import Role
from patients.choices import Sex
from patients.models import Encounter
from tests.clinical.factories import make_room
from tests.core.factories import FacilityFactory, make_staff
from tests.insurance import conftest as portal_fixtures
from tests.insurance.conftest import portal_card
from tests.patients.factories import make_patient, unique_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-2026!"  # tests.core.factories.UserFactory

# The insurer-portal simulator of tests/insurance (in-process, on a free port).
simulator_server = portal_fixtures.simulator_server
simulator = portal_fixtures.simulator
portal = portal_fixtures.portal
closed_port = portal_fixtures.closed_port


@pytest.fixture
def desk(portal):
    """A facility with one clinic room, its receptionist, two patients; the portal holds the
    first patient's card (registered at 48002, dates other than the paper card's)."""
    facility = FacilityFactory()
    make_staff(facility, Role.RECEPTIONIST, username="letan")
    room = make_room(facility, name="Phòng khám Nội 1")
    first = make_patient(facility)  # Trần Thị Bình, as the simulator's card holder
    second = make_patient(facility, full_name="Lê Văn Phúc", sex=Sex.MALE)
    today = timezone.localdate()
    code = unique_card()
    start, end = today - timedelta(days=100), today + timedelta(days=265)
    portal.app.add_cards([portal_card(code, valid_from=start, valid_to=end, facility_code="48002")])
    return {
        "room": room,
        "first": first,
        "second": second,
        "code": code,
        "start": start,
        "end": end,
        "today": today,
    }


def _login(page, username: str) -> None:
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def _type_card(page, room, code: str, today) -> None:
    page.get_by_label("Phòng khám").select_option(str(room.pk))
    page.get_by_label("Mã thẻ BHYT (như trên thẻ)").fill(code)
    page.get_by_label("Thẻ có giá trị từ").fill((today - timedelta(days=30)).isoformat())
    page.get_by_label("Thẻ có giá trị đến").fill((today + timedelta(days=30)).isoformat())
    page.get_by_label("Nơi ĐKKCB ban đầu (mã)").fill("48001")


def test_receptionist_checks_the_card_sees_the_result_then_the_badge_in_the_queue(
    page, desk, settings, closed_port, screenshot
):
    room = desk["room"]
    # given the receptionist opens the check-in form of a patient whose card the portal holds
    _login(page, "letan")
    checkin_path = f"/clinic/checkin/{desk['first'].pk}/"
    page.goto(checkin_path)
    _type_card(page, room, desk["code"], desk["today"])

    # when they press "Kiểm tra thẻ"
    page.get_by_role("button", name="Kiểm tra thẻ").click()
    # then the result panel appears in place (htmx: same page, the form as typed)
    panel = page.locator("#card-check-result")
    expect(panel).to_contain_text("Thẻ hợp lệ — cổng giám định BHYT đã xác nhận")
    expect(panel).to_contain_text(f"từ {desk['start']:%d/%m/%Y} đến {desk['end']:%d/%m/%Y}")
    expect(panel).to_contain_text("48002")
    expect(panel.locator(".card-badge--valid")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(checkin_path) + "$"))
    expect(page.get_by_label("Mã thẻ BHYT (như trên thẻ)")).to_have_value(desk["code"])
    screenshot("reception-card-01-valid-panel")
    # and no visit is opened by the check
    assert not Encounter.objects.exists()

    # when they check the patient in
    page.get_by_role("button", name="Cấp số thứ tự").click()
    # then the queue opens with the confirmation and the card badge on the patient's row
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hàng đợi hôm nay")
    expect(page.locator(".message--success")).to_contain_text(
        "Thẻ BHYT đã được cổng giám định xác nhận"
    )
    first_row = page.locator("#ticket-1")
    expect(first_row).to_contain_text("Trần Thị Bình")
    expect(first_row.locator(".card-badge--valid")).to_have_text("BHYT ✓")
    screenshot("reception-card-02-queue-valid")

    # given the portal goes down, for the next patient
    settings.INSURER_PORTAL_URL = f"http://127.0.0.1:{closed_port}"
    page.goto(f"/clinic/checkin/{desk['second'].pk}/")
    _type_card(page, room, unique_card(), desk["today"])
    # when they check the card
    page.get_by_role("button", name="Kiểm tra thẻ").click()
    # then the panel says it could not be confirmed, and that reception may go on
    expect(panel).to_contain_text("Chưa xác nhận được thẻ qua cổng giám định BHYT")
    expect(panel).to_contain_text("Có thể tiếp nhận theo thẻ người bệnh xuất trình")
    expect(panel.locator(".card-badge--unchecked")).to_be_visible()
    screenshot("reception-card-03-unchecked-panel")

    # when they check the patient in all the same
    page.get_by_role("button", name="Cấp số thứ tự").click()
    # then a warning asks for a re-check, and the queue flags the card
    expect(page.locator(".message--warning")).to_have_text(
        "Chưa xác nhận được thẻ qua cổng giám định: cần kiểm tra lại."
    )
    second_row = page.locator("#ticket-2")
    expect(second_row).to_contain_text("Lê Văn Phúc")
    expect(second_row.locator(".card-badge--unchecked")).to_have_text("BHYT — cần kiểm tra lại")
    expect(first_row.locator(".card-badge--valid")).to_have_text("BHYT ✓")
    screenshot("reception-card-04-queue-recheck")
    assert sorted(Encounter.objects.values_list("card_check_status", flat=True)) == [
        "unchecked",
        "valid",
    ]
