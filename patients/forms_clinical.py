"""Forms of the clinical pages. They parse input only; the clinical services decide what is valid.

Field names are the names the services use in their `ValidationError({field: [...]})` dicts (the
contract of issue 3), so a refusal lands beside the field it names. Pages with several forms give
each a prefix; the prefix changes the HTML names only, not the field names.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from patients.clinical_choices import (
    AllergySeverity,
    ArrivalMode,
    Conclusion,
    DischargeType,
    TreatmentResult,
)

DATE_INPUT = {"type": "date"}
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"]
_CODE_SPLIT = re.compile(r"[\s,;]+")


def _date_field(label, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=kwargs.pop("required", False),
        widget=forms.DateInput(attrs=DATE_INPUT, format="%Y-%m-%d"),
        input_formats=DATE_FORMATS,
        **kwargs,
    )


def _datetime_field(label, **kwargs) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=kwargs.pop("required", False),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=DATETIME_FORMATS,
        **kwargs,
    )


def _measure(label, *, decimal: bool = False, required: bool = False) -> forms.CharField:
    """A measurement typed as text ("37,2" with the Vietnamese decimal comma is fine); the
    service parses it and checks the plausible range."""
    return forms.CharField(
        label=label,
        required=required,
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal" if decimal else "numeric", "autocomplete": "off"}
        ),
    )


def _text(label, *, required: bool = False, max_length: int = 500, **attrs) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.TextInput(attrs=attrs) if attrs else None,
    )


def _textarea(label, *, required: bool = False, rows: int = 3) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, widget=forms.Textarea(attrs={"rows": rows})
    )


def split_codes(value: str) -> list[str]:
    """ICD-10 codes typed with commas, semicolons or spaces between them, upper-cased, in order."""
    return [c.upper() for c in _CODE_SPLIT.split(value or "") if c]


def mark_icd_fields(form) -> None:
    """Tie the ICD-10 picker's choices to the code fields (see clinic.js)."""
    for name, role in (("main_code", "main"), ("secondary_codes", "secondary")):
        if name in form.fields:
            form.fields[name].widget.attrs["data-icd-field"] = role


class ServiceErrorsMixin:
    """Lands a service's ValidationError beside the fields it names (else above the form)."""

    def add_service_errors(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                target = field if field in self.fields else None  # type: ignore[attr-defined]
                for e in errors:
                    self.add_error(target, e)  # type: ignore[attr-defined]
        else:
            for e in error.error_list:
                self.add_error(None, e)  # type: ignore[attr-defined]


class ClinicForm(ServiceErrorsMixin, forms.Form):
    """Base of the clinical forms."""


class VersionedForm(ClinicForm):
    """A form that writes a versioned record: the version the editor loaded travels hidden."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class VersionOnlyForm(forms.Form):
    """A state move (start examination, wait for results): only the version the page showed."""

    version = forms.IntegerField(min_value=1)

    def add_service_errors(self, error: ValidationError) -> None:
        for message in error.messages:
            self.add_error(None, message)


# --- Reception ----------------------------------------------------------------------------------


class CheckInForm(ClinicForm):
    room_id = forms.TypedChoiceField(label=_("Phòng khám"), coerce=int, choices=())
    arrival_mode = forms.ChoiceField(
        label=_("Hình thức đến"),
        choices=[c for c in ArrivalMode.choices if c[0] != ArrivalMode.TRANSFER_IN],
        initial=ArrivalMode.REGISTERED,
    )
    referral_paper_number = _text(_("Số giấy chuyển"), max_length=50)
    referral_from_code = _text(_("Mã nơi chuyển đến (MA_NOI_DI)"), max_length=5)
    insurance_card_code = _text(
        _("Mã thẻ BHYT (như trên thẻ)"), max_length=15, autocomplete="off", spellcheck="false"
    )
    insurance_card_valid_from = _date_field(_("Thẻ có giá trị từ"))
    insurance_card_valid_to = _date_field(_("Thẻ có giá trị đến"))
    registered_facility_code = _text(_("Nơi ĐKKCB ban đầu (mã)"), max_length=5)
    reason = _textarea(_("Lý do khám"), rows=2)

    def __init__(self, *args, rooms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room_id"].choices = [("", _("— Chọn phòng khám —"))] + [
            (r.pk, f"{r.code} · {r.name} ({r.department.name})") for r in rooms
        ]
        self.fields["insurance_card_code"].help_text = _(
            "Gõ đúng 15 ký tự như trên thẻ. Cấp cứu có thể để trống."
        )

    def input_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "room_id": d["room_id"],
            "arrival_mode": d["arrival_mode"],
            "referral_paper_number": d["referral_paper_number"].strip(),
            "referral_from_code": d["referral_from_code"].strip(),
            "insurance_card_code": d["insurance_card_code"].strip().upper(),
            "insurance_card_valid_from": d["insurance_card_valid_from"],
            "insurance_card_valid_to": d["insurance_card_valid_to"],
            "registered_facility_code": d["registered_facility_code"].strip(),
            "reason": d["reason"].strip(),
        }


class CardCheckForm(ClinicForm):
    """The card fields of the check-in form alone (the "check card" button): same names, so the
    check-in form's data posts here unchanged; the other fields are ignored."""

    insurance_card_code = CheckInForm.base_fields["insurance_card_code"]
    insurance_card_valid_from = CheckInForm.base_fields["insurance_card_valid_from"]
    insurance_card_valid_to = CheckInForm.base_fields["insurance_card_valid_to"]
    registered_facility_code = CheckInForm.base_fields["registered_facility_code"]

    def input_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "insurance_card_code": d["insurance_card_code"].strip().upper(),
            "insurance_card_valid_from": d["insurance_card_valid_from"],
            "insurance_card_valid_to": d["insurance_card_valid_to"],
            "registered_facility_code": d["registered_facility_code"].strip(),
        }


