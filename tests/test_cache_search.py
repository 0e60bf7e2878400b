"""The two searches: exact is brute force; the index with every cell scanned finds the same."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from costlab.cache.search import ExactSearch, IndexSearch


def clustered(n: int, dim: int = 16, seed: int = 4) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, dim))
    v = centres[rng.integers(8, size=n)] + 0.4 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def pairs(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    return set(zip(found[0].tolist(), found[1].tolist(), strict=True))


def test_exact_within_is_every_pair_at_least_the_radius() -> None:
    v = clustered(300)
    queries = np.arange(0, 300, 7)
    got = ExactSearch(v).within(queries, 0.8)
    similarity = v[queries] @ v.T
    want = {(int(queries[a]), int(b)) for a, b in zip(*np.nonzero(similarity >= 0.8), strict=True)}
    assert pairs(got) == want
    np.testing.assert_allclose(got[2], np.einsum("ij,ij->i", v[got[0]], v[got[1]]), rtol=1e-6)


def test_exact_nearest_is_each_keys_k_most_similar() -> None:
    v = clustered(200)
    u, w, s = ExactSearch(v).nearest(5)
    assert np.bincount(u).tolist() == [5] * 200
    best = np.sort(v @ v.T, axis=1)[:, -5:]
    for key in range(200):
        np.testing.assert_allclose(np.sort(s[u == key]), best[key], rtol=1e-5)


def test_an_index_scanning_every_cell_finds_what_the_exact_search_finds() -> None:
    v = clustered(2000)
    index = IndexSearch(v, probes=10_000)
    assert index.cells > 1 and index.probes == index.cells
    queries = np.arange(0, 2000, 3)
    assert pairs(index.within(queries, 0.75)) == pairs(ExactSearch(v).within(queries, 0.75))


def test_a_narrow_index_misses_pairs_and_widens_for_low_radii() -> None:
    v = clustered(4000, dim=32)
    index = IndexSearch(v, probes=1)
    assert index.probes_for(0.99) == 1 and index.probes_for(0.80) == 4
    queries = np.arange(4000)
    found, exact = pairs(index.within(queries, 0.6)), pairs(ExactSearch(v).within(queries, 0.6))
    assert found < exact  # a subset: nothing invented, some missed


def test_a_search_among_some_keys_finds_exactly_the_whole_searchs_pairs_among_them() -> None:
    v = clustered(4000, dim=32)
    rng = np.random.default_rng(7)
    among = rng.random(4000) < 0.2
    queries = np.arange(0, 4000, 5)
    for search in (ExactSearch(v), IndexSearch(v, probes=2)):  # a narrow index: it misses some
        whole = search.within(queries, 0.7)
        some = search.within(queries, 0.7, among=among)
        inside = among[whole[1]]
        assert 0 < len(some[0]) < len(whole[0])
        assert pairs(some) == pairs((whole[0][inside], whole[1][inside], whole[2][inside]))
        assert among[some[1]].all()
