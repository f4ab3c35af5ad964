"""Forms of the cashier's pages. They parse input; the billing services decide what is allowed.

Amounts are typed the Vietnamese way ("150.000", "150 000", "1.250.500,50") or plainly
("150000", "150000.50"); `parse_amount` reads them all into a Decimal. A form that takes money
carries an idempotency key, generated when the form is rendered and sent back hidden: a double
click, a retried request or a resent form then reaches the service with the same key, and the
service returns the first payment instead of paying twice.

Field names are the names the services use in their `ValidationError({field: [...]})`, so a
refusal lands beside its field.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from billing.models import PaymentMethod
from patients.forms_clinical import ServiceErrorsMixin

ZERO = Decimal(0)
MAX_AMOUNT = Decimal("999999999999.99")
_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
_GROUPED_RE = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


def new_idempotency_key() -> str:
    """A fresh key for one rendering of a money form."""
    return uuid.uuid4().hex


def parse_amount(text: str) -> Decimal:
    """An amount in VND as a cashier types it; ValueError when it is not a number.

    '.' or ',' followed by exactly three digits (once or more) groups thousands; otherwise the last
    separator is the decimal one ('1.250.500,50' and '1,250,500.50' are the same amount).
    """
    value = re.sub(r"[\s\u00a0₫đĐ]|VND|vnd", "", text or "")
    if not value:
        raise ValueError("empty")
    sign = ""
    if value[0] in "+-":
        sign, value = value[0], value[1:]
    if not re.fullmatch(r"[\d.,]+", value) or not value[0].isdigit():
        raise ValueError("not a number")
    if _GROUPED_RE.match(value) and len({c for c in value if c in ".,"}) == 1:
        value = value.replace(".", "").replace(",", "")
    else:
        last = max(value.rfind("."), value.rfind(","))
        if last >= 0:
            whole = value[:last].replace(".", "").replace(",", "")
            value = f"{whole}.{value[last + 1 :]}"
    try:
        amount = Decimal(sign + value)
    except InvalidOperation as e:
        raise ValueError("not a number") from e
    if not amount.is_finite():
        raise ValueError("not a number")
    return amount


class AmountField(forms.Field):
    """A money amount typed as text (Vietnamese thousands separators allowed) -> Decimal."""

    default_error_messages = {
        "required": _("Hãy nhập số tiền."),
        "invalid": _("Số tiền không hợp lệ. Ví dụ: 150.000 hoặc 150000."),
        "positive": _("Số tiền phải lớn hơn 0."),
        "negative": _("Số tiền không được âm."),
        "too_many_places": _("Số tiền chỉ có tối đa 2 chữ số sau dấu thập phân."),
        "too_large": _("Số tiền quá lớn."),
    }

    def __init__(self, *, allow_zero: bool = False, **kwargs):
        self.allow_zero = allow_zero
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "inputmode": "decimal",
                    "autocomplete": "off",
                    "class": "amount",
                    "maxlength": "24",
                }
            ),
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return format_amount_input(value)
        return value

    def to_python(self, value):
        text = str(value).strip() if value is not None else ""
        if not text:
            return None
        if len(text) > 24:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            amount = parse_amount(text)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if amount < 0:
            raise ValidationError(self.error_messages["negative"], code="negative")
        if amount == 0 and not self.allow_zero:
            raise ValidationError(self.error_messages["positive"], code="positive")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(self.error_messages["too_many_places"], code="too_many_places")
        if amount > MAX_AMOUNT:
            raise ValidationError(self.error_messages["too_large"], code="too_large")
        return amount.quantize(Decimal("0.01"))


def format_amount_input(value: Decimal) -> str:
    """An amount as the input box shows it: '150.000' or '617,25'."""
    from billing.pdf.common import fmt_money

    return fmt_money(value)


class CashierForm(ServiceErrorsMixin, forms.Form):
    """Base of the cashier's forms."""


