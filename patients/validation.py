"""Registration input and its checks: every rule names its field, in Vietnamese."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.models import AdminUnit, Province
from patients import identifiers as idchecks
from patients.choices import AddressScheme, IdentifierSystem, Sex
from patients.models import Patient
from patients.normalize import clean_text, is_valid_phone, normalize_phone

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MIN_BIRTH_YEAR = 1900


# --- Input -----------------------------------------------------------------------------------


@dataclass
class PatientInput:
    """Demographics and identifiers as entered at reception (or mapped from FHIR)."""

    full_name: str
    sex: str
    birth_date: date | None = None
    birth_year: int | None = None
    cccd: str = ""
    bhyt_card: str = ""
    social_insurance_number: str = ""
    passport: str = ""
    ethnicity_code: str = ""
    nationality_code: str = "VN"
    occupation: str = ""
    occupation_code: str = ""
    phone: str = ""
    address_scheme: str = AddressScheme.TWO_LEVEL
    address_line: str = ""
    province_code: str = ""
    commune_code: str = ""
    legacy_address: str = ""
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    emergency_contact_relation: str = ""

    @classmethod
    def from_patient(cls, patient: Patient) -> PatientInput:
        """The current values of a patient, e.g. to pre-fill the edit form."""
        live = {}
        for ident in patient.identifiers.filter(voided_at__isnull=True).order_by("id"):
            live.setdefault(ident.system, ident.value)
        return cls(
            full_name=patient.full_name,
            sex=patient.sex,
            birth_date=patient.birth_date,
            birth_year=patient.birth_year,
            cccd=live.get(IdentifierSystem.CCCD, ""),
            bhyt_card=live.get(IdentifierSystem.BHYT, ""),
            social_insurance_number=live.get(IdentifierSystem.SOCIAL_INSURANCE, ""),
            passport=live.get(IdentifierSystem.PASSPORT, ""),
            **{f: getattr(patient, f) for f in _PLAIN_FIELDS},
            province_code=patient.province_id or "",
            commune_code=patient.commune_id or "",
        )


# Fields copied as they are between PatientInput and Patient.
_PLAIN_FIELDS = (
    "ethnicity_code",
    "nationality_code",
    "occupation",
    "occupation_code",
    "phone",
    "address_scheme",
    "address_line",
    "legacy_address",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
)
_PATIENT_FIELDS = ("full_name", "sex", "birth_date", "birth_year", *_PLAIN_FIELDS)

# Form field -> identifier system (city-wide identifiers).
IDENTIFIER_FIELDS = {
    "cccd": IdentifierSystem.CCCD,
    "bhyt_card": IdentifierSystem.BHYT,
    "social_insurance_number": IdentifierSystem.SOCIAL_INSURANCE,
    "passport": IdentifierSystem.PASSPORT,
}


# --- Validation ------------------------------------------------------------------------------


def patient_validate(*, data: PatientInput) -> PatientInput:
    """Normalise the input and check every rule; raise ValidationError({field: [messages]})."""
    errors: dict[str, list] = {}

    def err(name: str, message) -> None:
        errors.setdefault(name, []).append(message)

    d = dataclasses.replace(data)
    for name in ("full_name", *_PLAIN_FIELDS):
        setattr(d, name, clean_text(getattr(d, name)))
    d.province_code, d.commune_code = d.province_code.strip(), d.commune_code.strip()
    d.nationality_code = (d.nationality_code or "VN").upper()

    if not d.full_name:
        err("full_name", _("Họ và tên không được để trống."))
    elif re.search(r"\d", d.full_name):
        err("full_name", _("Họ và tên không được chứa chữ số."))

    if d.sex not in Sex.values:
        err("sex", _("Giới tính không hợp lệ."))

    today = timezone.localdate(timezone=VN_TZ)
    if d.birth_date is not None:
        if d.birth_date > today:
            err("birth_date", _("Ngày sinh không được sau ngày hôm nay."))
        elif d.birth_date.year < MIN_BIRTH_YEAR:
            err("birth_date", _("Ngày sinh phải từ năm %(min)s trở đi.") % {"min": MIN_BIRTH_YEAR})
        if d.birth_year is not None and d.birth_year != d.birth_date.year:
            err("birth_year", _("Năm sinh không khớp với ngày sinh."))
        d.birth_year = d.birth_date.year
    elif d.birth_year is None:
        err("birth_date", _("Cần nhập ngày sinh hoặc năm sinh."))
    elif not MIN_BIRTH_YEAR <= d.birth_year <= today.year:
        err(
            "birth_year",
            _("Năm sinh phải trong khoảng %(min)s–%(max)s.")
            % {"min": MIN_BIRTH_YEAR, "max": today.year},
        )

    birth_ok = "birth_date" not in errors and "birth_year" not in errors
    sex_ok = "sex" not in errors
    checks = {
        "cccd": lambda v: idchecks.validate_cccd(
            v,
            sex=d.sex if sex_ok else None,
            birth_year=d.birth_year if birth_ok else None,
        ),
        "bhyt_card": idchecks.validate_bhyt_card,
        "social_insurance_number": idchecks.validate_social_insurance_number,
        "passport": idchecks.validate_passport,
    }
    for name, check in checks.items():
        value = getattr(d, name) or ""
        if not value.strip():
            setattr(d, name, "")
            continue
        try:
            setattr(d, name, check(value))
        except ValidationError as exc:
            err(name, exc)
    if (
        d.bhyt_card
        and d.social_insurance_number
        and "bhyt_card" not in errors
        and "social_insurance_number" not in errors
        and idchecks.social_insurance_from_card(d.bhyt_card) != d.social_insurance_number
    ):
        err(
            "social_insurance_number",
            _("Mã số BHXH không khớp với ký tự 6–15 của mã thẻ BHYT."),
        )

    for name in ("phone", "emergency_contact_phone"):
        value = normalize_phone(getattr(d, name))
        setattr(d, name, value)
        if value and not is_valid_phone(value):
            err(
                name,
                _(
                    "Số điện thoại không hợp lệ: di động gồm 10 chữ số (03, 05, 07, 08, 09), "
                    "cố định gồm 11 chữ số bắt đầu bằng 02."
                ),
            )

    if d.address_scheme not in AddressScheme.values:
        err("address_scheme", _("Kiểu địa chỉ không hợp lệ."))
    if d.address_scheme == AddressScheme.LEGACY and not d.legacy_address:
        err("legacy_address", _("Cần ghi địa chỉ cũ (ba cấp) như trên giấy tờ."))
    province = None
    if d.province_code:
        province = Province.objects.filter(pk=d.province_code).first()
        if province is None:
            err("province_code", _("Mã tỉnh/thành phố không có trong danh mục."))
    if d.commune_code:
        commune = AdminUnit.objects.filter(pk=d.commune_code).first()
        if commune is None:
            err("commune_code", _("Mã xã/phường không có trong danh mục."))
        elif province is not None and commune.province_id != province.pk:
            err("commune_code", _("Xã/phường không thuộc tỉnh/thành phố đã chọn."))
        elif not d.province_code:
            d.province_code = commune.province_id

    if d.ethnicity_code and not re.fullmatch(r"\d{2}", d.ethnicity_code):
        err("ethnicity_code", _("Mã dân tộc gồm 2 chữ số."))
    if not re.fullmatch(r"[A-Z]{2,3}", d.nationality_code):
        err("nationality_code", _("Mã quốc tịch gồm 2–3 chữ cái."))

    for name in _PATIENT_FIELDS:
        value = getattr(d, name)
        max_length = Patient._meta.get_field(name).max_length
        if isinstance(value, str) and max_length and len(value) > max_length and name not in errors:
            err(name, _("Tối đa %(max)s ký tự.") % {"max": max_length})

    if errors:
        raise ValidationError(errors)
    return d
