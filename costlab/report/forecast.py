"""How the forecast and the budgets look ahead: spike-robust, weekday-aware, trended, backtested.

A target's series is its daily spend from its first request (at most `HISTORY_DAYS` back) to
`as_of`; a day without requests is $0.
- Spikes do not drive it: a day the report's anomaly section flags for a feature
  (`anomalies.spike_days`, its default z and window) counts at that feature's baseline, the
  trailing median the day was judged against; a target spanning several features (a team, "*")
  is cleaned feature by feature.
- Level: a future day is expected to cost the mean cleaned spend of its weekday over the last
  `LEVEL_DAYS` days of history; a weekday not seen there takes the mean cleaned day.
- Trend: with `TREND_WEEKS` whole weeks of history, the Theil-Sen slope of the weekly cleaned
  totals ($ per week, per week) is added: a future day gets slope / 7 for every week between it
  and the middle of the days its weekday mean is of (a linear series is extrapolated exactly).
  No day is expected below $0.
- Interval (80 %): the total ± 1.2816 × sd × √(n + n²/m), n the days ahead, m the days of the
  level window and sd the spread of the cleaned days around their weekday means there (with
  under two weeks, around their mean day): the noise of n independent days plus the error of
  means estimated from m days. Its low end is at least $0.
- Backtest: the same method, fit only on the days before each of the last `BACKTEST_WEEKS` whole
  weeks, predicts that week's total; MAPE is the mean of |predicted - logged| / logged over those
  weeks (logged spend, spikes included; a week without spend is skipped). A week is backtested
  only with at least 7 days of history before it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal
from statistics import median

from costlab.report import anomalies
from costlab.scope import Scope
from costlab.store import Store

HISTORY_DAYS = 84
LEVEL_DAYS = 28
TREND_WEEKS = 6
BACKTEST_WEEKS = 4
Z_80 = 1.2816  # two-sided 80 % of a normal distribution
ALL = "*"
_MONEY = Context(prec=38)
_QUANTUM = Decimal("1e-18")

Daily = dict[date, Decimal]


@dataclass(frozen=True)
class Series:
    """One target's daily spend as logged and with flagged spikes at their baseline."""

    logged: Daily
    cleaned: Daily
    first_day: date | None
    spike_days: int  # days of the history counted at their baseline


@dataclass(frozen=True)
class History:
    """Daily spend per value of one column (feature, team, ...), ending on `as_of`."""

    as_of: date
    logged: dict[str | None, Daily]
    cleaned: dict[str | None, Daily]
    first_day: dict[str | None, date]
    spikes: dict[str | None, set[date]]

    def series(self, target: str | None) -> Series:
        """One value's series, or the sum of all of them for "*"."""
        if target != ALL:
            first = self.first_day.get(target)
            spikes = len(self.spikes.get(target, ()))
            return Series(self.logged.get(target, {}), self.cleaned.get(target, {}), first, spikes)
        days = set().union(*self.spikes.values()) if self.spikes else set()
        return Series(
            _summed(self.logged.values()),
            _summed(self.cleaned.values()),
            min(self.first_day.values(), default=None),
            len(days),
        )


@dataclass(frozen=True)
class Fit:
    """The method fit on a series up to one day: weekday means, trend and spread."""

    as_of: date
    history_days: int  # days from the first request (or HISTORY_DAYS back) to as_of
    level_days: int
    means: dict[int, Decimal]
    ages: dict[int, float]  # per weekday: mean days before as_of of the days its mean is of
    slope_usd_per_week: Decimal | None  # change of the weekly total per week; None: no trend
    sd_usd: float  # spread of one day around its expected value

    def expected(self, day: date) -> Decimal:
        """The expected spend of one future day, never below $0."""
        value = self.means[day.weekday()]
        if self.slope_usd_per_week is not None:
            weeks = Decimal((day - self.as_of).days + self.ages[day.weekday()]) / 7
            value += self.slope_usd_per_week / 7 * weeks
        return max(value, Decimal(0)).quantize(_QUANTUM, context=_MONEY)

    def half_interval(self, days: int) -> Decimal:
        """Half the width of the 80 % prediction interval of a total over `days` days."""
        m = max(self.level_days, 1)
        half = Decimal(Z_80 * self.sd_usd * math.sqrt(days + days * days / m))
        return half.quantize(_QUANTUM, context=_MONEY)


