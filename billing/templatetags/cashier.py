"""Template filters of the cashier's pages: money the Vietnamese way."""

from __future__ import annotations

from decimal import Decimal

from django import template

from billing.pdf.common import fmt_money, fmt_percent

register = template.Library()


@register.filter
def vnd(value) -> str:
    """1250500 -> '1.250.500' (no currency sign; the column or label says đồng)."""
    if value is None or value == "":
        return ""
    return fmt_money(Decimal(value))


@register.filter
def percent(value) -> str:
    """Decimal('80.00') -> '80'."""
    if value is None or value == "":
        return ""
    return fmt_percent(Decimal(value))


@register.filter
def reason(code) -> str:
    """A benefit-engine reason code as the cashier reads it (Vietnamese label)."""
    from insurance.benefits.reasons import reason_label

    return reason_label(str(code))
