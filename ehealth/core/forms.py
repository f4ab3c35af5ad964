from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """The sign-in form, with its messages in Vietnamese (the msgids) and no hint of which of the
    two fields was wrong."""

    error_messages = {
        "invalid_login": _("Tên đăng nhập hoặc mật khẩu không đúng."),
        "inactive": _("Tài khoản này đã bị khoá."),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Tên đăng nhập")
        self.fields["password"].label = _("Mật khẩu")
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class FacilitySwitchForm(forms.Form):
    """Choose the facility to work at, among those where the user holds an active role."""

    facility_id = forms.IntegerField()
    next = forms.CharField(required=False)

    def __init__(self, *args, allowed_ids: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_ids = allowed_ids

    def clean_facility_id(self) -> int:
        value = self.cleaned_data["facility_id"]
        if value not in self.allowed_ids:
            raise forms.ValidationError(_("Bạn không làm việc tại cơ sở này."))
        return value


CATALOG_KIND_LABELS = {
    "icd10": _("Mã bệnh ICD-10"),
    "services": _("Dịch vụ kỹ thuật"),
    "drugs": _("Thuốc"),
    "supplies": _("Vật tư y tế"),
    "prices": _("Bảng giá (dịch vụ, thuốc, vật tư)"),
}
CATALOG_IMPORT_EXTENSIONS = (".csv", ".xlsx")
CATALOG_IMPORT_MAX_BYTES = 5 * 1024 * 1024


class CatalogImportForm(forms.Form):
    """One catalog file to import: which catalog, the file (.csv/.xlsx, at most 5 MB), and whether
    to only check it. `kinds` are the catalogs the user may import at the active facility."""

    kind = forms.ChoiceField(
        label=_("Loại danh mục"),
        error_messages={
            "required": _("Hãy chọn loại danh mục."),
            "invalid_choice": _(
                "Bạn không được nhập loại danh mục này tại cơ sở đang làm việc: quản trị đơn vị "
                "chỉ nhập bảng giá của cơ sở mình; các danh mục dùng chung do Sở Y tế nhập."
            ),
        },
    )
    file = forms.FileField(
        label=_("Tệp dữ liệu"),
        help_text=_("Tệp .csv (UTF-8) hoặc .xlsx, tối đa 5 MB; dòng đầu là dòng tiêu đề."),
        error_messages={
            "required": _("Hãy chọn tệp để nhập."),
            "empty": _("Tệp được gửi lên không có nội dung."),
            "invalid": _("Không nhận được tệp; hãy chọn lại tệp."),
            "missing": _("Không nhận được tệp; hãy chọn lại tệp."),
        },
    )
    dry_run = forms.BooleanField(
        label=_("Chỉ kiểm tra trước (không lưu gì)"),
        required=False,
        initial=True,
        help_text=_("Bỏ chọn để lưu các dòng hợp lệ; các dòng lỗi không bao giờ được lưu."),
    )

    def __init__(self, *args, kinds: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, CATALOG_KIND_LABELS[k]) for k in kinds]
        self.fields["file"].widget.attrs["accept"] = ",".join(CATALOG_IMPORT_EXTENSIONS)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(CATALOG_IMPORT_EXTENSIONS):
            raise forms.ValidationError(_("Tệp phải có đuôi .csv hoặc .xlsx."))
        if upload.size > CATALOG_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _(
                    "Tệp lớn %(size)s MB, vượt giới hạn %(max)s MB; hãy chia thành nhiều tệp nhỏ hơn."
                )
                % {
                    "size": f"{upload.size / (1024 * 1024):.1f}",
                    "max": CATALOG_IMPORT_MAX_BYTES // (1024 * 1024),
                }
            )
        return upload