@dataclass(frozen=True)
class Outlook:
    """Expected spend of the days ahead, its interval, and how well the method did before."""

    days: list[tuple[date, Decimal]]
    total_usd: Decimal
    low_usd: Decimal
    high_usd: Decimal
    backtest_mape: float | None  # None: too little history to hold a week out
    backtest_weeks: int
    trend_usd_per_week: Decimal | None
    spike_days: int
    method: str


def history(store: Store, scope: Scope, as_of: date, start: date, column: str) -> History:
    """Daily spend per value of `column` from `start` to `as_of`, spikes cleaned per feature:
    the scope's filter applies, its dates do not."""
    spikes = {
        (a.feature, a.day): a
        for a in anomalies.spike_days(
            store,
            Scope(since=start - timedelta(days=anomalies.DEFAULT_WINDOW_DAYS), until=as_of,
                  where=scope.where),
            z=anomalies.DEFAULT_Z,
            window_days=anomalies.DEFAULT_WINDOW_DAYS,
        )
    }  # fmt: skip
    where, params = Scope(since=start, until=as_of, where=scope.where).sql()
    logged: dict[str | None, Daily] = defaultdict(lambda: defaultdict(Decimal))
    cleaned: dict[str | None, Daily] = defaultdict(lambda: defaultdict(Decimal))
    flagged: dict[str | None, set[date]] = defaultdict(set)
    for value, feature, day, spend in store.rows(
        f"SELECT {column}, feature, CAST(ts AS DATE), coalesce(sum(cost_usd), 0) "
        f"FROM requests {where} GROUP BY ALL",
        params,
    ):
        logged[value][day] += spend
        spike = spikes.get((feature, day))
        if spike is None or not spike.spend_usd:
            cleaned[value][day] += spend
            continue
        flagged[value].add(day)  # this value's share of the feature's day, at the baseline
        cleaned[value][day] += _MONEY.divide(spend * spike.baseline_usd, spike.spend_usd)
    where, params = Scope(until=as_of, where=scope.where).sql()
    first = store.rows(
        f"SELECT {column}, CAST(min(ts) AS DATE) FROM requests {where} GROUP BY {column}", params
    )
    return History(
        as_of,
        {k: dict(v) for k, v in logged.items()},
        {k: dict(v) for k, v in cleaned.items()},
        {value: day for value, day in first if day is not None},
        dict(flagged),
    )


