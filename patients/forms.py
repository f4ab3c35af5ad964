"""Forms of the registry pages. They parse input only; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from ehealth.core.models import AdminUnit, Facility, Province
from patients.choices import AddressScheme, IdentifierSystem, Sex
from patients.ethnicities import ETHNICITIES

# Field names are those of `patients.services.PatientInput`, so that a service's
# ValidationError({field: [...]}) lands beside the field it names.
PATIENT_INPUT_FIELDS = [
    "full_name",
    "sex",
    "birth_date",
    "birth_year",
    "cccd",
    "bhyt_card",
    "social_insurance_number",
    "passport",
    "ethnicity_code",
    "nationality_code",
    "occupation",
    "occupation_code",
    "phone",
    "address_scheme",
    "address_line",
    "province_code",
    "commune_code",
    "legacy_address",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
]

IDENTIFIER_FIELDS = {
    "cccd": IdentifierSystem.CCCD,
    "bhyt_card": IdentifierSystem.BHYT,
    "social_insurance_number": IdentifierSystem.SOCIAL_INSURANCE,
    "passport": IdentifierSystem.PASSPORT,
}


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Tìm người bệnh"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "autofocus": True,
                "placeholder": _(
                    "Họ tên (có dấu hoặc không), CCCD, mã thẻ BHYT, điện thoại, mã người bệnh"
                ),
            }
        ),
    )


class PatientForm(forms.Form):
    """Demographics and identifiers of a patient, as PatientInput expects them."""

    full_name = forms.CharField(label=_("Họ và tên"), max_length=255)
    sex = forms.ChoiceField(label=_("Giới tính"), choices=Sex.choices, widget=forms.RadioSelect)
    birth_date = forms.DateField(
        label=_("Ngày sinh"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        help_text=_("Nếu không rõ ngày sinh, chỉ ghi năm sinh."),
    )
    birth_year = forms.IntegerField(
        label=_("Năm sinh"), required=False, min_value=1850, max_value=2200
    )
    cccd = forms.CharField(
        label=_("Số CCCD/định danh cá nhân"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    bhyt_card = forms.CharField(
        label=_("Mã thẻ BHYT"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    social_insurance_number = forms.CharField(
        label=_("Mã số BHXH"),
        required=False,
        max_length=15,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    passport = forms.CharField(label=_("Số hộ chiếu"), required=False, max_length=25)
    ethnicity_code = forms.ChoiceField(
        label=_("Dân tộc"),
        required=False,
        choices=[("", _("— Chọn dân tộc —")), *[(c, f"{c} – {n}") for c, n in ETHNICITIES]],
    )
    nationality_code = forms.CharField(
        label=_("Quốc tịch (mã)"),
        max_length=3,
        initial="VN",
        help_text=_("VN là Việt Nam."),
    )
    occupation = forms.CharField(label=_("Nghề nghiệp"), required=False, max_length=255)
    occupation_code = forms.CharField(label=_("Mã nghề nghiệp"), required=False, max_length=5)
    phone = forms.CharField(
        label=_("Điện thoại"),
        required=False,
        max_length=15,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    address_scheme = forms.ChoiceField(
        label=_("Kiểu địa chỉ"),
        choices=AddressScheme.choices,
        initial=AddressScheme.TWO_LEVEL,
        widget=forms.RadioSelect,
    )
    address_line = forms.CharField(
        label=_("Số nhà, đường, thôn/tổ"), required=False, max_length=500
    )
    province_code = forms.ModelChoiceField(
        label=_("Tỉnh/thành phố"),
        required=False,
        queryset=Province.objects.all(),
        to_field_name="code",
        empty_label=_("— Chọn tỉnh/thành phố —"),
        # The commune list follows the province (htmx swaps the options of the next select).
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("patients:communes"),
                "hx-target": "#id_commune_code",
                "hx-trigger": "change",
            }
        ),
    )
    commune_code = forms.ModelChoiceField(
        label=_("Xã/phường/đặc khu"),
        required=False,
        queryset=AdminUnit.objects.none(),
        to_field_name="code",
        empty_label=_("— Chọn xã/phường —"),
    )
    legacy_address = forms.CharField(
        label=_("Địa chỉ cũ (ba cấp, ghi nguyên văn)"),
        required=False,
        max_length=1024,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Chỉ dùng khi địa chỉ được ghi theo ba cấp tỉnh – huyện – xã trước 01/7/2025."),
    )
    emergency_contact_name = forms.CharField(
        label=_("Người liên hệ khẩn cấp"), required=False, max_length=255
    )
    emergency_contact_phone = forms.CharField(
        label=_("Điện thoại người liên hệ"),
        required=False,
        max_length=15,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    emergency_contact_relation = forms.CharField(label=_("Quan hệ"), required=False, max_length=50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        province = self._selected_province_code()
        if province:
            self.fields["commune_code"].queryset = AdminUnit.objects.filter(province_id=province)

    def _selected_province_code(self) -> str:
        if self.is_bound:
            return (self.data.get(self.add_prefix("province_code")) or "").strip()
        value = self.initial.get("province_code")
        return getattr(value, "code", value) or ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The service checks the rules; this only spares a round trip for the obvious miss.
        if not cleaned.get("birth_date") and cleaned.get("birth_year") is None:
            if "birth_date" not in self.errors and "birth_year" not in self.errors:
                self.add_error("birth_year", _("Cần ghi ngày sinh hoặc ít nhất năm sinh."))
        return cleaned

    def input_data(self) -> dict[str, Any]:
        """The cleaned values as the PatientInput fields (codes, not model instances)."""
        data: dict[str, Any] = {}
        for name in PATIENT_INPUT_FIELDS:
            value = self.cleaned_data.get(name)
            if isinstance(value, Province | AdminUnit):
                value = value.code
            if value is None and name not in ("birth_date", "birth_year"):
                value = ""
            data[name] = value
        if data["birth_date"] is not None:
            # One source of truth for the year when the whole date is known.
            data["birth_year"] = data["birth_date"].year
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's ValidationError beside the fields it names (the rest above the form)."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                target = field if field in self.fields else None
                for e in errors:
                    self.add_error(target, e)
        else:
            for e in error.error_list:
                self.add_error(None, e)


class PatientEditForm(PatientForm):
    """The patient form with the version the page was read at (optimistic lock)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ShareForm(forms.Form):
    target_facility = forms.ModelChoiceField(
        label=_("Chia sẻ với cơ sở"),
        queryset=Facility.objects.none(),
        empty_label=_("— Chọn cơ sở —"),
    )
    reason = forms.CharField(
        label=_("Lý do chia sẻ"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, exclude_facility_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = Facility.objects.filter(is_active=True)
        if exclude_facility_id is not None:
            qs = qs.exclude(pk=exclude_facility_id)
        self.fields["target_facility"].queryset = qs


class MergeForm(forms.Form):
    survivor_mrn = forms.CharField(
        label=_("Mã người bệnh của hồ sơ giữ lại"),
        max_length=30,
        help_text=_("Mã người bệnh tại cơ sở này."),
    )
    merged_mrn = forms.CharField(
        label=_("Mã người bệnh của hồ sơ trùng (sẽ gộp vào hồ sơ giữ lại)"), max_length=30
    )
    reason = forms.CharField(
        label=_("Lý do gộp"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        a, b = cleaned.get("survivor_mrn"), cleaned.get("merged_mrn")
        if a and b and a.strip() == b.strip():
            self.add_error("merged_mrn", _("Hồ sơ trùng phải khác hồ sơ giữ lại."))
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Lý do"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
