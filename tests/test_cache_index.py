"""The similarity index kept in the store: reused when it covers a run, rebuilt when it does not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from costlab.cache import index, savings
from costlab.cache.neighbours import Neighbours, neighbours
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA, FakeEmbedder, load


def clustered(n: int, seed: int = 7) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16))
    v = centres[rng.integers(6, size=n)] + 0.3 * rng.normal(size=(n, 16))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def same(a: Neighbours, b: Neighbours, exact: bool = True) -> None:
    assert a.n == b.n
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.index, b.index)
    if exact:
        np.testing.assert_array_equal(a.similarity, b.similarity)
    else:  # products over other blocks: the same pairs, last bits may differ
        np.testing.assert_allclose(a.similarity, b.similarity, rtol=1e-6)


class Counted:
    """The vectors callback, counting calls: a reused index must not ask for vectors."""

    def __init__(self, vectors: npt.NDArray[np.float32]) -> None:
        self.vectors, self.calls = vectors, 0

    def __call__(self) -> npt.NDArray[np.float32]:
        self.calls += 1
        return self.vectors


def test_a_run_covered_by_the_stored_set_reads_it(store: Store) -> None:
    vectors = clustered(300)
    hashes = [f"{k:04d}" for k in range(300)]
    built, reused = index.lists(store, "e", hashes, 0.7, Counted(vectors))
    assert not reused
    same(built, neighbours(vectors, 0.7))

    again = Counted(vectors)
    read, reused = index.lists(store, "e", hashes, 0.8, again)  # a higher minimum is covered
    assert reused and again.calls == 0
    same(read, built)

    subset = np.array(sorted(np.random.default_rng(1).choice(300, 120, replace=False)))
    part, reused = index.lists(store, "e", [hashes[k] for k in subset], 0.7, again)
    assert reused and again.calls == 0
    same(part, neighbours(vectors[subset], 0.7), exact=False)


def test_a_run_the_stored_set_does_not_cover_rebuilds(store: Store) -> None:
    vectors = clustered(200)
    hashes = [f"{k:04d}" for k in range(200)]
    index.lists(store, "e", hashes[:150], 0.8, Counted(vectors[:150]))

    lower = Counted(vectors[:150])
    _, reused = index.lists(store, "e", hashes[:150], 0.6, lower)  # below the stored minimum
    assert not reused and lower.calls == 1
    assert store.row("SELECT min_threshold, keys FROM neighbour_sets") == (0.6, 150)

    small = Counted(vectors[150:])
    _, reused = index.lists(store, "e", hashes[150:], 0.6, small)  # new texts, fewer: not kept
    assert not reused and store.row("SELECT keys FROM neighbour_sets") == (150,)

    wider = Counted(vectors)
    built, reused = index.lists(store, "e", hashes, 0.6, wider)  # more texts: replaces the set
    assert not reused and store.row("SELECT keys FROM neighbour_sets") == (200,)
    assert store.row("SELECT count(*) FROM neighbour_lists") == (200,)
    same(index.lists(store, "e", hashes, 0.6, wider)[0], built)

    _, reused = index.lists(store, "other", hashes, 0.6, Counted(vectors))  # per embedder
    assert not reused


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

    store.execute("DELETE FROM neighbour_sets")
    store.execute("DELETE FROM neighbour_lists")
    fresh = savings.run(store, other)
    assert second.thresholds == fresh.thresholds
    assert first.thresholds[0].hits >= second.thresholds[0].hits
