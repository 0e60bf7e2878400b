"""Entry lists: the fixed point replays exactly like the complete lists, with far fewer pairs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costlab.cache import entries, merge, simulate, witness
from costlab.cache.neighbours import neighbours
from costlab.cache.reference import naive
from costlab.cache.search import ExactSearch, IndexSearch, Search
from costlab.cache.simulate import CacheSettings, Traffic
from tests.test_cache_simulate import assert_same, logs

Log = tuple[npt.NDArray[np.float32], Traffic, CacheSettings, int, int]
SEARCHES = {"exact": ExactSearch, "approx": lambda v: IndexSearch(v, probes=1 << 20)}


@settings(max_examples=120, deadline=None)
@given(logs(), st.data())
def test_the_fixed_point_equals_naive(log: Log, data: st.DataObject) -> None:
    vectors, traffic, cache, min_64ths, _ = log
    picked = data.draw(st.lists(st.integers(min_64ths, 64), min_size=1, max_size=5, unique=True))
    thresholds = sorted(k / 64 for k in picked)
    kind = data.draw(st.sampled_from(sorted(SEARCHES)))
    k = data.draw(st.sampled_from([1, 2, 3, 16]))
    search: Search = SEARCHES[kind](vectors)
    start = entries.seed(search, k)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simulate, "COMPILE_FROM", 0)
        built = entries.build(traffic, thresholds, cache, start, lambda: search)
    for got, threshold in zip(built.results, thresholds, strict=True):
        assert_same(got, naive(vectors, traffic, threshold, cache))
    # pruned, the lists replay the same
    need = entries.needs(built.results, traffic, len(vectors))
    pruned = entries.prune(built.entry_lists, need)
    again = simulate.replay(pruned.lists, traffic, thresholds, cache)
    if pruned.window is not None:  # lists kept to windows: the expired misses counted afresh
        again, _ = witness.recounted(again, traffic, pruned.lists, pruned.complete_from, search)
    for got, want in zip(again, built.results, strict=True):
        assert_same(got, want)


def dense(n: int, seed: int = 3) -> npt.NDArray[np.float32]:
    """One tight cluster: every key at least 0.8 similar to every other."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(1, 32)) + 0.05 * rng.normal(size=(n, 32))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_dense_traffic_keeps_pairs_bounded_by_the_entries() -> None:
    vectors = dense(1500)
    traffic = Traffic(np.arange(1500.0), np.zeros(1500, np.int64), np.arange(1500))
    thresholds = [0.8, 0.9]
    complete = neighbours(vectors, 0.8)
    search = ExactSearch(vectors)
    built = entries.build(
        traffic, thresholds, CacheSettings(), entries.seed(search), lambda: search
    )
    want = simulate.sweep(complete, traffic, thresholds)
    for got, w in zip(built.results, want, strict=True):
        assert_same(got, w)
    need = entries.needs(built.results, traffic, 1500)
    pruned = entries.prune(built.entry_lists, need)
    assert complete.offsets[-1] == 1500 * 1500  # every pair is in the complete lists
    kept_entries = int(np.isfinite(need).sum())
    assert pruned.pairs <= 1500 * entries.SEED_K + 1500 * kept_entries
    assert pruned.pairs < complete.offsets[-1] / 50


def test_a_ttl_keeps_the_lists_to_what_each_entry_can_serve() -> None:
    """A tight cluster over a long time with a short TTL: most keys become entries at 0.8, yet
    the lists hold only the pairs an entry can serve within the TTL, and the replay (its expired
    misses counted afresh, some by a search) equals the naive one."""
    n = 1200
    vectors = dense(n)
    traffic = Traffic(np.arange(n) * 10.0, np.arange(n) % 2, np.arange(n))
    cache = CacheSettings(ttl_s=50.0)
    thresholds = [0.8, 0.9]
    search = ExactSearch(vectors)
    built = entries.build(traffic, thresholds, cache, entries.seed(search), lambda: search)
    for got, threshold in zip(built.results, thresholds, strict=True):
        assert_same(got, naive(vectors, traffic, threshold, cache))
    assert built.results[0].expired_misses > n // 4
    assert built.entry_lists.window is not None
    all_pairs = int(neighbours(vectors, 0.8).offsets[-1])
    assert all_pairs > n * (n - 1)  # every pair is at least 0.8 similar
    assert built.entry_lists.pairs < all_pairs / 20


def test_a_search_is_made_only_when_a_key_needs_one() -> None:
    vectors = np.eye(4, dtype=np.float32)  # nothing near anything: the seed says it all
    traffic = Traffic(np.arange(4.0), np.zeros(4, np.int64), np.arange(4))
    search = ExactSearch(vectors)
    start = entries.seed(search, k=4)

    def refuse() -> Search:
        raise AssertionError("no search was needed")

    built = entries.build(traffic, [0.9], CacheSettings(), start, refuse)
    assert built.rounds == 1 and built.searched == 0
    assert not built.results[0].hit.any()


