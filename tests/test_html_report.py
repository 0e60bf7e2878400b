"""The HTML report: one self-contained page whose charts carry exactly the report's numbers."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.report import (
    Breakdown,
    Bucket,
    DailySpend,
    Group,
    Report,
    TopRequest,
    Totals,
)
from costlab.report.anomalies import Anomalies, DayAnomaly, RequestOutlier
from costlab.report.bloat import FeatureBloat
from costlab.report.budgets import Budget, BudgetStatus, Forecast
from costlab.report.html import render
from costlab.scope import Scope
from tests.pages import Marks, chromium, parse, run_chromium

EVIL = "<script>alert(1)</script>"
DAY0 = date(2026, 11, 1)
GENERATED = datetime(2026, 11, 8, 12, 0, tzinfo=UTC)
FEATURES = ("summarize", "chat", EVIL)
MODELS = ("gpt-4o-mini", "claude-sonnet-4")


def _usd(text: str) -> Decimal:
    return Decimal(text)


def _daily(keys: tuple[str, ...], days: int) -> list[DailySpend]:
    return [
        DailySpend(DAY0 + timedelta(days=d), key, _usd(f"{(d + 1) * (k + 1) * 0.0137:.6f}"))
        for d in range(days)
        for k, key in enumerate(keys)
    ]


def _anomalies() -> Anomalies:
    spike = DayAnomaly(
        DAY0 + timedelta(days=5), "summarize", _usd("0.77"), _usd("0.0828"), _usd("0.01"), 31.2, 9.3
    )
    outlier = RequestOutlier(
        "req-9", datetime(2026, 11, 6, 9, 30, tzinfo=UTC), "summarize", "gpt-4o-mini",
        _usd("0.31"), _usd("0.002"), 155.0, EVIL,
    )  # fmt: skip
    return Anomalies([spike], [outlier], 2.0, 7, 10.0, "robust z over the 7 days before")


def _budget() -> BudgetStatus:
    return BudgetStatus(
        Budget("chat", _usd("5"), "month"), date(2026, 11, 7), _usd("1.25"), _usd("5.10"),
        _usd("1.02"), True,
    )  # fmt: skip


def make_report(days: int = 7, features: tuple[str, ...] = FEATURES) -> Report:
    buckets = [
        Bucket("uncached input", 120_000, _usd("0.60"), 0.5),
        Bucket("cache read", 400_000, _usd("0.12"), 0.1),
        Bucket("cache write", 10_000, _usd("0.06"), 0.05),
        Bucket("output", 30_000, _usd("0.42"), 0.35),
        Bucket("reasoning (part of output)", 8_000, _usd("0.11"), 0.0917),
    ]
    totals = Totals(
        1_000_000, _usd("1.2"), _usd("1.2"), 3, datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 7, 23, 59, tzinfo=UTC), buckets,
    )  # fmt: skip
    groups = [Group((f,), 10, _usd("0.4"), 0.33, 1000, 100) for f in features[:3]]
    top = [
        TopRequest(f"req-{i}", datetime(2026, 11, 2, i, tzinfo=UTC), features[i % len(features)],
                   MODELS[i % 2], _usd("0.05"), 1200, 300, EVIL if i == 0 else "Summarize: ")
        for i in range(5)
    ]  # fmt: skip
    bloat = [FeatureBloat("chat", 10, 800.0, 3100.0, 9000, _usd("0.5"), 0.2, 0.41, False)]
    forecast = Forecast("chat", [(date(2026, 11, 8), _usd("0.3"))], _usd("0.3"), "weekday mean")
    return Report(
        Scope(DAY0, DAY0 + timedelta(days=days - 1), f"feature <> '{EVIL}'"),
        totals, [Breakdown(("feature",), groups)], top,
        _daily(features, days), _daily(MODELS, days), [bloat[0]], _anomalies(), [_budget()],
        [forecast],
    )  # fmt: skip


def _segments(parser: Marks, chart: str) -> list[dict[str, str | None]]:
    return [a for tag, a in parser.marks[chart] if tag == "rect"]


def test_page_is_self_contained() -> None:
    page = render(make_report(), GENERATED)
    assert page.startswith("<!doctype html>")
    for forbidden in ("http://", "https://", "<link", "src=", "@import", "url("):
        assert forbidden not in page.lower(), forbidden


def test_log_text_is_escaped_everywhere() -> None:
    page = render(make_report(), GENERATED)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The only script element is the page's own.
    assert parse(page).elements.count("script") == 1


def test_daily_segments_carry_the_input_numbers() -> None:
    report = make_report()
    parser = parse(render(report, GENERATED))
    for chart, points in (
        ("daily-by-feature", report.daily_by_feature),
        ("daily-by-model", report.daily_by_model),
    ):
        drawn = {(a["data-day"], a["data-key"]): a["data-usd"] for a in _segments(parser, chart)}
        expected = {(str(p.day), p.key): p.spend_usd for p in points}
        assert {k: Decimal(str(v)) for k, v in drawn.items()} == expected


def test_anomaly_is_marked_with_a_tooltip() -> None:
    parser = parse(render(make_report(), GENERATED))
    markers = [a for tag, a in parser.marks["daily-by-feature"] if "data-anomaly" in a]
    assert [(m["data-day"], m["data-key"]) for m in markers] == [("2026-11-06", "summarize")]
    page = render(make_report(), GENERATED)
    assert "<title>summarize 2026-11-06: $0.7700, 9.3× baseline</title>" in page


def test_buckets_and_budgets_are_drawn() -> None:
    report = make_report()
    parser = parse(render(report, GENERATED))
    buckets = {
        a["data-bucket"]: Decimal(str(a["data-usd"])) for _, a in parser.marks["token-buckets"]
    }
    assert buckets == {b.name: b.cost_usd for b in report.totals.buckets}
    kinds = {a["data-kind"]: Decimal(str(a["data-usd"])) for _, a in parser.marks["budgets"]}
    assert kinds == {"mtd": Decimal("1.25"), "projected": Decimal("5.10"), "budget": Decimal("5")}


def test_many_keys_fold_into_other_and_keep_the_total() -> None:
    features = tuple(f"feature-{i:02d}" for i in range(30))
    report = make_report(days=10, features=features)
    segments = _segments(parse(render(report, GENERATED)), "daily-by-feature")
    assert len({a["data-key"] for a in segments}) == 10
    assert "(other)" in {a["data-key"] for a in segments}
    drawn = sum(Decimal(str(a["data-usd"])) for a in segments)
    assert drawn == sum(p.spend_usd for p in report.daily_by_feature)


def test_a_year_of_thirty_features_is_small_and_fast() -> None:
    features = tuple(f"feature-{i:02d}" for i in range(30))
    report = make_report(days=365, features=features)
    start = time.perf_counter()
    page = render(report, GENERATED)
    assert time.perf_counter() - start < 1.0
    assert len(page.encode()) < 5_000_000
    assert len(_segments(parse(page), "daily-by-feature")) == 365 * 10


def test_years_of_days_become_weekly_bars() -> None:
    report = make_report(days=800, features=("chat",))
    segments = _segments(parse(render(report, GENERATED)), "daily-by-feature")
    assert all(date.fromisoformat(str(a["data-day"])).weekday() == 0 for a in segments)
    drawn = sum(Decimal(str(a["data-usd"])) for a in segments)
    assert drawn == sum(p.spend_usd for p in report.daily_by_feature)


def test_an_empty_report_renders_without_charts() -> None:
    empty = Report(Scope(), Totals(0, Decimal(0), Decimal(0), 0, None, None, []), [], [], [], [])
    page = render(empty)
    assert "No spend in this scope." in page
    assert parse(page).figures == {}


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium package")
def test_page_draws_every_chart_in_a_real_browser(tmp_path: Path) -> None:
    report = make_report()
    page = tmp_path / "report.html"
    page.write_text(render(report, GENERATED), encoding="utf-8")
    result = run_chromium(page, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if re.search("CONSOLE|Uncaught", line)]
    assert console == []
    dom = parse(result.stdout)
    expected = {
        "daily-by-feature": len(report.daily_by_feature) + len(_anomalies().days),
        "daily-by-model": len(report.daily_by_model),
        "token-buckets": len(report.totals.buckets),
        "budgets": 3 * len(report.budgets),
    }
    assert Counter({c: len(m) for c, m in dom.marks.items()}) == Counter(expected)
    # The inline script counted the marks the browser laid out with a non-empty box.
    assert {c: f["data-drawn"] for c, f in dom.figures.items()} == {
        c: str(n) for c, n in expected.items()
    }
