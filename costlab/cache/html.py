"""`costlab simulate-cache --html`: the sweep as one self-contained page (see costlab.page)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from costlab import page
from costlab.cache import charts
from costlab.cache.savings import CacheReport, ThresholdResult
from costlab.page import money


def render(report: CacheReport, generated_at: datetime | None = None) -> str:
    """The whole result as one HTML document (a string), ready to write to a file."""
    when = generated_at or datetime.now(UTC)
    header = (
        "<header><h1>Semantic cache what-if</h1>"
        f"<p>{report.requests:,} requests, {report.distinct_keys:,} distinct keys, embedder "
        f"<code>{escape(report.embedder)}</code>.</p>"
        f"<p>Precision {escape(report.precision_method)}.</p>"
        f"<p>{escape(_guard(report))}</p>"
        f"<p>{escape(_verdict(report))}</p>"
        f'<p class="generated">Generated {when:%Y-%m-%d %H:%M:%S %Z} by costlab.</p></header>'
    )
    sections = [
        _cards(report),
        page.section(
            "Hit rate and precision", charts.rates(report.thresholds, report.recommended_threshold)
        ),
        page.section(
            "Dollars saved", charts.saved(report.thresholds, report.recommended_threshold)
        ),
        page.section("Per threshold", _thresholds(report)),
        _health(report),
        _intents(report),
        "".join(f'<p class="note">{escape(n)}</p>' for n in report.notes),
    ]
    return page.document("costlab simulate-cache", header, "".join(sections))


def _cards(report: CacheReport) -> str:
    best = next((r for r in report.thresholds if r.threshold == report.recommended_threshold), None)
    cards = [
        ("requests", f"{report.requests:,}"),
        ("recommended threshold", "none" if best is None else f"{best.threshold:.2f}"),
        ("hit rate there", "\u2014" if best is None else f"{best.hit_rate:.1%}"),
        ("saved there", "\u2014" if best is None else money(best.saved_usd)),
        ("precision there", "\u2014" if best is None else _precision(best)),
    ]
    return page.cards(cards)


def _precision(r: ThresholdResult) -> str:
    return _percent(r.precision, r.precision_estimated)


def _percent(value: float | None, estimated: bool) -> str:
    if value is None:
        return "\u2014"
    return f"\u2248{value:.1%}" if estimated else f"{value:.1%}"


def _guard(report: CacheReport) -> str:
    if report.guard:
        return (
            "The false-hit guard is on: hits whose request and entry disagree on numbers, names, "
            "negation or opposite words are refused and paid (columns 'refused' and 'without "
            "guard')."
        )
    return "The false-hit guard is off; columns 'refused' and 'with guard' show what it would do."


def _verdict(report: CacheReport) -> str:
    if report.recommended_threshold is not None:
        return f"Recommended: {report.recommended_threshold:.2f}."
    if report.best_threshold is not None and report.best_precision is not None:
        return (
            f"No threshold reaches the minimum precision of {report.min_precision:.0%}: the best "
            f"is {report.best_threshold:.2f} at {report.best_precision:.1%}."
        )
    return "No threshold recommended: no precision could be measured."


def _thresholds(report: CacheReport) -> str:
    rows = report.thresholds
    table = [
        [
            f"{r.threshold:.2f}",
            f"{r.hits:,}",
            f"{r.hit_rate:.1%}",
            money(r.saved_usd),
            f"{r.saved_tokens:,}",
            f"{r.saved_latency_ms / 1000:,.1f} s",
            f"{r.guard_refused:,}",
            _precision(r),
            _percent(
                r.precision_unguarded if report.guard else r.precision_guarded,
                r.precision_estimated,
            ),
            f"{r.unjudged_hits:,}",
            _hours(r.reuse_age_p50_s),
            _hours(r.reuse_age_p95_s),
            f"{r.expired_misses:,}",
            f"{r.evicted_misses:,}",
            f"{r.live_entries_end:,}",
            _megabytes(r.memory_bytes),
        ]
        for r in rows
    ]
    headers = [
        "threshold", "hits", "hit rate", "saved", "tokens saved", "latency saved", "refused",
        "precision", "without guard" if report.guard else "with guard", "not judged", "age P50",
        "age P95", "lost to TTL", "lost to eviction", "entries", "memory",
    ]  # fmt: skip
    return page.table(headers, table, "r" * len(headers))


def _health(report: CacheReport) -> str:
    h = report.health
    rows = [
        ["threshold", f"{h.threshold:.2f}"],
        ["hit rate", f"{h.hit_rate:.1%}"],
        ["entries live at the end", f"{h.entries_live:,}"],
        ["memory they would take", _megabytes(h.memory_bytes)],
        ["hits lost to TTL expiry", f"{h.lost_to_ttl:,}"],
        ["hits lost to eviction", f"{h.lost_to_eviction:,}"],
    ]
    alerts = "".join(f'<p class="note">\u26a0 {escape(a)}</p>' for a in h.alerts)
    return page.section("Cache health", page.table(["", ""], rows, "lr") + alerts)


def _intents(report: CacheReport) -> str:
    if not report.intents:
        return page.section("Recurring intents", page.empty("No key was reused."))
    rows = [
        [
            str(i.intent),
            f"{i.requests:,}",
            f"{i.hits:,}",
            money(i.spend_usd),
            f"{i.share_of_spend:.1%}",
            money(i.saved_usd),
            i.prompt,
        ]
        for i in report.intents
    ]
    headers = [
        "intent",
        "requests",
        "hits",
        "spend",
        "share of spend",
        "saved",
        "representative prompt",
    ]
    note = (
        f"At threshold {report.focus_threshold:.2f}: each is a cache entry's key with every "
        "request its entries served. The largest are worth a canned answer. The intent id is "
        "the one route-replay rules see (simulate-cache stores them unless --no-save-intents)."
    )
    return page.section("Recurring intents", page.table(headers, rows, "rrrrrrp"), note)


def _hours(seconds: float | None) -> str:
    return "\u2014" if seconds is None else f"{seconds / 3600:,.1f} h"


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.2f} MB"
