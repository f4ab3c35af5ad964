"""The cashier's pages: find today's patient (name without diacritics, card, queue number,
invoice number), see the split by cost group, take payment once (idempotency key), the receipt
and cost statement PDFs, shifts open/close with the report, voids, refunds with a second person's
approval, deposits and settlement of a stay. Permission gates, Vietnamese errors beside the
field with nothing written, fixed query counts on the lists."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from billing import services
from billing.charges import charges_derive
from billing.forms import PaymentForm, parse_amount
from billing.invoices import invoice_build
from billing.models import (
    CashierShift,
    Deposit,
    DepositStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    ShiftStatus,
)
from ehealth.core.models import AuditEvent, Role
from ehealth.core.models.catalogs import CostGroup
from patients.clinical_choices import ArrivalMode, EncounterStatus
from tests.billing.factories import (
    bed_service,
    card_for,
    exam_service,
    make_service,
    order,
    stay,
    visit,
)
from tests.clinical.factories import make_room
from tests.core.factories import DepartmentFactory, make_staff
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
KEY = "0123456789abcdef0123456789abcdef"
OWED = Decimal("200000.00")  # 80 % card: 1,000,000 in all, the patient co-pays 20 %


def field_block(html: str, name: str) -> str:
    """The HTML of one field's block (label, input, errors beside it), up to the next field."""
    start = html.find(f'id="field-{name}"')
    assert start >= 0, f"field {name} not rendered"
    end = html.find('id="field-', start + 1)
    return html[start : end if end > 0 else len(html)]


def _visit(facility, doctor, *, name="Nguyễn Thị Ánh", room=None, card=True, lab_price="949400"):
    """A concluded visit of today with an examination (50,600) and a lab test (949,400 by
    default), a queue ticket and (by default) a DN4 card presented on the correct route."""
    exam_service(facility, price="50600")
    patient = make_patient(facility, full_name=name)
    code = card_for(patient).code if card else ""
    enc = visit(
        facility,
        patient=patient,
        card_code=code,
        arrival_mode=ArrivalMode.REGISTERED,
        status=EncounterStatus.CONCLUDED,
        room=room or make_room(facility),
        with_ticket=True,
        started_at=timezone.now() - timedelta(minutes=30),
        ended_at=timezone.now(),
    )
    order(
        enc,
        make_service(group=CostGroup.LAB, price=lab_price, name="Tổng phân tích tế bào máu"),
        doctor,
    )
    return enc


def _built(enc, cashier):
    charges_derive(encounter_id=enc.pk)
    return invoice_build(actor=cashier, facility=enc.facility, encounter=enc)


@pytest.fixture
def cashier(facility):
    return make_staff(facility, Role.CASHIER, full_name="Thu Ngân Một")


@pytest.fixture
def cashier_client(client, cashier):
    client.force_login(cashier)
    return client


@pytest.fixture
def shift(cashier, facility):
    return services.shift_open(actor=cashier, facility=facility, opening_float="500000")


def _pay(client, invoice, amount="200.000", key=KEY, method="cash"):
    return client.post(
        reverse("cashier:pay", kwargs={"invoice_id": invoice.pk}),
        {"pay-amount": amount, "pay-method": method, "pay-idempotency_key": key},
    )


# --- Amounts as typed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("150000", "150000"),
        ("150.000", "150000"),
        ("150,000", "150000"),
        ("150 000 đ", "150000"),
        ("1.250.500", "1250500"),
        ("1.250.500,50", "1250500.50"),
        ("1,250,500.50", "1250500.50"),
        ("10.120,5", "10120.5"),
        ("617,25", "617.25"),
        ("99.5", "99.5"),
    ],
)
def test_amounts_are_read_the_way_a_cashier_types_them(typed, amount):
    assert parse_amount(typed) == Decimal(amount)


@pytest.mark.parametrize("typed", ["", "abc", "1.2.3,4,5x", "--5", ".5"])
def test_what_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError):
        parse_amount(typed)


