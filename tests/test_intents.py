"""costlab intents: the known groups recovered, independent of order, measured against labels,
stored for route-replay, sampled-and-assigned above the full size, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costlab import intents, prices
from costlab.cache import savings
from costlab.cache.dollars import Dollars
from costlab.errors import BadInput
from costlab.intents import agglomerative, groups
from costlab.routing import derived
from costlab.store import Store
from tests.conftest import Cli, FakeEmbedder, load, write_jsonl
from tests.intent_fixtures import IDS, SIZES, THRESHOLD, expected, records


def labelled(start: int = 0) -> list[dict[str, Any]]:
    """The fixture's requests with their group as metadata.intent."""
    truth = expected(start)
    return [r | {"intent": truth[r["request_id"]]} for r in records(start=start)]


def embedded(store: Store, catalogue: prices.Catalogue, tmp_path: Path, rows: list[Any]) -> Store:
    """The requests ingested and their prompts embedded (by simulate-cache, the real path)."""
    load(store, catalogue, tmp_path, rows)
    options = savings.CacheOptions(thresholds=[THRESHOLD], embedder="fake", save_intents=False)
    savings.run(store, options)
    return store


@pytest.fixture
def small(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> Store:
    return embedded(store, catalogue, tmp_path, labelled())


def stored_groups(store: Store) -> dict[str, int]:
    return dict(store.rows("SELECT request_id, intent FROM request_intents"))


def test_agglomerative_finds_the_known_groups_ranked_as_the_cache_report(small: Store) -> None:
    result = intents.run(small, intents.IntentsOptions(min_similarity=THRESHOLD))
    truth = expected()
    assert stored_groups(small) == {rid: IDS[group] for rid, group in truth.items()}
    assert [(i.intent, i.requests) for i in result.listed] == [(1, 5), (2, 3), (3, 2)]
    assert (result.intents, result.recurring, result.requests) == (5, 3, 12)
    assert result.recurring_share == pytest.approx(10 / 12)
    for listed in result.listed:  # the medoid is one of the intent's own prompts
        name = next(g for g, n in IDS.items() if n == listed.intent)
        assert listed.prompt.split()[0].lower().startswith(name[:4])
        assert 0.99 < listed.cohesion <= 1.0
    assert float(sum(i.spend_usd for i in result.listed) / result.spend_usd) == pytest.approx(
        sum(i.share_of_spend for i in result.listed)
    )


def test_the_intents_do_not_depend_on_the_order_of_the_requests(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    rows = labelled()
    stamps = [r["timestamp"] for r in rows]
    for row, stamp in zip(rows, reversed(stamps), strict=True):
        row["timestamp"] = stamp
    embedded(store, catalogue, tmp_path, rows)
    intents.run(store, intents.IntentsOptions(min_similarity=THRESHOLD))
    found = stored_groups(store)
    by_group: dict[str, set[int]] = {}
    for rid, group in expected().items():
        by_group.setdefault(group, set()).add(found[rid])
    assert all(len(ids) == 1 for ids in by_group.values())
    assert len({next(iter(ids)) for ids in by_group.values()}) == len(SIZES)


def test_agreement_with_labels(small: Store) -> None:
    exact = intents.run(
        small, intents.IntentsOptions(min_similarity=THRESHOLD, label="metadata.intent")
    )
    assert exact.agreement is not None
    assert exact.agreement.adjusted_rand == pytest.approx(1.0)
    assert (exact.agreement.requests, exact.agreement.labels) == (12, 5)
    # Every prompt within 0.5 of the others: one intent, complete but not homogeneous.
    merged = intents.run(
        small, intents.IntentsOptions(min_similarity=0.05, label="metadata.intent")
    )
    assert merged.agreement is not None and merged.intents < 5
    assert merged.agreement.completeness == pytest.approx(1.0)
    assert merged.agreement.homogeneity < 1.0
    assert merged.agreement.adjusted_rand < 1.0


def test_route_replay_reads_the_stored_intents_and_says_where_they_came_from(small: Store) -> None:
    intents.run(small, intents.IntentsOptions(min_similarity=THRESHOLD))
    derived.create_view(small)
    sizes = dict(small.rows(f"SELECT request_id, intent_size FROM {derived.VIEW}"))
    assert sizes == {rid: SIZES[group] for rid, group in expected().items()}
    notes = derived.intent_notes(small, ["intent_size > 1"], intents.IntentsOptions().scope)
    assert "costlab intents --method agglomerative at similarity 0.95" in notes[0]
    row = small.row("SELECT method FROM intent_sets")
    assert row == ("agglomerative",)
    assert small.row("SELECT count(*) FROM intents WHERE hits IS NULL AND cohesion > 0") == (5,)


def test_leader_method_is_the_cache_replays_grouping(small: Store) -> None:
    savings.run(small, savings.CacheOptions(thresholds=[THRESHOLD], embedder="fake"))
    replayed = stored_groups(small)
    intents.run(small, intents.IntentsOptions(method="leader", min_similarity=THRESHOLD))
    assert _partition(stored_groups(small)) == _partition(replayed)


def _partition(assigned: dict[str, int]) -> set[frozenset[str]]:
    found: dict[int, set[str]] = {}
    for rid, group in assigned.items():
        found.setdefault(group, set()).add(rid)
    return {frozenset(ids) for ids in found.values()}


def blobs(per: int, centres: int, dim: int = 16, spread: float = 0.05, seed: int = 1) -> Any:
    """Unit vectors in `centres` tight, well separated groups; the group of each."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim))
    truth = np.repeat(np.arange(centres), per)
    points = middle[truth] + spread * rng.normal(size=(len(truth), dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    middle_norm = middle / np.linalg.norm(middle, axis=1, keepdims=True)
    assert (middle_norm @ middle_norm.T - np.eye(centres)).max() < 0.8
    return points.astype(np.float32), truth


def test_sample_and_assign_agrees_with_the_full_clustering_on_clear_groups() -> None:
    points, truth = blobs(per=60, centres=6)
    whole = agglomerative.cluster(points, 0.9)
    sampled = agglomerative.cluster(points, 0.9, full_up_to=100, sample=80, seed=3)
    assert whole.sampling is None and sampled.sampling is not None
    assert _same(whole.labels, truth) and _same(sampled.labels, truth)
    s = sampled.sampling
    assert s.prompts == 360 and s.sampled + s.assigned + s.alone == 360 and s.rounds >= 1


def test_what_no_sample_cluster_takes_is_clustered_in_a_later_round() -> None:
    common, _ = blobs(per=150, centres=1, seed=4)
    rare, _ = blobs(per=3, centres=1, seed=5)  # too rare for the first sample to hold
    points = np.concatenate([common, rare])
    found = agglomerative.cluster(points, 0.9, full_up_to=40, sample=30, seed=0)
    assert len(set(found.labels[:150].tolist())) == 1
    assert len(set(found.labels[150:].tolist())) == 1
    assert found.labels[0] != found.labels[150]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The two labellings make the same partition."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_cohesion_and_medoid_are_the_brute_force_ones() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(9, 5)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    group = np.array([0, 0, 1, 0, 1, 2, 0, 1, 0, 1], dtype=np.int64)
    key = np.array([0, 1, 2, 3, 4, 5, 1, 6, 7, 8], dtype=np.int64)  # key 1 asked twice
    dollars = Dollars.of([None] * len(group))
    found = groups.describe(group, key, vectors, lambda i: f"p{key[i]}", dollars, 0.5)
    for rank, size in enumerate(found.clusters.requests.tolist()):
        members = np.unique(key[found.clusters.of_request == rank])
        sims = vectors[members] @ vectors[members].T
        m = len(members)
        brute = 1.0 if m == 1 else (sims.sum() - np.trace(sims)) / (m * (m - 1))
        assert found.cohesion[rank] == pytest.approx(brute, abs=1e-6)
        medoid = members[int(np.argmax(sims.sum(axis=1)))]
        assert found.clusters.prompts[rank] == f"p{medoid}"
        assert found.prompts[rank] == m and size >= m


def test_bad_input_is_a_clear_error(small: Store, tmp_path: Path, cli: Cli) -> None:
    with pytest.raises(BadInput, match="--method kmeans: unknown"):
        intents.run(small, intents.IntentsOptions(method="kmeans"))
    with pytest.raises(BadInput, match="outside"):
        intents.run(small, intents.IntentsOptions(min_similarity=1.5))
    with pytest.raises(BadInput, match="--embedder minilm: no stored vector"):
        intents.run(small, intents.IntentsOptions(embedder="minilm"))
    with pytest.raises(BadInput, match="no request in scope has one"):
        intents.run(small, intents.IntentsOptions(label="metadata.nothing"))
    write_jsonl(tmp_path / "log.jsonl", labelled())
    assert cli("ingest", str(tmp_path / "log.jsonl")).exit_code == 0
    before = cli.db.read_bytes()
    out = cli("intents")
    assert out.exit_code == 2
    assert "no stored embeddings" in out.output and "costlab simulate-cache" in out.output
    assert "Traceback" not in out.output
    assert cli.db.read_bytes() == before  # nothing written by a failed run


def test_cli_lists_the_intents_and_json_is_the_library_result(
    cli: Cli, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    write_jsonl(tmp_path / "log.jsonl", labelled())
    assert cli("ingest", str(tmp_path / "log.jsonl")).exit_code == 0
    assert cli("simulate-cache", "--threshold", "0.95", "--embedder", "fake").exit_code == 0
    shown = cli("intents", "--min-similarity", "0.95", "--label", "metadata.intent")
    assert shown.exit_code == 0, shown.output
    assert "adjusted Rand 1.000" in shown.output and "cohesion" in shown.output
    out = cli("intents", "--min-similarity", "0.95", "--json", "--no-save")
    data = json.loads(out.stdout)
    assert [i["requests"] for i in data["listed"]] == [5, 3, 2]
    assert data["method"] == "agglomerative" and data["saved"] is False


def test_the_index_finds_the_nearest_cluster_and_measures_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from costlab.intents import nearest

    points, truth = blobs(per=40, centres=30, seed=9)
    means = np.stack([points[truth == c].mean(axis=0) for c in range(30)]).astype(np.float32)
    exact, exact_similarity, none = nearest.best(points, means)
    assert none is None and (exact == truth).all()
    monkeypatch.setattr(nearest, "EXACT_PRODUCTS", 0)
    found, similarity, check = nearest.best(points, means)
    assert check is not None and 0.9 <= check <= 1.0
    assert (found == exact).mean() >= 0.9
    assert np.allclose(similarity[found == exact], exact_similarity[found == exact], atol=1e-5)
