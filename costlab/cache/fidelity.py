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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.cache import entries, simulate
from costlab.cache.neighbours import Neighbours, at_least, float32_up, joined
from costlab.cache.search import Pairs, score
from costlab.cache.windows import Windows

SAMPLE = 1000
ROUNDS = 4
GOAL = 0.005  # hits within 0.5 % of the exact replay's
PRODUCT_FLOATS = 1 << 24  # similarities computed at once by the exact sample (64 MiB)
Keys = npt.NDArray[np.int64]
# which pairs (u, v, similarity) the lists promise u holds v (all of them, without windows)
Reach = Callable[[Keys, Keys, npt.NDArray[np.float32]], npt.NDArray[np.bool_]]


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
    drawn = draw(built.entry_lists.lists.n, sample, seed)
    exact = exact_sample(vectors, drawn, min(thresholds, default=1.0))
    return checked(exact, built, traffic, thresholds, settings)


@dataclass(frozen=True, eq=False)
class Sample:
    """The exact lists of some keys: every key at least `floor` similar to each drawn key.

    They serve the check of any run over the same keys whose thresholds are all at least
    `floor`, with no vector read: an entry at its need is in them when it is near enough.
    """

    keys: int  # how many keys the sample was drawn from
    drawn: npt.NDArray[np.int64]  # sorted
    floor: float
    pairs: Pairs  # (drawn key, key, similarity), similarity the float32 `score` of the two

    def serves(self, keys: int, drawn: npt.NDArray[np.int64], thresholds: Sequence[float]) -> bool:
        """Whether these lists answer a check of `drawn` among `keys` at `thresholds`."""
        return bool(
            self.keys == keys
            and np.array_equal(self.drawn, drawn)
            and at_least(self.floor) <= at_least(min(thresholds, default=1.0))
        )


def draw(keys: int, sample: int = SAMPLE, seed: int = 0) -> npt.NDArray[np.int64]:
    """The keys a check draws: `sample` of `keys` at random (seeded), sorted."""
    chosen = np.random.default_rng(seed).choice(keys, min(sample, keys), replace=False)
    return np.sort(chosen).astype(np.int64)


def exact_sample(
    vectors: npt.NDArray[np.float32], drawn: npt.NDArray[np.int64], floor: float
) -> Sample:
    """Every key at least `floor` similar to each drawn key, by products against every key."""
    n = len(vectors)
    cutoff = at_least(floor)
    rows_per_block = max(1, PRODUCT_FLOATS // max(n, 1))  # bounds the product's memory
    parts: list[Pairs] = []
    for start in range(0, len(drawn), rows_per_block):
        rows = drawn[start : start + rows_per_block]
        product = vectors[rows] @ vectors.T
        r, v = np.nonzero(product >= cutoff - 1e-5)
        del product
        u = rows[r]
        s = score(vectors, u, v.astype(np.int64))
        kept = s >= cutoff
        parts.append((u[kept], v[kept].astype(np.int64), s[kept]))
    return Sample(n, drawn, floor, joined(parts))


def checked(
    sample: Sample,
    built: entries.Built,
    traffic: simulate.Traffic,
    thresholds: Sequence[float],
    settings: simulate.CacheSettings,
) -> Approximation:
    """The check of `built` against the exact lists of `sample`'s keys (see the module)."""
    lists = built.entry_lists.lists
    n = lists.n
    drawn = sample.drawn
    patched, again = lists, built.results
    window = built.entry_lists.window
    reach = None
    if window is not None and settings.ttl_s is not None:  # lists kept to windows
        windows = Windows(traffic, settings.ttl_s, n)
        complete_from = built.entry_lists.complete_from

        def reach(u: Keys, v: Keys, s: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
            return (s >= complete_from[v]) | windows.reaches(window, v, u)

    extra: list[Pairs] = []
    recall: tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]] | None = None
    for _ in range(ROUNDS):  # a patched replay can make new entries: patch again for them
        need = entries.needs(again, traffic, n)
        (u, v, s), found = _exact_pairs(sample, patched, need, reach)
        recall = recall or (s, found)
        if found.all():
            break
        extra.append((u[~found], v[~found], s[~found]))
        patched = entries.inserted(lists, joined(extra))
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
    sample: Sample,
    lists: Neighbours,
    need: npt.NDArray[np.float64],
    reach: Reach | None = None,
) -> tuple[Pairs, npt.NDArray[np.bool_]]:
    """Every (drawn key, entry, similarity) at least the entry's need (and, with `reach`, that
    the lists promise: a window reaches only so far); and which the lists hold."""
    u, v, s = sample.pairs
    kept = s >= float32_up(need[v])  # +inf need (no entry): never
    if reach is not None:
        kept &= reach(u, v, s)
    u, v, s = u[kept], v[kept], s[kept]
    owner, position = lists.gather(sample.drawn)
    held_codes = np.sort(sample.drawn[owner] * lists.n + lists.index[position])
    codes = u * lists.n + v
    at = np.minimum(np.searchsorted(held_codes, codes), max(len(held_codes) - 1, 0))
    held = held_codes[at] == codes if len(held_codes) else np.zeros(len(codes), np.bool_)
    return (u, v, s), held