def test_the_amount_shown_in_the_form_reads_back_as_the_same_amount():
    # given an amount with cents, shown the Vietnamese way
    form = PaymentForm(prefix="pay", owed=Decimal("10120.50"))
    shown = form["amount"].value()

    # when it is sent back as shown
    bound = PaymentForm(
        {
            "pay-amount": form["amount"].field.prepare_value(shown),
            "pay-method": "cash",
            "pay-idempotency_key": KEY,
        },
        prefix="pay",
        owed=Decimal("10120.50"),
    )

    # then it is the same amount
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["amount"] == Decimal("10120.50")


# --- Gate --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, Role.RECEPTIONIST, Role.DOCTOR])
def test_the_desk_is_refused_to_anonymous_and_to_roles_without_the_cashier_permission(
    client, facility, role
):
    # given
    if role is not None:
        client.force_login(make_staff(facility, role))

    # when
    response = client.get(reverse("cashier:desk"))

    # then
    if role is None:
        assert response.status_code == 302 and "/login/" in response["Location"]
    else:
        assert response.status_code == 403


def test_a_bill_of_another_facility_is_not_found(cashier_client, other_facility, doctor):
    # given a visit at another facility
    enc = _visit(other_facility, make_staff(other_facility, Role.DOCTOR))

    # when
    response = cashier_client.get(reverse("cashier:bill", kwargs={"encounter_id": enc.pk}))

    # then
    assert response.status_code == 404


def test_the_cashier_menu_entry_shows_for_the_cashier_only(client, cashier, facility):
    # given / when
    client.force_login(cashier)
    home_cashier = client.get(reverse("home")).content.decode()
    client.force_login(make_staff(facility, Role.RECEPTIONIST))
    home_receptionist = client.get(reverse("home")).content.decode()

    # then
    desk = reverse("cashier:desk")
    assert f'href="{desk}"' in home_cashier
    assert f'href="{desk}"' not in home_receptionist


# --- Finding the patient -----------------------------------------------------------------------


def test_desk_lists_todays_visits_and_finds_a_patient_typed_without_diacritics(
    cashier_client, facility, doctor, midday
):
    # given
    enc = _visit(facility, doctor)
    _visit(facility, doctor, name="Lê Văn Hùng")

    # when
    page = cashier_client.get(reverse("cashier:desk")).content.decode()
    found = cashier_client.get(reverse("cashier:desk"), {"q": "nguyen thi anh"}, **HTMX)

    # then
    assert "Nguyễn Thị Ánh" in page and "Lê Văn Hùng" in page
    html = found.content.decode()
    assert "<html" not in html  # the rows only, for htmx
    assert "Nguyễn Thị Ánh" in html and "Lê Văn Hùng" not in html
    assert reverse("cashier:bill", kwargs={"encounter_id": enc.pk}) in html
    # and emptying the box brings today's list back
    emptied = cashier_client.get(reverse("cashier:desk"), {"q": ""}, **HTMX).content.decode()
    assert "Nguyễn Thị Ánh" in emptied and "Lê Văn Hùng" in emptied


def test_search_by_todays_queue_number_card_code_and_invoice_number(
    cashier_client, facility, doctor, cashier
):
    # given two visits in one room: queue numbers 1 and 2
    room = make_room(facility)
    first = _visit(facility, doctor, room=room)
    second = _visit(facility, doctor, name="Lê Văn Hùng", room=room)
    invoice = _built(second, cashier)
    url = reverse("cashier:desk")

    def found(q):
        html = cashier_client.get(url, {"q": q}, **HTMX).content.decode()
        return {e.pk for e in (first, second) if f'id="enc-{e.pk}"' in html}

    # when / then
    assert found("2") == {second.pk}
    assert found("#1") == {first.pk}
    assert found(first.insurance_card_code) == {first.pk}
    assert found(invoice.number) == {second.pk}
    assert found(f"HD{invoice.pk}") == {second.pk}


