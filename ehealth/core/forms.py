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
