"""Where a key's near neighbours are found: against every key (exact), or through an index (approx).

Two questions are asked of a set of unit vectors, one row per distinct key:

- `nearest(k)`: each key's k most similar keys, itself included, with their similarities;
- `within(queries, radius)`: for each query key, every key at least `radius` similar.

Both take `among`, a mask of the keys that may be answered (None: all): a search among fewer keys
finds exactly the pairs the whole search finds that lie among them (the index scans the same
cells and skips the others' codes), in less time.

`ExactSearch` answers both with blocked matrix products over all keys: the reference, quadratic
in time, bounded in memory. `IndexSearch` answers them from a faiss inverted-file index: the keys
are split into k-means cells and a query scans only the `probes` cells nearest to it, so a
neighbour in a cell it does not scan is missed (how often, each run measures on a sample:
costlab.cache.fidelity). With `probes` equal to the number of cells it scans everything and finds
what the exact search finds. The index holds the vectors as float16, half the memory; every pair
either search finds is scored again as the float32 dot product of the two rows (`score`), so a pair
has one similarity whichever search found it, and it is compared against thresholds as such.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from costlab.cache.neighbours import at_least
from costlab.errors import BadInput

Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]
Progress = Callable[[int, int], None]  # (queries done, queries)
Among = npt.NDArray[np.bool_] | None  # per key, whether a search may answer it (None: every key)
BLOCK = 2048  # query rows per matrix product / index call: bounds the working memory
FAISS_PACKAGE = "faiss-cpu"
WIDEST = 4  # a radius of 0.80 scans 4x the cells a radius of 0.95 does


def score(
    vectors: npt.NDArray[np.float32], a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """The similarity of each pair (a[i], b[i]): the float32 dot product of the two rows."""
    out = np.empty(len(a), dtype=np.float32)
    for s in range(0, len(a), 1 << 16):
        out[s : s + (1 << 16)] = np.einsum(
            "ij,ij->i", vectors[a[s : s + (1 << 16)]], vectors[b[s : s + (1 << 16)]]
        )
    return out


class Search(ABC):
    """Neighbours of keys among all keys; one row of `vectors` per key, unit length."""

    kind: str
    finds_all: bool  # `nearest` finds the true k nearest and `within` every key in the radius

    def __init__(self, vectors: npt.NDArray[np.float32]) -> None:
        if vectors.ndim != 2:
            raise ValueError("vectors must be k × d, one row per key")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def n(self) -> int:
        return len(self.vectors)

    def scan(self, radius: float) -> int:
        """What a search at `radius` looks through (0: every key): two searches that scan alike
        find the same pairs above the higher of their radii."""
        return 0

    @abstractmethod
    def _candidates(
        self,
        queries: npt.NDArray[np.int64],
        radius: float | None,
        k: int,
        among: Among = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(query position, key) candidate pairs: within `radius`, or else each query's k best;
        only keys `among` where a radius is given."""

    def within(
        self,
        queries: npt.NDArray[np.int64],
        radius: float,
        progress: Progress | None = None,
        among: Among = None,
    ) -> Pairs:
        """(query, key, similarity) for every key found at least `radius` similar to a query."""
        return _joined(list(self.within_blocks(queries, radius, progress, among)))

    def within_blocks(
        self,
        queries: npt.NDArray[np.int64],
        radius: float,
        progress: Progress | None = None,
        among: Among = None,
    ) -> Iterator[Pairs]:
        """`within`, one block of queries at a time: the caller keeps what it needs of each."""
        cutoff = at_least(radius)
        for start in range(0, len(queries), BLOCK):
            block = queries[start : start + BLOCK]
            owner, keys = self._candidates(block, radius, 0, among)
            u = block[owner]
            s = score(self.vectors, u, keys)
            kept = s >= cutoff
            yield u[kept], keys[kept], s[kept]
            if progress:
                progress(min(start + BLOCK, len(queries)), len(queries))

    def nearest(
        self,
        k: int,
        progress: Progress | None = None,
        queries: npt.NDArray[np.int64] | None = None,
    ) -> Pairs:
        """(key, neighbour, similarity): each query key's (every key's) k most similar keys."""
        parts: list[Pairs] = []
        if queries is None:
            queries = np.arange(self.n, dtype=np.int64)
        for start in range(0, len(queries), BLOCK):
            block = queries[start : start + BLOCK]
            owner, keys = self._candidates(block, None, min(k, self.n))
            u = block[owner]
            parts.append((u, keys, score(self.vectors, u, keys)))
            if progress:
                progress(min(start + BLOCK, len(queries)), len(queries))
        return _joined(parts)


