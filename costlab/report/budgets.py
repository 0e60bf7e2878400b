"""Budgets per feature, month-to-date burn, projected month end, and a 30-day forecast.

Both look ahead the same way, aware of the weekly cycle: a future day is expected to cost the mean
spend of its weekday over the trailing 28 days to `as_of` (a day without requests counts as $0).
History starts at the target's first request when that is later; a weekday that history has not
seen yet takes the mean day of the history, and no history at all expects $0.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal

from costlab.errors import BadInput
from costlab.scope import Scope
from costlab.store import Store

# The seed article alerts when the projected month end reaches 95 % of the budget.
ALERT_SHARE = Decimal("0.95")
HISTORY_DAYS = 28
ALL = "*"
# Besides features, budgets may cover these columns ("team:platform").
BUDGET_COLUMNS = ("feature", "team", "model", "user_id", "provider")
# Means are kept at the store's money precision: DECIMAL(38, 18).
_MONEY = Context(prec=38)
_QUANTUM = Decimal("1e-18")

Daily = dict[date, Decimal]


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


@dataclass(frozen=True)
class _Spend:
    """Daily spend per feature in a window ending on `as_of`, and each feature's first day."""

    as_of: date
    daily: dict[str | None, Daily]
    first_day: dict[str | None, date]

    def series(self, target: str | None) -> tuple[Daily, date | None]:
        """The daily spend of one feature, or of all of them for "*", and its first day."""
        if target != ALL:
            return self.daily.get(target, {}), self.first_day.get(target)
        total: Daily = defaultdict(Decimal)
        for days in self.daily.values():
            for day, spend in days.items():
                total[day] += spend
        return dict(total), min(self.first_day.values(), default=None)


def status(
    store: Store, scope: Scope, budgets: list[Budget], as_of: date | None = None
) -> list[BudgetStatus]:
    """Month-to-date spend and projected month end of each budget on `as_of`."""
    for budget in budgets:
        if budget.period != "month":
            raise BadInput(f"budget {budget.target}: unknown period {budget.period!r}", "use month")
    day = as_of or latest_day(store, scope)
    month_start = day.replace(day=1)
    start = min(month_start, _history_start(day))
    by_column = {
        column: _spend(store, scope, day, start, column)
        for column in {target_of(b)[0] for b in budgets}
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


def _status(budget: Budget, spend: _Spend, month_start: date, month_end: date) -> BudgetStatus:
    daily, first_day = spend.series(target_of(budget)[1] if budget.target != ALL else ALL)
    month_to_date = sum((v for d, v in daily.items() if d >= month_start), Decimal(0))
    means = _weekday_means(daily, first_day, spend.as_of)
    ahead = _days(spend.as_of + timedelta(days=1), month_end)
    projected = month_to_date + sum((means[d.weekday()] for d in ahead), Decimal(0))
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
    )


def forecast(
    store: Store, scope: Scope, days: int = 30, as_of: date | None = None
) -> list[Forecast]:
    """Expected spend of each feature seen in the last 28 days, for the `days` after `as_of`."""
    day = as_of or latest_day(store, scope)
    spend = _spend(store, scope, day, _history_start(day))
    ahead = _days(day + timedelta(days=1), day + timedelta(days=days))
    forecasts = []
    for feature in spend.daily:
        daily, first_day = spend.series(feature)
        means = _weekday_means(daily, first_day, day)
        expected = [(d, means[d.weekday()]) for d in ahead]
        total = sum((v for _, v in expected), Decimal(0))
        forecasts.append(Forecast(feature, expected, total, _method(first_day, day)))
    return sorted(forecasts, key=lambda f: (-f.total_usd, f.feature or ""))


def latest_day(store: Store, scope: Scope) -> date:
    """The day of the latest request in the scope (logs are read after the fact), else today."""
    where, params = scope.sql()
    row = store.row(f"SELECT CAST(max(ts) AS DATE) FROM requests {where}", params)
    found: date | None = row[0] if row else None
    return found or datetime.now(UTC).date()


def _history_start(as_of: date) -> date:
    return as_of - timedelta(days=HISTORY_DAYS - 1)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _weekday_means(daily: Daily, first_day: date | None, as_of: date) -> dict[int, Decimal]:
    """Mean spend per weekday (0 = Monday) over the history to `as_of`; $0 days included."""
    if first_day is None or first_day > as_of:
        return dict.fromkeys(range(7), Decimal(0))
    history = _days(max(first_day, _history_start(as_of)), as_of)
    totals: dict[int, Decimal] = defaultdict(Decimal)
    counts: dict[int, int] = defaultdict(int)
    for day in history:
        totals[day.weekday()] += daily.get(day, Decimal(0))
        counts[day.weekday()] += 1
    mean_day = _mean(sum(totals.values(), Decimal(0)), len(history))
    return {w: _mean(totals[w], counts[w]) if counts[w] else mean_day for w in range(7)}


def _mean(total: Decimal, count: int) -> Decimal:
    return _MONEY.divide(total, Decimal(count)).quantize(_QUANTUM, context=_MONEY)


def _method(first_day: date | None, as_of: date) -> str:
    if first_day is None or first_day > as_of:
        return f"no requests on or before {as_of}: $0 a day"
    start = max(first_day, _history_start(as_of))
    n = (as_of - start).days + 1
    text = f"mean of the same weekday over the {n} days to {as_of}"
    if n == HISTORY_DAYS:
        return f"{text}; 4 weeks of history"
    if n >= 7:
        return f"{text}; history from {start}"
    return f"{text}; only {n} day(s) of history, from {start}: unseen weekdays use the mean day"


def _spend(store: Store, scope: Scope, as_of: date, start: date, column: str = "feature") -> _Spend:
    """Daily spend per value of `column` from `start` to `as_of`: the scope filters, its dates
    do not."""
    if column not in BUDGET_COLUMNS:
        raise BadInput(f"cannot budget by {column!r}")
    where, params = Scope(since=start, until=as_of, where=scope.where).sql()
    daily: dict[str | None, Daily] = defaultdict(dict)
    for feature, day, spend in store.rows(
        f"SELECT {column}, CAST(ts AS DATE), coalesce(sum(cost_usd), 0) FROM requests {where} "
        "GROUP BY ALL",
        params,
    ):
        daily[feature][day] = spend
    where, params = Scope(until=as_of, where=scope.where).sql()
    first = store.rows(
        f"SELECT {column}, CAST(min(ts) AS DATE) FROM requests {where} GROUP BY {column}",
        params,
    )
    return _Spend(as_of, dict(daily), {f: d for f, d in first if d is not None})
