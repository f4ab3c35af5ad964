"""Small display helpers of the platform pages."""

from urllib.parse import urlencode

from django import template
from django.utils.translation import gettext_lazy as _

from ehealth.core.models import Role

register = template.Library()

CHANNELS = {
    "web": _("Trang web"),
    "api": _("API"),
    "fhir": _("FHIR"),
    "task": _("Tác vụ nền"),
    "cli": _("Dòng lệnh"),
}


@register.filter
def role_label(value: str) -> str:
    """The name of a role code ("doctor" -> "Bác sĩ"); unknown codes are shown as they are."""
    try:
        return Role(value).label
    except ValueError:
        return value or "—"


@register.filter
def channel_label(value: str) -> str:
    return CHANNELS.get(value, value or "—")


@register.simple_tag(takes_context=True)
def page_query(context, page_number: int) -> str:
    """The current query string with `page` replaced (filters survive paging)."""
    params = context["request"].GET.copy()
    params["page"] = page_number
    return "?" + urlencode(sorted(params.items()))


@register.filter
def accessible_widget(field):
    """Render a form field's widget tied to its error list and help text (`aria-describedby`),
    marked `aria-invalid` when it has errors: a screen reader announces the error beside it."""
    attrs: dict[str, str] = {}
    described_by = []
    if field.errors:
        described_by.append(f"{field.auto_id}_errors")
        attrs["aria-invalid"] = "true"
    if field.help_text:
        described_by.append(f"{field.auto_id}_helptext")
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    return field.as_widget(attrs=attrs)


@register.filter
def total_minutes(value) -> int:
    """A timedelta in whole minutes, rounded up (a lockout of 14 min 30 s reads "15")."""
    if value is None:
        return 0
    seconds = int(value.total_seconds())
    return -(-seconds // 60)
