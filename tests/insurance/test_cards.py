"""Cards over time: recording, ownership, eligibility with the grace rule, the portal lookup."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from insurance.benefits.types import CardContext
from insurance.cards import (
    GRACE_KEY,
    card_check_eligibility,
    card_context,
    card_for_visit,
    card_recheck,
    card_record,
    card_split,
    portal_card_lookup,
)
from insurance.models import (
    BenefitParameter,
    CardLookup,
    CardSource,
    CardVerification,
    InsuranceCard,
)
from patients.choices import IdentifierSystem
from patients.models import PatientIdentifier
from tests.core.factories import make_staff
from tests.insurance.conftest import portal_card
from tests.patients.factories import make_patient, unique_card, unique_si_number

pytestmark = pytest.mark.django_db

VN = ZoneInfo("Asia/Ho_Chi_Minh")

JAN1 = date(2026, 1, 1)
DEC31 = date(2026, 12, 31)


@pytest.fixture
def patient(facility):
    return make_patient(facility)


def record(actor, facility, patient, code, valid_from=JAN1, valid_to=DEC31, **kwargs):
    return card_record(
        actor=actor,
        facility=facility,
        patient=patient,
        code=code,
        valid_from=valid_from,
        valid_to=valid_to,
        **kwargs,
    )


# --- recording -------------------------------------------------------------------------------


def test_a_card_is_split_recorded_and_audited(receptionist, facility, patient):
    # given
    code = unique_card(group="HT", level=3)
    # when
    card = record(receptionist, facility, patient, code.lower(), registered_facility_code="48001")
    # then
    card.refresh_from_db()
    assert (card.code, card.group_code, card.benefit_digit) == (code, "HT", 3)
    assert (card.province_code, card.social_insurance_number) == ("48", code[5:])
    assert (card.valid_from, card.valid_to, card.registered_facility_code) == (JAN1, DEC31, "48001")
    assert card.recorded_by == receptionist
    event = AuditEvent.objects.get(action="insurance_card.record", target_id=str(card.pk))
    assert event.patient_id == patient.pk and event.detail["created"] is True
    # and the registry now knows the card and its BHXH number
    systems = set(
        PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True).values_list(
            "system", "value"
        )
    )
    assert {(IdentifierSystem.BHYT, code), (IdentifierSystem.SOCIAL_INSURANCE, code[5:])} <= systems


def test_a_patient_holds_several_cards_over_time(receptionist, facility, patient):
    # given last year's student card and this year's employee card (same BHXH number)
    si = unique_si_number()
    old = record(
        receptionist, facility, patient, unique_card(group="HS", si_number=si),
        valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31),
    )  # fmt: skip
    new = record(receptionist, facility, patient, unique_card(group="DN", si_number=si))
    # when / then each day finds its own card
    assert card_for_visit(patient=patient, code=old.code, on=date(2025, 6, 1)) == old
    assert card_for_visit(patient=patient, code=new.code, on=date(2026, 6, 1)) == new
    assert card_for_visit(patient=patient, code=old.code, on=date(2026, 6, 1)) is None
    assert patient.insurance_cards.count() == 2


def test_recording_the_same_card_again_updates_it(receptionist, facility, patient):
    # given
    code = unique_card()
    first = record(receptionist, facility, patient, code)
    # when
    again = record(receptionist, facility, patient, code, valid_to=date(2027, 6, 30))
    # then
    assert again.pk == first.pk
    assert (again.valid_to, again.version) == (date(2027, 6, 30), 2)


def test_a_card_whose_bhxh_number_is_not_the_patients_is_refused(receptionist, facility):
    # given a patient with a known BHXH number
    patient = make_patient(
        facility, identifiers={IdentifierSystem.SOCIAL_INSURANCE: unique_si_number()}
    )
    # when / then
    with pytest.raises(ValidationError) as exc:
        record(receptionist, facility, patient, unique_card())
    assert "không khớp mã số BHXH" in exc.value.message_dict["code"][0]
    assert not InsuranceCard.objects.exists()


def test_a_card_held_by_another_patient_is_refused(receptionist, facility, patient):
    # given another patient holding the card in the registry
    code = unique_card()
    other = make_patient(
        facility, full_name="Lê Văn Khác", identifiers={IdentifierSystem.BHYT: code}
    )
    # when / then
    with pytest.raises(ValidationError) as exc:
        record(receptionist, facility, patient, code)
    assert f"hồ sơ số {other.pk}" in exc.value.message_dict["code"][0]
    assert not InsuranceCard.objects.exists()
    assert not PatientIdentifier.objects.filter(
        patient=patient, system=IdentifierSystem.BHYT
    ).exists()
    assert not AuditEvent.objects.filter(action="insurance_card.record").exists()


def test_bad_input_is_refused_beside_each_field(receptionist, facility, patient):
    with pytest.raises(ValidationError) as exc:
        card_record(
            actor=receptionist,
            facility=facility,
            patient=patient,
            code="XX9",
            valid_from=JAN1,
            valid_to=date(2025, 1, 1),
            registered_facility_code="4800",
            region_code="K9",
        )
    assert set(exc.value.message_dict) == {
        "code", "valid_to", "registered_facility_code", "region_code",
    }  # fmt: skip
    assert not InsuranceCard.objects.exists()


def test_staff_without_the_permission_cannot_record_a_card(facility, patient):
    cashier = make_staff(facility, Role.CASHIER)
    with pytest.raises(PermissionDenied):
        record(cashier, facility, patient, unique_card())
    assert not InsuranceCard.objects.exists()


def test_card_split_names_the_four_parts():
    parts = card_split("hs4 01 0120878811")
    assert (parts.group_code, parts.benefit_digit, parts.province_code) == ("HS", 4, "01")
    assert parts.social_insurance_number == "0120878811"


def test_card_context_is_the_engines_input(receptionist, facility, patient):
    # given
    card = record(
        receptionist, facility, patient, unique_card(group="DN", level=4),
        registered_facility_code="48001", five_years_date=date(2024, 1, 1),
        copay_exempt_from=date(2026, 9, 1),
    )  # fmt: skip
    # when
    ctx = card_context(card)
    # then
    assert ctx == CardContext(
        group_code="DN",
        benefit_digit=4,
        valid_from=JAN1,
        valid_to=DEC31,
        five_years_date=date(2024, 1, 1),
        copay_exempt_from=date(2026, 9, 1),
        registered_facility_code="48001",
    )


# --- eligibility -----------------------------------------------------------------------------


def test_a_card_in_date_is_usable(receptionist, facility, patient):
    card = record(receptionist, facility, patient, unique_card())
    check = card_check_eligibility(card=card, patient=patient, on=date(2026, 5, 1))
    assert (check.status, check.usable) == ("unchecked", True)
    assert (check.valid_from, check.valid_to) == (JAN1, DEC31)


def test_a_card_the_portal_confirmed_is_valid(receptionist, facility, patient):
    card = record(
        receptionist, facility, patient, unique_card(), verification=CardVerification.VALID
    )
    assert card_check_eligibility(card=card, patient=patient, on=date(2026, 5, 1)).status == "valid"


def test_not_yet_valid_and_expired_cards_are_refused(receptionist, facility, patient):
    # given
    card = record(receptionist, facility, patient, unique_card())
    # when
    early = card_check_eligibility(card=card, patient=patient, on=date(2025, 12, 31))
    late = card_check_eligibility(card=card, patient=patient, on=date(2027, 1, 1))
    # then
    assert early.status == "invalid" and "chưa đến ngày có giá trị" in early.message_vi
    assert early.field == "insurance_card_valid_from"
    assert late.status == "invalid" and "đã hết hạn (đến 31/12/2026)" in late.message_vi


def test_another_patients_card_is_the_wrong_person(receptionist, facility, patient):
    # given
    card = record(receptionist, facility, patient, unique_card())
    stranger = make_patient(facility, full_name="Lê Văn Khác")
    # when
    check = card_check_eligibility(card=card, patient=stranger, on=date(2026, 5, 1))
    # then
    assert check.status == "invalid"
    assert check.message_vi == "Thẻ BHYT này không phải của người bệnh này."


@pytest.mark.parametrize(
    ("admitted", "on", "usable"),
    [
        (date(2026, 12, 20), date(2027, 1, 10), True),  # expired during the stay, day 10 of grace
        (date(2026, 12, 20), date(2027, 1, 15), True),  # the 15th day after expiry: still paid
        (date(2026, 12, 20), date(2027, 1, 16), False),  # past the 15 days
        (date(2027, 1, 2), date(2027, 1, 5), False),  # admitted after expiry: no grace
        (None, date(2027, 1, 1), False),  # a new visit: no grace
    ],
)
def test_grace_rule_for_a_card_that_expires_during_treatment(
    receptionist, facility, patient, admitted, on, usable
):
    # given
    card = record(receptionist, facility, patient, unique_card())
    # when
    check = card_check_eligibility(card=card, patient=patient, on=on, admitted_at=admitted)
    # then
    assert check.usable is usable
    if usable:
        assert "tối đa đến 15/01/2027" in check.message_vi
    assert (
        card_for_visit(patient=patient, code=card.code, on=on, admitted_at=admitted) == card
    ) is usable


def test_the_grace_days_are_a_dated_parameter(receptionist, facility, patient):
    # given an admin shortened the grace to 5 days for cards expiring from 2026
    BenefitParameter.objects.create(
        key=GRACE_KEY, value=Decimal(5), valid_from=date(2026, 1, 1), source="test"
    )
    card = record(receptionist, facility, patient, unique_card())
    admitted = datetime(2026, 12, 28, 9, 0, tzinfo=VN)
    # when
    day5 = card_check_eligibility(
        card=card, patient=patient, on=date(2027, 1, 5), admitted_at=admitted
    )
    day6 = card_check_eligibility(
        card=card, patient=patient, on=date(2027, 1, 6), admitted_at=admitted
    )
    # then
    assert day5.usable and not day6.usable
    assert "tối đa 5 ngày" in day6.message_vi


# --- the portal lookup -----------------------------------------------------------------------


def today() -> date:
    return timezone.localdate()


def lookup(patient, code, **kwargs):
    return portal_card_lookup(card_code=code, patient=patient, on=today(), **kwargs)


def test_portal_lookup_confirms_and_records_the_card(portal, patient):
    # given a card the portal holds
    code = unique_card()
    start, end = today() - timedelta(days=30), today() + timedelta(days=300)
    portal.app.add_cards([portal_card(code, valid_from=start, valid_to=end, maKV="K1")])
    # when (the card is typed with wrong dates: the portal's win)
    check = lookup(patient, code, valid_from=start, valid_to=today())
    # then
    assert (check.status, check.valid_from, check.valid_to) == ("valid", start, end)
    card = InsuranceCard.objects.get(patient=patient, code=code)
    assert (card.source, card.verification, card.region_code) == (
        CardSource.PORTAL, CardVerification.VALID, "K1",
    )  # fmt: skip
    assert card.verified_at is not None
    assert CardLookup.objects.get(requested_code=code).patient == patient


def test_portal_lookup_of_an_unknown_card_is_invalid(portal, patient):
    check = lookup(patient, unique_card())
    assert check.status == "invalid"
    assert check.message_vi == "Cổng BHXH không tìm thấy thông tin thẻ này."
    assert not InsuranceCard.objects.exists()


def test_portal_lookup_of_an_expired_card_is_invalid(portal, patient):
    code = unique_card()
    portal.app.add_cards(
        [
            portal_card(
                code, valid_from=today() - timedelta(days=400), valid_to=today() - timedelta(days=3)
            )
        ]
    )
    check = lookup(patient, code)
    assert (check.status, check.field) == ("invalid", "insurance_card_valid_to")
    assert "hết giá trị" in check.message_vi


def test_portal_wrong_person_marks_the_recorded_card_invalid(
    portal, receptionist, facility, patient
):
    # given a card recorded as typed, that the portal holds for someone born another day
    code = unique_card()
    card = record(
        receptionist, facility, patient, code, valid_from=today() - timedelta(days=5), valid_to=None
    )
    portal.app.add_cards([portal_card(code, birth="01/01/1960", valid_from=today(), valid_to=None)])
    # when
    check = lookup(patient, code)
    # then
    assert check.status == "invalid" and "ngày sinh" in check.message_vi
    card.refresh_from_db()
    assert card.verification == CardVerification.INVALID
    assert AuditEvent.objects.filter(
        action="insurance_card.verify", target_id=str(card.pk)
    ).exists()
    assert card_for_visit(patient=patient, code=code, on=today()) is None


def test_portal_lookup_refuses_another_patients_card_without_asking(portal, facility, patient):
    code = unique_card()
    make_patient(facility, full_name="Lê Văn Khác", identifiers={IdentifierSystem.BHYT: code})
    check = lookup(patient, code)
    assert check.status == "invalid" and "người bệnh khác" in check.message_vi
    assert portal.app.calls["POST /api/egw/KQNhanLichSuKCB2024"] == 0


def test_portal_down_goes_on_with_the_card_as_presented_flagged_for_recheck(portal, patient):
    # given a portal that times out on every attempt
    portal.app.set_fault("timeout", delay=2)
    code = unique_card()
    # when
    check = lookup(
        patient,
        code,
        valid_from=today() - timedelta(days=10),
        valid_to=today() + timedelta(days=10),
    )
    # then
    assert (check.status, check.usable) == ("unchecked", True)
    assert "cần tra cứu lại" in check.message_vi
    card = InsuranceCard.objects.get(patient=patient, code=code)
    assert (card.source, card.verification) == (CardSource.TYPED, CardVerification.RECHECK)
    assert CardLookup.objects.get(requested_code=code).outcome == "unreachable"


def test_a_card_typed_as_expired_is_refused_when_the_portal_is_down(settings, closed_port, patient):
    settings.INSURER_PORTAL_URL = f"http://127.0.0.1:{closed_port}"
    check = lookup(patient, unique_card(), valid_from=date(2020, 1, 1), valid_to=date(2020, 12, 31))
    assert check.status == "invalid" and "đã hết hạn" in check.message_vi


def test_a_malformed_answer_changes_no_status_and_is_kept(portal, receptionist, facility, patient):
    # given a recorded card the portal had confirmed
    code = unique_card()
    card = record(
        receptionist, facility, patient, code, valid_from=today() - timedelta(days=5),
        valid_to=None, verification=CardVerification.VALID,
    )  # fmt: skip
    portal.app.set_fault("malformed")
    # when
    check = lookup(patient, code)
    # then reception goes on, the card keeps its status, the answer waits for a person
    assert check.status == "unchecked" and "không đúng định dạng" in check.message_vi
    card.refresh_from_db()
    assert (card.verification, card.version) == (CardVerification.VALID, 1)
    row = CardLookup.objects.get(requested_code=code)
    assert (row.outcome, row.card_id) == ("malformed", card.pk)


def test_a_5xx_then_success_confirms_the_card(portal, patient):
    code = unique_card()
    portal.app.add_cards([portal_card(code, valid_from=today(), valid_to=None)])
    portal.app.set_fault("error", count=1)
    assert lookup(patient, code).status == "valid"
    assert portal.app.calls["POST /api/egw/KQNhanLichSuKCB2024"] == 2


def test_a_card_flagged_for_recheck_is_confirmed_by_a_recheck(
    portal, receptionist, facility, patient
):
    # given a card flagged while the portal was down, and the portal back
    code = unique_card()
    start = today() - timedelta(days=20)
    card = record(
        receptionist, facility, patient, code, valid_from=start, valid_to=None,
        verification=CardVerification.RECHECK,
    )  # fmt: skip
    portal.app.add_cards([portal_card(code, valid_from=start, valid_to=None)])
    # when
    check = card_recheck(card=card, on=today(), actor=receptionist)
    # then
    assert check.status == "valid"
    card.refresh_from_db()
    assert card.verification == CardVerification.VALID
