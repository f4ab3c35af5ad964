"""Template filters of the insurance officer's pages: the standard's formats made readable."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from billing.pdf.common import fmt_money

register = template.Library()


@register.filter
def xml_dt(value) -> str:
    """'202611200815' -> '20/11/2026 08:15'; '20261120' -> '20/11/2026'; else as it is."""
    text = str(value or "")
    if len(text) >= 8 and text[:8].isdigit() and text[4:8] == "0000":
        return text[:4]  # a birth year alone (NGAY_SINH yyyy00000000)
    if len(text) >= 8 and text[:8].isdigit():
        day = f"{text[6:8]}/{text[4:6]}/{text[0:4]}"
        if len(text) == 12 and text.isdigit():
            return f"{day} {text[8:10]}:{text[10:12]}"
        return day
    return text


@register.filter
def xml_money(value) -> str:
    """'1550000.00' -> '1.550.000' (the amounts of a table, as the officer reads them)."""
    if value in (None, ""):
        return ""
    try:
        return fmt_money(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


@register.filter
def field(row: dict, name: str) -> str:
    """A field of a parsed XML row: {{ summary|field:"MA_LK" }}."""
    return (row or {}).get(name, "")
