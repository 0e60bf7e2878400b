"""The index kept in the store: reused when it serves a run, extended when it must."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from costlab.cache import index, reference, savings, simulate
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA, FakeEmbedder, load
from tests.test_cache_simulate import assert_same

THRESHOLDS = [0.7, 0.8, 0.9]


def clustered(n: int, seed: int = 7) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16))
    v = centres[rng.integers(6, size=n)] + 0.3 * rng.normal(size=(n, 16))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class Counted:
    """The vectors callback, counting calls: a reused index must not ask for vectors."""

    def __init__(self, vectors: npt.NDArray[np.float32]) -> None:
        self.vectors, self.calls = vectors, 0

    def __call__(self) -> npt.NDArray[np.float32]:
        self.calls += 1
        return self.vectors


def traffic_over(keys: npt.NDArray[np.int64], seed: int = 2) -> simulate.Traffic:
    """Requests for `keys` (some asked twice) at random times over 10 hours, two scopes."""
    rng = np.random.default_rng(seed)
    asked = np.concatenate([keys, rng.choice(keys, len(keys) // 2)])
    ts = np.sort(rng.uniform(0, 36_000, len(asked)))
    return simulate.Traffic(ts, rng.integers(0, 2, len(asked)), rng.permutation(asked))


def request(
    hashes: list[str],
    traffic: simulate.Traffic,
    settings: simulate.CacheSettings = simulate.CacheSettings(),  # noqa: B008
    mode: index.Mode = "exact",
    embedder: str = "e",
) -> index.Request:
    return index.Request(embedder, hashes, traffic, THRESHOLDS, settings, mode)


def assert_naive(
    got: index.Replayed,
    vectors: npt.NDArray[np.float32],
    traffic: simulate.Traffic,
    settings: simulate.CacheSettings = simulate.CacheSettings(),  # noqa: B008
) -> None:
    for result, threshold in zip(got.built.results, THRESHOLDS, strict=True):
        assert_same(result, reference.naive(vectors, traffic, threshold, settings))


def test_a_rerun_reads_the_stored_lists_and_needs_no_vectors(store: Store) -> None:
    vectors = clustered(300)
    hashes = [f"{k:04d}" for k in range(300)]
    traffic = traffic_over(np.arange(300))
    first = index.replay(store, request(hashes, traffic), Counted(vectors))
    assert not first.reused
    assert_naive(first, vectors, traffic)
    assert store.row("SELECT keys, search FROM entry_sets") == (300, "exact")

    again = Counted(vectors)
    second = index.replay(store, request(hashes, traffic), again)
    assert second.reused and again.calls == 0
    assert_naive(second, vectors, traffic)


def test_other_settings_extend_the_lists_where_they_must(store: Store) -> None:
    vectors = clustered(300)
    hashes = [f"{k:04d}" for k in range(300)]
    traffic = traffic_over(np.arange(300))
    index.replay(store, request(hashes, traffic), Counted(vectors))
    short = simulate.CacheSettings(ttl_s=600.0, max_entries=20)  # far more entries
    again = Counted(vectors)
    got = index.replay(store, request(hashes, traffic, short), again)
    assert got.reused and got.built.searched > 0 and again.calls == 1
    assert_naive(got, vectors, traffic, short)
    third = Counted(vectors)  # the extension was kept: the same run needs nothing now
    assert_naive(
        index.replay(store, request(hashes, traffic, short), third), vectors, traffic, short
    )
    assert third.calls == 0


def test_new_texts_extend_the_stored_lists_and_equal_a_rebuild(store: Store) -> None:
    vectors = clustered(400)
    hashes = [f"{k:04d}" for k in range(400)]
    old = np.arange(0, 400, 2)  # half the texts first
    index.replay(
        store,
        request([hashes[k] for k in old], traffic_over(np.arange(200))),
        Counted(vectors[old]),
    )
    traffic = traffic_over(np.arange(400), seed=5)
    grown = index.replay(store, request(hashes, traffic), Counted(vectors))
    assert grown.reused and grown.new_keys == 200
    assert_naive(grown, vectors, traffic)
    assert store.row("SELECT keys FROM entry_sets") == (400,)

    store.execute("DELETE FROM entry_sets")
    store.execute("DELETE FROM entry_lists")
    rebuilt = index.replay(store, request(hashes, traffic), Counted(vectors))
    assert not rebuilt.reused
    for a, b in zip(grown.built.results, rebuilt.built.results, strict=True):
        assert_same(a, b)


def test_a_subset_reads_the_store_and_leaves_it_whole(store: Store) -> None:
    vectors = clustered(300)
    hashes = [f"{k:04d}" for k in range(300)]
    index.replay(store, request(hashes, traffic_over(np.arange(300))), Counted(vectors))
    subset = np.array(sorted(np.random.default_rng(1).choice(300, 120, replace=False)))
    traffic = traffic_over(np.arange(120))
    short = simulate.CacheSettings(ttl_s=300.0)
    got = index.replay(
        store, request([hashes[k] for k in subset], traffic, short), Counted(vectors[subset])
    )
    assert got.reused
    assert_naive(got, vectors[subset], traffic, short)
    assert store.row("SELECT keys FROM entry_sets") == (300,)


def test_an_exact_run_never_starts_from_an_index_and_embedders_are_apart(store: Store) -> None:
    vectors = clustered(300)
    hashes = [f"{k:04d}" for k in range(300)]
    traffic = traffic_over(np.arange(300))
    index.replay(store, request(hashes, traffic, mode="approx"), Counted(vectors))
    assert store.row("SELECT search, probes FROM entry_sets") == ("approx", index.PROBES)
    exact = index.replay(store, request(hashes, traffic), Counted(vectors))
    assert not exact.reused
    assert_naive(exact, vectors, traffic)
    other = index.replay(store, request(hashes, traffic, embedder="other"), Counted(vectors))
    assert not other.reused


def test_a_rerun_with_other_settings_embeds_nothing_and_agrees(
    store: Store, catalogue: Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    sample = DATA / "banking77" / "support_sample.jsonl"
    load(store, catalogue, tmp_path, [json.loads(x) for x in sample.read_text().splitlines()])
    options = savings.CacheOptions(thresholds=[0.9, 0.95], embedder="fake")
    first = savings.run(store, options)
    embedded = fake_embedder.texts
    assert embedded > 0

    other = savings.CacheOptions(thresholds=[0.92, 0.97], embedder="fake", ttl_s=3600.0)
    second = savings.run(store, other)
    assert fake_embedder.texts == embedded  # the index and the vectors came from the store

    store.execute("DELETE FROM entry_sets")
    store.execute("DELETE FROM entry_lists")
    fresh = savings.run(store, other)
    assert second.thresholds == fresh.thresholds
    assert first.thresholds[0].hits >= second.thresholds[0].hits
