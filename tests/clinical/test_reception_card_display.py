"""Reception shows the BHYT card check: the "check card" button's result panel (valid, not
confirmed, invalid, bad input) without opening a visit, the message after check-in, and the card
badge of each row of the room queue (and of the visit page's header)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from patients.clinical.card_lookup import INVALID, UNCHECKED, VALID, CardCheck
from patients.models import Encounter, QueueTicket
from tests.clinical.factories import make_encounter, make_room
from tests.core.factories import make_staff
from tests.insurance import conftest as portal_fixtures
from tests.insurance.conftest import portal_card
from tests.patients.factories import make_patient, unique_card

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}

# The insurer-portal simulator of tests/insurance, for the tests through the real portal lookup.
simulator_server = portal_fixtures.simulator_server
simulator = portal_fixtures.simulator
portal = portal_fixtures.portal
closed_port = portal_fixtures.closed_port
THIS_MODULE = __name__

# --- Small lookups plugged in through settings.INSURANCE_CARD_LOOKUP --------------------------
# Each records the call so a test can see what reception passed (the patient, above all).

CALLS: list[dict] = []


def _today():
    return timezone.localdate()


def lookup_confirms(**kwargs) -> CardCheck:
    """The portal confirms the card, with its own dates and registered facility."""
    CALLS.append(kwargs)
    return CardCheck(
        status=VALID,
        card_code=kwargs["card_code"].upper(),
        valid_from=_today() - timedelta(days=100),
        valid_to=_today() + timedelta(days=265),
        registered_facility_code="48002",
    )


def lookup_portal_down(**kwargs) -> CardCheck:
    """The portal did not answer: the card as presented, not confirmed."""
    CALLS.append(kwargs)
    return CardCheck(
        status=UNCHECKED,
        message_vi="Cổng BHXH không phản hồi: tiếp nhận theo thẻ xuất trình.",
        card_code=kwargs["card_code"].upper(),
        valid_from=kwargs["valid_from"],
        valid_to=kwargs["valid_to"],
        registered_facility_code=kwargs["registered_facility_code"],
    )


def lookup_expired(**kwargs) -> CardCheck:
    """The portal says the card has expired."""
    CALLS.append(kwargs)
    return CardCheck(
        status=INVALID,
        message_vi="Thẻ BHYT đã hết hạn (đến 31/12/2025).",
        card_code=kwargs["card_code"].upper(),
        field="insurance_card_valid_to",
    )


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


def use(settings, lookup) -> None:
    settings.INSURANCE_CARD_LOOKUP = f"{THIS_MODULE}.{lookup.__name__}"


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def room(facility):
    return make_room(facility, name="Phòng khám Nội 1")


@pytest.fixture
def patient(facility):
    return make_patient(facility)  # Trần Thị Bình, 04/03/1990 (as the simulator's cards)


def check_url(patient) -> str:
    return reverse("clinic:checkin_card_check", kwargs={"patient_id": patient.pk})


def checkin_url(patient) -> str:
    return reverse("clinic:checkin", kwargs={"patient_id": patient.pk})


def card_fields(code: str, **overrides) -> dict:
    values = {
        "insurance_card_code": code,
        "insurance_card_valid_from": (_today() - timedelta(days=30)).isoformat(),
        "insurance_card_valid_to": (_today() + timedelta(days=30)).isoformat(),
        "registered_facility_code": "48001",
    }
    values.update(overrides)
    return values


def checkin_fields(room, code: str = "", **overrides) -> dict:
    values = {"room_id": room.pk, "arrival_mode": "registered", "reason": "Ho, sốt"}
    if code:
        values.update(card_fields(code))
    else:
        values["arrival_mode"] = "self_referred"
    values.update(overrides)
    return values


def dmy(day) -> str:
    return day.strftime("%d/%m/%Y")


def card_checks(patient) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="insurance_card.check", patient_id=patient.pk))


# --- The check button: the result panel --------------------------------------------------------


def test_a_confirmed_card_shows_its_validity_and_facility_and_opens_no_visit(
    client, settings, receptionist, room, patient
):
    # given the portal confirms cards
    use(settings, lookup_confirms)
    client.force_login(receptionist)
    code = unique_card()
    # when the receptionist presses "check card" (htmx)
    response = client.post(check_url(patient), checkin_fields(room, code), **HTMX)
    # then the panel says so plainly, with what the portal holds
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-card-status="valid"' in html
    assert "card-badge--valid" in html
    assert "Thẻ hợp lệ — cổng giám định BHYT đã xác nhận" in html
    assert dmy(_today() - timedelta(days=100)) in html
    assert dmy(_today() + timedelta(days=265)) in html
    assert "48002" in html and code in html
    # the typed dates differ from the portal's: the receptionist is told which ones count
    assert "lượt khám sẽ ghi theo cổng" in html
    # and the lookup was asked for this patient's card, and nothing was written for a visit
    assert [c["patient"].pk for c in CALLS] == [patient.pk]
    assert not Encounter.objects.exists() and not QueueTicket.objects.exists()


@pytest.mark.parametrize("registered_here", [True, False])
def test_the_panel_tells_when_the_registered_facility_is_this_one(
    client, settings, receptionist, facility, room, patient, registered_here
):
    # given the portal answers 48002 as the registered primary facility
    use(settings, lookup_confirms)
    facility.code = "48002" if registered_here else "48999"
    facility.save(update_fields=["code"])
    client.force_login(receptionist)
    # when
    html = client.post(
        check_url(patient), checkin_fields(room, unique_card()), **HTMX
    ).content.decode()
    # then
    assert "48002" in html
    assert ("chính là cơ sở này" in html) is registered_here


def test_an_unconfirmed_card_says_reception_may_go_on_flagged_for_recheck(
    client, settings, receptionist, room, patient
):
    # given the portal does not answer
    use(settings, lookup_portal_down)
    client.force_login(receptionist)
    # when
    html = client.post(
        check_url(patient), checkin_fields(room, unique_card()), **HTMX
    ).content.decode()
    # then
    assert 'data-card-status="unchecked"' in html
    assert "card-badge--unchecked" in html
    assert "Chưa xác nhận được thẻ qua cổng giám định BHYT" in html
    assert "không phản hồi hoặc chưa được cấu hình" in html
    assert "đánh dấu cần kiểm tra lại" in html
    assert "Cổng BHXH không phản hồi" in html  # the lookup's own note
    assert dmy(_today() + timedelta(days=30)) in html  # the dates as presented
    assert not Encounter.objects.exists()


def test_an_invalid_card_shows_the_reason(client, settings, receptionist, room, patient):
    # given the portal says the card has expired
    use(settings, lookup_expired)
    client.force_login(receptionist)
    # when
    html = client.post(
        check_url(patient), checkin_fields(room, unique_card()), **HTMX
    ).content.decode()
    # then
    assert 'data-card-status="invalid"' in html
    assert "card-badge--invalid" in html
    assert "Thẻ không hợp lệ" in html
    assert "Thẻ BHYT đã hết hạn (đến 31/12/2025)." in html
    assert "Thẻ hợp lệ" not in html
    assert not Encounter.objects.exists()


def test_without_a_portal_the_card_as_typed_is_not_confirmed(
    client, settings, receptionist, room, patient
):
    # given no portal configured: the card is checked as typed
    settings.INSURANCE_CARD_LOOKUP = "patients.clinical.card_lookup.card_check_as_typed"
    client.force_login(receptionist)
    # when
    html = client.post(
        check_url(patient), checkin_fields(room, unique_card()), **HTMX
    ).content.decode()
    # then
    assert 'data-card-status="unchecked"' in html
    assert "chưa được cấu hình" in html


def test_the_card_as_typed_already_expired_is_invalid_with_the_date(
    client, settings, receptionist, room, patient
):
    # given no portal, and a card whose typed end date has passed
    settings.INSURANCE_CARD_LOOKUP = "patients.clinical.card_lookup.card_check_as_typed"
    client.force_login(receptionist)
    ended = _today() - timedelta(days=1)
    fields = checkin_fields(
        room,
        unique_card(),
        insurance_card_valid_from=(_today() - timedelta(days=200)).isoformat(),
        insurance_card_valid_to=ended.isoformat(),
    )
    # when
    html = client.post(check_url(patient), fields, **HTMX).content.decode()
    # then
    assert 'data-card-status="invalid"' in html
    assert f"Thẻ BHYT đã hết hạn (đến {dmy(ended)})." in html


def test_the_check_is_audited_with_the_patient_and_the_status_only(
    client, settings, receptionist, facility, room, patient
):
    # given
    use(settings, lookup_portal_down)
    client.force_login(receptionist)
    code = unique_card()
    # when
    client.post(check_url(patient), checkin_fields(room, code), **HTMX)
    # then one audit row for the lookup, naming the patient, without the card code
    (event,) = card_checks(patient)
    assert event.actor_id == receptionist.pk
    assert event.target_id == str(patient.pk)
    assert event.detail == {"facility_id": facility.pk, "status": "unchecked"}
    assert code not in str(event.detail)


# --- Bad input: told in the panel, nothing looked up -------------------------------------------


@pytest.mark.parametrize(
    "overrides,field_label,message",
    [
        ({"insurance_card_code": ""}, "Mã thẻ BHYT (như trên thẻ)", "Nhập mã thẻ BHYT"),
        ({"insurance_card_code": "DN4"}, "Mã thẻ BHYT (như trên thẻ)", "phải gồm 15 ký tự"),
        (
            {"insurance_card_code": "ZZ4480123456789"},
            "Mã thẻ BHYT (như trên thẻ)",
            "mã đối tượng ZZ",
        ),
        (
            {"insurance_card_code": "DN4480123456789012345"},
            "Mã thẻ BHYT (như trên thẻ)",
            "tối đa 15",
        ),
        ({"insurance_card_valid_from": "31/02/2026"}, "Thẻ có giá trị từ", "ngày hợp lệ"),
        (
            {"insurance_card_valid_from": "2026-06-01", "insurance_card_valid_to": "2026-01-01"},
            "Thẻ có giá trị đến",
            "phải sau ngày bắt đầu",
        ),
        ({"registered_facility_code": "48"}, "Nơi ĐKKCB ban đầu (mã)", "đúng 5 ký tự"),
    ],
)
def test_bad_card_input_is_told_in_the_panel_and_nothing_is_looked_up(
    client, settings, receptionist, room, patient, overrides, field_label, message
):
    # given
    use(settings, lookup_confirms)
    client.force_login(receptionist)
    fields = checkin_fields(room, unique_card(), **overrides)
    # when
    response = client.post(check_url(patient), fields, **HTMX)
    # then a clear answer in the panel, never a 500
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-card-status="error"' in html
    assert "Chưa kiểm tra được thẻ" in html
    assert field_label in html and message in html
    assert CALLS == []
    assert card_checks(patient) == []
    assert not Encounter.objects.exists()


# --- Who may press the button ------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CASHIER, Role.DOCTOR, Role.NURSE])
def test_staff_without_the_check_in_permission_are_refused(
    client, settings, facility, room, patient, role
):
    # given
    use(settings, lookup_confirms)
    client.force_login(make_staff(facility, role))
    # when
    response = client.post(check_url(patient), checkin_fields(room, unique_card()), **HTMX)
    # then
    assert response.status_code == 403
    assert CALLS == [] and card_checks(patient) == []


def test_a_receptionist_of_another_facility_gets_404(
    client, settings, other_facility, room, patient
):
    # given the patient has no record at the other facility
    use(settings, lookup_confirms)
    client.force_login(make_staff(other_facility, Role.RECEPTIONIST))
    # when
    response = client.post(check_url(patient), checkin_fields(room, unique_card()), **HTMX)
    # then
    assert response.status_code == 404
    assert CALLS == [] and card_checks(patient) == []


def test_anonymous_is_sent_to_login_and_get_is_not_allowed(client, receptionist, patient):
    # when / then
    response = client.post(check_url(patient), {})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(receptionist)
    assert client.get(check_url(patient)).status_code == 405


# --- Without JavaScript ------------------------------------------------------------------------


def test_a_plain_post_renders_the_check_in_page_with_the_panel_and_the_form_kept(
    client, settings, receptionist, room, patient
):
    # given
    use(settings, lookup_confirms)
    client.force_login(receptionist)
    code = unique_card()
    # when the browser posts the form to the button's formaction (no htmx)
    response = client.post(check_url(patient), checkin_fields(room, code, reason="Đau đầu"))
    # then the whole check-in page, the panel filled inside its slot
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="checkin-form"' in html
    slot = html[html.find('id="card-check-result"') :]
    assert "Thẻ hợp lệ — cổng giám định BHYT đã xác nhận" in slot
    # and what was typed is still in the form, with no error beside the fields not checked
    assert f'value="{code}"' in html
    assert f'<option value="{room.pk}" selected>' in html
    assert "Đau đầu</textarea>" in html
    assert "field--error" not in html
    assert not Encounter.objects.exists()


def test_a_plain_post_with_bad_input_keeps_the_form_and_tells_the_error(
    client, settings, receptionist, room, patient
):
    # given
    use(settings, lookup_confirms)
    client.force_login(receptionist)
    # when
    html = client.post(
        check_url(patient), checkin_fields(room, "", insurance_card_code="")
    ).content.decode()
    # then
    slot = html[html.find('id="card-check-result"') :]
    assert "Nhập mã thẻ BHYT (15 ký tự) để kiểm tra." in slot
    assert "Ho, sốt</textarea>" in html
    assert not Encounter.objects.exists()


# --- Through the real portal lookup (the simulator) ----------------------------------------------


def test_through_the_portal_a_confirmed_card_shows_the_portals_dates_and_facility(
    client, portal, receptionist, room, patient
):
    # given the portal holds the card with other dates than typed
    code = unique_card()
    start, end = _today() - timedelta(days=100), _today() + timedelta(days=265)
    portal.app.add_cards([portal_card(code, valid_from=start, valid_to=end, facility_code="48002")])
    client.force_login(receptionist)
    # when
    html = client.post(check_url(patient), checkin_fields(room, code), **HTMX).content.decode()
    # then
    assert 'data-card-status="valid"' in html
    assert "Thẻ hợp lệ — cổng giám định BHYT đã xác nhận" in html
    assert f"{dmy(start)}" in html and f"{dmy(end)}" in html and "48002" in html
    assert not Encounter.objects.exists()
    assert [e.detail["status"] for e in card_checks(patient)] == ["valid"]


def test_through_the_portal_another_persons_card_is_invalid_for_this_patient(
    client, portal, receptionist, room, patient
):
    # given the portal holds the card for someone else
    code = unique_card()
    portal.app.add_cards(
        [portal_card(code, name="Lê Văn Khác", valid_from=_today(), valid_to=None)]
    )
    client.force_login(receptionist)
    # when
    html = client.post(check_url(patient), checkin_fields(room, code), **HTMX).content.decode()
    # then the wrong person is caught because the patient went with the lookup
    assert 'data-card-status="invalid"' in html
    assert "không đúng người" in html
    assert not Encounter.objects.exists()


def test_through_the_portal_when_it_is_down_the_card_is_not_confirmed(
    client, settings, portal, closed_port, receptionist, room, patient
):
    # given nothing listens where the portal should be
    settings.INSURER_PORTAL_URL = f"http://127.0.0.1:{closed_port}"
    client.force_login(receptionist)
    # when
    html = client.post(
        check_url(patient), checkin_fields(room, unique_card()), **HTMX
    ).content.decode()
    # then
    assert 'data-card-status="unchecked"' in html
    assert "Cổng BHXH không phản hồi" in html
    assert not Encounter.objects.exists()


# --- After check-in: the message states the card result -----------------------------------------


def test_after_check_in_with_a_confirmed_card_the_message_states_its_validity(
    client, settings, receptionist, room, patient
):
    # given
    use(settings, lookup_confirms)
    client.force_login(receptionist)
    # when
    response = client.post(checkin_url(patient), checkin_fields(room, unique_card()), follow=True)
    # then
    html = response.content.decode()
    start, end = _today() - timedelta(days=100), _today() + timedelta(days=265)
    assert (
        '<li class="message message--success">Đã cấp số thứ tự 1 — Phòng khám Nội 1. '
        f"Thẻ BHYT đã được cổng giám định xác nhận, có giá trị từ {dmy(start)} đến {dmy(end)}."
        "</li>"
    ) in html
    assert "message--warning" not in html


def test_after_check_in_with_an_unconfirmed_card_a_warning_asks_for_a_recheck(
    client, settings, receptionist, room, patient
):
    # given
    use(settings, lookup_portal_down)
    client.force_login(receptionist)
    # when
    response = client.post(checkin_url(patient), checkin_fields(room, unique_card()), follow=True)
    # then
    html = response.content.decode()
    assert "Đã cấp số thứ tự 1 — Phòng khám Nội 1." in html
    assert (
        '<li class="message message--warning">'
        "Chưa xác nhận được thẻ qua cổng giám định: cần kiểm tra lại.</li>"
    ) in html
    assert Encounter.objects.get().card_check_status == "unchecked"


def test_after_check_in_without_a_card_no_card_message(client, receptionist, room, patient):
    # given
    client.force_login(receptionist)
    # when
    response = client.post(checkin_url(patient), checkin_fields(room), follow=True)
    # then
    html = response.content.decode()
    assert "Đã cấp số thứ tự 1 — Phòng khám Nội 1.</li>" in html
    assert "message--warning" not in html and "cổng giám định xác nhận" not in html


# --- The room queue: a card badge per row, no query per row --------------------------------------


def _visits(facility, room, statuses) -> list[Encounter]:
    visits = []
    for status in statuses:
        visits.append(
            make_encounter(
                facility=facility,
                room=room,
                with_ticket=True,
                insurance_card_code=unique_card() if status else "",
                card_check_status=status,
            )
        )
    return visits


def _row(html: str, number: int) -> str:
    start = html.find(f'id="ticket-{number}"')
    assert start >= 0, number
    return html[start : html.find("</tr>", start)]


def test_the_queue_shows_each_rows_card_badge(client, receptionist, facility, room):
    # given a confirmed card, one to re-check, and a patient without a card
    _visits(facility, room, ["valid", "unchecked", ""])
    client.force_login(receptionist)
    url = reverse("clinic:queue", kwargs={"room_id": room.pk})
    # when (the page, and the rows htmx refreshes every minute)
    for html in (client.get(url).content.decode(), client.get(url, **HTMX).content.decode()):
        # then
        assert "BHYT ✓" in _row(html, 1) and "card-badge--valid" in _row(html, 1)
        assert "BHYT — cần kiểm tra lại" in _row(html, 2)
        assert "card-badge--unchecked" in _row(html, 2)
        assert "Không BHYT" in _row(html, 3) and "BHYT ✓" not in _row(html, 3)


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_the_queue_with_badges_takes_the_same_queries_for_3_or_9_patients(
    client, receptionist, facility, django_assert_max_num_queries
):
    # given
    small, big = make_room(facility), make_room(facility)
    _visits(facility, small, ["valid", "unchecked", ""])
    _visits(facility, big, ["valid", "unchecked", ""] * 3)
    client.force_login(receptionist)
    small_url = reverse("clinic:queue", kwargs={"room_id": small.pk})
    big_url = reverse("clinic:queue", kwargs={"room_id": big.pk})
    _count(client, small_url)
    # when / then
    small_queries = _count(client, small_url)
    assert small_queries == _count(client, big_url)
    with django_assert_max_num_queries(small_queries):
        html = client.get(big_url).content.decode()
    assert html.count("BHYT ✓") == 3 and html.count("Không BHYT") == 3


# --- The visit page header --------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,badge",
    [("valid", "BHYT ✓"), ("unchecked", "BHYT — cần kiểm tra lại"), ("", "Không BHYT")],
)
def test_the_visit_header_shows_the_card_badge(client, doctor, facility, room, status, badge):
    # given
    (visit,) = _visits(facility, room, [status])
    client.force_login(doctor)
    # when
    html = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content.decode()
    # then
    start = html.find('id="visit-card-badge"')
    assert start > 0
    assert badge in html[start : start + 300]
