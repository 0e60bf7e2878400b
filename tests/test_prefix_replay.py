"""Known answers: a template of 2,000 static + 50 variable tokens sent 100 times in 5 minutes
saves exactly what the price arithmetic says, under each provider's rule."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from costlab import prices
from costlab.prefix import replay, report, rules
from costlab.prefix.traffic import Traffic
from costlab.store import Store
from tests.conftest import load
from tests.prefix_fixtures import static_first, variable_first


def _price(catalogue: prices.Catalogue, model: str) -> prices.PricePoint:
    return next(p for p in catalogue.points([model]) if not p.batch and not p.above_tokens)


def _run(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path, records: list, **options: object
) -> report.PrefixReport:
    load(store, catalogue, tmp_path, records)
    return report.run(store, report.PrefixOptions(**options), catalogue)  # type: ignore[arg-type]


def test_openai_automatic_caching_saves_the_arithmetic(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    result = _run(store, catalogue, tmp_path, static_first("gpt-4o"))
    p = _price(catalogue, "gpt-4o")
    assert p.input is not None and p.cache_read is not None
    # Requests 2..100 read the longest cacheable length: 1,024 + 7 * 128 = 1,920 of the 2,000.
    assert result.total.saved_usd == 99 * 1920 * (p.input - p.cache_read)
    assert result.total.saved_usd == Decimal("0.2376")
    assert result.total.possible_cached_tokens == 99 * 1920
    assert result.total.possible_write_tokens == 0
    assert result.total.with_cache_usd == result.total.logged_usd - result.total.saved_usd
    assert [t.prefix_tokens for t in result.templates] == [1920]


def test_anthropic_breakpoint_saves_the_arithmetic(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    result = _run(store, catalogue, tmp_path, static_first("claude-sonnet-4-5"))
    p = _price(catalogue, "claude-sonnet-4-5")
    assert p.input and p.cache_read and p.cache_write_5m
    # One 5-minute write of the 2,000 static tokens, then 99 reads; the 50 variable stay input.
    cached = 2000 * p.cache_write_5m + 99 * 2000 * p.cache_read
    assert result.total.saved_usd == 100 * 2000 * p.input - cached
    assert result.total.saved_usd == Decimal("0.5331")
    [template] = result.templates
    assert (template.breakpoint, template.ttl, template.gaps) == (
        "after segment 1",
        "5m",
        (99, 0, 0),
    )
    assert template.break_even == (p.cache_write_1h - p.cache_write_5m) / (  # type: ignore[operator]
        p.cache_write_5m - p.cache_read
    )


def test_anthropic_picks_the_one_hour_ttl_when_gaps_pass_five_minutes(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = static_first("claude-sonnet-4-5", count=6, span_s=50 * 60)  # 10-minute gaps
    result = _run(store, catalogue, tmp_path, records)
    p = _price(catalogue, "claude-sonnet-4-5")
    assert p.input and p.cache_read and p.cache_write_1h
    [template] = result.templates
    assert (template.ttl, template.gaps) == ("1h", (0, 5, 0))
    cached = 2000 * p.cache_write_1h + 5 * 2000 * p.cache_read
    assert result.total.saved_usd == 6 * 2000 * p.input - cached


def test_haiku_needs_2048_tokens_so_nothing_is_cached(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    result = _run(store, catalogue, tmp_path, static_first("claude-haiku-4-5"))
    assert result.total.saved_usd == 0
    assert result.templates[0].breakpoint == "none"


def test_openai_idle_expiry_is_a_documented_overridable_default(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = static_first("gpt-4o", count=6, span_s=50 * 60)  # 10-minute gaps, past 300 s
    load(store, catalogue, tmp_path, records)
    cold = report.run(store, report.PrefixOptions(), catalogue)
    assert cold.total.saved_usd == 0
    warm = report.run(
        store, report.PrefixOptions(overrides=("openai.idle_expiry_s=900",)), catalogue
    )
    p = _price(catalogue, "gpt-4o")
    assert warm.total.saved_usd == 5 * 1920 * (p.input - p.cache_read)  # type: ignore[operator]


def test_one_traffic_under_each_rule(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, static_first("claude-sonnet-4-5"))
    as_openai = report.run(store, report.PrefixOptions(rules="openai"), catalogue)
    assert as_openai.templates[0].rule == "openai"
    assert as_openai.total.possible_cached_tokens == 99 * 1920
    as_anthropic = report.run(store, report.PrefixOptions(rules="anthropic"), catalogue)
    assert as_anthropic.total.possible_cached_tokens == 99 * 2000


def test_cache_hits_already_logged_are_shown_beside_the_possible(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = static_first("gpt-4o")
    for record in records[1:]:
        record["cached_input_tokens"] = 1024
    result = _run(store, catalogue, tmp_path, records)
    p = _price(catalogue, "gpt-4o")
    assert result.total.logged_cached_tokens == 99 * 1024
    assert result.total.possible_cached_tokens == 99 * 1920
    assert result.total.saved_usd == 99 * (1920 - 1024) * (p.input - p.cache_read)  # type: ignore[operator]


def test_a_variable_first_template_shows_a_reorder_of_the_right_size(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    result = _run(store, catalogue, tmp_path, variable_first("gpt-4o-mini"))
    assert result.total.saved_usd == 0  # nothing is shared at the start
    [reorder] = result.reorders
    assert (reorder.requests, reorder.variable_tokens, reorder.static_tokens) == (100, 50, 2000)
    assert reorder.static_prefix_tokens == 0
    assert reorder.cacheable_tokens == 1920  # the automatic rule caches whole 128-token steps
    p = _price(catalogue, "gpt-4o-mini")
    assert reorder.saved_usd == 99 * 1920 * (p.input - p.cache_read)  # type: ignore[operator]
    assert reorder.static_head.startswith("hello hello")


def test_a_reorder_under_breakpoints_makes_the_whole_static_part_cacheable(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    result = _run(store, catalogue, tmp_path, variable_first("claude-sonnet-4-5"))
    [reorder] = result.reorders
    assert (reorder.static_tokens, reorder.cacheable_tokens) == (2000, 2000)


def test_a_static_first_template_has_no_reorder(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    assert _run(store, catalogue, tmp_path, static_first("gpt-4o")).reorders == []


def test_a_template_edit_inside_the_cached_prefix_is_warned(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = static_first("gpt-4o", count=20)
    edited = " hello" * 1000 + " bye" + " hello" * 999
    for record in records[10:]:
        record["system_prompt"] = edited
    result = _run(store, catalogue, tmp_path, records)
    changes = [w for w in result.warnings if "changed" in w]
    assert len(changes) == 1 and "first 1,000 of 2,000 tokens" in changes[0]


def test_requests_without_prompt_text_are_counted_and_keep_their_cost(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = static_first("gpt-4o", count=3)
    records.append({**records[0], "request_id": "bare", "system_prompt": None, "prompt": None})
    result = _run(store, catalogue, tmp_path, records)
    assert result.replayed == 3
    assert any("1 requests have no prompt text" in n for n in result.notes)


def _naive(
    tokens: list[list[int]], ts: list[float], first: int, step: int, idle: float
) -> list[int]:
    """The automatic rule one request at a time, by comparing with every earlier request."""
    cached = []
    for i, mine in enumerate(tokens):
        best, length = 0, first
        while length <= len(mine):
            last = max(
                (
                    ts[j]
                    for j in range(i)
                    if len(tokens[j]) >= length and tokens[j][:length] == mine[:length]
                ),
                default=None,
            )
            if last is None or ts[i] - last > idle:
                break
            best, length = length, length + step
        cached.append(best)
    return cached


def _traffic(tokens: list[list[int]], ts: list[float]) -> Traffic:
    n = len(tokens)
    return Traffic(
        request_ids=[str(i) for i in range(n)], ts_s=list(ts), providers=["openai"] * n,
        models=["m"] * n, features=["f"] * n, input_tokens=np.full(n, 10_000, np.int64),
        logged_cached=np.zeros(n, np.int64), logged_written=np.zeros(n, np.int64),
        batch=[False] * n, cost_usd=[None] * n, latency_ms=[None] * n,
        sequence=np.arange(n, dtype=np.int64),
        tokens=[np.asarray(t, np.uint32) for t in tokens],
        segment_ends=[[len(t)] for t in tokens], segment_ids=[(i,) for i in range(n)],
        segment_texts=[""] * n, short=np.zeros(n, bool),
    )  # fmt: skip


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_the_trie_replay_equals_the_naive_pairwise_replay(
    seed: int, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compiled:  # the walk numba compiles, as a large replay runs it
        pytest.importorskip("numba")
        monkeypatch.setattr(replay, "COMPILE_FROM", 0)
    rng = random.Random(seed)
    stems = [[rng.randrange(3) for _ in range(12)] for _ in range(3)]
    tokens = [rng.choice(stems)[: rng.randrange(4, 13)] + [rng.randrange(3)] for _ in range(60)]
    ts = sorted(rng.uniform(0, 600) for _ in tokens)
    rule = rules.Rule(
        name="openai", kind="automatic", min_tokens=4, small_model_min_tokens=4,
        increment_tokens=2, idle_expiry_s=60.0, ttl_5m_s=300, ttl_1h_s=3600, lookback_blocks=0,
        read_multiplier=Decimal("0.5"), write_5m_multiplier=Decimal(1),
        write_1h_multiplier=Decimal(1),
    )  # fmt: skip
    one = Decimal(1)
    result = replay.replay(
        _traffic(tokens, ts), ["openai"] * len(tokens), {"openai": rule},
        {"m": replay.UnitPrices(one, one, one, one)},
    )  # fmt: skip
    assert result.cached.tolist() == _naive(tokens, ts, 4, 2, 60.0)