class IdempotentForm(CashierForm):
    """A form that moves money: it carries the key of its rendering."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_idempotency_key())

    def clean_idempotency_key(self) -> str:
        key = (self.cleaned_data.get("idempotency_key") or "").strip().lower()
        if not _KEY_RE.match(key):
            raise ValidationError(
                _("Biểu mẫu đã cũ hoặc không hợp lệ. Hãy tải lại trang rồi thực hiện lại.")
            )
        return key


def _method_field(label=None) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label or _("Hình thức"),
        choices=PaymentMethod.choices,
        initial=PaymentMethod.CASH,
        widget=forms.RadioSelect,
    )


class CashierSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Tìm người bệnh hoặc hoá đơn"),
        max_length=100,
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "placeholder": _(
                    "Họ tên (không dấu cũng được), mã thẻ BHYT, số thứ tự, số hoá đơn"
                ),
            }
        ),
    )


class PaymentForm(IdempotentForm):
    """Take payment of an invoice; the amount defaults to what is owed."""

    amount = AmountField(label=_("Số tiền thu (đồng)"))
    method = _method_field()

    def __init__(self, *args, owed: Decimal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owed = owed
        if not self.is_bound and owed is not None and owed > 0:
            self.initial.setdefault("amount", owed)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if self.owed is not None and amount is not None and amount > self.owed:
            raise ValidationError(
                _("Số tiền thu lớn hơn số người bệnh còn phải trả (%(owed)s đồng).")
                % {"owed": format_amount_input(self.owed)},
                code="above_owed",
            )
        return amount


class DepositForm(IdempotentForm):
    """An advance deposit (tạm ứng) for an inpatient stay."""

    amount = AmountField(label=_("Số tiền tạm ứng (đồng)"))
    method = _method_field()


class SettleForm(IdempotentForm):
    """Final settlement of a stay against its deposits (collect the rest or refund the surplus)."""

    method = _method_field(_("Hình thức thu thêm / trả lại"))


class RefundRequestForm(IdempotentForm):
    amount = AmountField(label=_("Số tiền hoàn (đồng)"))
    method = _method_field(_("Hình thức hoàn tiền"))
    reason = forms.CharField(
        label=_("Lý do hoàn tiền"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Hãy ghi lý do hoàn tiền.")},
    )

    def __init__(self, *args, paid: Decimal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.paid = paid

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if self.paid is not None and amount is not None and amount > self.paid:
            raise ValidationError(
                _("Số tiền hoàn lớn hơn số người bệnh đã nộp (%(paid)s đồng).")
                % {"paid": format_amount_input(self.paid)},
                code="above_paid",
            )
        return amount


class RefundDecisionForm(CashierForm):
    """Approve (or reject, with a reason) a refund requested by someone else."""

    decision = forms.ChoiceField(
        choices=[("approve", _("Duyệt")), ("reject", _("Từ chối"))], widget=forms.HiddenInput
    )
    rejected_reason = forms.CharField(label=_("Lý do từ chối"), max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("rejected_reason") or "").strip():
            self.add_error("rejected_reason", _("Hãy ghi lý do từ chối."))
        return data


class VoidForm(CashierForm):
    """Void a mistaken payment (never deleted): the reason is required."""

    reason = forms.CharField(
        label=_("Lý do huỷ phiếu thu"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Hãy ghi lý do huỷ phiếu thu.")},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Hãy ghi lý do huỷ phiếu thu."))
        return reason


class ShiftOpenForm(CashierForm):
    opening_float = AmountField(
        label=_("Tiền lẻ đầu ca (đồng)"),
        allow_zero=True,
        initial=ZERO,
        help_text=_("Tiền mặt có trong két khi mở ca (có thể là 0)."),
    )


class ShiftCloseForm(CashierForm):
    """Money counted at the end of the shift, per method."""

    counted_cash = AmountField(label=_("Tiền mặt đếm được (đồng)"), allow_zero=True)
    counted_card = AmountField(label=_("Tổng thu qua thẻ (đồng)"), allow_zero=True)
    counted_transfer = AmountField(label=_("Tổng chuyển khoản nhận được (đồng)"), allow_zero=True)
    note = forms.CharField(label=_("Ghi chú"), max_length=500, required=False)

    def counted(self) -> dict[str, Decimal]:
        data = self.cleaned_data
        return {
            PaymentMethod.CASH: data["counted_cash"],
            PaymentMethod.CARD: data["counted_card"],
            PaymentMethod.TRANSFER: data["counted_transfer"],
        }
