"""For each distinct cache key, every key (itself included) at least `min_threshold` similar.

Exact duplicates share a key, so the similarity pass runs over distinct keys, not requests, and
the lists do not depend on time order, scope, TTL or capacity: one pass serves every what-if.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ANY = float(np.nextafter(0.0, 1.0))  # lists with no minimum of their own: what a pair holds decides
Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]


def joined(parts: list[Pairs]) -> Pairs:
    """The pairs of every part, one after another, in the common dtypes."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False),
        np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False),
        np.concatenate([p[2] for p in parts]).astype(np.float32, copy=False),
    )


def float32_up(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Each value as the smallest float32 at or above it (infinities stay)."""
    out = np.array(values, dtype=np.float32)
    low = out.astype(np.float64) < values
    out[low] = np.nextafter(out[low], np.float32(math.inf))
    return out


def at_least(threshold: float) -> np.float32:
    """The smallest float32 >= `threshold`: comparing in float32 then agrees with float64."""
    return np.float32(float32_up(np.array([threshold]))[0])


def per_list(offsets: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """How many of each CSR list's items `mask` holds (no running sum over every item)."""
    counts = np.zeros(len(offsets) - 1, dtype=np.int64)
    filled = np.flatnonzero(np.diff(offsets))
    if len(filled):  # from each filled list's start to the next one's: its own items
        counts[filled] = np.add.reduceat(mask, offsets[filled], dtype=np.int64)
    return counts


def check_threshold(threshold: float, name: str = "threshold") -> None:
    """Refuse a similarity threshold outside (0, 1]."""
    if not 0.0 < threshold <= 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be in (0, 1], got {threshold!r}")


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Neighbour lists in CSR form: key u's are `index[offsets[u]:offsets[u + 1]]`.

    Each list holds keys (u itself included, when its self-similarity reaches the minimum), most
    similar first, ties by smaller key. `complete` records that a list holds *every* key whose
    similarity (the float32 dot product of the two vectors, the same value in both lists) is at
    least `min_threshold`, not a truncated top-k: this is what makes a sweep over thresholds at or
    above `min_threshold` exact.
    """

    min_threshold: float
    offsets: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]
    similarity: npt.NDArray[np.float32]
    complete: bool = True

    def __post_init__(self) -> None:
        check_threshold(self.min_threshold, "min_threshold")
        if self.offsets.ndim != 1 or len(self.offsets) < 1 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-D array starting at 0")
        if not len(self.index) == len(self.similarity) == self.offsets[-1]:
            raise ValueError("index and similarity must both hold offsets[-1] items")

    @property
    def n(self) -> int:
        """The number of keys the lists are over."""
        return len(self.offsets) - 1

    def of(self, i: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Key i's neighbours and their similarities, most similar first."""
        start, stop = self.offsets[i], self.offsets[i + 1]
        return self.index[start:stop], self.similarity[start:stop]

    def gather(
        self, keys: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The lists of `keys`, one after another: for each item, which of `keys` it belongs to
        (0, 1, ...) and its position in `index` and `similarity`."""
        lengths = self.offsets[keys + 1] - self.offsets[keys]
        owner = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
        first = np.repeat(self.offsets[keys] - (np.cumsum(lengths) - lengths), lengths)
        return owner, first + np.arange(len(owner), dtype=np.int64)

    def restrict(self, keep: npt.NDArray[np.int64]) -> Neighbours:
        """The lists over the keys `keep` (new key i is old key `keep[i]`), in the same order."""
        if len(keep) == self.n and np.array_equal(keep, np.arange(self.n)):  # every key, as is
            return Neighbours(self.min_threshold, self.offsets, self.index, self.similarity)
        remap = np.full(self.n, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep), dtype=np.int64)
        owner, position = self.gather(keep)
        mapped = remap[self.index[position]]
        kept = mapped >= 0
        offsets = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[kept], minlength=len(keep)), out=offsets[1:])
        return Neighbours(
            self.min_threshold, offsets, mapped[kept], self.similarity[position[kept]]
        )


Progress = Callable[[int, int], None]  # (keys done, keys)


def neighbours(
    vectors: npt.NDArray[np.float32],
    min_threshold: float,
    block: int = 4096,
    progress: Progress | None = None,
) -> Neighbours:
    """All pairs of keys at least `min_threshold` similar, by blocked matrix products.

    One row of `vectors` per distinct key. Only tiles on or above the diagonal are multiplied
    (similarity is symmetric) and each pair is written into both lists, so memory stays bounded by
    a `block` × `block` tile and the output, never k × k.
    """
    check_threshold(min_threshold, "min_threshold")
    if vectors.ndim != 2:
        raise ValueError("vectors must be k × d, one row per key")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    parts: list[Pairs] = []
    for done, pairs in _pairs(vectors, at_least(min_threshold), block):
        parts.extend(pairs)
        if progress:
            progress(done, len(vectors))
    return _assemble(len(vectors), min_threshold, parts)


def _pairs(
    vectors: npt.NDArray[np.float32], cutoff: np.float32, block: int
) -> Iterator[tuple[int, list[Pairs]]]:
    """Per row block, the keys done so far and its (u, v, similarity) pairs, both ways round."""
    for r0 in range(0, len(vectors), block):
        rows = vectors[r0 : r0 + block]
        found: list[Pairs] = []
        for c0 in range(r0, len(vectors), block):
            similarity = rows @ vectors[c0 : c0 + block].T
            # flatnonzero is ~10x faster than a 2-D nonzero on a sparse tile
            flat = np.flatnonzero(similarity >= cutoff)
            a, b = np.divmod(flat, similarity.shape[1])
            if c0 == r0:  # the diagonal tile: each pair once, and the key itself
                upper = a <= b
                flat, a, b = flat[upper], a[upper], b[upper]
            u, v, s = r0 + a, c0 + b, similarity.ravel()[flat]
            off_diagonal = u != v
            found += [(u, v, s), (v[off_diagonal], u[off_diagonal], s[off_diagonal])]
        yield min(r0 + block, len(vectors)), found


def _assemble(n: int, min_threshold: float, parts: list[Pairs]) -> Neighbours:
    """Sort the pairs into CSR lists: by key, then similarity descending, then neighbour."""
    rows, index, similarity = joined(parts)
    order = np.lexsort((index, -similarity, rows))
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return Neighbours(min_threshold, offsets, index[order], similarity[order])
