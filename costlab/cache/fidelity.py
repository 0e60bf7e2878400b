"""How far an approximate neighbour search moves the answer: measured by every run, on a sample.

The replay over entry lists equals the exact one when the search finds every pair it should
(costlab.cache.entries); an index search can miss some. So an approximate run checks itself: it
draws `sample` keys at random, finds each one's exact list (every entry key at least that entry's
need similar, by a product against every entry), adds the pairs the index missed to those keys'
lists, and replays again. Each missed pair sits in one key's list and a key is drawn with
probability sample / keys, so the change in hits, scaled by keys / sample, estimates how many hits
the approximation moved at each threshold. Pair recall is the share of the sampled keys' exact
pairs that the index had found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.cache import entries, simulate
from costlab.cache.neighbours import Neighbours
from costlab.cache.search import BLOCK, Pairs, score

SAMPLE = 1000
ROUNDS = 4
GOAL = 0.005  # hits within 0.5 % of the exact replay's


@dataclass(frozen=True)
class ThresholdCheck:
    threshold: float
    hits: int
    hits_exact_estimate: float
    deviation: float  # (estimate - hits) / hits, 0 when there are no hits
    pair_recall: float | None  # None when the sampled keys had no pair at this threshold


@dataclass(frozen=True)
class Approximation:
    """An approximate run's own check of itself."""

    method: str
    keys: int
    sample_keys: int
    thresholds: list[ThresholdCheck]
    max_deviation: float  # the largest |deviation| over the thresholds
    within_goal: bool  # max_deviation <= GOAL


def check(
    vectors: npt.NDArray[np.float32],
    built: entries.Built,
    traffic: simulate.Traffic,
    thresholds: Sequence[float],
    settings: simulate.CacheSettings,
    sample: int = SAMPLE,
    seed: int = 0,
) -> Approximation:
    """The replay again with `sample` keys' lists made exact; the hits it moved, scaled up."""
    lists = built.entry_lists.lists
    n = lists.n
    drawn = np.sort(np.random.default_rng(seed).choice(n, min(sample, n), replace=False))
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(lists.offsets))
    patches: list[Pairs] = [(owner, lists.index, lists.similarity)]
    patched, again = lists, built.results
    recall: tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]] | None = None
    for _ in range(ROUNDS):  # a patched replay can make new entries: patch again for them
        (u, v, s), found = _exact_pairs(vectors, patched, entries.needs(again, traffic, n), drawn)
        recall = recall or (s, found)
        if found.all():
            break
        patches.append((u[~found], v[~found], s[~found]))
        patched = entries.assemble(n, *patches)
        again = simulate.replay(patched, traffic, thresholds, settings)
    s, found = recall if recall is not None else (np.zeros(0, np.float32), np.zeros(0, bool))
    scale = n / max(len(drawn), 1)
    rows = []
    for before, after in zip(built.results, again, strict=True):
        hits = int(before.hit.sum())
        estimate = hits + (int(after.hit.sum()) - hits) * scale
        at = s >= before.threshold
        rows.append(
            ThresholdCheck(
                threshold=before.threshold,
                hits=hits,
                hits_exact_estimate=round(estimate, 1),
                deviation=(estimate - hits) / hits if hits else 0.0,
                pair_recall=float(found[at].mean()) if at.any() else None,
            )
        )
    method = (
        f"exact lists for {len(drawn):,} random keys of {n:,}, replayed again; "
        "the change in hits scaled by keys / sample"
    )
    worst = max((abs(r.deviation) for r in rows), default=0.0)
    return Approximation(method, n, len(drawn), rows, worst, worst <= GOAL)


def _exact_pairs(
    vectors: npt.NDArray[np.float32],
    lists: Neighbours,
    need: npt.NDArray[np.float64],
    drawn: npt.NDArray[np.int64],
) -> tuple[Pairs, npt.NDArray[np.bool_]]:
    """Every (drawn key, entry, similarity) at least the entry's need; and which the lists hold."""
    entry = np.flatnonzero(np.isfinite(need))
    floor = entries.float32_up(need[entry])
    parts: list[Pairs] = []
    for start in range(0, len(drawn), BLOCK // 4):
        rows = drawn[start : start + BLOCK // 4]
        product = vectors[rows] @ vectors[entry].T
        r, e = np.nonzero(product >= floor - 1e-5)
        u, v = rows[r], entry[e]
        s = score(vectors, u, v)
        kept = s >= floor[e]
        parts.append((u[kept], v[kept], s[kept]))
    u = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    v = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    s = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.float32)
    owner = np.repeat(np.arange(lists.n, dtype=np.int64), np.diff(lists.offsets))
    mine = np.isin(owner, drawn)
    held = np.isin(u * lists.n + v, owner[mine] * lists.n + lists.index[mine])
    return (u, v, s), held
