"""Static SVG charts for the HTML report: drawn in Python, so they need no script to show.

Every drawn data point carries data attributes (`data-day`, `data-key`, `data-usd`, ...) so a
browser test can count and check them. Geometry is float; the figures shown and stored in the
attributes are the exact Decimals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html import escape

from costlab import page, plot
from costlab.page import ANOMALY_COLOUR, PALETTE
from costlab.report import Bucket, DailySpend
from costlab.report.budgets import BudgetStatus

OTHER_COLOUR = "#bab0ac"
NONE_KEY = "(none)"
OTHER_KEY = "(other)"
# More keys than this on one chart: the top 9 by spend, the rest folded into "(other)".
MAX_KEYS = 10
# Past this many days a bar is a week: keeps the page light and the bars visible over years.
MAX_DAILY_BARS = 400
_W, _H = page.WIDTH, 340
_LEFT, _RIGHT, _TOP, _BOTTOM = 84, 16, 30, 34
_X_LABELS = 12


@dataclass(frozen=True)
class Mark:
    """An anomaly to point at on a daily chart: the bar segment of `key` on `day`."""

    day: date
    key: str | None
    text: str  # the tooltip


def key_label(key: str | None) -> str:
    return NONE_KEY if key is None else key


def daily_stacked(name: str, points: list[DailySpend], marks: list[Mark]) -> str:
    """Spend per day (per week past MAX_DAILY_BARS days) stacked by key, anomalies marked."""
    if not any(p.spend_usd > 0 for p in points):
        return page.empty("No spend in this scope.")
    keys = _top_keys(points)
    colours = {k: (OTHER_COLOUR if k == OTHER_KEY else PALETTE[i]) for i, k in enumerate(keys)}
    first, last = min(p.day for p in points), max(p.day for p in points)
    weekly = (last - first).days >= MAX_DAILY_BARS
    cells: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for p in points:
        cells[(_period(p.day, weekly), _fold(p.key, keys))] += p.spend_usd
    periods = _period_range(first, last, weekly)
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for (day, _), usd in cells.items():
        totals[day] += max(usd, Decimal(0))
    frame = _Frame(periods, _nice_ticks(float(max(totals.values()))))
    flagged = {(_period(m.day, weekly), _fold(m.key, keys)) for m in marks}
    parts = [frame.axes(), '<g shape-rendering="crispEdges">']
    for i, day in enumerate(periods):
        parts += _stack(
            frame, i, day, [(k, cells.get((day, k), Decimal(0))) for k in keys], colours, flagged
        )
    parts += ["</g>", *_markers(frame, marks, totals, weekly)]
    svg = page.svg(name, _H, "".join(parts))
    legend = [(k, colours[k], _legend_text(k, points, keys)) for k in keys]
    note = "Each bar is one week (Monday to Sunday)." if weekly else ""
    return page.figure(name, svg, legend, anomalies=bool(marks), note=note)


def bucket_bars(buckets: list[Bucket]) -> str:
    """One bar per token bucket: its share of the computed spend, its cost and tokens."""
    if not buckets:
        return page.empty("No token buckets in this scope.")
    row_h, label_w, bar_w, top = 34, 230, 480, 24
    height = top + row_h * len(buckets) + 8
    parts = [_share_grid(label_w, bar_w, top, height - 8)]
    for i, b in enumerate(buckets):
        y = top + i * row_h + 6
        share = b.share if math.isfinite(b.share) else 0.0
        nested = b.name.startswith("reasoning")  # a part of output, drawn under it
        label = ("\u21b3 " if nested else "") + b.name
        width = max(share, 0.0) * bar_w
        parts.append(
            f'<text x="{label_w - 10}" y="{y + 15}" text-anchor="end" class="label">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{width:.2f}" height="22" '
            f'fill="{PALETTE[i % len(PALETTE)]}" data-bucket="{escape(b.name)}" '
            f'data-usd="{b.cost_usd}" data-tokens="{b.tokens}" data-share="{share!r}">'
            f"<title>{escape(b.name)}: {page.money(b.cost_usd)}, {b.tokens:,} tokens</title></rect>"
            f'<text x="{label_w + width + 8:.2f}" y="{y + 15}" class="value">'
            f"{share:.1%} \u00b7 {page.money(b.cost_usd)} \u00b7 {b.tokens:,} tokens</text>"
        )
    return page.figure("token-buckets", page.svg("token-buckets", height, "".join(parts)), [])


def budget_bars(statuses: list[BudgetStatus]) -> str:
    """Per budget: month-to-date spend inside the projected month end, the budget as a line."""
    if not statuses:
        return page.empty("No budgets configured.")
    row_h, label_w, bar_w, top = 40, 150, 480, 24
    height = top + row_h * len(statuses) + 8
    scale = 1.05 * float(
        max(max(s.budget.amount_usd, s.projected_usd, s.month_to_date_usd) for s in statuses)
    )
    scale = scale if scale > 0 else 1.0
    parts: list[str] = []
    for i, s in enumerate(statuses):
        parts.append(_budget_row(s, top + i * row_h + 6, label_w, bar_w / scale))
    legend = [
        ("month to date", PALETTE[0], "month to date"),
        ("projected", "#a0cbe8", "projected month end (red: alert)"),
        ("budget", "#222", "budget"),
    ]
    return page.figure("budgets", page.svg("budgets", height, "".join(parts)), legend)


def _budget_row(s: BudgetStatus, y: int, x0: int, px_per_usd: float) -> str:
    target = "all spend" if s.budget.target == "*" else s.budget.target
    mtd_w = float(s.month_to_date_usd) * px_per_usd
    proj_w = float(s.projected_usd) * px_per_usd
    line_x = x0 + float(s.budget.amount_usd) * px_per_usd
    proj_fill = "#f4a3a8" if s.alert else "#a0cbe8"
    attrs = f'data-target="{escape(s.budget.target)}"'
    share = f"{float(s.projected_share):.0%}"
    return (
        f'<text x="{x0 - 10}" y="{y + 17}" text-anchor="end" class="label">{escape(target)}</text>'
        f'<rect x="{x0}" y="{y}" width="{proj_w:.2f}" height="26" fill="{proj_fill}" {attrs} '
        f'data-kind="projected" data-usd="{s.projected_usd}"><title>{escape(target)}: projected '
        f"{page.money(s.projected_usd)} by month end</title></rect>"
        f'<rect x="{x0}" y="{y + 5}" width="{mtd_w:.2f}" height="16" fill="{PALETTE[0]}" '
        f'{attrs} data-kind="mtd" data-usd="{s.month_to_date_usd}"><title>{escape(target)}: '
        f"{page.money(s.month_to_date_usd)} month to date ({s.as_of})</title></rect>"
        f'<line x1="{line_x:.2f}" x2="{line_x:.2f}" y1="{y - 3}" y2="{y + 29}" stroke="#222" '
        f'stroke-width="2" stroke-dasharray="4 2" {attrs} data-kind="budget" '
        f'data-usd="{s.budget.amount_usd}"><title>{escape(target)}: budget '
        f"{page.money(s.budget.amount_usd)} per {escape(s.budget.period)}</title></line>"
        f'<text x="{x0 + max(proj_w, mtd_w, line_x - x0) + 10:.2f}" y="{y + 17}" class="value">'
        f"{page.money(s.month_to_date_usd)} so far \u00b7 projected {page.money(s.projected_usd)} "
        f"= {share} of {page.money(s.budget.amount_usd)}</text>"
    )


@dataclass(frozen=True)
class _Frame:
    """The plot area of a daily chart: one band per period, a y axis in dollars."""

    periods: list[date]
    ticks: list[float]

    @property
    def band(self) -> float:
        return (_W - _LEFT - _RIGHT) / len(self.periods)

    def x(self, index: int) -> float:
        return _LEFT + index * self.band

    def y(self, usd: float) -> float:
        return _H - _BOTTOM - usd / self.ticks[-1] * (_H - _TOP - _BOTTOM)

    def axes(self) -> str:
        parts = []
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(
                f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.2f}" y2="{y:.2f}" class="grid"/>'
                f'<text x="{_LEFT - 8}" y="{y + 4:.2f}" text-anchor="end" class="tick">'
                f"{plot.label(tick, 'usd', self.ticks[1])}</text>"
            )
        step, year = math.ceil(len(self.periods) / _X_LABELS), 0
        for i in range(0, len(self.periods), step):
            day = self.periods[i]
            label = f"{day:%b} {day.day}" + (f", {day.year}" if day.year != year else "")
            year = day.year
            parts.append(
                f'<text x="{self.x(i) + self.band / 2:.2f}" y="{_H - _BOTTOM + 18}" '
                f'text-anchor="middle" class="tick">{label}</text>'
            )
        return "".join(parts)


def _stack(
    frame: _Frame,
    index: int,
    day: date,
    cells: list[tuple[str, Decimal]],
    colours: dict[str, str],
    flagged: set[tuple[date, str]],
) -> list[str]:
    """The segments of one bar, the largest key at the bottom."""
    gap = min(frame.band * 0.15, 3.0) if frame.band >= 3 else 0.0
    x, width = frame.x(index) + gap / 2, frame.band - gap
    base, parts = 0.0, []
    for key, usd in cells:
        if usd <= 0:
            continue
        top = base + float(usd)
        y0, y1 = frame.y(base), frame.y(top)
        outline = f' stroke="{ANOMALY_COLOUR}" stroke-width="2"' if (day, key) in flagged else ""
        parts.append(
            f'<rect x="{x:.2f}" y="{y1:.2f}" width="{width:.2f}" height="{y0 - y1:.3f}" '
            f'fill="{colours[key]}"{outline} data-day="{day}" data-key="{escape(key)}" '
            f'data-usd="{usd}"><title>{escape(key)} {day}: {page.money(usd)}</title></rect>'
        )
        base = top
    return parts


def _markers(
    frame: _Frame, marks: list[Mark], totals: dict[date, Decimal], weekly: bool
) -> list[str]:
    """A triangle above the bar of each anomaly's day, stacked when a day has several."""
    index = {day: i for i, day in enumerate(frame.periods)}
    seen: dict[date, int] = defaultdict(int)
    parts = []
    for mark in marks:
        period = _period(mark.day, weekly)
        if period not in index:
            continue
        cx = frame.x(index[period]) + frame.band / 2
        tip = frame.y(float(totals[period])) - 3 - 11 * seen[period]
        seen[period] += 1
        parts.append(
            f'<path d="M{cx - 5:.2f},{tip - 9:.2f} L{cx + 5:.2f},{tip - 9:.2f} L{cx:.2f},'
            f'{tip:.2f} Z" fill="{ANOMALY_COLOUR}" data-anomaly="" data-day="{mark.day}" '
            f'data-key="{escape(key_label(mark.key))}"><title>{escape(mark.text)}</title></path>'
        )
    return parts