def test_desk_list_runs_a_fixed_number_of_queries(
    cashier_client, facility, doctor, cashier, midday
):
    # given
    room = make_room(facility)
    _built(_visit(facility, doctor, room=room), cashier)
    url = reverse("cashier:desk")
    cashier_client.get(url)
    with CaptureQueriesContext(connection) as few:
        cashier_client.get(url)
    for n in range(5):
        _built(_visit(facility, doctor, room=room, name=f"Người Bệnh {n}"), cashier)

    # when
    with CaptureQueriesContext(connection) as many:
        response = cashier_client.get(url)

    # then
    assert response.content.decode().count('id="enc-') == 6
    assert len(many) == len(few)


# --- The bill ----------------------------------------------------------------------------------


def test_prepare_builds_the_invoice_and_the_bill_shows_the_split_by_cost_group(
    cashier_client, facility, doctor
):
    # given
    enc = _visit(facility, doctor)
    url = reverse("cashier:bill", kwargs={"encounter_id": enc.pk})
    before = cashier_client.get(url).content.decode()

    # when
    response = cashier_client.post(reverse("cashier:prepare", kwargs={"encounter_id": enc.pk}))
    page = cashier_client.get(url).content.decode()

    # then
    assert "Chưa tính viện phí" in before and 'id="btn-prepare"' in before
    assert response.status_code == 302
    invoice = Invoice.objects.get(encounter=enc)
    assert invoice.total_fund == Decimal("800000.00") and invoice.patient_amount == OWED
    assert 'id="group-13"' in page and 'id="group-1"' in page  # examination, lab tests
    assert "Tổng phân tích tế bào máu" in page
    total = page[page.index('id="bill-total"') :]
    assert re.search(r"1\.000\.000</td>\s*<td></td>\s*<td class=\"num\">800\.000", total)
    assert 'id="amount-due">200.000 đ' in page
    assert "mức hưởng 80%" in page


def test_bill_page_runs_a_fixed_number_of_queries(cashier_client, facility, doctor, cashier):
    # given a bill of 2 lines, then one of 7
    def bill_queries(lines: int) -> int:
        enc = _visit(facility, doctor)
        for _ in range(lines - 2):
            order(enc, make_service(group=CostGroup.IMAGING, price="10000"), doctor)
        _built(enc, cashier)
        url = reverse("cashier:bill", kwargs={"encounter_id": enc.pk})
        cashier_client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            cashier_client.get(url)
        return len(ctx)

    # when / then
    assert bill_queries(2) == bill_queries(7)


# --- Payment -----------------------------------------------------------------------------------


def test_without_an_open_shift_the_bill_prompts_to_open_one_and_a_payment_is_refused(
    cashier_client, facility, doctor, cashier
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)
    url = reverse("cashier:bill", kwargs={"encounter_id": invoice.encounter_id})

    # when
    page = cashier_client.get(url).content.decode()
    refused = _pay(cashier_client, invoice).content.decode()

    # then
    assert 'id="no-shift"' in page and "Bạn chưa mở ca thu ngân" in page
    assert 'id="pay-form"' not in page
    assert f"{reverse('cashier:shift')}?next=" in page
    assert "Bạn chưa mở ca thu ngân" in refused
    assert not Payment.objects.exists()


def test_opening_a_shift_returns_to_the_bill_and_the_amount_defaults_to_what_is_owed(
    cashier_client, facility, doctor, cashier
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)
    bill_url = reverse("cashier:bill", kwargs={"encounter_id": invoice.encounter_id})

    # when
    response = cashier_client.post(
        reverse("cashier:shift_open"), {"opening_float": "500.000", "next": bill_url}
    )
    page = cashier_client.get(bill_url).content.decode()

    # then
    assert response.status_code == 302 and response["Location"] == bill_url
    shift = CashierShift.objects.get(opened_by=cashier)
    assert shift.opening_float == Decimal("500000.00") and shift.status == ShiftStatus.OPEN
    amount = field_block(page, "pay-amount")
    assert 'value="200.000"' in amount
    assert re.search(r'name="pay-idempotency_key" value="[0-9a-f]{32}"', page)


