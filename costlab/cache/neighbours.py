"""For each request, every earlier request of its scope that is at least `min_threshold` similar."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]


def check_threshold(threshold: float, name: str = "threshold") -> None:
    """Refuse a similarity threshold outside (0, 1]."""
    if not 0.0 < threshold <= 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be in (0, 1], got {threshold!r}")


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Neighbour lists in CSR form: request i's are `index[offsets[i]:offsets[i + 1]]`.

    Each list holds earlier requests (j < i) of the same scope, most similar first, ties by smaller
    j. `complete` records that a list holds *every* such request whose similarity (the float32 dot
    product of the two vectors) is at least `min_threshold`, not a truncated top-k: this is what
    makes a sweep over thresholds at or above `min_threshold` exact.
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
        """The number of requests the lists are over."""
        return len(self.offsets) - 1

    def of(self, i: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Request i's neighbours and their similarities, most similar first."""
        start, stop = self.offsets[i], self.offsets[i + 1]
        return self.index[start:stop], self.similarity[start:stop]

    def save(self, path: Path) -> None:
        """Write the lists to `path` as an .npz file (written at exactly that path)."""
        with Path(path).open("wb") as file:
            np.savez(
                file,
                min_threshold=np.float64(self.min_threshold),
                offsets=self.offsets,
                index=self.index,
                similarity=self.similarity,
                complete=np.bool_(self.complete),
            )

    @classmethod
    def load(cls, path: Path) -> Neighbours:
        """Read lists written by `save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            return cls(
                min_threshold=float(data["min_threshold"]),
                offsets=data["offsets"].astype(np.int64),
                index=data["index"].astype(np.int64),
                similarity=data["similarity"].astype(np.float32),
                complete=bool(data["complete"]),
            )


def neighbours(
    vectors: npt.NDArray[np.float32],
    scope: npt.NDArray[np.int64],
    min_threshold: float,
    block: int = 4096,
) -> Neighbours:
    """All earlier same-scope requests at least `min_threshold` similar, by blocked matrix products.

    Work is per scope and in `block` × `block` tiles, so memory stays bounded by the tile and the
    output, never n × n.
    """
    check_threshold(min_threshold, "min_threshold")
    if vectors.ndim != 2 or len(vectors) != len(scope):
        raise ValueError("vectors must be n × d with one scope id per row")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    order = np.argsort(scope, kind="stable")  # each scope's members stay in time order
    bounds = np.flatnonzero(np.diff(scope[order])) + 1
    cutoff = _float32_at_least(min_threshold)
    parts: list[Pairs] = []
    for members in np.split(order, bounds):
        if len(members) > 1:
            parts.extend(_scope_pairs(vectors[members], members, cutoff, block))
    return _assemble(len(scope), min_threshold, parts)


def _float32_at_least(threshold: float) -> np.float32:
    """The smallest float32 >= `threshold`: comparing in float32 then agrees with float64."""
    value = np.float32(threshold)
    if float(value) < threshold:
        value = np.nextafter(value, np.float32(math.inf))
    return value


def _scope_pairs(
    group: npt.NDArray[np.float32], members: npt.NDArray[np.int64], cutoff: np.float32, block: int
) -> Iterator[Pairs]:
    """The (i, j, similarity) pairs with j < i of one scope, one tile at a time."""
    for r0 in range(0, len(members), block):
        rows = group[r0 : r0 + block]
        for c0 in range(0, r0 + 1, block):
            similarity = rows @ group[c0 : c0 + block].T
            keep = similarity >= cutoff
            if c0 == r0:  # the diagonal tile: keep only earlier requests
                keep = np.tril(keep, k=-1)
            a, b = np.nonzero(keep)
            yield members[r0 + a], members[c0 + b], similarity[a, b]


def _assemble(n: int, min_threshold: float, parts: list[Pairs]) -> Neighbours:
    """Sort the pairs into CSR lists: by request, then similarity descending, then index."""
    if parts:
        rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
        index = np.concatenate([p[1] for p in parts]).astype(np.int64)
        similarity = np.concatenate([p[2] for p in parts]).astype(np.float32)
    else:
        rows, index = np.zeros(0, np.int64), np.zeros(0, np.int64)
        similarity = np.zeros(0, np.float32)
    order = np.lexsort((index, -similarity, rows))
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return Neighbours(min_threshold, offsets, index[order], similarity[order])