# --- The visit form, section by section ---------------------------------------------------------


class NotesForm(VersionedForm):
    reason = _textarea(_("Lý do khám"), rows=2)
    history = _textarea(_("Bệnh sử, tiền sử"))
    examination_findings = _textarea(_("Khám lâm sàng"))


class VitalsForm(ClinicForm):
    pulse = _measure(_("Mạch (lần/phút)"))
    systolic = _measure(_("Huyết áp tâm thu (mmHg)"))
    diastolic = _measure(_("Huyết áp tâm trương (mmHg)"))
    temperature = _measure(_("Nhiệt độ (°C)"), decimal=True)
    respiratory_rate = _measure(_("Nhịp thở (lần/phút)"))
    spo2 = _measure(_("SpO2 (%)"))
    height_cm = _measure(_("Chiều cao (cm)"), decimal=True)
    weight_kg = _measure(_("Cân nặng (kg)"), decimal=True)
    note = _text(_("Ghi chú"))

    MEASURES = (
        "pulse",
        "systolic",
        "diastolic",
        "temperature",
        "respiratory_rate",
        "spo2",
        "height_cm",
        "weight_kg",
    )

    def input_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {f: self.cleaned_data.get(f) or None for f in self.MEASURES}
        data["note"] = self.cleaned_data.get("note", "")
        return data


class ObservationForm(VitalsForm):
    """Nursing observation of a stay: vitals at a stated time."""

    recorded_at = _datetime_field(_("Thời điểm đo"))

    def input_data(self) -> dict[str, Any]:
        data = super().input_data()
        data["recorded_at"] = self.cleaned_data.get("recorded_at")
        return data


