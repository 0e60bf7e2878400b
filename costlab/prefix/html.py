"""`costlab simulate-prefix-cache --html`: the result as one self-contained page (see costlab.page).

The chart draws, per feature, the logged spend and the spend with prefix caching (and at batch
rates where eligible) as horizontal bars; each bar carries `data-usd` for the browser tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from costlab import page
from costlab.page import money
from costlab.prefix.report import FeatureRow, PrefixReport

_ROW, _LEFT, _RIGHT, _TOP = 34, 190, 120, 10
LOGGED, CACHED, BATCH = page.PALETTE[0], page.PALETTE[2], page.PALETTE[1]


def render(report: PrefixReport, generated_at: datetime | None = None) -> str:
    """The whole result as one HTML document (a string)."""
    when = generated_at or datetime.now(UTC)
    t = report.total
    header = (
        "<header><h1>Prefix caching and batch what-if</h1>"
        f"<p>{report.requests:,} requests, {report.replayed:,} replayed; tokens from "
        f"<code>{escape(report.encoding)}</code>.</p>"
        f'<p class="generated">Generated {when:%Y-%m-%d %H:%M:%S %Z} by costlab.</p></header>'
    )
    cards = [
        ("logged spend", money(t.logged_usd, 2)),
        ("with prefix caching", money(t.with_cache_usd, 2)),
        ("saved", money(t.saved_usd, 2)),
        ("cached tokens now", f"{t.logged_cached_tokens:,}"),
        ("cached tokens possible", f"{t.possible_cached_tokens:,}"),
        ("batch saves", money(sum((b.saved_usd for b in report.batch), Decimal(0)), 2)),
    ]
    sections = [
        page.cards(cards),
        page.section("Spend per feature", chart(report.features)),
        page.section("Per feature", _features(report)),
        page.section("Templates", _templates(report), "Template: model and first segment."),
        page.section("Reorder opportunities", _reorders(report)),
        page.section("Batch eligibility", _batch(report)),
        page.section(
            "Warnings",
            "".join(f'<p class="note">\u26a0 {escape(w)}</p>' for w in report.warnings)
            or page.empty("None."),
        ),
        "".join(f'<p class="note">{escape(n)}</p>' for n in report.notes),
    ]
    return page.document("costlab simulate-prefix-cache", header, "".join(sections))


def chart(features: list[FeatureRow]) -> str:
    """Logged spend, spend with prefix caching, and batch savings per feature, as bars."""
    if not features:
        return page.empty("No features.")
    top = max(float(f.spend.logged_usd) for f in features) or 1.0
    width = page.WIDTH - _LEFT - _RIGHT
    parts = []
    for k, f in enumerate(features):
        y = _TOP + k * _ROW * 3
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y + _ROW:.0f}" text-anchor="end" class="label">'
            f"{escape(f.feature)}</text>"
        )
        bars = [
            ("logged", LOGGED, f.spend.logged_usd),
            ("with caching", CACHED, f.spend.with_cache_usd),
        ]
        if f.batch_reason is not None:
            bars.append(("at batch rates", BATCH, f.spend.logged_usd - f.batch_saved_usd))
        for j, (name, colour, usd) in enumerate(bars):
            length = max(float(usd), 0.0) / top * width
            yy = y + j * (_ROW - 6)
            parts.append(
                f'<rect x="{_LEFT}" y="{yy:.0f}" width="{length:.2f}" height="{_ROW - 12}" '
                f'fill="{colour}" data-usd="{usd}" data-series="{name}"><title>'
                f"{escape(f.feature)}: {escape(name)} {escape(money(usd))}</title></rect>"
                f'<text x="{_LEFT + length + 6:.2f}" y="{yy + _ROW - 17:.0f}" class="value">'
                f"{escape(money(usd, 2))}</text>"
            )
    height = _TOP + len(features) * _ROW * 3
    legend = [
        ("logged", LOGGED, "logged spend"),
        ("cached", CACHED, "with prefix caching"),
        ("batch", BATCH, "at batch rates (eligible features)"),
    ]
    return page.figure("spend", page.svg("Spend per feature", height, "".join(parts)), legend)


def _features(report: PrefixReport) -> str:
    rows = [
        [
            f.feature,
            f"{f.spend.requests:,}",
            money(f.spend.logged_usd),
            money(f.spend.with_cache_usd),
            money(f.spend.saved_usd),
            f"{f.spend.logged_cached_tokens:,}",
            f"{f.spend.possible_cached_tokens:,}",
            f"{f.spend.possible_write_tokens:,}",
        ]
        for f in report.features
    ]
    headers = ["feature", "requests", "logged", "with caching", "saved", "cached now",
               "cached possible", "cache writes"]  # fmt: skip
    return page.table(headers, rows, "lrrrrrrr")


def _templates(report: PrefixReport) -> str:
    rows = [
        [
            t.feature,
            t.model,
            t.rule,
            f"{t.spend.requests:,}",
            t.breakpoint + (f" ({t.ttl})" if t.ttl else ""),
            f"{t.prefix_tokens:,}",
            money(t.spend.saved_usd),
            "\u2014" if t.input_cost_5m_usd is None else money(t.input_cost_5m_usd),
            "\u2014" if t.input_cost_1h_usd is None else money(t.input_cost_1h_usd),
            "\u2014" if t.break_even is None else f"{t.break_even:.2f}",
            f"{t.gaps[0]:,} / {t.gaps[1]:,} / {t.gaps[2]:,}",
            t.head,
        ]
        for t in report.templates
    ]
    headers = ["feature", "model", "rule", "requests", "breakpoint", "prefix", "saved",
               "input cost 5m", "input cost 1h", "1h break-even", "gaps ≤5m / ≤1h / longer",
               "first segment"]  # fmt: skip
    return page.table(headers, rows, "lllrlrrrrrrp", empty_text="No template was replayed.")


def _reorders(report: PrefixReport) -> str:
    rows = [
        [
            r.feature,
            r.model,
            f"{r.requests:,}",
            f"{r.variable_tokens:,}",
            f"{r.static_tokens:,}",
            f"{r.cacheable_tokens:,}",
            money(r.saved_usd),
            r.static_head,
        ]
        for r in report.reorders
    ]
    headers = ["feature", "model", "requests", "variable tokens", "static tokens after",
               "cacheable if moved", "saves up to", "static part starts"]  # fmt: skip
    return page.table(
        headers,
        rows,
        "llrrrrrp",
        empty_text="No template has a long static part after a variable one.",
    )


def _batch(report: PrefixReport) -> str:
    rows = [
        [
            b.feature,
            b.reason,
            f"{b.requests:,}",
            money(b.cost_usd),
            money(b.batch_usd),
            money(b.saved_usd),
        ]  # fmt: skip
        for b in report.batch
    ]
    headers = ["feature", "why", "requests", "cost now", "at batch rates", "saved"]
    return page.table(
        headers,
        rows,
        "llrrrr",
        empty_text="No feature is batch-eligible: list them under [batch] in the config.",
    )
