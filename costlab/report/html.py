"""`costlab report --html`: the report as one self-contained page — inline CSS and static SVG.

No network and no external asset: the page opens offline. The charts are drawn here, so they
show without JavaScript; the one inline script only records, per chart, how many data marks the
browser laid out (`data-drawn`), for the headless-browser test. Every text from the logs
(features, models, prompts, the --where predicate) goes through `html.escape`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from costlab import page
from costlab.calibration import Calibration, Ratio
from costlab.page import empty, money
from costlab.report import Breakdown, Report, TopRequest, Totals
from costlab.report.anomalies import Anomalies
from costlab.report.bloat import FeatureBloat
from costlab.report.budgets import BudgetStatus, Forecast
from costlab.report.svg import (
    Mark,
    bucket_bars,
    budget_bars,
    daily_stacked,
    key_label,
)
from costlab.scope import Scope

# A breakdown by user_id can have many thousand groups: the page shows the largest ones.
MAX_TABLE_ROWS = 100
_BLOAT_NOTE = "\u2248: system prompt tokens counted with an approximate tokenizer."


def render(report: Report, generated_at: datetime | None = None) -> str:
    """The whole report as one HTML document (a string), ready to write to a file."""
    when = generated_at or datetime.now(UTC)
    title = f"costlab report \u2014 {_scope_text(report.scope)}"
    anomalies = report.anomalies
    sections = [
        page.section(
            "Spend per day by feature",
            daily_stacked("daily-by-feature", report.daily_by_feature, _marks(anomalies)),
            "Marked: days a feature spent far off its trailing baseline." if anomalies else "",
        ),
        page.section(
            "Spend per day by model", daily_stacked("daily-by-model", report.daily_by_model, [])
        ),
        page.section("Where the money goes: token buckets", bucket_bars(report.totals.buckets)),
        _budgets(report.budgets) if report.budgets else "",
        _forecasts(report.forecasts) if report.forecasts else "",
        _anomalies(anomalies) if anomalies else "",
        page.section("Most expensive requests", _top(report.top)),
        *(_breakdown(b) for b in report.breakdowns),
        page.section("Context bloat per feature", _bloat(report.bloat), _BLOAT_NOTE)
        if report.bloat
        else "",
        _calibration(report.calibration) if report.calibration else "",
    ]
    body = _totals(report.totals) + "".join(sections)
    return page.document(title, _header(report, when), body)


def _header(report: Report, when: datetime) -> str:
    scope = report.scope
    where = f" \u00b7 where <code>{escape(scope.where)}</code>" if scope.where else ""
    return (
        f'<header><h1>LLM spend report</h1><p class="scope">{escape(_range_text(scope))}'
        f'{where}</p><p class="generated">Generated {when:%Y-%m-%d %H:%M:%S %Z} by costlab. '
        "Money is exact, shown rounded to 4 decimals.</p></header>"
    )


def _scope_text(scope: Scope) -> str:
    where = f", where {scope.where}" if scope.where else ""
    return _range_text(scope) + where


def _range_text(scope: Scope) -> str:
    if scope.since is None and scope.until is None:
        return "all requests"
    since = f"since {scope.since}" if scope.since else "from the first request"
    until = f"until {scope.until}" if scope.until else "to the last request"
    return f"{since} {until}"


def _totals(t: Totals) -> str:
    average = t.spend_usd / t.requests if t.requests else Decimal(0)
    cards = [
        ("Spend", money(t.spend_usd)),
        ("Requests", f"{t.requests:,}"),
        ("Per request", money(average, 6)),
        ("Computed spend", money(t.computed_spend_usd)),
        ("Unpriced requests", f"{t.unpriced_requests:,}"),
        ("First request", _when(t.first_ts)),
        ("Last request", _when(t.last_ts)),
    ]
    return page.cards(cards)


def _marks(anomalies: Anomalies | None) -> list[Mark]:
    if anomalies is None:
        return []
    return [
        Mark(
            a.day,
            a.feature,
            f"{key_label(a.feature)} {a.day}: {money(a.spend_usd)}, {_ratio(a.ratio)} baseline",
        )
        for a in anomalies.days
    ]


def _budgets(statuses: list[BudgetStatus]) -> str:
    rows = [
        [
            "all spend" if s.budget.target == "*" else s.budget.target,
            str(s.as_of),
            money(s.month_to_date_usd),
            money(s.projected_usd),
            money(s.budget.amount_usd),
            f"{float(s.projected_share):.1%}",
            "ALERT" if s.alert else "ok",
        ]
        for s in statuses
    ]
    headers = ["budget", "as of", "month to date", "projected", "budget", "projected share", ""]
    return page.section("Budgets", budget_bars(statuses) + page.table(headers, rows, "llrrrrl"))


def _forecasts(forecasts: list[Forecast]) -> str:
    rows = [
        [
            key_label(f.feature),
            f"{f.days[0][0]} to {f.days[-1][0]}" if f.days else "\u2014",
            money(f.total_usd),
            f"{money(f.low_usd)} \u2013 {money(f.high_usd)}",
            "\u2014" if f.backtest_mape is None else f"{f.backtest_mape:.0%}",
            str(f.anomalous_days),
            f.method,
        ]
        for f in forecasts
    ]
    headers = [
        "feature", "days", "expected spend", "80% interval", "backtest MAPE", "anomalous days",
        "method",
    ]  # fmt: skip
    return page.section("Forecast", page.table(headers, rows, "llrrrrl"))


def _anomalies(a: Anomalies) -> str:
    days = [
        [
            str(d.day),
            key_label(d.feature),
            money(d.spend_usd),
            money(d.baseline_usd),
            money(d.mad_usd),
            _number(d.z),
            _ratio(d.ratio),
        ]
        for d in a.days
    ]
    outliers = [
        [
            o.request_id,
            _when(o.ts),
            key_label(o.feature),
            key_label(o.model),
            money(o.cost_usd),
            money(o.feature_median_usd),
            _ratio(o.ratio),
            o.prompt_start or "",
        ]
        for o in a.outliers
    ]
    day_headers = ["day", "feature", "spend", "baseline", "MAD", "z", "vs baseline"]
    request_headers = ["request", "time", "feature", "model", "cost", "feature median", "ratio"]
    body = (
        f'<p class="note">{escape(a.method)}</p><h3>Days</h3>'
        + page.table(day_headers, days, "llrrrrr", empty_text="No anomalous days.")
        + f"<h3>Requests over {_number(a.outlier_ratio)}\u00d7 their feature's median</h3>"
        + page.table(
            [*request_headers, "prompt start"],
            outliers,
            "llllrrrp",
            empty_text="No outlier requests.",
        )
    )
    return page.section("Anomalies", body)


def _top(top: list[TopRequest]) -> str:
    rows = [
        [
            r.request_id,
            _when(r.ts),
            key_label(r.feature),
            key_label(r.model),
            money(r.cost_usd),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            r.prompt_start or "",
        ]
        for r in top
    ]
    headers = ["request", "time", "feature", "model", "cost", "input tokens", "output tokens"]
    return page.table(
        [*headers, "prompt start"], rows, "llllrrrp", empty_text="No requests in this scope."
    )


def _breakdown(b: Breakdown) -> str:
    rows = [
        [
            *(key_label(k) for k in g.key),
            f"{g.requests:,}",
            money(g.spend_usd),
            f"{g.share:.1%}",
            f"{g.input_tokens:,}",
            f"{g.output_tokens:,}",
        ]
        for g in b.groups[:MAX_TABLE_ROWS]
    ]
    headers = [*b.dimensions, "requests", "spend", "share", "input tokens", "output tokens"]
    table = page.table(headers, rows, "l" * len(b.dimensions) + "rrrrr")
    rest = b.groups[MAX_TABLE_ROWS:]
    if rest:
        spend = sum((g.spend_usd for g in rest), Decimal(0))
        table += empty(f"\u2026 and {len(rest):,} more groups, together {money(spend)}.")
    return page.section(f"Spend by {', '.join(b.dimensions)}", table)


def _bloat(bloat: list[FeatureBloat]) -> str:
    rows = [
        [
            key_label(b.feature),
            f"{b.requests:,}",
            f"{b.p50_input_tokens:,.0f}",
            f"{b.p95_input_tokens:,.0f}",
            f"{b.max_input_tokens:,}",
            money(b.spend_usd),
            f"{b.spend_above_p95_share:.1%}",
            _share(b.repeated_system_prompt_share, b.system_prompt_tokens_exact),
        ]
        for b in bloat
    ]
    headers = ["feature", "requests", "P50 input", "P95 input", "max input", "spend"]
    return page.table([*headers, "spend above P95", "repeated system prompt"], rows, "lrrrrrrr")


def _when(ts: object) -> str:
    if isinstance(ts, datetime):
        offset = ts.utcoffset()
        utc = offset is not None and not offset
        return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if utc else ts.isoformat(sep=" ", timespec="seconds")
    return "\u2014" if ts is None else str(ts)


def _ratio(ratio: float) -> str:
    return "\u221e\u00d7" if math.isinf(ratio) else f"{ratio:,.1f}\u00d7"


def _number(value: float) -> str:
    return "\u221e" if math.isinf(value) else f"{value:,.1f}"


def _share(share: float | None, exact: bool) -> str:
    if share is None:
        return "\u2014"
    return f"{share:.1%}" if exact else f"\u2248{share:.1%}"


def _calibration(result: Calibration) -> str:
    """Token counts against the input tokens billed, per model (`costlab tokens calibrate`)."""

    def pct(value: float | None) -> str:
        return "\u2014" if value is None else f"{value:+.1%}"

    def ratio(r: Ratio | None) -> str:
        return "\u2014" if r is None else f"{r.median:.3f} ({r.low:.3f}\u2013{r.high:.3f})"

    rows = [
        [m.model, m.encoding, f"{m.compared:,} of {m.requests:,}",
         pct(m.median_error), pct(m.p95_abs_error).lstrip("+"), ratio(m.ratio)]
        for m in (result.models if result.compared else [])
    ]  # fmt: skip
    headers = ["model", "counted with", "compared", "median error", "P95 |error|",
               "billed per cl100k token (95% CI)"]  # fmt: skip
    note = (
        "error = (counted - billed) / billed. OpenAI models: their encoding and the documented "
        "chat framing; others: cl100k_base x the table ratio. Requests with tools, tool calls, "
        "images, audio or files, or through the Responses API are not compared."
    )
    body = page.table(headers, rows, "llrrrr", empty_text="no comparable requests")
    return page.section("Token counts against bills", body, note)
