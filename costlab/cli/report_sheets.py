"""The sections of a report as sheets (tables as data) for the terminal, markdown and CSV."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import Decimal

from costlab import report
from costlab.cli import calibration_sheets, render
from costlab.cli.render import Sheet, sparkline
from costlab.report.anomalies import Anomalies


class _Style:
    """Numbers for people (table, markdown) or for machines (csv: plain, no bars)."""

    def __init__(self, fmt: str) -> None:
        self.machine = fmt == "csv"
        self.bars = fmt == "table"

    def money(self, amount: Decimal | None, places: int = 4) -> str:
        if self.machine:
            return "" if amount is None else format(amount.normalize(), "f") if amount else "0"
        return render.money(amount, places)

    def count(self, n: int) -> str:
        return str(n) if self.machine else render.count(n)

    def share(self, share: float) -> str:
        return f"{share:.6f}" if self.machine else f"{share:.1%}"

    def bar(self, share: float, width: int = 20) -> list[str]:
        return [render.bar(share, width)] if self.bars else []


def sheets(result: report.Report, sections: set[str], fmt: str) -> list[Sheet]:
    """The sections asked for, in reading order."""
    style = _Style(fmt)
    found = []
    if "summary" in sections:
        found += [_summary(result, style), _buckets(result, style)]
        daily = _daily(result.daily_by_feature, "feature", style)
        found.append(_left_out(daily, result, style))
    found += [_breakdown(b, style) for b in result.breakdowns]
    if "top" in sections:
        found.append(_top(result.top, style))
    if "bloat" in sections:
        found.append(_bloat(result, style))
    if result.anomalies is not None:
        found += _anomalies(result.anomalies, style)
    if "budget" in sections:
        found.append(
            _left_out(_budgets(result, style), result, style) if result.budgets else _NO_BUDGETS
        )
    if "forecast" in sections and result.forecasts:
        found.append(_left_out(_forecasts(result, style), result, style))
    if result.calibration is not None:
        found += calibration_sheets.sheets(result.calibration) or [
            Sheet("Token counts against bills", ["note"], [[n]])
            for n in calibration_sheets.notes(result.calibration)
        ]
    return found


def _left_out(sheet: Sheet, result: report.Report, style: _Style) -> Sheet:
    """A sheet by day says how many requests it leaves out for want of a timestamp."""
    t = result.totals
    if not t.no_timestamp:
        return sheet
    note = (
        f" — leaves out {style.count(t.no_timestamp)} requests without a timestamp "
        f"({style.money(t.no_timestamp_usd, 2)})"
    )
    return dataclasses.replace(sheet, title=sheet.title + note)


def _summary(result: report.Report, style: _Style) -> Sheet:
    t = result.totals
    period = f"{t.first_ts:%Y-%m-%d} to {t.last_ts:%Y-%m-%d}" if t.first_ts and t.last_ts else "—"
    rows = [
        ["requests", style.count(t.requests)],
        ["spend (logged, else computed)", style.money(t.spend_usd)],
        ["computed from the price catalogue", style.money(t.computed_spend_usd)],
        ["requests with unknown cost", style.count(t.unpriced_requests)],
        ["requests without a timestamp", style.count(t.no_timestamp)],
        ["period", period],
    ]
    if result.scope.where:
        rows.append(["where", result.scope.where])
    return Sheet("Summary", ["", "value"], rows)


def _buckets(result: report.Report, style: _Style) -> Sheet:
    rows = [
        [b.name, style.count(b.tokens), style.money(b.cost_usd), style.share(b.share)]
        + style.bar(b.share)
        for b in result.totals.buckets
    ]
    columns = ["bucket", "tokens", "cost", "share of spend"] + ([""] if style.bars else [])
    return Sheet("Tokens and spend by bucket (computed cost)", columns, rows)


def _daily(days: list[report.DailySpend], dimension: str, style: _Style) -> Sheet:
    if style.machine:
        rows = [[str(d.day), d.key or "", style.money(d.spend_usd)] for d in days]
        return Sheet(f"Daily spend by {dimension}", ["day", dimension, "spend_usd"], rows)
    all_days = sorted({d.day for d in days})
    series: dict[str | None, dict[object, Decimal]] = defaultdict(dict)
    for d in days:
        series[d.key][d.day] = d.spend_usd
    ordered = sorted(series.items(), key=lambda kv: -sum(kv[1].values()))
    rows = [
        [
            key or "(none)",
            style.money(sum(values.values(), Decimal(0))),
            sparkline([float(values.get(day, 0)) for day in all_days]),
        ]
        for key, values in ordered
    ]
    span = f"{all_days[0]} to {all_days[-1]}" if all_days else ""
    return Sheet(f"Daily spend by {dimension}, {span}", [dimension, "spend", "per day"], rows)


def _breakdown(b: report.Breakdown, style: _Style) -> Sheet:
    rows = [
        [
            *(k if k is not None else "(none)" for k in g.key),
            style.count(g.requests),
            style.money(g.spend_usd),
            style.share(g.share),
            style.count(g.input_tokens),
            style.count(g.output_tokens),
        ]
        + style.bar(g.share, 12)
        for g in b.groups
    ]
    columns = [*b.dimensions, "requests", "spend", "share", "input tokens", "output tokens"]
    columns += [""] if style.bars else []
    return Sheet(f"Spend by {', '.join(b.dimensions)}", columns, rows)


def _top(top: list[report.TopRequest], style: _Style) -> Sheet:
    rows = [
        [
            str(i),
            style.money(r.cost_usd),
            f"{r.ts:%Y-%m-%d %H:%M}" if r.ts else "—",
            r.feature or "",
            r.model or "",
            style.count(r.input_tokens),
            style.count(r.output_tokens),
            (r.prompt_start or "").replace("\n", " "),
        ]
        for i, r in enumerate(top, start=1)
    ]
    columns = ["#", "cost", "when (UTC)", "feature", "model", "in", "out", "prompt"]
    return Sheet("Most expensive requests", columns, rows)


def _bloat(result: report.Report, style: _Style) -> Sheet:
    rows = [
        [
            f.feature or "(none)",
            style.count(f.requests),
            f"{f.p50_input_tokens:,.0f}",
            f"{f.p95_input_tokens:,.0f}",
            style.count(f.max_input_tokens),
            style.money(f.spend_usd),
            style.share(f.spend_above_p95_share),
            "—"
            if f.repeated_system_prompt_share is None
            else style.share(f.repeated_system_prompt_share)
            + ("" if f.system_prompt_tokens_exact else "~"),
        ]
        for f in result.bloat
    ]
    columns = [
        "feature",
        "requests",
        "P50 in",
        "P95 in",
        "max in",
        "spend",
        "spend > P95",
        "repeated system prompt",
    ]
    return Sheet("Context size by feature (input tokens)", columns, rows)


def _anomalies(found: Anomalies, style: _Style) -> list[Sheet]:
    days = [
        [
            f"{a.day}",
            a.feature or "(none)",
            style.money(a.spend_usd),
            style.money(a.baseline_usd),
            f"{a.ratio:.1f}×",
            "∞" if a.z == float("inf") else f"{a.z:.1f}",
        ]
        for a in found.days
    ]
    outliers = [
        [
            o.request_id,
            style.money(o.cost_usd),
            o.feature or "(none)",
            style.money(o.feature_median_usd),
            f"{o.ratio:.0f}×",
            (o.prompt_start or "").replace("\n", " "),
        ]
        for o in found.outliers
    ]
    return [
        Sheet(
            f"Anomalous days — {found.method}",
            ["day", "feature", "spend", "baseline", "ratio", "z"],
            days,
        ),
        Sheet(
            f"Outlier requests (over {found.outlier_ratio:g}× the feature median)",
            ["request", "cost", "feature", "feature median", "ratio", "prompt"],
            outliers,
        ),
    ]


_NO_BUDGETS = Sheet(
    "Budgets",
    ["note"],
    [['none configured: add [budgets] to costlab.toml, e.g. chat = "500 USD/month"']],
)


def _budgets(result: report.Report, style: _Style) -> Sheet:
    rows = [
        [
            s.budget.target,
            style.money(s.budget.amount_usd, 2),
            style.money(s.month_to_date_usd, 2),
            style.money(s.projected_usd, 2),
            style.money(s.projected_low_usd, 2),
            style.money(s.projected_high_usd, 2),
            style.share(float(s.projected_share)),
            "ALERT" if s.alert else "ok",
        ]
        for s in result.budgets
    ]
    as_of = result.budgets[0].as_of
    columns = ["budget", "per month", "month to date", "projected", "80% low", "80% high"]
    columns += ["of budget", ""]
    return Sheet(f"Budgets as of {as_of} (projected with the forecast's method)", columns, rows)


def _forecasts(result: report.Report, style: _Style) -> Sheet:
    if style.machine:
        rows = [
            [f.feature or "", str(day), style.money(usd)]
            for f in result.forecasts
            for day, usd in f.days
        ]
        return Sheet("Forecast", ["feature", "day", "expected_usd"], rows)
    rows = [
        [
            f.feature or "(none)",
            style.money(f.total_usd, 2),
            f"{style.money(f.low_usd, 2)} – {style.money(f.high_usd, 2)}",
            "—" if f.backtest_mape is None else f"{f.backtest_mape:.0%} ({f.backtest_weeks} wk)",
            _trend(f.trend_usd_per_week, style),
            str(f.anomalous_days),
            sparkline([float(v) for _, v in f.days]),
        ]
        for f in result.forecasts
    ]
    method = result.forecasts[0].method
    return Sheet(
        f"Forecast, next {len(result.forecasts[0].days)} days — {method}",
        [
            "feature", "expected spend", "80% interval", "backtest MAPE", "trend",
            "anomalous days", "per day",
        ],
        rows,
    )  # fmt: skip


def _trend(usd_per_week: Decimal | None, style: _Style) -> str:
    if usd_per_week is None:
        return "—"
    return f"{'-' if usd_per_week < 0 else '+'}{style.money(abs(usd_per_week), 2)}/wk"
