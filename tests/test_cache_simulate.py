"""Cache simulation: the threshold sweep equals the naive one-request-at-a-time replay."""

from __future__ import annotations

import importlib.util

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costlab import jit
from costlab.cache import simulate
from costlab.cache.neighbours import neighbours
from costlab.cache.reference import naive
from costlab.cache.simulate import CacheSettings, SimResult, Traffic, sweep

# Unit vectors with components in eighths: every dot product is an exact multiple of 1/64 in
# float32, whatever the summation order, so exact ties and exact threshold edges are common.
SHAPES = [
    (8, 0, 0, 0, 0, 0, 0, 0),
    (7, 3, 1, 1, 1, 1, 1, 1),
    (6, 4, 2, 2, 1, 1, 1, 1),
    (5, 5, 3, 1, 1, 1, 1, 1),
    (4, 4, 4, 4, 0, 0, 0, 0),
    (6, 2, 2, 2, 2, 2, 2, 2),
    (4, 4, 4, 2, 2, 2, 2, 0),
]
VARIANTS = 4


def unit(*eighths: int) -> npt.NDArray[np.float32]:
    padded = np.zeros(8, dtype=np.float32)
    padded[: len(eighths)] = eighths
    assert (padded**2).sum() == 64
    return padded / 8


def cluster(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A random centre and near-duplicates of it (swapped coordinates, flipped signs)."""
    centre = np.array(SHAPES[rng.integers(len(SHAPES))], dtype=np.float32)
    centre = rng.permutation(centre) * rng.choice([-1, 1], size=8)
    variants = [centre]
    for _ in range(VARIANTS - 1):
        variant = variants[rng.integers(len(variants))].copy()
        p, q = rng.choice(8, size=2, replace=False)
        variant[[p, q]] = variant[[q, p]]
        if rng.random() < 0.5:
            variant[rng.integers(8)] *= -1
        variants.append(variant)
    return np.stack(variants) / 8


@st.composite
def logs(draw: st.DrawFn) -> tuple[npt.NDArray[np.float32], Traffic, CacheSettings, int, int]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    clusters = np.stack([cluster(rng) for _ in range(draw(st.integers(1, 4)))])
    request = st.tuples(
        st.integers(0, len(clusters) - 1),  # cluster
        st.integers(0, VARIANTS - 1),  # which near-duplicate: the key, and so its vector
        st.integers(1, 3),  # scope
        st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5]),  # gap to the previous request, seconds
    )
    size = draw(st.integers(0, 150))
    rows = draw(st.lists(request, min_size=size, max_size=size))
    vectors = clusters.reshape(-1, 8)  # key c * VARIANTS + v; variants may coincide
    traffic = Traffic(
        ts=np.cumsum([gap for *_, gap in rows]),
        scope=np.array([s for *_, s, _ in rows], dtype=np.int64),
        keys=np.array([c * VARIANTS + v for c, v, *_ in rows], dtype=np.int64),
    )
    ttl = draw(st.none() | st.sampled_from([0.5, 1.0, 2.0, 5.0]))
    capacity = draw(st.none() | st.integers(1, 10))
    return (
        vectors,
        traffic,
        CacheSettings(ttl, capacity),
        draw(st.integers(24, 64)),
        draw(st.sampled_from([1, 3, 16, 4096])),
    )


def assert_same(got: SimResult, want: SimResult) -> None:
    assert got.threshold == want.threshold
    np.testing.assert_array_equal(got.hit, want.hit)
    np.testing.assert_array_equal(got.served_by, want.served_by)
    assert got.expired_misses == want.expired_misses
    assert got.evicted_misses == want.evicted_misses
    np.testing.assert_array_equal(got.live_at_end, want.live_at_end)


@settings(max_examples=200, deadline=None)
@given(logs(), st.data())
def test_sweep_equals_naive(
    log: tuple[npt.NDArray[np.float32], Traffic, CacheSettings, int, int], data: st.DataObject
) -> None:
    vectors, traffic, cache, min_64ths, block = log
    picked = data.draw(st.lists(st.integers(min_64ths, 64), min_size=1, max_size=5, unique=True))
    thresholds = [k / 64 for k in picked]
    lists = neighbours(vectors, min_64ths / 64, block=block)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simulate, "COMPILE_FROM", 0)  # the compiled loop, whatever the size
        # the slots' lists mapped a few slots at a time as well as all at once
        patch.setattr(simulate, "SLOT_BLOCK", data.draw(st.sampled_from([1, 2, 5, 1 << 16])))
        swept = sweep(lists, traffic, thresholds, cache)
    for got, threshold in zip(swept, thresholds, strict=True):
        assert_same(got, naive(vectors, traffic, threshold, cache))


@settings(max_examples=50, deadline=None)
@given(logs(), st.data())
def test_the_plain_python_replay_agrees_too(
    log: tuple[npt.NDArray[np.float32], Traffic, CacheSettings, int, int], data: st.DataObject
) -> None:
    """Small sweeps (and machines without numba) run the same loop as plain Python."""
    vectors, traffic, cache, min_64ths, block = log
    threshold = data.draw(st.integers(min_64ths, 64)) / 64
    lists = neighbours(vectors, min_64ths / 64, block=block)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simulate, "COMPILE_FROM", float("inf"))
        (got,) = sweep(lists, traffic, [threshold], cache)
    assert_same(got, naive(vectors, traffic, threshold, cache))


def brute_force(vectors: npt.NDArray[np.float32], t: float) -> list[list[int]]:
    found = []
    for u in range(len(vectors)):
        pairs = [
            (-float(vectors[u] @ vectors[v]), v)
            for v in range(len(vectors))
            if float(vectors[u] @ vectors[v]) >= t
        ]
        found.append([v for _, v in sorted(pairs)])
    return found


@pytest.mark.parametrize("block", [1, 2, 5, 4096])
def test_neighbour_lists_are_complete_symmetric_and_sorted(block: int) -> None:
    rng = np.random.default_rng(3)
    vectors = np.concatenate([cluster(rng) for _ in range(6)])[rng.permutation(24)]
    lists = neighbours(vectors, 0.5, block=block)
    assert lists.complete and lists.n == 24
    want = brute_force(vectors, 0.5)
    for u in range(24):
        index, similarity = lists.of(u)
        assert index.tolist() == want[u]
        assert u in want[u]  # a key is its own neighbour
        assert similarity.tolist() == [float(vectors[u] @ vectors[v]) for v in want[u]]


def replay(
    rows: list[npt.NDArray[np.float32]],
    threshold: float,
    ts: list[float] | None = None,
    scope: list[int] | None = None,
    keys: list[int] | None = None,
    cache: CacheSettings = CacheSettings(),  # noqa: B008
) -> SimResult:
    """Both simulators on a small log; they must agree, and the result is returned."""
    n = len(rows)
    keys = keys if keys is not None else list(range(n))
    vectors = np.zeros((max(keys, default=-1) + 1, 8), dtype=np.float32)
    for key, row in zip(keys, rows, strict=True):
        vectors[key] = row  # one vector per key: the tests give a key the same row each time
    traffic = Traffic(
        ts=np.array(ts if ts is not None else range(n), dtype=np.float64),
        scope=np.array(scope or [0] * n, dtype=np.int64),
        keys=np.array(keys, dtype=np.int64),
    )
    want = naive(vectors, traffic, threshold, cache)
    (got,) = sweep(neighbours(vectors, threshold), traffic, [threshold], cache)
    assert_same(got, want)
    return want


A, NEAR_A = unit(8), unit(7, 3, 1, 1, 1, 1, 1, 1)  # similarity exactly 56/64 = 0.875
B, C = unit(0, 8), unit(0, 0, 8)


def test_ttl_counts_from_insertion() -> None:
    cache = CacheSettings(ttl_s=10.0)
    result = replay([A, NEAR_A, NEAR_A, NEAR_A], 0.8, ts=[0, 5, 9.5, 10], cache=cache)
    assert result.served_by.tolist() == [-1, 0, 0, -1]  # the hits at 5 and 9.5 do not renew it
    assert result.expired_misses == 1 and result.evicted_misses == 0
    assert result.live_entries_end == 1


def test_lru_evicts_the_least_recently_used() -> None:
    cache = CacheSettings(max_entries=2)
    result = replay([A, B, A, C, B, A], 0.9, cache=cache)
    # A is used at 2, so C evicts B; B's return then evicts A (last used at 2, C at 3).
    assert result.served_by.tolist() == [-1, -1, 0, -1, -1, -1]
    assert result.hit.tolist() == [False, False, True, False, False, False]
    assert result.evicted_misses == 2 and result.expired_misses == 0
    assert result.live_entries_end == 2


def test_scopes_do_not_share_entries() -> None:
    result = replay([A, A, A, A], 0.9, scope=[1, 2, 1, 2], keys=[7, 7, 7, 7])
    assert result.served_by.tolist() == [-1, -1, 0, 1]


def test_exact_tier_comes_before_the_semantic_one() -> None:
    short = A / 2  # its similarity to itself is 0.25: only the exact tier can serve it
    result = replay([short, B, short], 0.9, keys=[1, 2, 1])
    assert result.served_by.tolist() == [-1, -1, 0]


def test_similarity_ties_go_to_the_earliest_entry() -> None:
    result = replay([A, B, unit(4, 4, 4, 4)], 0.5)  # 0.5 to both
    assert result.served_by.tolist() == [-1, -1, 0]


def test_similarity_equal_to_the_threshold_hits() -> None:
    assert replay([A, NEAR_A], 0.875).served_by.tolist() == [-1, 0]
    assert replay([A, NEAR_A], float(np.nextafter(0.875, 1.0))).served_by.tolist() == [-1, -1]


def test_sweep_keeps_threshold_order_and_refuses_bad_thresholds() -> None:
    vectors = np.stack([A, NEAR_A, A])
    traffic = Traffic(ts=np.arange(3.0), scope=np.zeros(3, np.int64), keys=np.arange(3))
    lists = neighbours(vectors, 0.8)
    results = sweep(lists, traffic, [0.9, 0.8])
    assert [r.threshold for r in results] == [0.9, 0.8]
    assert [r.hit.sum() for r in results] == [1, 2]
    for bad in (0.7, 1.5, float("nan")):
        with pytest.raises(ValueError):
            sweep(lists, traffic, [0.9, bad])
    for bad in (0.0, -0.1, 1.01, float("nan")):
        with pytest.raises(ValueError):
            naive(vectors, traffic, bad)
        with pytest.raises(ValueError):
            neighbours(vectors, bad)


def test_settings_and_traffic_are_checked() -> None:
    with pytest.raises(ValueError):
        CacheSettings(ttl_s=0)
    with pytest.raises(ValueError):
        CacheSettings(max_entries=0)
    with pytest.raises(ValueError):
        Traffic(ts=np.array([1.0, 0.0]), scope=np.zeros(2, np.int64), keys=np.zeros(2, np.int64))


def test_empty_log() -> None:
    traffic = Traffic(ts=np.zeros(0), scope=np.zeros(0, np.int64), keys=np.zeros(0, np.int64))
    vectors = np.zeros((0, 8), dtype=np.float32)
    (got,) = sweep(neighbours(vectors, 0.5), traffic, [0.5])
    assert_same(got, naive(vectors, traffic, 0.5))
    assert got.live_entries_end == 0 and got.hit_rate == 0.0


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
def test_large_sweeps_run_the_numba_compiled_loop() -> None:
    compiled = jit.compiled(simulate._replay_loop)
    assert compiled is not simulate._replay_loop and compiled.py_func is simulate._replay_loop