class DiagnosisForm(VersionedForm):
    main_code = _text(
        _("Bệnh chính (mã ICD-10)"),
        required=True,
        max_length=10,
        autocomplete="off",
        spellcheck="false",
    )
    secondary_codes = _text(
        _("Bệnh kèm theo (mã ICD-10, cách nhau bởi dấu phẩy)"),
        max_length=200,
        autocomplete="off",
        spellcheck="false",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        mark_icd_fields(self)

    def codes(self) -> tuple[str, list[str]]:
        return (
            self.cleaned_data["main_code"].strip().upper(),
            split_codes(self.cleaned_data["secondary_codes"]),
        )


class DiagnosisCorrectionForm(DiagnosisForm):
    """The coded diagnoses of a locked encounter corrected, with the reason (recorded)."""

    reason = forms.CharField(
        label=_("Lý do sửa chẩn đoán"),
        required=True,
        max_length=450,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Cần ghi lý do sửa chẩn đoán.")},
        help_text=_("Ví dụ: sửa mã theo ý kiến giám định BHXH. Lý do được lưu cùng tên người sửa."),
    )


class AllergyForm(ClinicForm):
    substance = _text(_("Chất / thuốc gây dị ứng"), required=True, max_length=255)
    drug_id = forms.TypedChoiceField(
        label=_("Thuốc trong danh mục (nếu có)"),
        coerce=int,
        empty_value=None,
        required=False,
        choices=(),
    )
    reaction = _text(_("Biểu hiện"))
    severity = forms.ChoiceField(
        label=_("Mức độ"), required=False, choices=[("", "—"), *AllergySeverity.choices]
    )

    def __init__(self, *args, drugs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drug_id"].choices = _drug_choices(drugs, _("— Không chọn —"))


class AllergyVoidForm(ClinicForm):
    allergy_id = forms.IntegerField(widget=forms.HiddenInput)
    reason = _text(_("Lý do huỷ"), required=True)


def _drug_choices(drugs, empty_label) -> list[tuple]:
    return [("", empty_label)] + [
        (d.pk, f"{d.name}{f' — {d.active_ingredient}' if d.active_ingredient else ''}")
        for d in drugs
    ]


class OrderForm(ClinicForm):
    service_id = forms.TypedChoiceField(label=_("Dịch vụ chỉ định"), coerce=int, choices=())
    quantity = _measure(_("Số lượng"), decimal=True, required=True)
    performing_department_id = forms.TypedChoiceField(
        label=_("Khoa thực hiện"), coerce=int, empty_value=None, required=False, choices=()
    )
    clinical_note = _text(_("Ghi chú chỉ định"))

    def __init__(self, *args, services=(), departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quantity"].initial = "1"
        self.fields["service_id"].choices = [("", _("— Chọn dịch vụ —"))] + [
            (s.pk, f"{s.code} · {s.name}") for s in services
        ]
        self.fields["performing_department_id"].choices = [("", _("— Mặc định —"))] + [
            (d.pk, d.name) for d in departments
        ]


class OrderCancelForm(ClinicForm):
    order_id = forms.IntegerField(widget=forms.HiddenInput)
    reason = _text(_("Lý do huỷ chỉ định"), required=True)


class PrescriptionItemForm(ClinicForm):
    drug_id = forms.TypedChoiceField(label=_("Thuốc"), coerce=int, choices=())
    dose = _measure(_("Liều mỗi lần"), decimal=True, required=True)
    dose_unit = _text(_("Đơn vị liều"), required=True, max_length=30)
    route = _text(_("Đường dùng"), required=True, max_length=50)
    times_per_day = _measure(_("Số lần/ngày"), required=True)
    days = _measure(_("Số ngày"), required=True)
    quantity = _measure(_("Tổng số lượng"), decimal=True, required=True)
    instructions = _text(_("Cách dùng"))
    allergy_override_reason = _text(_("Lý do vẫn kê dù người bệnh dị ứng"))
    duplicate_override_reason = _text(_("Lý do kê trùng thuốc"))

    def __init__(self, *args, drugs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drug_id"].choices = _drug_choices(drugs, _("— Chọn thuốc —"))
        self.fields["dose_unit"].initial = _("viên")
        self.fields["route"].initial = _("Uống")

    def input_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "drug_id": d["drug_id"],
            "dose": d["dose"],
            "dose_unit": d["dose_unit"].strip(),
            "route": d["route"].strip(),
            "times_per_day": d["times_per_day"],
            "days": d["days"],
            "quantity": d["quantity"],
            "instructions": d["instructions"].strip(),
            "allergy_override_reason": d["allergy_override_reason"].strip(),
            "duplicate_override_reason": d["duplicate_override_reason"].strip(),
        }


class PrescriptionItemVoidForm(ClinicForm):
    item_id = forms.IntegerField(widget=forms.HiddenInput)
    reason = _text(_("Lý do bỏ thuốc"), required=True)


class ConclusionForm(VersionedForm):
    conclusion = forms.ChoiceField(
        label=_("Kết luận"), choices=Conclusion.choices, widget=forms.RadioSelect
    )
    conclusion_note = _textarea(_("Lời dặn / kết luận"), rows=2)
    follow_up_date = _date_field(_("Ngày tái khám"))
    transfer_to_code = _text(_("Chuyển đến cơ sở (mã)"), max_length=5)
    transfer_paper_number = _text(_("Số giấy chuyển tuyến"), max_length=50)
    transfer_reason = _textarea(_("Lý do chuyển"), rows=2)

    def input_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "conclusion": d["conclusion"],
            "conclusion_note": d["conclusion_note"].strip(),
            "follow_up_date": d["follow_up_date"],
            "transfer_to_code": d["transfer_to_code"].strip(),
            "transfer_paper_number": d["transfer_paper_number"].strip(),
            "transfer_reason": d["transfer_reason"].strip(),
        }


class AddendumForm(ClinicForm):
    section = forms.ChoiceField(
        label=_("Bổ sung cho phần"),
        required=False,
        choices=[
            ("", _("Chung")),
            ("notes", _("Bệnh sử, khám lâm sàng")),
            ("vitals", _("Dấu hiệu sinh tồn")),
            ("diagnoses", _("Chẩn đoán")),
            ("orders", _("Chỉ định")),
            ("prescription", _("Đơn thuốc")),
            ("conclusion", _("Kết luận")),
        ],
    )
    text = _textarea(_("Nội dung bổ sung"), required=True)


# --- Results entry ------------------------------------------------------------------------------


class ResultValueForm(ClinicForm):
    code = _text(_("Mã chỉ số"), max_length=50)
    name = _text(_("Tên chỉ số"), max_length=255)
    value = _text(_("Kết quả"), max_length=50)
    unit = _text(_("Đơn vị"), max_length=50)
    reference_low = _measure(_("Giới hạn dưới"), decimal=True)
    reference_high = _measure(_("Giới hạn trên"), decimal=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("value") and not data.get("name"):
            self.add_error("name", _("Cần ghi tên chỉ số."))
        if data.get("name") and not data.get("value"):
            self.add_error("value", _("Cần ghi kết quả."))
        return data

    @property
    def is_blank(self) -> bool:
        d = getattr(self, "cleaned_data", {})
        return not (d.get("name") or d.get("value") or d.get("code"))


ResultValueFormSet = forms.formset_factory(ResultValueForm, extra=0, can_delete=False)


class ResultForm(VersionedForm):
    conclusion = _textarea(_("Kết luận"), rows=2)
    description = _textarea(_("Mô tả (chẩn đoán hình ảnh, thăm dò)"), rows=3)


# --- Inpatient ----------------------------------------------------------------------------------


class AdmissionForm(ClinicForm):
    record_number = _text(
        _("Mã người bệnh tại cơ sở"), max_length=50, autocomplete="off", spellcheck="false"
    )
    patient_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    from_encounter_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    source = forms.ChoiceField(
        label=_("Vào viện từ"),
        choices=[
            ("outpatient", _("Khoa khám bệnh (từ lượt khám ngoại trú)")),
            ("emergency", _("Cấp cứu")),
            ("transfer_in", _("Chuyển đến từ cơ sở khác")),
        ],
    )
    bed_id = forms.TypedChoiceField(
        label=_("Giường"), coerce=int, empty_value=None, required=False, choices=()
    )
    main_code = _text(
        _("Chẩn đoán vào viện (mã ICD-10)"), max_length=10, autocomplete="off", spellcheck="false"
    )
    referral_from_code = _text(_("Nơi chuyển đến (mã)"), max_length=5)
    referral_paper_number = _text(_("Số giấy chuyển"), max_length=50)
    insurance_card_code = _text(_("Mã thẻ BHYT"), max_length=15, autocomplete="off")
    reason = _textarea(_("Lý do vào viện"), rows=2)

    def __init__(self, *args, beds=(), **kwargs):
        """`beds`: (id, label) of the beds offered (the free ones when the form is shown)."""
        super().__init__(*args, **kwargs)
        self.fields["bed_id"].choices = [("", _("— Chưa xếp giường —")), *beds]
        mark_icd_fields(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("patient_id") and not (data.get("record_number") or "").strip():
            self.add_error("record_number", _("Cần nhập mã người bệnh tại cơ sở."))
        return data


class TransferForm(ClinicForm):
    to_department_id = forms.TypedChoiceField(label=_("Chuyển đến khoa"), coerce=int, choices=())
    to_bed_id = forms.TypedChoiceField(
        label=_("Giường mới"), coerce=int, empty_value=None, required=False, choices=()
    )
    reason = _text(_("Lý do chuyển"), required=True)

    def __init__(self, *args, departments=(), beds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_department_id"].choices = [("", _("— Chọn khoa —"))] + [
            (d.pk, d.name) for d in departments
        ]
        self.fields["to_bed_id"].choices = [("", _("— Chưa xếp giường —")), *beds]


class ProgressNoteForm(ClinicForm):
    clinical_course = _textarea(_("Diễn biến lâm sàng"), required=True, rows=3)
    disease_stage = _text(_("Giai đoạn bệnh"))
    orders_summary = _textarea(_("Y lệnh"), rows=2)

    def input_data(self) -> dict[str, Any]:
        return {
            "clinical_course": self.cleaned_data["clinical_course"].strip(),
            "disease_stage": self.cleaned_data["disease_stage"].strip(),
            "orders_summary": self.cleaned_data["orders_summary"].strip(),
        }


class ProgressNoteEditForm(ProgressNoteForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class DischargeForm(VersionedForm):
    discharged_at = _datetime_field(_("Thời điểm ra viện"), required=True)
    main_code = _text(
        _("Chẩn đoán ra viện — bệnh chính (ICD-10)"),
        required=True,
        max_length=10,
        autocomplete="off",
        spellcheck="false",
    )
    secondary_codes = _text(
        _("Bệnh kèm theo (ICD-10, cách nhau bởi dấu phẩy)"), max_length=200, autocomplete="off"
    )
    treatment_result = forms.ChoiceField(
        label=_("Kết quả điều trị"), choices=[("", "—"), *TreatmentResult.choices]
    )
    discharge_type = forms.ChoiceField(
        label=_("Tình trạng ra viện"), choices=[("", "—"), *DischargeType.choices]
    )
    treatment_summary = _textarea(_("Tóm tắt quá trình điều trị"), required=True)
    discharge_advice = _textarea(_("Lời dặn khi ra viện"), rows=2)
    treatment_method = _textarea(_("Phương pháp điều trị"), rows=2)
    follow_up_date = _date_field(_("Ngày tái khám"))
    transfer_to_code = _text(_("Chuyển đến cơ sở (mã, khi chuyển viện)"), max_length=5)
    transfer_reason = _text(_("Lý do chuyển viện"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        mark_icd_fields(self)

    def input_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "discharged_at": d["discharged_at"],
            "treatment_method": d["treatment_method"].strip(),
            "transfer_reason": d["transfer_reason"].strip(),
            "main_code": d["main_code"].strip().upper(),
            "secondary_codes": split_codes(d["secondary_codes"]),
            "treatment_result": d["treatment_result"],
            "discharge_type": d["discharge_type"],
            "treatment_summary": d["treatment_summary"].strip(),
            "discharge_advice": d["discharge_advice"].strip(),
            "follow_up_date": d["follow_up_date"],
            "transfer_to_code": d["transfer_to_code"].strip(),
        }