def fit(series: Series, as_of: date) -> Fit:
    """The method fit on the series up to `as_of` (nothing after it is read)."""
    if series.first_day is None or series.first_day > as_of:
        return Fit(as_of, 0, 0, dict.fromkeys(range(7), Decimal(0)), {}, None, 0.0)
    start = max(series.first_day, as_of - timedelta(days=HISTORY_DAYS - 1))
    n = (as_of - start).days + 1
    level = _days(max(start, as_of - timedelta(days=LEVEL_DAYS - 1)), as_of)
    by_weekday: dict[int, list[Decimal]] = defaultdict(list)
    ages: dict[int, list[int]] = defaultdict(list)
    for day in level:
        by_weekday[day.weekday()].append(series.cleaned.get(day, Decimal(0)))
        ages[day.weekday()].append((as_of - day).days)
    mean_day = _mean([v for values in by_weekday.values() for v in values])
    means = {w: _mean(by_weekday[w]) if by_weekday[w] else mean_day for w in range(7)}
    mean_age = (len(level) - 1) / 2
    age = {w: sum(ages[w]) / len(ages[w]) if ages[w] else mean_age for w in range(7)}
    slope = _slope(series.cleaned, as_of, n // 7) if n // 7 >= TREND_WEEKS else None
    return Fit(as_of, n, len(level), means, age, slope, _spread(by_weekday, mean_day))


def outlook(series: Series, as_of: date, ahead: list[date]) -> Outlook:
    """The forecast of the days `ahead` of `as_of`, with its interval and backtest."""
    model = fit(series, as_of)
    days = [(d, model.expected(d)) for d in ahead]
    total = sum((v for _, v in days), Decimal(0))
    half = model.half_interval(len(ahead))
    mape, weeks = backtest(series, as_of)
    return Outlook(
        days=days,
        total_usd=total,
        low_usd=max(total - half, Decimal(0)),
        high_usd=total + half,
        backtest_mape=mape,
        backtest_weeks=weeks,
        trend_usd_per_week=model.slope_usd_per_week,
        spike_days=series.spike_days,
        method=describe(model, weeks),
    )


def backtest(series: Series, as_of: date) -> tuple[float | None, int]:
    """MAPE of the weekly total over the last whole weeks held out, and how many weeks."""
    errors = []
    for k in range(BACKTEST_WEEKS):
        end = as_of - timedelta(days=7 * k)
        start = end - timedelta(days=6)
        if series.first_day is None or (start - series.first_day).days < 7:
            break
        model = fit(series, start - timedelta(days=1))
        predicted = sum((model.expected(d) for d in _days(start, end)), Decimal(0))
        logged = sum((series.logged.get(d, Decimal(0)) for d in _days(start, end)), Decimal(0))
        if logged > 0:
            errors.append(float(abs(predicted - logged) / logged))
    return (sum(errors) / len(errors) if errors else None), len(errors)


def describe(model: Fit, backtest_weeks: int) -> str:
    """One sentence: what the numbers are made of, and what the history was too short for."""
    if model.history_days == 0:
        return f"no requests on or before {model.as_of}: $0 a day"
    parts = [
        f"mean of the same weekday over the {model.level_days} days to {model.as_of}, "
        "anomalous days at their baseline"
    ]
    if model.slope_usd_per_week is not None:
        parts[0] += f", trend over {model.history_days // 7} weeks"
    if model.history_days < HISTORY_DAYS:
        start = model.as_of - timedelta(days=model.history_days - 1)
        parts.append(f"history from {start} ({model.history_days} days)")
    if model.history_days < 7:
        parts.append("unseen weekdays use the mean day")
    if model.slope_usd_per_week is None:
        parts.append(f"too short for a trend (needs {TREND_WEEKS} weeks)")
    if not backtest_weeks:
        parts.append("too short for a backtest (needs 14 days)")
    return "; ".join(parts)


def _slope(cleaned: Daily, as_of: date, weeks: int) -> Decimal:
    """Theil-Sen slope of the weekly totals of the last `weeks` whole weeks to `as_of`."""
    totals = []
    for k in reversed(range(weeks)):
        end = as_of - timedelta(days=7 * k)
        days = _days(end - timedelta(days=6), end)
        totals.append(sum((cleaned.get(d, Decimal(0)) for d in days), Decimal(0)))
    slopes = [(totals[j] - totals[i]) / (j - i) for i in range(weeks) for j in range(i + 1, weeks)]
    return Decimal(median(slopes)).quantize(_QUANTUM, context=_MONEY)


def _spread(by_weekday: dict[int, list[Decimal]], mean_day: Decimal) -> float:
    """Standard deviation of a day around its weekday's mean (under 2 weeks: the mean day)."""
    values = [v for vs in by_weekday.values() for v in vs]
    groups = [vs for vs in by_weekday.values() if vs]
    if len(values) - len(groups) >= 7:
        squares = sum(float(v - _mean(vs)) ** 2 for vs in groups for v in vs)
        return math.sqrt(squares / (len(values) - len(groups)))
    if len(values) < 2:
        return 0.0
    return math.sqrt(sum(float(v - mean_day) ** 2 for v in values) / (len(values) - 1))


def _mean(values: list[Decimal]) -> Decimal:
    if not values:
        return Decimal(0)
    total = sum(values, Decimal(0))
    return _MONEY.divide(total, Decimal(len(values))).quantize(_QUANTUM, context=_MONEY)


def _summed(series: Iterable[Daily]) -> Daily:
    total: Daily = defaultdict(Decimal)
    for days in series:
        for day, spend in days.items():
            total[day] += spend
    return dict(total)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