def _top_keys(points: list[DailySpend]) -> list[str]:
    """Keys by total spend, largest first; past MAX_KEYS the top ones and then "(other)"."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for p in points:
        totals[key_label(p.key)] += p.spend_usd
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    if len(ranked) <= MAX_KEYS:
        return ranked
    return [*ranked[: MAX_KEYS - 1], OTHER_KEY]


def _fold(key: str | None, keys: list[str]) -> str:
    label = key_label(key)
    return label if label in keys else OTHER_KEY


def _legend_text(key: str, points: list[DailySpend], keys: list[str]) -> str:
    if key != OTHER_KEY:
        return key
    folded = {key_label(p.key) for p in points} - set(keys)
    return f"{OTHER_KEY}: {len(folded)} more"


def _period(day: date, weekly: bool) -> date:
    return day - timedelta(days=day.weekday()) if weekly else day


def _period_range(first: date, last: date, weekly: bool) -> list[date]:
    start, step = _period(first, weekly), timedelta(days=7 if weekly else 1)
    days = []
    while start <= last:
        days.append(start)
        start += step
    return days


def _nice_ticks(top: float) -> list[float]:
    """0 and 4 to 6 round steps (1, 2, 2.5, 5 × 10^k) that reach `top`."""
    return plot.ticks(0.0, top if top > 0 else 1.0)


def _share_grid(x0: int, width: int, top: int, bottom: int) -> str:
    parts = []
    for share in (0, 0.25, 0.5, 0.75, 1.0):
        x = x0 + share * width
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" class="grid"/>'
            f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" class="tick">{share:.0%}</text>'
        )
    return "".join(parts)
