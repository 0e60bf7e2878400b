"""Budgets per feature, month-to-date burn, projected month end, and a 30-day forecast.

Both look ahead the same way (`forecast`): weekday means over the last 28 days, with the days the
anomaly section flags counted at their baseline, a trend where there are 6 weeks of history, an
80 % interval and a backtest on the weeks held out.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal

from costlab.errors import BadInput
from costlab.report import forecast as forecast_method
from costlab.scope import Scope
from costlab.store import Store

# The seed article alerts when the projected month end reaches 95 % of the budget.
ALERT_SHARE = Decimal("0.95")
ALL = forecast_method.ALL
# Besides features, budgets may cover these columns ("team:platform").
BUDGET_COLUMNS = ("feature", "team", "model", "user_id", "provider")
_MONEY = Context(prec=38)


@dataclass(frozen=True)
class Budget:
    """A spending limit from the config file, e.g. chat = "500 USD/month"."""

    target: str  # a feature name, "team:NAME" (or model:, user_id:), or "*" for all spend
    amount_usd: Decimal
    period: str  # "month"


@dataclass(frozen=True)
class BudgetStatus:
    """Where one budget stands on `as_of`."""

    budget: Budget
    as_of: date
    month_to_date_usd: Decimal
    projected_usd: Decimal  # month-to-date + the forecast of the days left
    projected_share: Decimal  # projected / budget
    alert: bool  # projected_share >= ALERT_SHARE
    projected_low_usd: Decimal | None = None  # the forecast's 80 % interval of the month end
    projected_high_usd: Decimal | None = None


@dataclass(frozen=True)
class Forecast:
    """Expected spend of one feature over the next days, with its interval and how it was made."""

    feature: str | None
    days: list[tuple[date, Decimal]]
    total_usd: Decimal
    method: str
    low_usd: Decimal | None = None  # 80 % prediction interval of the total
    high_usd: Decimal | None = None
    backtest_mape: float | None = None  # of the weekly total, on the weeks held out
    backtest_weeks: int = 0
    trend_usd_per_week: Decimal | None = None
    anomalous_days: int = 0  # days counted at their baseline


def status(
    store: Store, scope: Scope, budgets: list[Budget], as_of: date | None = None
) -> list[BudgetStatus]:
    """Month-to-date spend and projected month end of each budget on `as_of`."""
    for budget in budgets:
        if budget.period != "month":
            raise BadInput(f"budget {budget.target}: unknown period {budget.period!r}", "use month")
    day = as_of or latest_day(store, scope)
    month_start = day.replace(day=1)
    by_column = {
        column: _history(store, scope, day, column) for column in {target_of(b)[0] for b in budgets}
    }
    month_end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    return [
        _status(budget, by_column[target_of(budget)[0]], month_start, month_end)
        for budget in budgets
    ]


def target_of(budget: Budget) -> tuple[str, str]:
    """The column and value a budget covers: "chat" is a feature, "team:core" a team."""
    column, sep, value = budget.target.partition(":")
    if not sep:
        return "feature", budget.target
    if column not in BUDGET_COLUMNS or not value:
        raise BadInput(
            f'budget {budget.target!r}: write a feature, "*", or COLUMN:VALUE',
            f'COLUMN is one of {", ".join(BUDGET_COLUMNS)}, e.g. "team:platform"',
        )
    return column, value


def _status(
    budget: Budget, spend: forecast_method.History, month_start: date, month_end: date
) -> BudgetStatus:
    series = spend.series(target_of(budget)[1] if budget.target != ALL else ALL)
    month_to_date = sum((v for d, v in series.logged.items() if d >= month_start), Decimal(0))
    model = forecast_method.fit(series, spend.as_of)
    ahead = _days(spend.as_of + timedelta(days=1), month_end)
    projected = month_to_date + sum((model.expected(d) for d in ahead), Decimal(0))
    half = model.half_interval(len(ahead))
    if budget.amount_usd > 0:
        share = _MONEY.divide(projected, budget.amount_usd)
    else:
        share = Decimal("Infinity") if projected > 0 else Decimal(0)
    return BudgetStatus(
        budget=budget,
        as_of=spend.as_of,
        month_to_date_usd=month_to_date,
        projected_usd=projected,
        projected_share=share,
        alert=share >= ALERT_SHARE,
        projected_low_usd=max(projected - half, month_to_date),
        projected_high_usd=projected + half,
    )


def forecast(
    store: Store, scope: Scope, days: int = 30, as_of: date | None = None
) -> list[Forecast]:
    """Expected spend of each feature seen in the last 84 days, for the `days` after `as_of`."""
    day = as_of or latest_day(store, scope)
    spend = _history(store, scope, day, "feature")
    ahead = _days(day + timedelta(days=1), day + timedelta(days=days))
    forecasts = []
    for feature in spend.logged:
        o = forecast_method.outlook(spend.series(feature), day, ahead)
        forecasts.append(
            Forecast(
                feature, o.days, o.total_usd, o.method, o.low_usd, o.high_usd,
                o.backtest_mape, o.backtest_weeks, o.trend_usd_per_week, o.spike_days,
            )
        )  # fmt: skip
    return sorted(forecasts, key=lambda f: (-f.total_usd, f.feature or ""))


def latest_day(store: Store, scope: Scope) -> date:
    """The day of the latest request in the scope (logs are read after the fact), else today."""
    where, params = scope.sql()
    row = store.row(f"SELECT CAST(max(ts) AS DATE) FROM requests {where}", params)
    found: date | None = row[0] if row else None
    return found or datetime.now(UTC).date()


def _history_start(as_of: date) -> date:
    return as_of - timedelta(days=forecast_method.HISTORY_DAYS - 1)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _history(store: Store, scope: Scope, as_of: date, column: str) -> forecast_method.History:
    if column not in BUDGET_COLUMNS:
        raise BadInput(f"cannot budget by {column!r}")
    return forecast_method.history(store, scope, as_of, _history_start(as_of), column)
