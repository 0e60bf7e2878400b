"""Budgets per feature, month-to-date burn, projected month end, and a 30-day forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# The seed article alerts when the projected month end reaches 95 % of the budget.
ALERT_SHARE = Decimal("0.95")


@dataclass(frozen=True)
class Budget:
    """A spending limit from the config file, e.g. chat = "500 USD/month"."""

    target: str  # a feature name, or "*" for all spend
    amount_usd: Decimal
    period: str  # "month"


@dataclass(frozen=True)
class BudgetStatus:
    """Where one budget stands on `as_of`."""

    budget: Budget
    as_of: date
    month_to_date_usd: Decimal
    projected_usd: Decimal  # month-to-date + the weekday-aware projection of the days left
    projected_share: Decimal  # projected / budget
    alert: bool  # projected_share >= ALERT_SHARE


@dataclass(frozen=True)
class Forecast:
    """Expected spend of one feature over the next days, with how it was made."""

    feature: str | None
    days: list[tuple[date, Decimal]]
    total_usd: Decimal
    method: str