class ExactSearch(Search):
    """Every key compared with every query: the reference."""

    kind = "exact"
    finds_all = True

    def _candidates(
        self,
        queries: npt.NDArray[np.int64],
        radius: float | None,
        k: int,
        among: Among = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if radius is not None:
            columns = None if among is None else np.flatnonzero(among)
            rows = self.vectors if columns is None else self.vectors[columns]
            similarity = self.vectors[queries] @ rows.T
            # a hair below the radius: `within` keeps what the float32 rescoring puts above it
            flat = np.flatnonzero(similarity >= at_least(radius) - 1e-5)
            owner, keys = np.divmod(flat, similarity.shape[1])
            keys = keys.astype(np.int64) if columns is None else columns[keys]
            return owner.astype(np.int64), keys
        similarity = self.vectors[queries] @ self.vectors.T
        best = np.argpartition(-similarity, k - 1, axis=1)[:, :k] if k < self.n else None
        if best is None:
            best = np.broadcast_to(np.arange(self.n), similarity.shape)
        owner = np.repeat(np.arange(len(queries), dtype=np.int64), best.shape[1])
        return owner, np.asarray(best, dtype=np.int64).ravel()


class IndexSearch(Search):
    """A faiss inverted-file index (float16 codes), built when made, scanning `probes` cells."""

    kind = "approx"
    finds_all = False
    MARGIN = 2e-3  # float16 codes move a similarity by < 1e-3 (unit vectors): search this far below

    def __init__(
        self, vectors: npt.NDArray[np.float32], probes: int = 16, cells: int | None = None
    ) -> None:
        super().__init__(vectors)
        faiss = faiss_library()
        dim = self.vectors.shape[1]
        self.cells = cells or max(1, min(self.n // 40, int(4 * math.sqrt(max(self.n, 1)))))
        self.probes = min(probes, self.cells)
        quantizer = faiss.IndexFlatIP(dim)
        self._index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, self.cells, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        self._quantizer = quantizer  # the index refers to it: keep it alive
        rng = np.random.default_rng(0)  # the cells depend on this sample: seeded, repeatable
        sample = rng.choice(self.n, min(self.n, 32 * self.cells), replace=False)
        self._index.cp.niter = 10
        self._index.cp.min_points_per_centroid = 1  # small key sets: no warning, one cell
        self._index.train(self.vectors[np.sort(sample)])
        self._index.add(self.vectors)
        self._index.nprobe = self.probes

    def __getstate__(self) -> dict[str, Any]:
        # sent to other processes (Ray workers) as faiss's own serialisation: the same index
        state = {k: v for k, v in self.__dict__.items() if k not in ("_index", "_quantizer")}
        return {**state, "_index": faiss_library().serialize_index(self._index)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._index = faiss_library().deserialize_index(state["_index"])
        self._index.nprobe = self.probes
        self._quantizer = None  # the deserialised index owns its own

    def scan(self, radius: float) -> int:
        return self.probes_for(radius)

    def probes_for(self, radius: float) -> int:
        """More cells for a wider radius: pairs less similar than 0.95 lie in farther cells."""
        wider = min(WIDEST, max(1, round((1 - radius) / 0.05)))
        return min(self.cells, self.probes * wider)

    def _candidates(
        self,
        queries: npt.NDArray[np.int64],
        radius: float | None,
        k: int,
        among: Among = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        rows = self.vectors[queries]
        if radius is not None:
            faiss = faiss_library()
            params = faiss.SearchParametersIVF()
            params.nprobe = self.probes_for(radius)
            bitmap = None
            if among is not None:  # the same cells scanned, the other keys' codes skipped
                bitmap = np.packbits(among, bitorder="little")
                params.sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
            limits, _, keys = self._index.range_search(
                rows, float(radius) - self.MARGIN, params=params
            )
            del bitmap  # held until faiss is done with it
            owner = np.repeat(
                np.arange(len(queries), dtype=np.int64), np.diff(limits).astype(np.int64)
            )
            return owner, np.asarray(keys, dtype=np.int64)
        _, found = self._index.search(rows, k)
        owner = np.repeat(np.arange(len(queries), dtype=np.int64), found.shape[1])
        keys = np.asarray(found, dtype=np.int64).ravel()
        known = keys >= 0  # faiss pads with -1 when the scanned cells hold fewer than k keys
        return owner[known], keys[known]


def _joined(parts: list[Pairs]) -> Pairs:
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def faiss_library() -> Any:
    """faiss, imported here alone (simulate-cache's index; costlab intents' assignment)."""
    try:
        import faiss
    except ImportError:
        raise BadInput(
            f"the approximate neighbour search needs the package {FAISS_PACKAGE}",
            f"pip install {FAISS_PACKAGE} (or 'costlab[embeddings]'), or use --neighbours exact",
        ) from None
    return faiss