def test_each_rendering_of_the_payment_form_carries_a_new_idempotency_key(
    cashier_client, facility, doctor, cashier, shift
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)
    url = reverse("cashier:bill", kwargs={"encounter_id": invoice.encounter_id})
    pattern = r'name="pay-idempotency_key" value="([0-9a-f]{32})"'

    # when
    keys = {re.search(pattern, cashier_client.get(url).content.decode()).group(1) for _ in "ab"}

    # then
    assert len(keys) == 2


def test_cash_payment_is_taken_once_even_when_the_form_is_sent_twice(
    cashier_client, facility, doctor, cashier, shift
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)

    # when the same form (same key) arrives twice
    first = _pay(cashier_client, invoice)
    second = _pay(cashier_client, invoice)

    # then one payment, and the second answer says it was already recorded
    payment = Payment.objects.get()
    assert payment.amount == OWED and payment.method == "cash" and payment.shift == shift
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_due == 0
    assert first.status_code == second.status_code == 302
    assert f"payment={payment.pk}" in first["Location"] == second["Location"]
    page = cashier_client.get(second["Location"]).content.decode()
    assert "đã được ghi nhận trước đó" in page
    assert reverse("cashier:receipt_pdf", kwargs={"payment_id": payment.pk}) in page
    assert 'id="paid-up"' in page


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "Số tiền phải lớn hơn 0."),
        ("-50000", "Số tiền không được âm."),
        ("abc", "Số tiền không hợp lệ"),
        ("200.001", "Số tiền thu lớn hơn số người bệnh còn phải trả (200.000 đồng)."),
        ("", "Hãy nhập số tiền."),
    ],
)
def test_a_bad_amount_is_refused_beside_the_field_and_nothing_is_written(
    cashier_client, facility, doctor, cashier, shift, amount, message, settings
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)

    # when
    response = _pay(cashier_client, invoice, amount=amount)

    # then
    assert response.status_code == 200
    block = field_block(response.content.decode(), "pay-amount")
    assert message in block
    if amount:
        assert f'value="{amount}"' in block  # what was typed stays
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.paid_amount == 0


def test_a_payment_into_a_closed_shift_is_refused(cashier_client, facility, doctor, cashier, shift):
    # given the shift was closed (e.g. in another tab)
    invoice = _built(_visit(facility, doctor), cashier)
    services.shift_close(actor=cashier, facility=facility, shift=shift, counted={})

    # when
    response = _pay(cashier_client, invoice)

    # then
    assert "Bạn chưa mở ca thu ngân" in response.content.decode()
    assert not Payment.objects.exists()


def test_a_tampered_idempotency_key_is_refused(cashier_client, facility, doctor, cashier, shift):
    # given
    invoice = _built(_visit(facility, doctor), cashier)

    # when
    response = _pay(cashier_client, invoice, key="not-a-key")

    # then
    assert "Biểu mẫu đã cũ hoặc không hợp lệ" in response.content.decode()
    assert not Payment.objects.exists()


# --- Documents ---------------------------------------------------------------------------------


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_receipt_pdf_shows_the_patient_and_the_totals(
    cashier_client, facility, doctor, cashier, shift
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)
    _pay(cashier_client, invoice)
    payment = Payment.objects.get()

    # when
    response = cashier_client.get(reverse("cashier:receipt_pdf", kwargs={"payment_id": payment.pk}))

    # then
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = _pdf_text(response.content)
    assert "Nguyễn Thị Ánh" in text
    assert "1.000.000" in text and "800.000" in text and "200.000" in text
    assert AuditEvent.objects.filter(action="receipt.print", patient_id=invoice.patient_id).exists()


