"""Recurring intents, cache health, and the --html page of a sweep."""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from costlab.cache import html, savings
from costlab.cache.dollars import Dollars
from costlab.cache.intents import ENTRY_OVERHEAD_BYTES, clusters, health, recurring
from costlab.cache.simulate import SimResult
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA, Cli, FakeEmbedder, load
from tests.pages import chromium, parse, run_chromium

SAMPLE = DATA / "banking77" / "support_sample.jsonl"
EVIL = "<script>alert(1)</script>"


def result(served_by: list[int], live: list[int], expired: int = 0, evicted: int = 0) -> SimResult:
    served = np.array(served_by, dtype=np.int64)
    return SimResult(0.9, served >= 0, served, expired, evicted, np.array(live, dtype=np.int64))


def test_intents_group_each_key_with_what_its_entries_served() -> None:
    # Key 0 leads twice (its first entry expired), key 1 once; key 2 is never reused.
    keys = np.array([0, 1, 0, 0, 2, 0, 1], dtype=np.int64)
    outcome = result([-1, -1, 0, -1, -1, 3, 1], live=[3, 1, 4])
    cost = [Decimal(c) for c in ("1", "2", "1", "1", "5", "1", "2")]
    prompts = ["Refund?", "Card lost", "refund ?", "REFUND?", "Weather", "refund", "card lost!"]
    found = recurring(outcome, keys, prompts, Dollars.of(cost), top=10)
    assert [(i.requests, i.hits, i.spend_usd, i.saved_usd) for i in found] == [
        (4, 2, Decimal(4), Decimal(2)),
        (2, 1, Decimal(4), Decimal(2)),
    ]
    assert [i.prompt for i in found] == ["Refund?", "Card lost"]  # the first entry, as logged
    assert [i.intent for i in found] == [1, 2]
    assert found[0].share_of_spend == pytest.approx(4 / 13)
    assert recurring(outcome, keys, prompts, Dollars.of(cost), top=1) == found[:1]
    assert recurring(outcome, keys, prompts, Dollars.of(cost), top=0) == []


def test_every_request_gets_an_intent_ranked_as_the_report_lists_them() -> None:
    # Key 0 is the one recurring intent; keys 3, 1 and 2 hold one request each, in that order.
    keys = np.array([3, 0, 1, 0, 2], dtype=np.int64)
    outcome = result([-1, -1, -1, 1, -1], live=[0, 1, 2, 4])
    prompts = ["Weather", "Refund?", "Card lost", "refund", "Hello"]
    found = clusters(outcome, keys, prompts, Dollars.of([Decimal(1)] * 5))
    assert found.of_request.tolist() == [1, 0, 2, 0, 3]  # ranks: the one-offs in time order
    assert found.requests.tolist() == [2, 1, 1, 1] and found.hits.tolist() == [1, 0, 0, 0]
    assert found.first.tolist() == [1, 0, 2, 4] and found.recurring == 1
    assert found.prompts == ["Refund?", "Weather", "Card lost", "Hello"]
    listed = found.listed(10, Decimal(5))
    assert [(i.intent, i.requests, i.prompt) for i in listed] == [(1, 2, "Refund?")]


def test_dollar_sums_are_exact_beyond_decimal_precision() -> None:
    costs = [Decimal("12345678901.123456789012345678"), None, Decimal("0.000000000000000001")]
    costs += [Decimal("-0.5"), Decimal("7")]
    dollars = Dollars.of(costs)
    assert dollars.sum() == Decimal("12345678907.623456789012345679")  # 29 digits: no rounding
    assert dollars.sum(np.array([1, 2])) == Decimal("1E-18")
    assert dollars.sum_by(np.array([0, 1, 1, 0, 2]), 3) == [
        Decimal("12345678900.623456789012345678"),
        Decimal("1E-18"),
        Decimal(7),
    ]
    with pytest.raises(ValueError, match="18 decimals"):
        Dollars.of([Decimal("1E-19")])


def test_health_counts_memory_of_the_live_entries_and_raises_alerts() -> None:
    entry_bytes = np.array([100, 200, 300, 400, 500, 600], dtype=np.int64)
    quiet = health(result([-1, 0, 0, 0, 0, 0], live=[0]), entry_bytes)
    assert quiet.memory_bytes == 100 and quiet.entries_live == 1 and quiet.alerts == []
    loud = health(result([-1, -1, -1, -1, -1, 1], live=[1, 2], expired=5), entry_bytes)
    assert loud.memory_bytes == 500 and (loud.lost_to_ttl, loud.lost_to_eviction) == (5, 0)
    assert [a.split(" ")[0] for a in loud.alerts] == ["hit", "5"]  # low hit rate, short TTL
    assert "TTL may be too short" in loud.alerts[1]
    small = health(result([-1, 0, -1, 2, -1, -1], live=[4, 5], evicted=2), entry_bytes)
    assert small.alerts == [small.alerts[0]] and "too small" in small.alerts[0]


