"""Money in VND: Decimal only, one precision and one rounding rule for the whole project."""

from decimal import ROUND_HALF_UP, Decimal

MONEY_PLACES = Decimal("0.01")


def quantize_money(value: Decimal | int | str) -> Decimal:
    """Round an amount to 2 decimal places, half up (the one rounding place of the project)."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float.")
    return Decimal(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