def test_the_cost_statement_pdf_downloads(cashier_client, facility, doctor, cashier):
    # given
    invoice = _built(_visit(facility, doctor), cashier)

    # when
    response = cashier_client.get(
        reverse("cashier:statement_pdf", kwargs={"invoice_id": invoice.pk})
    )

    # then
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Nguyễn Thị Ánh" in _pdf_text(response.content)


def test_a_receipt_of_another_facility_is_not_found(client, facility, other_facility, doctor):
    # given a payment at another facility
    other_cashier = make_staff(other_facility, Role.CASHIER)
    other_shift = services.shift_open(actor=other_cashier, facility=other_facility)
    invoice = _built(_visit(other_facility, doctor), other_cashier)
    payment = services.payment_take(
        actor=other_cashier,
        facility=other_facility,
        shift=other_shift,
        invoice=invoice,
        amount=OWED,
        method="cash",
        idempotency_key=KEY,
    )
    client.force_login(make_staff(facility, Role.CASHIER))

    # when
    response = client.get(reverse("cashier:receipt_pdf", kwargs={"payment_id": payment.pk}))

    # then
    assert response.status_code == 404


# --- Shift close -------------------------------------------------------------------------------


def test_closing_the_shift_reports_expected_against_counted_and_the_differences(
    cashier_client, facility, doctor, cashier, shift
):
    # given 200,000 in cash taken on a float of 500,000
    invoice = _built(_visit(facility, doctor), cashier)
    _pay(cashier_client, invoice)

    # when 650,000 is counted in cash (50,000 short)
    response = cashier_client.post(
        reverse("cashier:shift_close"),
        {"counted_cash": "650.000", "counted_card": "0", "counted_transfer": "0"},
    )

    # then
    assert response.status_code == 302
    shift.refresh_from_db()
    assert shift.status == ShiftStatus.CLOSED
    page = cashier_client.get(response["Location"]).content.decode()
    cash = page[page.index('id="method-cash"') : page.index('id="method-card"')]
    assert "700.000" in cash and "650.000" in cash and "-50.000" in cash and "(thiếu)" in cash
    assert 'id="difference-total">-50.000' in page


def test_closing_with_a_negative_count_is_refused_beside_the_field(cashier_client, cashier, shift):
    # when
    response = cashier_client.post(
        reverse("cashier:shift_close"),
        {"counted_cash": "-1", "counted_card": "0", "counted_transfer": "0"},
    )

    # then
    assert "Số tiền không được âm." in field_block(response.content.decode(), "counted_cash")
    shift.refresh_from_db()
    assert shift.status == ShiftStatus.OPEN


def test_another_cashiers_shift_report_is_not_found(client, facility, shift):
    # given
    client.force_login(make_staff(facility, Role.CASHIER))

    # when
    response = client.get(reverse("cashier:shift_report", kwargs={"shift_id": shift.pk}))

    # then
    assert response.status_code == 404


# --- Void --------------------------------------------------------------------------------------


def test_voiding_a_payment_needs_a_reason_and_keeps_the_payment(
    cashier_client, facility, doctor, cashier, shift
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)
    _pay(cashier_client, invoice)
    payment = Payment.objects.get()
    url = reverse("cashier:void", kwargs={"kind": "payment", "pk": payment.pk})

    # when
    without = cashier_client.post(url, {"reason": "  "})
    done = cashier_client.post(url, {"reason": "Thu nhầm người bệnh"})

    # then
    assert "Hãy ghi lý do huỷ phiếu thu." in field_block(without.content.decode(), "reason")
    assert done.status_code == 302
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.VOIDED and payment.void_reason == "Thu nhầm người bệnh"
    assert invoice.paid_amount == 0 and invoice.status == InvoiceStatus.OPEN


# --- Refunds -----------------------------------------------------------------------------------


