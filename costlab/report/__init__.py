"""`costlab report`: where the money goes — totals, token buckets, breakdowns, top requests.

Every figure is one SQL aggregate over `requests` in the report's scope; money stays Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from costlab import calibration
from costlab.calibration import Calibration
from costlab.errors import BadInput
from costlab.report import anomalies, bloat, budgets
from costlab.report.anomalies import Anomalies
from costlab.report.bloat import FeatureBloat
from costlab.report.budgets import Budget, BudgetStatus, Forecast
from costlab.scope import Scope
from costlab.store import Store

# Columns a breakdown may group by (`--by feature,model`).
DIMENSIONS = ("feature", "model", "user_id", "team", "provider", "day", "status", "format")
PROMPT_START_CHARS = 80


@dataclass(frozen=True)
class Bucket:
    """One token bucket: its tokens and the computed cost of them."""

    name: str  # uncached input | cache read | cache write | output | reasoning (part of output)
    tokens: int
    cost_usd: Decimal
    share: float  # of the computed spend


@dataclass(frozen=True)
class Totals:
    """The whole scope at a glance."""

    requests: int
    spend_usd: Decimal  # cost_usd: logged where the log had it, else computed
    computed_spend_usd: Decimal
    unpriced_requests: int  # cost unknown (an unknown model and no logged cost)
    first_ts: datetime | None
    last_ts: datetime | None
    buckets: list[Bucket]
    # Requests without a timestamp: in every total, but no day holds them, so the daily
    # spend, budgets and forecasts leave them out (and say so).
    no_timestamp: int = 0
    no_timestamp_usd: Decimal = Decimal(0)


@dataclass(frozen=True)
class Group:
    """One row of a breakdown."""

    key: tuple[str | None, ...]
    requests: int
    spend_usd: Decimal
    share: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Breakdown:
    dimensions: tuple[str, ...]
    groups: list[Group]


@dataclass(frozen=True)
class TopRequest:
    request_id: str
    ts: datetime | None
    feature: str | None
    model: str | None
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    prompt_start: str | None


@dataclass(frozen=True)
class DailySpend:
    """Spend of one day for one value of a dimension (feature or model)."""

    day: date
    key: str | None
    spend_usd: Decimal


@dataclass(frozen=True)
class Report:
    """Everything `costlab report` shows; the HTML report draws the same object."""

    scope: Scope
    totals: Totals
    breakdowns: list[Breakdown]
    top: list[TopRequest]
    daily_by_feature: list[DailySpend]
    daily_by_model: list[DailySpend]
    bloat: list[FeatureBloat] = field(default_factory=list)
    anomalies: Anomalies | None = None
    budgets: list[BudgetStatus] = field(default_factory=list)
    forecasts: list[Forecast] = field(default_factory=list)
    calibration: Calibration | None = None  # token counts against the input tokens billed


def parse_dimensions(text: str) -> tuple[str, ...]:
    """`feature,model` as a tuple of known dimensions; BadInput naming an unknown one."""
    dims = tuple(d.strip() for d in text.split(",") if d.strip())
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown or not dims:
        raise BadInput(
            f"--by {text!r}: unknown dimension {', '.join(unknown) or '(none)'}",
            f"choose from {', '.join(DIMENSIONS)}",
        )
    return dims


def totals(store: Store, scope: Scope) -> Totals:
    """Requests, spend and the token buckets of the scope."""
    where, params = scope.sql()
    row = store.row(
        f"""
        SELECT count(*), coalesce(sum(cost_usd), 0), coalesce(sum(computed_cost_usd), 0),
               count(*) FILTER (WHERE cost_usd IS NULL), min(ts), max(ts),
               coalesce(sum(uncached_input_tokens), 0), coalesce(sum(uncached_input_cost_usd), 0),
               coalesce(sum(cached_input_tokens), 0), coalesce(sum(cached_input_cost_usd), 0),
               coalesce(sum(cache_write_5m_tokens + cache_write_1h_tokens), 0),
               coalesce(sum(cache_write_cost_usd), 0),
               coalesce(sum(output_tokens), 0), coalesce(sum(output_cost_usd), 0),
               coalesce(sum(reasoning_tokens), 0), coalesce(sum(reasoning_cost_usd), 0),
               count(*) FILTER (WHERE ts IS NULL),
               coalesce(sum(cost_usd) FILTER (WHERE ts IS NULL), 0)
        FROM requests{where}
        """,
        params,
    )
    assert row is not None
    requests, spend, computed, unpriced, first, last, *bucket_values, undated, undated_usd = row
    names = ("uncached input", "cache read", "cache write", "output", "reasoning (in output)")
    buckets = [
        Bucket(
            name,
            int(bucket_values[2 * i]),
            bucket_values[2 * i + 1],
            _share(bucket_values[2 * i + 1], computed),
        )
        for i, name in enumerate(names)
    ]
    return Totals(
        int(requests), spend, computed, int(unpriced), first, last, buckets, undated, undated_usd
    )


def breakdown(
    store: Store, scope: Scope, dimensions: tuple[str, ...], limit: int = 50
) -> Breakdown:
    """Spend grouped by the dimensions, most expensive first."""
    where, params = scope.sql()
    columns = ", ".join(_dimension_sql(d) for d in dimensions)
    rows = store.rows(
        f"""
        SELECT {columns}, count(*), coalesce(sum(cost_usd), 0),
               coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
               coalesce(sum(sum(cost_usd)) OVER (), 0)
        FROM requests{where}
        GROUP BY ALL ORDER BY 2 + 0 DESC NULLS LAST
        """.replace("ORDER BY 2 + 0", f"ORDER BY {len(dimensions) + 2}"),
        params,
    )
    n = len(dimensions)
    groups = [
        Group(
            tuple(_text(v) for v in row[:n]),
            int(row[n]),
            row[n + 1],
            _share(row[n + 1], row[n + 4]),
            int(row[n + 2]),
            int(row[n + 3]),
        )
        for row in rows[:limit]
    ]
    return Breakdown(dimensions, groups)


def top_requests(store: Store, scope: Scope, n: int = 10) -> list[TopRequest]:
    """The most expensive requests, with the start of their prompt."""
    where, params = scope.sql()
    rows = store.rows(
        f"""
        SELECT request_id, ts, feature, model, cost_usd, input_tokens, output_tokens,
               left(coalesce(prompt, system_prompt), {PROMPT_START_CHARS})
        FROM requests{where}{" AND" if where else " WHERE"} cost_usd IS NOT NULL
        ORDER BY cost_usd DESC, request_id LIMIT ?
        """,
        [*params, n],
    )
    return [TopRequest(*row) for row in rows]


def daily(store: Store, scope: Scope, dimension: str) -> list[DailySpend]:
    """Spend per UTC day and value of `dimension` (feature or model)."""
    where, params = scope.sql()
    rows = store.rows(
        f"""
        SELECT CAST(ts AS DATE) AS day, {_dimension_sql(dimension)}, coalesce(sum(cost_usd), 0)
        FROM requests{where}{" AND" if where else " WHERE"} ts IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2
        """,
        params,
    )
    return [DailySpend(day, _text(key), spend) for day, key, spend in rows]


def _dimension_sql(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise BadInput(f"unknown dimension {dimension!r}", f"choose from {', '.join(DIMENSIONS)}")
    return "CAST(ts AS DATE) AS day" if dimension == "day" else dimension


def _share(part: Decimal, whole: Decimal) -> float:
    return float(part / whole) if whole else 0.0


def _text(value: object) -> str | None:
    return None if value is None else str(value)


SECTIONS = (
    "all", "summary", "breakdown", "top", "bloat", "anomalies", "budget", "forecast", "calibration",
)  # fmt: skip


@dataclass(frozen=True)
class ReportOptions:
    """What to put in a report."""

    scope: Scope = Scope()
    by: list[tuple[str, ...]] = field(
        default_factory=lambda: [("feature",), ("model",), ("user_id",), ("day",)]
    )
    top: int = 10
    section: str = "all"
    budgets: list[Budget] = field(default_factory=list)
    as_of: date | None = None
    forecast_days: int = 30


def build(store: Store, options: ReportOptions) -> Report:
    """The report: only the sections asked for are computed."""
    sections = wanted(options.section)
    scope = options.scope
    return Report(
        scope=scope,
        totals=totals(store, scope),
        breakdowns=[breakdown(store, scope, dims) for dims in options.by]
        if "breakdown" in sections
        else [],
        top=top_requests(store, scope, options.top) if "top" in sections else [],
        daily_by_feature=daily(store, scope, "feature") if "summary" in sections else [],
        daily_by_model=daily(store, scope, "model") if "summary" in sections else [],
        bloat=bloat.per_feature(store, scope) if "bloat" in sections else [],
        anomalies=anomalies.find(store, scope) if "anomalies" in sections else None,
        budgets=budgets.status(store, scope, options.budgets, options.as_of)
        if "budget" in sections
        else [],
        forecasts=budgets.forecast(store, scope, options.forecast_days, options.as_of)
        if "forecast" in sections
        else [],
        calibration=calibration.calibrate(store, scope) if "calibration" in sections else None,
    )


def wanted(section: str) -> set[str]:
    """The sections a section name stands for ('all': every one)."""
    if section not in SECTIONS:
        raise BadInput(f"unknown report section {section!r}", f"choose from {', '.join(SECTIONS)}")
    return set(SECTIONS[1:]) if section == "all" else {section}
