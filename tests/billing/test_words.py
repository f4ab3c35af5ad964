"""Amounts in Vietnamese words: linh, mốt, tư, lăm, mươi, zero hundreds, the scale words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.words import amount_in_words_vi, number_in_words_vi


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "Không đồng"),
        (5, "Năm đồng"),
        (10, "Mười đồng"),
        (11, "Mười một đồng"),
        (14, "Mười bốn đồng"),
        (15, "Mười lăm đồng"),
        (20, "Hai mươi đồng"),
        (21, "Hai mươi mốt đồng"),
        (24, "Hai mươi tư đồng"),
        (25, "Hai mươi lăm đồng"),
        (55, "Năm mươi lăm đồng"),
        (101, "Một trăm linh một đồng"),
        (104, "Một trăm linh bốn đồng"),
        (105, "Một trăm linh năm đồng"),
        (110, "Một trăm mười đồng"),
        (115, "Một trăm mười lăm đồng"),
        (1_000, "Một nghìn đồng"),
        (1_005, "Một nghìn không trăm linh năm đồng"),
        (1_010, "Một nghìn không trăm mười đồng"),
        (1_021, "Một nghìn không trăm hai mươi mốt đồng"),
        (15_000, "Mười lăm nghìn đồng"),
        (120_000, "Một trăm hai mươi nghìn đồng"),
        (1_000_000, "Một triệu đồng"),
        (1_000_005, "Một triệu không trăm linh năm đồng"),
        (1_250_500, "Một triệu hai trăm năm mươi nghìn năm trăm đồng"),
        (2_000_000_005, "Hai tỷ không trăm linh năm đồng"),
        (2_005_000_000, "Hai tỷ không trăm linh năm triệu đồng"),
        (
            1_234_567_891,
            "Một tỷ hai trăm ba mươi tư triệu năm trăm sáu mươi bảy nghìn tám trăm chín mươi "
            "mốt đồng",
        ),
        (10**12, "Một nghìn tỷ đồng"),
    ],
)
def test_known_amounts(amount, words):
    # given / when / then (as Decimal, the type money has in the project)
    assert amount_in_words_vi(Decimal(amount)) == words
    assert amount_in_words_vi(amount) == words


def test_amount_with_zero_cents_reads_as_whole():
    # given an amount as stored (2 places)
    # when / then
    assert amount_in_words_vi(Decimal("61460.00")) == "Sáu mươi mốt nghìn bốn trăm sáu mươi đồng"


def test_fraction_is_read_after_phay_not_rounded():
    # given / when / then
    assert amount_in_words_vi(Decimal("12.50")) == "Mười hai phẩy năm đồng"
    assert amount_in_words_vi(Decimal("617.05")) == "Sáu trăm mười bảy phẩy không năm đồng"


def test_southern_variants_are_configurable():
    # given / when / then
    assert amount_in_words_vi(105_000, linh="lẻ", thousand="ngàn") == "Một trăm lẻ năm ngàn đồng"
    assert amount_in_words_vi(24, four="bốn") == "Hai mươi bốn đồng"
    assert number_in_words_vi(1_005) == "một nghìn không trăm linh năm"


def test_negative_and_float_are_refused():
    # given / when / then
    with pytest.raises(ValueError):
        amount_in_words_vi(Decimal(-1))
    with pytest.raises(TypeError):
        amount_in_words_vi(120000.0)
    with pytest.raises(ValueError):
        amount_in_words_vi(Decimal("NaN"))