def test_a_refund_above_the_threshold_waits_for_a_second_person(
    client, cashier_client, facility, doctor, cashier, shift, settings
):
    # given a payment of 200,000 and a threshold of 100,000
    settings.REFUND_APPROVAL_THRESHOLD = Decimal(100000)
    invoice = _built(_visit(facility, doctor), cashier)
    _pay(cashier_client, invoice)
    refund_url = reverse("cashier:refund", kwargs={"invoice_id": invoice.pk})
    data = {
        "refund-amount": "150.000",
        "refund-method": "cash",
        "refund-reason": "Huỷ xét nghiệm",
        "refund-idempotency_key": KEY,
    }

    # when the cashier requests it, then an approver approves it
    above_paid = cashier_client.post(refund_url, {**data, "refund-amount": "300.000"})
    requested = cashier_client.post(refund_url, data)
    refund = Refund.objects.get()
    pending_before = refund.status
    approver = make_staff(facility, Role.UNIT_ADMIN)
    client.force_login(approver)
    listing = client.get(reverse("cashier:refunds")).content.decode()
    decide = reverse("cashier:refund_decide", kwargs={"refund_id": refund.pk})
    approved = client.post(decide, {f"r{refund.pk}-decision": "approve"})

    # then
    assert "Số tiền hoàn lớn hơn số người bệnh đã nộp (200.000 đồng)." in field_block(
        above_paid.content.decode(), "refund-amount"
    )
    assert requested.status_code == 302 and pending_before == RefundStatus.PENDING
    assert f'id="refund-{refund.pk}"' in listing and "Huỷ xét nghiệm" in listing
    assert approved.status_code == 302
    refund.refresh_from_db()
    invoice.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED and refund.approved_by == approver
    assert invoice.paid_amount == Decimal("50000.00")


def test_the_requester_cannot_approve_their_own_refund(
    client, facility, doctor, cashier, shift, settings
):
    # given a pending refund requested by someone who may also approve
    settings.REFUND_APPROVAL_THRESHOLD = Decimal(100000)
    invoice = _built(_visit(facility, doctor), cashier)
    services.payment_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount=OWED,
        method="cash",
        idempotency_key=KEY,
    )
    both = make_staff(facility, Role.UNIT_ADMIN)
    from ehealth.core.models import StaffMembership

    StaffMembership.objects.create(user=both, facility=facility, role=Role.CASHIER)
    from ehealth.core.permissions import forget_cached_permissions

    forget_cached_permissions(both)
    own_shift = services.shift_open(actor=both, facility=facility)
    refund = services.refund_request(
        actor=both,
        facility=facility,
        shift=own_shift,
        invoice=invoice,
        amount="150000",
        method="cash",
        reason="Huỷ xét nghiệm",
        idempotency_key="b" * 32,
    )
    client.force_login(both)

    # when
    listing = client.get(reverse("cashier:refunds")).content.decode()
    response = client.post(
        reverse("cashier:refund_decide", kwargs={"refund_id": refund.pk}),
        {f"r{refund.pk}-decision": "approve"},
    )

    # then
    row = listing[listing.index(f'id="refund-{refund.pk}"') :]
    assert "Chờ người khác duyệt" in row.split("</tr>")[0]
    assert "Người duyệt phải khác người lập yêu cầu hoàn tiền." in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING


def test_the_refunds_list_runs_a_fixed_number_of_queries(client, facility, doctor, cashier, shift):
    # given
    approver = make_staff(facility, Role.UNIT_ADMIN)
    client.force_login(approver)

    def pending_refund(n):
        invoice = _built(_visit(facility, doctor, name=f"Người Bệnh {n}"), cashier)
        services.payment_take(
            actor=cashier,
            facility=facility,
            shift=shift,
            invoice=invoice,
            amount=OWED,
            method="cash",
            idempotency_key=f"{n:032x}",
        )
        services.refund_request(
            actor=cashier,
            facility=facility,
            shift=shift,
            invoice=invoice,
            amount=OWED,
            method="cash",
            reason="Thu trùng",
            idempotency_key=f"{n + 100:032x}",
        )

    settings_threshold = Decimal(1000)
    from django.test import override_settings

    with override_settings(REFUND_APPROVAL_THRESHOLD=settings_threshold):
        pending_refund(1)
        url = reverse("cashier:refunds")
        client.get(url)
        with CaptureQueriesContext(connection) as few:
            client.get(url)
        for n in range(2, 6):
            pending_refund(n)
        with CaptureQueriesContext(connection) as many:
            response = client.get(url)

    # then
    assert response.content.decode().count('id="refund-') == 5
    assert len(many) == len(few)


