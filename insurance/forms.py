"""Forms of the insurance officer's pages. They parse input; the claims services decide.

The filter form never fails the page: a bad value falls back to "all" (or this month) and the
field says why, so a hand-edited URL shows the list instead of an error page.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from insurance.claims.models import DossierStatus
from insurance.claims.workspace import DossierFilters, Period
from patients.clinical_choices import VisitType
from patients.forms_clinical import ServiceErrorsMixin

HAS_ERRORS_CHOICES = [("", _("Tất cả")), ("yes", _("Có lỗi")), ("no", _("Không có lỗi"))]


class MonthField(forms.CharField):
    """A settlement month typed as yyyy-mm (the browser's month picker sends that)."""

    widget = forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}"})
    default_error_messages = {"invalid": _("Tháng không hợp lệ. Ví dụ: 2026-11.")}

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        period = Period.parse(value)
        if period is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return period


class DossierFilterForm(forms.Form):
    """The list's filters: period, department, visit type, status, errors."""

    month = MonthField(label=_("Kỳ quyết toán (tháng)"), required=False)
    department = forms.ChoiceField(label=_("Khoa"), required=False)
    visit_type = forms.ChoiceField(
        label=_("Loại KCB"), required=False, choices=[("", _("Tất cả")), *VisitType.choices]
    )
    status = forms.ChoiceField(
        label=_("Trạng thái"), required=False, choices=[("", _("Tất cả")), *DossierStatus.choices]
    )
    errors = forms.ChoiceField(label=_("Lỗi kiểm tra"), required=False, choices=HAS_ERRORS_CHOICES)

    def __init__(self, *args, departments: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("Tất cả")), *departments]

    def filters(self) -> DossierFilters:
        """The filters to apply: the valid fields as typed, the others as 'all'/this month."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        has_errors = {"yes": True, "no": False}.get(data.get("errors") or "")
        return DossierFilters(
            period=data.get("month") or Period.current(),
            department_code=data.get("department") or "",
            visit_type=data.get("visit_type") or "",
            status=data.get("status") or "",
            has_errors=has_errors,
        )


class PeriodForm(forms.Form):
    """The month whose dossiers are (re)built, or printed."""

    month = MonthField(label=_("Kỳ quyết toán (tháng)"))


class RebuildForm(ServiceErrorsMixin, forms.Form):
    """Lập lại hồ sơ: a reason is required after a rejection (the service says so)."""

    reason = forms.CharField(
        label=_("Lý do lập lại"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Bắt buộc với hồ sơ bị từ chối: ghi đã sửa gì theo ý kiến giám định."),
    )


class BatchCreateForm(forms.Form):
    """Group the ready dossiers of a period (optionally one department, one visit type)."""

    month = MonthField(label=_("Kỳ quyết toán (tháng)"))
    department = forms.ChoiceField(label=_("Khoa"), required=False)
    visit_type = forms.ChoiceField(
        label=_("Loại KCB"), required=False, choices=[("", _("Tất cả")), *VisitType.choices]
    )

    def __init__(self, *args, departments: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("Tất cả")), *departments]


class RowVersionForm(forms.Form):
    """A state move of a batch: the version of the batch the page showed travels hidden."""

    row_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)


class ReviewForm(forms.Form):
    note = forms.CharField(label=_("Ghi chú"), max_length=1000, required=False)


class SettlementImportForm(forms.Form):
    """The insurer's settlement file of a period (CSV or XLSX)."""

    month = MonthField(label=_("Kỳ quyết toán (tháng)"))
    file = forms.FileField(
        label=_("Tệp quyết toán của BHXH (CSV hoặc XLSX)"),
        help_text=_(
            "Cột bắt buộc: ma_lk, so_tien_duyet. Không bắt buộc: ghi_chu, và số tiền duyệt theo "
            "nhóm chi phí nhom_<MA_NHOM> (ví dụ nhom_4 cho thuốc)."
        ),
    )
    dry_run = forms.BooleanField(
        label=_("Chỉ kiểm tra trước, chưa lưu"), required=False, initial=False
    )

    MAX_BYTES = 10 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("Tệp lớn quá 10 MB."))
        if not upload.name.lower().endswith((".csv", ".xlsx", ".txt")):
            raise forms.ValidationError(_("Tệp phải có đuôi .csv hoặc .xlsx."))
        return upload
