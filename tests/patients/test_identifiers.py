"""Identifier and demographic checks of registration: each rule names its field, in Vietnamese."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients import identifiers as idchecks
from patients.choices import AddressScheme, Sex
from patients.services import VN_TZ, patient_validate
from tests.core.factories import ProvinceFactory
from tests.patients.factories import AdminUnitFactory, other_province, patient_input

pytestmark = pytest.mark.django_db


def _errors(data) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        patient_validate(data=data)
    return exc.value.message_dict


def test_valid_input_is_normalised():
    # given a form typed with habits: extra blanks, decomposed diacritics, +84 phone, spaced CCCD
    commune = AdminUnitFactory()
    data = patient_input(
        full_name="  Nguye\u0302\u0303n   Văn  An ",
        cccd="048 085 000 123",
        phone="+84 905 123 456",
        bhyt_card="dn4 48 4801234567",
        province_code="",
        commune_code=commune.code,
    )
    # when
    clean = patient_validate(data=data)
    # then
    assert clean.full_name == "Nguyễn Văn An"
    assert clean.cccd == "048085000123"
    assert clean.phone == "0905123456"
    assert clean.bhyt_card == "DN4484801234567"
    assert clean.birth_year == 1985
    assert clean.province_code == commune.province_id  # derived from the commune


def test_birth_year_alone_is_accepted():
    data = patient_input(birth_date=None, birth_year=1970, cccd="")
    assert patient_validate(data=data).birth_year == 1970


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"cccd": "04808500012"}, "cccd", "12 chữ số"),
        ({"cccd": "999085000123"}, "cccd", "mã tỉnh"),
        ({"cccd": "048185000123"}, "cccd", "giới tính"),  # digit 1 = female born 1900s
        ({"cccd": "048090000123"}, "cccd", "năm sinh"),  # born 1990, form says 1985
        ({"bhyt_card": "DN44848012345"}, "bhyt_card", "15 ký tự"),
        ({"bhyt_card": "ZZ4484801234567"}, "bhyt_card", "mã đối tượng"),
        ({"bhyt_card": "DN4994801234567"}, "bhyt_card", "mã tỉnh"),
        ({"bhyt_card": "DN6484801234567"}, "bhyt_card", "15 ký tự"),  # benefit digit 1–5
        ({"social_insurance_number": "48012"}, "social_insurance_number", "10 chữ số"),
        (
            {"bhyt_card": "DN4484801234567", "social_insurance_number": "4801234568"},
            "social_insurance_number",
            "ký tự 6–15",
        ),
        ({"passport": "B12"}, "passport", "hộ chiếu"),
        ({"full_name": "   "}, "full_name", "không được để trống"),
        ({"full_name": "Nguyễn Văn 2"}, "full_name", "chữ số"),
        ({"sex": "9"}, "sex", "Giới tính"),
        ({"phone": "12345"}, "phone", "điện thoại"),
        ({"phone": "0105123456"}, "phone", "điện thoại"),
        ({"emergency_contact_phone": "09051234"}, "emergency_contact_phone", "điện thoại"),
        ({"birth_date": None, "birth_year": None, "cccd": ""}, "birth_date", "ngày sinh"),
        ({"birth_date": None, "birth_year": 1850, "cccd": ""}, "birth_year", "Năm sinh"),
        ({"birth_date": date(1985, 5, 12), "birth_year": 1984}, "birth_year", "không khớp"),
        ({"province_code": "77"}, "province_code", "danh mục"),
        ({"commune_code": "99999"}, "commune_code", "danh mục"),
        (
            {"address_scheme": AddressScheme.LEGACY, "legacy_address": ""},
            "legacy_address",
            "địa chỉ cũ",
        ),
        ({"ethnicity_code": "Kinh"}, "ethnicity_code", "2 chữ số"),
        ({"occupation": "x" * 300}, "occupation", "Tối đa"),
    ],
)
def test_each_bad_rule_names_the_field(overrides, field, fragment):
    # given a form breaking exactly one rule
    data = patient_input(**overrides)
    # when / then
    errors = _errors(data)
    assert field in errors, errors
    assert any(fragment.lower() in m.lower() for m in errors[field]), errors[field]


def test_future_birth_date_is_refused_in_vietnam_time():
    # given tomorrow in Asia/Ho_Chi_Minh
    tomorrow = timezone.localdate(timezone=VN_TZ) + timedelta(days=1)
    # when / then
    errors = _errors(patient_input(birth_date=tomorrow, cccd=""))
    assert errors["birth_date"] == ["Ngày sinh không được sau ngày hôm nay."]


def test_commune_outside_the_chosen_province_is_refused():
    # given a Đà Nẵng ward and the Hà Nội province
    commune = AdminUnitFactory(province=ProvinceFactory())
    hanoi = other_province()
    # when / then
    errors = _errors(patient_input(province_code=hanoi.code, commune_code=commune.code))
    assert errors["commune_code"] == ["Xã/phường không thuộc tỉnh/thành phố đã chọn."]


def test_several_bad_fields_are_reported_together():
    errors = _errors(patient_input(cccd="123", phone="1", full_name=""))
    assert {"cccd", "phone", "full_name"} <= set(errors)


@pytest.mark.parametrize(
    ("value", "sex", "year", "code"),
    [
        ("048085000123", Sex.MALE, 1985, None),
        ("079303000001", Sex.FEMALE, 2003, None),
        ("0480850001", None, None, "cccd_format"),
        ("000085000123", None, None, "cccd_province"),
        ("048085000123", Sex.FEMALE, None, "cccd_sex"),
        ("048085000123", None, 1986, "cccd_birth_year"),
    ],
)
def test_cccd_check(value, sex, year, code):
    if code is None:
        assert idchecks.validate_cccd(value, sex=sex, birth_year=year) == value
    else:
        with pytest.raises(ValidationError) as exc:
            idchecks.validate_cccd(value, sex=sex, birth_year=year)
        assert exc.value.code == code


def test_card_carries_the_social_insurance_number():
    card = idchecks.validate_bhyt_card("HS4010120878811")
    assert idchecks.social_insurance_from_card(card) == "0120878811"
    assert idchecks.benefit_digit_from_card(card) == 4