# --- Deposits and settlement -------------------------------------------------------------------


def _discharged_stay(facility, cashier):
    department = DepartmentFactory(facility=facility)
    bed_service(facility, department, price="300000")
    now = timezone.now()
    enc = stay(
        facility,
        department=department,
        admitted_at=now - timedelta(days=2),
        ended_at=now,
        patient=make_patient(facility, full_name="Phạm Văn Tư"),
    )
    return enc


def test_deposits_are_taken_for_a_stay_and_settlement_refunds_the_surplus(
    cashier_client, facility, cashier, shift
):
    # given a discharged stay of 3 bed-days (900,000, no card)
    enc = _discharged_stay(facility, cashier)
    bill_url = reverse("cashier:bill", kwargs={"encounter_id": enc.pk})
    deposit_url = reverse("cashier:deposit", kwargs={"encounter_id": enc.pk})

    # when two deposits are taken (one refused: zero), the invoice built, then settled
    zero = cashier_client.post(
        deposit_url,
        {"deposit-amount": "0", "deposit-method": "cash", "deposit-idempotency_key": "a" * 32},
    )
    for n, amount in enumerate(("500.000", "600.000")):
        cashier_client.post(
            deposit_url,
            {
                "deposit-amount": amount,
                "deposit-method": "cash",
                "deposit-idempotency_key": f"{n:032x}",
            },
        )
    cashier_client.post(reverse("cashier:prepare", kwargs={"encounter_id": enc.pk}))
    invoice = Invoice.objects.get(encounter=enc)
    page = cashier_client.get(bill_url).content.decode()
    settled = cashier_client.post(
        reverse("cashier:settle", kwargs={"invoice_id": invoice.pk}),
        {"settle-method": "cash", "settle-idempotency_key": "c" * 32},
    )

    # then
    assert "Số tiền phải lớn hơn 0." in field_block(zero.content.decode(), "deposit-amount")
    assert Deposit.objects.filter(encounter=enc).count() == 2
    assert 'id="deposits-held">1.100.000 đ' in page
    assert "Tạm ứng thừa: trả lại người bệnh 200.000 đồng." in page
    assert settled.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SETTLED
    assert set(Deposit.objects.values_list("status", flat=True)) == {DepositStatus.APPLIED}
    surplus = Refund.objects.get(invoice=invoice)
    assert surplus.amount == Decimal("200000.00") and surplus.status == RefundStatus.COMPLETED
    final = cashier_client.get(bill_url).content.decode()
    assert "Đã quyết toán: trả lại người bệnh 200.000 đồng tạm ứng thừa." in final


def test_the_bill_renders_in_english_after_switching_language(
    cashier_client, facility, doctor, cashier
):
    # given
    invoice = _built(_visit(facility, doctor), cashier)
    cashier_client.post(reverse("set_language"), {"language": "en", "next": "/"})

    # when
    page = cashier_client.get(
        reverse("cashier:bill", kwargs={"encounter_id": invoice.encounter_id})
    ).content.decode()
    desk = cashier_client.get(reverse("cashier:desk")).content.decode()

    # then
    for text in (
        "Insurance fund pays",
        "Still to collect",
        "Group subtotal",
        "Open a cashier shift",
    ):
        assert text in page
    assert "Cashier&#x27;s desk" in desk or "Cashier's desk" in desk
    assert "Quỹ BHYT trả" not in page and "Còn phải thu" not in page
