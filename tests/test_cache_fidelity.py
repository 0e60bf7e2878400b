"""An approximate run measures itself: the sample check sees what a narrow index missed."""

from __future__ import annotations

import numpy as np

from costlab.cache import entries, fidelity
from costlab.cache.search import ExactSearch, IndexSearch, Search
from costlab.cache.simulate import CacheSettings, Traffic
from tests.test_cache_search import clustered

THRESHOLDS = [0.7, 0.8, 0.9]


def replayed(search: Search, traffic: Traffic) -> entries.Built:
    start = entries.seed(search)
    return entries.build(traffic, THRESHOLDS, CacheSettings(), start, lambda: search)


def test_the_check_finds_the_hits_a_narrow_index_lost() -> None:
    v = clustered(3000, dim=32, seed=9)
    rng = np.random.default_rng(1)
    traffic = Traffic(
        np.sort(rng.uniform(0, 1000, 4000)), np.zeros(4000, np.int64), rng.integers(0, 3000, 4000)
    )
    exact = replayed(ExactSearch(v), traffic)
    narrow = replayed(IndexSearch(v, probes=1, cells=60), traffic)
    lost = [
        int(e.hit.sum() - a.hit.sum()) for e, a in zip(exact.results, narrow.results, strict=True)
    ]
    assert max(lost) > 0  # the narrow index did lose hits

    whole = fidelity.check(v, narrow, traffic, THRESHOLDS, CacheSettings(), sample=3000)
    for row, e, missing in zip(whole.thresholds, exact.results, lost, strict=True):
        # every key checked: the estimate recovers most of what the index lost (not all: a
        # patched list can make new entries whose own lists the check does not complete)
        assert abs(row.hits_exact_estimate - e.hit.sum()) <= max(1, missing / 2)
    assert any(row.pair_recall is not None and row.pair_recall < 1 for row in whole.thresholds)
    assert not whole.within_goal and whole.max_deviation > 0

    sampled = fidelity.check(v, narrow, traffic, THRESHOLDS, CacheSettings(), sample=600)
    assert sampled.sample_keys == 600 and sampled.max_deviation > 0


def test_an_index_that_finds_everything_checks_clean() -> None:
    v = clustered(1500, dim=16, seed=2)
    rng = np.random.default_rng(3)
    traffic = Traffic(np.arange(2000.0), np.zeros(2000, np.int64), rng.integers(0, 1500, 2000))
    built = replayed(IndexSearch(v, probes=10_000), traffic)
    check = fidelity.check(v, built, traffic, THRESHOLDS, CacheSettings(), sample=500)
    assert check.within_goal and check.max_deviation == 0
    assert all(row.pair_recall in (None, 1.0) for row in check.thresholds)


def test_kept_exact_lists_check_as_the_vectors_do_without_them() -> None:
    v = clustered(3000, dim=32, seed=9)
    rng = np.random.default_rng(1)
    traffic = Traffic(
        np.sort(rng.uniform(0, 1000, 4000)), np.zeros(4000, np.int64), rng.integers(0, 3000, 4000)
    )
    narrow = replayed(IndexSearch(v, probes=1, cells=60), traffic)
    from_vectors = fidelity.check(v, narrow, traffic, THRESHOLDS, CacheSettings(), sample=600)
    assert from_vectors.max_deviation > 0  # the check has something to find

    drawn = fidelity.draw(3000, 600)
    kept = fidelity.exact_sample(v, drawn, 0.65)  # lower than the run asks: serves it
    assert kept.serves(3000, drawn, THRESHOLDS) and not kept.serves(3000, drawn, [0.6, 0.9])
    assert not kept.serves(3001, drawn, THRESHOLDS)
    assert not kept.serves(3000, fidelity.draw(3000, 500), THRESHOLDS)
    assert fidelity.checked(kept, narrow, traffic, THRESHOLDS, CacheSettings()) == from_vectors
    u, w, s = kept.pairs  # every pair at least the floor similar, each scored as the lists are
    product = v[drawn] @ v.T
    assert len(u) == int((product >= np.float32(0.65)).sum())
    assert np.all(s >= np.float32(0.65)) and set(np.unique(u)) <= set(drawn)
