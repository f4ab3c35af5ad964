"""VietQR payloads (domain brief §6.2): published vectors byte for byte, the CRC, the limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.vietqr import (
    ascii_fold,
    bill_reference,
    crc16_ccitt_false,
    tlv,
    tlv_parse,
    transfer_text,
    vietqr_for_invoice,
    vietqr_parse,
    vietqr_payload,
)

BRIEF_EXAMPLE = (
    "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
    "530370454061200005802VN62170813ung ho lu lut6304C15C"
)


def test_the_briefs_example_comes_out_byte_for_byte():
    # given the decoded example: BIN 970415, account 0011001932418, 120,000 đ, "ung ho lu lut"
    # when
    payload = vietqr_payload(
        bank_bin="970415", account="0011001932418", amount=Decimal(120000), purpose="ung ho lu lut"
    )
    # then
    assert payload == BRIEF_EXAMPLE


def test_vietnamese_purpose_is_folded_to_the_same_payload():
    # given the transfer text as a Vietnamese speaker types it
    # when
    payload = vietqr_payload(
        bank_bin="970415", account="0011001932418", amount=120000, purpose="ủng hộ lũ lụt"
    )
    # then diacritics are dropped exactly as the published generator does
    assert payload == BRIEF_EXAMPLE


def test_crc_check_value():
    # given / when / then: the catalogue check value of CRC-16/CCITT-FALSE
    assert crc16_ccitt_false("123456789") == "29B1"
    assert crc16_ccitt_false(BRIEF_EXAMPLE[:-4]) == "C15C"


def test_transfer_to_card_public_vector_a203():
    # given the public to-card test string ("thanh toan don hang", 180,000 đ, bill NPS6869)
    expected = (
        "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC"
        "530370454061800005802VN62340107NPS68690819thanh toan don hang6304A203"
    )
    # when
    payload = vietqr_payload(
        bank_bin="970403",
        account="9704031101234567",
        amount=180000,
        purpose="thanh toan don hang",
        to_card=True,
        bill_number="NPS6869",
    )
    # then
    assert payload == expected


ORDER_PREFIX = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN"
)


@pytest.mark.parametrize(
    ("bill", "tail"),
    [
        ("", "62230819thanh toan don hang63045FAB"),
        ("NPS6869", "62340107NPS68690819thanh toan don hang63042E2E"),
    ],
)
def test_transfer_to_account_public_vectors(bill, tail):
    # given the public to-account strings for the same order (BIN 970403, 0011012345678).
    # The brief's "QRIBFTTA -> 4302" string could not be reconstructed (its BIN and account
    # are not given, and it was not found published); these two take its place.
    # when
    payload = vietqr_payload(
        bank_bin="970403",
        account="0011012345678",
        amount=180000,
        purpose="thanh toan don hang",
        bill_number=bill,
    )
    # then
    assert payload == ORDER_PREFIX + tail


def test_static_code_without_amount_public_vector():
    # given a reusable code (no amount, no text) published for TPBank 0099999999
    # when
    payload = vietqr_payload(
        bank_bin="970423", account="0099999999", amount=None, purpose="", dynamic=False
    )
    # then
    assert payload == (
        "00020101021138540010A00000072701240006970423011000999999990208QRIBFTTA"
        "53037045802VN6304CBB4"
    )
    assert "54" not in vietqr_parse(payload)


def test_odd_amount_with_vietnamese_text_public_vector():
    # given / when
    payload = vietqr_payload(
        bank_bin="970422", account="0023457923442", amount=40123, purpose="chuyển khoản"
    )
    # then
    assert payload == (
        "00020101021238570010A00000072701270006970422011300234579234420208QRIBFTTA"
        "53037045405401235802VN62160812chuyen khoan6304722F"
    )


def test_parse_reads_back_every_field():
    # given / when
    fields = vietqr_parse(BRIEF_EXAMPLE)
    account = tlv_parse(fields["38"])
    # then
    assert fields["00"] == "01"
    assert fields["01"] == "12"
    assert fields["53"] == "704"
    assert fields["54"] == "120000"
    assert fields["58"] == "VN"
    assert tlv_parse(fields["62"]) == {"08": "ung ho lu lut"}
    assert account["00"] == "A000000727"
    assert tlv_parse(account["01"]) == {"00": "970415", "01": "0011001932418"}
    assert account["02"] == "QRIBFTTA"


def test_a_corrupted_payload_fails_the_crc():
    # given one character changed in the amount
    corrupted = BRIEF_EXAMPLE.replace("5406120000", "5406130000")
    # when / then
    with pytest.raises(ValueError, match="CRC"):
        vietqr_parse(corrupted)


def test_values_longer_than_99_are_refused():
    # given / when / then
    assert tlv("08", "x" * 99).startswith("0899")
    with pytest.raises(ValueError, match="max 99"):
        tlv("08", "x" * 100)


def test_purpose_is_folded_restricted_and_cut_to_25():
    # given a long Vietnamese text with punctuation
    text = "Thanh toán viện phí – Đà Nẵng (HĐ 12/3)!"
    # when
    folded = transfer_text(text)
    payload = vietqr_payload(bank_bin="970415", account="0011001932418", amount=1, purpose=text)
    # then: ASCII letters, digits, single spaces, at most 25 characters
    assert ascii_fold("Đường Lê Lợi, Hải Châu") == "Duong Le Loi, Hai Chau"
    assert transfer_text(text, limit=99) == "Thanh toan vien phi Da Nang HD 12 3"
    assert folded == "Thanh toan vien phi Da Na"
    assert len(folded) <= 25
    assert tlv_parse(vietqr_parse(payload)["62"])["08"] == folded


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"bank_bin": "97041"}, ValueError),
        ({"bank_bin": "97041A"}, ValueError),
        ({"account": "0" * 20}, ValueError),
        ({"account": "0011-0019"}, ValueError),
        ({"amount": Decimal(0)}, ValueError),
        ({"amount": Decimal(-5000)}, ValueError),
        ({"amount": Decimal("1000.50")}, ValueError),
        ({"amount": 10**13}, ValueError),
        ({"amount": 120000.0}, TypeError),
    ],
)
def test_bad_input_is_refused(kwargs, error):
    # given valid arguments with one bad value
    values = {
        "bank_bin": "970415",
        "account": "0011001932418",
        "amount": Decimal(120000),
        "purpose": "x",
    }
    values.update(kwargs)
    # when / then
    with pytest.raises(error):
        vietqr_payload(**values)


def test_whole_amount_with_cents_places_is_accepted():
    # given an amount as the money helper stores it (2 places)
    # when
    payload = vietqr_payload(
        bank_bin="970415", account="0011001932418", amount=Decimal("120000.00"), purpose="x"
    )
    # then
    assert vietqr_parse(payload)["54"] == "120000"


def test_invoice_payload_carries_the_invoice_reference():
    # given an invoice number with Vietnamese letters and separators
    # when
    payload = vietqr_for_invoice(
        bank_bin="970415",
        account="0011001932418",
        invoice_number="HĐ-2026/000123",
        amount=Decimal("61460.00"),
    )
    fields = vietqr_parse(payload)
    extra = tlv_parse(fields["62"])
    # then the reference is the bill number and leads the transfer text
    assert bill_reference("HĐ-2026/000123") == "HD2026000123"
    assert fields["01"] == "12"
    assert fields["54"] == "61460"
    assert extra["01"] == "HD2026000123"
    assert extra["08"].startswith("HD2026000123")