class Counting(IndexSearch):
    """The index, counting the keys it is asked to search within a radius."""

    searched = 0

    def within_blocks(self, queries, radius, progress=None, among=None):  # type: ignore[no-untyped-def]
        Counting.searched += len(queries)
        return super().within_blocks(queries, radius, progress, among)


def test_a_refuted_keys_kept_search_answers_later_rounds_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(40, 16))
    v = centres[rng.integers(40, size=3000)] + 0.25 * rng.normal(size=(3000, 16))
    vectors = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    n = 9000  # a TTL far shorter than the log: keys become entries again and again
    traffic = Traffic(
        np.sort(rng.uniform(0, 90_000, n)), rng.integers(0, 2, n), rng.integers(0, 3000, n)
    )
    ttl = CacheSettings(ttl_s=3600.0)
    thresholds = [0.8, 0.85, 0.9, 0.95]
    index = Counting(vectors, probes=2, cells=40)  # narrow: not every pair is found
    start = entries.seed(index)

    def built() -> tuple[entries.Built, int]:
        Counting.searched = 0
        out = entries.build(traffic, thresholds, ttl, start, lambda: index)
        return out, Counting.searched

    with_balls, searched = built()
    monkeypatch.setattr(entries, "BALL_PAIRS", 0)  # nothing kept: every key searched anew
    without, searched_anew = built()
    assert searched < searched_anew  # the kept searches answered some keys
    assert with_balls.rounds == without.rounds and with_balls.searched == without.searched
    for a, b in zip(with_balls.results, without.results, strict=True):
        assert_same(a, b)
    assert np.array_equal(with_balls.entry_lists.lists.index, without.entry_lists.lists.index)
    assert np.array_equal(with_balls.entry_lists.complete_from, without.entry_lists.complete_from)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 5),
            st.sampled_from([0.5, 0.9, -0.0, 0.0, 1.0, -0.25, 0.90000004]),
        ),
        max_size=60,
    )
)
def test_the_list_order_is_lexsorts_ties_and_signed_zeros_included(
    pairs: list[tuple[int, int, float]],
) -> None:
    u = np.array([p[0] for p in pairs], np.int64)
    v = np.array([p[1] for p in pairs], np.int64)
    s = np.array([p[2] for p in pairs], np.float32)
    assert np.array_equal(entries.list_order(u, v, s), np.lexsort((v, -s, u)))


@pytest.mark.parametrize("compiled", [False, True])
@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.integers(0, 6), st.integers(0, 6)),
        st.tuples(st.sampled_from([0.5, 0.9, 0.0, -0.0, 1.0, 0.90000004]), st.integers(0, 2)),
        max_size=40,
    )
)
def test_pairs_inserted_into_lists_equal_assembling_all_of_them(
    compiled: bool, pairs: dict[tuple[int, int], tuple[float, int]]
) -> None:
    # each pair has one similarity; 0: only the lists hold it, 1: only the new pairs, 2: both
    def part(where: set[int]) -> entries.Pairs:
        chosen = [(u, v, s) for (u, v), (s, at) in pairs.items() if at in where]
        return (
            np.array([p[0] for p in chosen], np.int64),
            np.array([p[1] for p in chosen], np.int64),
            np.array([p[2] for p in chosen], np.float32),
        )

    n, kept = 7, merge.COMPILE_FROM
    lists = entries.assemble(n, part({0, 2}))
    merge.COMPILE_FROM = 0 if compiled else kept
    try:
        got = entries.inserted(lists, part({1, 2}))
    finally:
        merge.COMPILE_FROM = kept
    want = entries.assemble(n, part({0, 1, 2}))
    assert np.array_equal(got.offsets, want.offsets)
    assert np.array_equal(got.index, want.index)
    assert np.array_equal(got.similarity, want.similarity)


def test_restricting_lists_to_every_key_keeps_them_as_they_are() -> None:
    rng = np.random.default_rng(3)
    v = rng.normal(size=(40, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    lists = neighbours(v, 0.2)
    whole = lists.restrict(np.arange(lists.n))
    shuffled = lists.restrict(np.arange(lists.n)[::-1]).restrict(np.arange(lists.n)[::-1])
    for made in (whole, shuffled):
        assert made.min_threshold == lists.min_threshold and made.complete
        assert np.array_equal(made.offsets, lists.offsets)
        assert np.array_equal(made.index, lists.index)
        assert np.array_equal(made.similarity, lists.similarity)