@pytest.fixture
def banking(store: Store, catalogue: Catalogue, tmp_path: Path) -> Store:
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    records[0]["prompt"] = records[1]["prompt"] = EVIL  # a reused key whose text must be escaped
    load(store, catalogue, tmp_path, records)
    return store


def test_the_report_carries_intents_and_health(banking: Store, fake_embedder: FakeEmbedder) -> None:
    options = savings.CacheOptions(thresholds=[0.9, 0.97], embedder="fake", intents=3)
    report = savings.run(banking, options)
    assert report.focus_threshold in (0.9, 0.97)
    focus = next(r for r in report.thresholds if r.threshold == report.focus_threshold)
    # a hit the guard refuses is paid and does not become an entry
    entries = 600 - focus.hits - focus.guard_refused
    assert report.health.entries_live == focus.live_entries_end == entries
    assert report.health.memory_bytes > focus.live_entries_end * (ENTRY_OVERHEAD_BYTES + 4 * 8)
    assert 0 < len(report.intents) <= 3
    assert sum(i.hits for i in report.intents) <= focus.hits
    sizes = [i.requests for i in report.intents]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] >= 2


def test_the_page_draws_the_sweep_and_escapes_log_text(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    thresholds = [0.9, 0.93, 0.96, 0.99]
    # without the guard, the focus threshold lists the intent whose text must be escaped
    options = savings.CacheOptions(thresholds=thresholds, embedder="fake", guard=False)
    report = savings.run(banking, options)
    page = html.render(report)
    assert EVIL not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # self-contained
    marks = parse(page).marks
    bars = [a for _, a in marks["saved"]]
    assert [Decimal(str(a["data-usd"])) for a in bars] == [r.saved_usd for r in report.thresholds]
    points = Counter(str(a["data-series"]) for _, a in marks["rates"])
    judged = sum(r.precision is not None for r in report.thresholds)
    assert points == Counter({"hit rate": len(thresholds), "precision": judged})
    rates = [
        float(str(a["data-share"])) for _, a in marks["rates"] if a["data-series"] == "hit rate"
    ]
    assert rates == pytest.approx([r.hit_rate for r in report.thresholds], abs=1e-6)


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium package")
def test_the_page_draws_in_a_real_browser(
    banking: Store, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    report = savings.run(banking, savings.CacheOptions(thresholds=[0.9, 0.95], embedder="fake"))
    page = tmp_path / "cache.html"
    page.write_text(html.render(report), encoding="utf-8")
    shown = run_chromium(page, tmp_path / "profile", "--dump-dom")
    assert shown.returncode == 0, shown.stderr[-2000:]
    figures = parse(shown.stdout).figures
    judged = sum(r.precision is not None for r in report.thresholds)
    assert {c: f["data-drawn"] for c, f in figures.items()} == {
        "rates": str(2 + judged),
        "saved": str(sum(r.saved_usd > 0 for r in report.thresholds)),  # a $0 bar has no area
    }


def test_the_cli_prints_health_and_intents_and_writes_the_page(
    cli: Cli, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    assert cli("ingest", str(SAMPLE)).exit_code == 0
    page = tmp_path / "cache.html"
    shown = cli(
        "simulate-cache", "--sweep", "0.90:0.96:0.03", "--embedder", "fake", "--html", str(page)
    )
    assert shown.exit_code == 0, shown.output
    assert "Cache health at" in shown.stdout and "Recurring intents at" in shown.stdout
    assert "hit rate" in shown.stdout and page.read_text().startswith("<!doctype html>")
    quiet = cli("simulate-cache", "--threshold", "0.9", "--embedder", "fake", "--intents", "0")
    assert "Recurring intents" not in quiet.stdout
    bad = cli(
        "simulate-cache",
        "--threshold",
        "0.9",
        "--embedder",
        "fake",
        "--html",
        str(tmp_path / "no" / "x.html"),
    )
    assert bad.exit_code == 2 and "cannot write" in bad.output
