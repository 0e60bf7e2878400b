"""Typed reads of single log values; a wrong type is a RecordError naming the field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from costlab.errors import RecordError

# No single LLM call costs this much; a larger logged cost is a broken record.
_MAX_COST = Decimal(1_000_000)


def text(value: Any) -> str | None:
    """A string id or label; numbers are accepted and written as text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"expected text, got {type(value).__name__}")


def number(value: Any, field: str) -> float | None:
    """A plain measurement such as a latency."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"'{field}' is {type(value).__name__}, not a number")
    return float(value)


def logged_cost(value: Any, field: str = "cost") -> str | None:
    """A cost as logged, as exact decimal text (floats keep their shortest repr)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RecordError(f"'{field}' is {type(value).__name__}, not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise RecordError(f"'{field}' is not a number: {str(value)[:40]!r}") from None
    if not amount.is_finite() or amount < 0 or amount >= _MAX_COST:
        raise RecordError(f"'{field}' must be an amount from 0 to {_MAX_COST} USD: {value}")
    return format(amount, "f")
