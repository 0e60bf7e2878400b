"""simulate-cache end to end on real Banking77 queries, with the deterministic fake embedder."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from costlab.cache import reference, savings, simulate
from costlab.cache.neighbours import neighbours
from costlab.errors import BadInput
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA, Cli, FakeEmbedder, load

SAMPLE = DATA / "banking77" / "support_sample.jsonl"


@pytest.fixture
def banking(store: Store, catalogue: Catalogue, tmp_path: Path) -> Store:
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    load(store, catalogue, tmp_path, records)
    return store


def _options(**kwargs: object) -> savings.CacheOptions:
    return savings.CacheOptions(embedder="fake", **kwargs)  # type: ignore[arg-type]


def test_hits_and_savings_match_an_independent_replay(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    result = savings.run(banking, _options(thresholds=[0.97], label="metadata.intent", guard=False))
    row = result.thresholds[0]
    assert result.requests == 600 and row.hits > 0
    # The same replay, one request at a time, on the same vectors and order.
    texts, costs = zip(
        *banking.rows("SELECT prompt, cost_usd FROM requests ORDER BY ts, request_id"), strict=True
    )
    from costlab.cache.normalize import normalize

    keys = [normalize(t) for t in texts]
    ids: dict[str, int] = {}
    traffic = simulate.Traffic(
        ts=np.arange(600, dtype=np.float64),
        scope=np.zeros(600, dtype=np.int64),
        keys=np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64),
    )
    naive = reference.naive(FakeEmbedder().encode(list(ids)), traffic, 0.97)
    assert row.hits == int(naive.hit.sum())
    assert row.saved_usd == sum((c for c, h in zip(costs, naive.hit, strict=True) if h), Decimal(0))
    assert fake_embedder.texts == 600  # every distinct key embedded once


def test_label_precision_and_the_recommendation(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    result = savings.run(
        banking, _options(thresholds=[0.9, 0.97, 0.999], label="metadata.intent", min_precision=0)
    )
    by = {r.threshold: r for r in result.thresholds}
    assert [r.threshold for r in result.thresholds] == [0.9, 0.97, 0.999]
    assert by[0.9].hits >= by[0.97].hits >= by[0.999].hits
    assert all(r.precision is None or 0 <= r.precision <= 1 for r in result.thresholds)
    assert (
        result.recommended_threshold == max(result.thresholds, key=lambda r: r.saved_usd).threshold
    )


def test_ttl_and_capacity_only_lose_hits(banking: Store, fake_embedder: FakeEmbedder) -> None:
    free = savings.run(banking, _options(thresholds=[0.95])).thresholds[0]
    tight = savings.run(banking, _options(thresholds=[0.95], ttl_s=600, max_entries=20)).thresholds[
        0
    ]
    assert tight.hits < free.hits
    assert tight.expired_misses + tight.evicted_misses > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": [1.5]}, "outside"),
        ({"thresholds": []}, "no threshold"),
        ({"thresholds": [0.9], "key": "body"}, "--key"),
        ({"thresholds": [0.9], "cache_scope": ("colour",)}, "--scope"),
        ({"thresholds": [0.9], "label": "colour"}, "--label"),
    ],
)
def test_bad_options_are_clear_errors(
    banking: Store, fake_embedder: FakeEmbedder, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        savings.run(banking, _options(**kwargs))


def test_an_empty_store_is_a_clear_error(store: Store, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(BadInput, match="no requests with prompt text"):
        savings.run(store, _options(thresholds=[0.9]))


def test_the_cli_sweep_and_json(tmp_path: Path, cli: Cli, fake_embedder: FakeEmbedder) -> None:
    assert cli("ingest", str(SAMPLE)).exit_code == 0
    result = cli("simulate-cache", "--sweep", "0.90:0.99:0.03", "--embedder", "fake", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t["threshold"] for t in data["thresholds"]] == [0.9, 0.93, 0.96, 0.99]
    assert data["requests"] == 600 and data["embedder"] == "fake-8"
    table = cli("simulate-cache", "--threshold", "0.95", "--embedder", "fake", "--ttl", "24h")
    assert table.exit_code == 0 and "Semantic cache over 600 requests" in table.stdout
    for bad in (["--sweep", "0.9:0.8:0.01"], ["--ttl", "soon"], []):
        assert cli("simulate-cache", "--embedder", "fake", *bad).exit_code == 2


def test_neighbour_lists_cover_every_pair_above_the_minimum() -> None:
    rng = np.random.default_rng(3)
    v = rng.normal(size=(50, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    lists = neighbours(v, 0.3, block=7)
    sims = v @ v.T
    expected = int((sims >= np.float32(0.3)).sum())
    assert int(lists.offsets[-1]) == expected


def test_approximate_neighbours_check_themselves_and_agree_here(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    exact = savings.run(banking, _options(thresholds=[0.9, 0.95], neighbours="exact"))
    assert exact.index.neighbours == "exact" and exact.approximation is None
    approx = savings.run(banking, _options(thresholds=[0.9, 0.95], neighbours="approx"))
    assert approx.index.neighbours == "approx" and approx.index.reused  # exact lists serve it
    check = approx.approximation
    assert check is not None and check.sample_keys == min(savings.fidelity.SAMPLE, check.keys)
    assert [t.threshold for t in check.thresholds] == [0.9, 0.95]
    # 600 requests: the index has few cells and scans them all, so it agrees exactly
    assert [r.hits for r in approx.thresholds] == [r.hits for r in exact.thresholds]
    assert check.within_goal and check.max_deviation == 0


def test_auto_searches_exactly_up_to_a_size(
    banking: Store, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert savings.run(banking, _options(thresholds=[0.9])).index.neighbours == "exact"
    monkeypatch.setattr(savings, "EXACT_UP_TO", 10)
    assert savings.run(banking, _options(thresholds=[0.9])).index.neighbours == "approx"


def test_the_cli_shows_the_index_and_the_check(cli: Cli, fake_embedder: FakeEmbedder) -> None:
    assert cli("ingest", str(SAMPLE)).exit_code == 0
    args = ["simulate-cache", "--threshold", "0.9", "--embedder", "fake", "--neighbours", "approx"]
    table = cli(*args, "--check-sample", "50")
    assert table.exit_code == 0, table.output
    assert "neighbours: approx" in table.stdout and "checked on 50 random texts" in table.stdout
    data = json.loads(cli(*args, "--json").stdout)
    assert data["index"]["neighbours"] == "approx" and data["index"]["reused"] is True
    assert data["approximation"]["thresholds"][0]["threshold"] == 0.9
    assert "within_goal" in data["approximation"] and data["embedder_reason"] == "--embedder fake"
    exact = json.loads(cli(*args[:-2], "--neighbours", "exact", "--json").stdout)
    assert exact["approximation"] is None and exact["index"]["neighbours"] == "exact"
    bad = cli(*args[:-2], "--neighbours", "fast")
    assert bad.exit_code == 2 and "--neighbours fast" in bad.stderr


def test_an_approximate_rerun_checks_itself_from_the_store_without_vectors(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    label = "metadata.intent"  # no response to embed for the precision
    first = savings.run(banking, _options(thresholds=[0.9, 0.95], neighbours="approx", label=label))
    assert first.approximation is not None
    assert banking.row("SELECT count(DISTINCT key) FROM entry_samples") == (
        first.approximation.sample_keys,
    )
    embedded = fake_embedder.texts
    banking.execute("DELETE FROM embeddings")  # a run that reads a vector must embed it again
    other = _options(thresholds=[0.95], neighbours="approx", label=label)  # needs no search
    again = savings.run(banking, other)
    assert fake_embedder.texts == embedded and again.approximation is not None
    assert again.index.reused and again.index.searched == 0

    banking.execute("DELETE FROM entry_samples")  # the same check, from the vectors
    fresh = savings.run(banking, other)
    assert fake_embedder.texts > embedded
    assert fresh.approximation == again.approximation
    assert [t.hits for t in fresh.thresholds] == [t.hits for t in again.thresholds]
    lower = savings.run(banking, _options(thresholds=[0.8], neighbours="approx", label=label))
    assert lower.approximation is not None  # below the kept floor: made again from the vectors
    assert banking.row("SELECT min(floor) FROM entry_samples") == (np.float32(0.8),)
