"""Neighbour lists that stay small however dense the traffic: complete over the entries alone.

A replay serves a request only from an entry, so a key u's list need not hold every key near it,
only the keys that become entries. The lists here hold pairs u -> v (v may serve u) with their
similarity, and for each key v a bound `complete_from[v]` (float32): every key u with
sim(u, v) >= complete_from[v] holds v in its list (+inf: nothing is promised about v).

They are built to a fixed point (`build`):

1. Seed: each key v's k nearest keys u get v in their lists; complete_from[v] is the float32 just
   above v's k-th similarity (-inf when k reaches every key).
2. Replay every threshold (`simulate.replay`). need[v] is the lowest threshold at which some
   request of key v became an entry.
3. Every key with need[v] < complete_from[v] is searched down to need[v] (`Search.within`): each
   key found gets v in its list, and complete_from[v] becomes need[v].
4. Repeat from 2 until no key needs more.

At the fixed point the replay equals the replay over complete lists (every key at least the
lowest threshold similar), threshold by threshold, when the search finds every pair: by induction
over the requests, the two replays are in the same state before request i; a key that is never an
entry at threshold t is passed over by the replay (it has no live entry and no first entry), and
for every key v that is an entry at t, complete_from[v] <= need[v] <= t, so request i's list holds
every such v at least t similar to it, most similar first, exactly as the complete list orders
them; so both replays decide i alike. What is kept is therefore k pairs per key plus, for each
entry, the keys at least its need similar to it: bounded by the entries, not by the square of
the keys.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from costlab.cache import simulate, witness
from costlab.cache.merge import merged
from costlab.cache.neighbours import ANY, Neighbours, at_least, float32_up, joined, per_list
from costlab.cache.search import Among, Pairs, Search
from costlab.cache.windows import Window, Windows

SEED_K = 16  # nearest keys seeded per key: enough for most keys never to need a search
MAX_ROUNDS = 60  # 2-6 rounds without a TTL; a TTL of a day over a month took 19 at 300,000
BALL_PAIRS = 1 << 25  # pairs of refuted keys' searches kept for later rounds (256 MiB at most)
UNKNOWN = np.float32(math.inf)
Progress = Callable[[str, int, int], None]  # (stage, done, to do)
Entered = npt.NDArray[np.int64]  # per key, the first request at which it became an entry
NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True, eq=False)
class EntryLists:
    """Lists u -> v in CSR form (most similar first) and, per key, where v's coverage starts."""

    lists: Neighbours
    complete_from: npt.NDArray[np.float32]
    seeded_from: npt.NDArray[np.float32]  # what the seed alone promised (its k nearest)
    window: Window | None = None  # a promise within time windows (a TTL run), beside the rest

    @property
    def pairs(self) -> int:
        return int(self.lists.offsets[-1])

    def restrict(self, keep: npt.NDArray[np.int64]) -> EntryLists:
        """The lists over the keys `keep` (new key i is old key `keep[i]`): still complete."""
        return EntryLists(
            self.lists.restrict(keep), self.complete_from[keep], self.seeded_from[keep]
        )


@dataclass(frozen=True)
class Built:
    """The replay of every threshold over lists at their fixed point, and how it got there."""

    results: list[simulate.SimResult]
    entry_lists: EntryLists
    rounds: int
    searched: int  # keys searched beyond their seed


def seed(search: Search, k: int = SEED_K, progress: Progress | None = None) -> EntryLists:
    """Step 1: each key in the lists of its k nearest keys."""
    v, u, s = search.nearest(k, _stage(progress, "neighbours"))
    # an index's k nearest are not surely the k nearest: they promise nothing, and a key that
    # becomes an entry is searched (with the radius that matters) like one never seeded
    bounds = seed_bounds(search.n, v, s, k) if search.finds_all else np.full(search.n, UNKNOWN)
    return EntryLists(assemble(search.n, (u, v, s)), bounds, bounds.copy())


def seed_bounds(
    n: int, v: npt.NDArray[np.int64], s: npt.NDArray[np.float32], k: int
) -> npt.NDArray[np.float32]:
    """complete_from of keys whose k nearest (v, similarity s) were found; +inf for the others.

    Just above the k-th similarity: every key more similar than that was found. Where fewer than
    k were found, every key there is was (k reaches all n keys, or the exact search's rows).
    """
    complete_from = np.full(n, UNKNOWN, dtype=np.float32)
    counts = np.bincount(v, minlength=n)
    if k >= n:
        complete_from[counts > 0] = -UNKNOWN
        return complete_from
    kth = np.full(n, UNKNOWN, dtype=np.float32)
    np.minimum.at(kth, v, s)
    full = counts >= k
    complete_from[full] = np.nextafter(kth[full], UNKNOWN)
    return complete_from


def build(
    traffic: simulate.Traffic,
    thresholds: Sequence[float],
    settings: simulate.CacheSettings,
    start: EntryLists,
    search: Callable[[], Search],
    progress: Progress | None = None,
) -> Built:
    """Steps 2-4 from `start`; `search` is made only when a key needs one.

    With a TTL and no capacity, a search promises only the keys its window reaches
    (costlab.cache.windows), and the expired misses are counted afresh at the end
    (costlab.cache.witness).
    """
    current, made, searched, balls = start, None, 0, Balls()
    windows = None
    if settings.ttl_s is not None and settings.max_entries is None:
        windows = Windows(traffic, settings.ttl_s, start.lists.n)
        current = replace(current, window=current.window or Window.empty(start.lists.n))
    for rounds in range(1, MAX_ROUNDS + 1):
        results = simulate.replay(current.lists, traffic, thresholds, settings)
        if windows is None or current.window is None:
            need = needs(results, traffic, current.lists.n)
            # float32 similarities: s >= t exactly when s >= the smallest float32 >= t
            short = np.flatnonzero(float32_up(need) < current.complete_from)
            radius, grown = need[short], None
        else:
            short, grown = windows.uncovered(results, current.complete_from, current.window)
            radius = grown.radius[short]
        if not len(short):
            if made is not None and windows is not None:  # a window may hide an expired miss
                results, more = witness.recounted(
                    results,
                    traffic,
                    current.lists,
                    current.complete_from,
                    made,
                    _stage(progress, "expired misses"),
                )
                searched += more
            return Built(results, current, rounds, searched)
        made = made or search()
        entered = {r.threshold: _entered(r, traffic, current.lists.n) for r in results}
        reach = None if grown is None or windows is None else (windows, grown)
        current = extend(current, made, short, radius, entered, progress, balls, reach)
        searched += len(short)
    raise RuntimeError(f"neighbour lists did not settle in {MAX_ROUNDS} rounds")


def needs(
    results: list[simulate.SimResult], traffic: simulate.Traffic, keys: int
) -> npt.NDArray[np.float64]:
    """Per key, the lowest threshold at which one of its requests became an entry (+inf: none)."""
    need = np.full(keys, math.inf)
    for r in sorted(results, key=lambda r: -r.threshold):  # the lowest threshold writes last
        need[traffic.keys[~r.hit]] = r.threshold
    return need


def _entered(result: simulate.SimResult, traffic: simulate.Traffic, keys: int) -> Entered:
    """Per key, the first request at which it became an entry in this replay (NEVER: none)."""
    first = np.full(keys, NEVER, dtype=np.int64)
    misses = np.flatnonzero(~result.hit)
    np.minimum.at(first, traffic.keys[misses], misses)
    return first


def extend(
    current: EntryLists,
    search: Search,
    keys: npt.NDArray[np.int64],
    need: npt.NDArray[np.float64],
    entered: dict[float, Entered] | None = None,
    progress: Progress | None = None,
    balls: Balls | None = None,
    reach: tuple[Windows, Window] | None = None,
) -> EntryLists:
    """Step 3: `keys` searched down to their `need`; the keys found get them in their lists.

    With `entered` (each threshold's entry times), a key the search shows would have been
    served by an earlier entry its own list missed is *refuted* instead: it gets those entries
    in its list, which is all the next replay needs if it then stops being an entry (else it
    is searched again and kept). This keeps the keys that early rounds make entries only for
    want of a pair from flooding the lists with their neighbours. With `balls`, a refuted key's
    search is kept, and answers its search in a later round (at a radius as high or higher,
    scanning alike) without searching again. With `reach` (the traffic's windows and the
    window each key is searched for), a key found gets a searched key in its list only where
    the window reaches it, and a searched key's promise is that window (its time-free one
    stays as it was); and each key is searched only among the keys with a request near its
    window in time (`Windows.spans`), which are all the pairs it can use.
    """
    old = current.lists
    found: list[Pairs] = []
    # the pairs the searched keys' lists hold (only theirs are asked about below)
    asked = np.unique(keys)
    owner, position = old.gather(asked)
    held = np.sort(asked[owner] * old.n + old.index[position])
    del owner, position
    complete_from = current.complete_from.copy()
    window = None
    if current.window is not None:
        w = current.window
        window = Window(w.radius.copy(), w.lo.copy(), w.hi.copy())
    for radius in np.unique(need):  # one search per radius: the thresholds asked for
        group = keys[need == radius]
        first = None if entered is None else entered.get(float(radius))
        refuted: list[npt.NDArray[np.int64]] = []
        scan = search.scan(float(radius))
        parts: Iterable[tuple[npt.NDArray[np.int64], Among, int]] = [(group, None, scan)]
        if reach is not None:  # each key searched among the keys its window can pair it with
            parts = reach[0].spans(reach[1], first, group, scan)  # a mask at a time
        for part, among, code in parts:
            known = (
                np.zeros(len(part), np.bool_) if balls is None else balls.holds(part, radius, code)
            )
            stage = _stage(progress, "entries")
            blocks = search.within_blocks(part[~known], float(radius), stage, among)
            if balls is not None and known.any():
                blocks = itertools.chain([balls.take(part[known], radius)], blocks)
            for v, u, s in blocks:
                wrong = np.zeros(0, np.int64)
                if first is not None:
                    missed = ~_held(held, v * old.n + u)
                    if reach is not None:  # only an entry live at v's could have served it
                        missed &= reach[0].within_ttl(first[u], first[v])
                    wrong = np.unique(v[missed & (first[u] < first[v]) & (u != v)])
                    fix = np.isin(v, wrong) & (first[u] < NEVER) & missed
                    found.append((v[fix], u[fix], s[fix]))
                    refuted.append(wrong)
                    if balls is not None and len(wrong):
                        balls.keep(v, u, s, wrong, radius, code)
                kept = ~np.isin(v, wrong)
                if reach is not None:
                    kept &= reach[0].reaches(reach[1], v, u)
                found.append((u[kept], v[kept], s[kept]))
        done = np.setdiff1d(group, np.concatenate([np.zeros(0, np.int64), *refuted]))
        if reach is not None and window is not None:
            window.radius[done], window.lo[done] = reach[1].radius[done], reach[1].lo[done]
            window.hi[done] = reach[1].hi[done]
        else:
            bound = at_least(float(radius))
            complete_from[done] = np.minimum(complete_from[done], bound)
    extra = joined(found)
    found.clear()  # the parts, now copied into `extra`: not held twice while the lists grow
    return EntryLists(inserted(old, extra), complete_from, current.seeded_from, window)


class Balls:
    """The searches of refuted keys (costlab.cache.entries.extend), kept for a later round: key
    v's pairs at least `radius` similar, found scanning `scan`. Bounded by `BALL_PAIRS`."""

    def __init__(self) -> None:
        self._found: dict[int, tuple[float, int, npt.NDArray[np.int32], npt.NDArray[np.float32]]]
        self._found = {}
        self.pairs = 0

    def holds(self, keys: npt.NDArray[np.int64], radius: float, scan: int) -> npt.NDArray[np.bool_]:
        """Which keys' kept search answers one at `radius` scanning `scan`."""
        out = np.zeros(len(keys), np.bool_)
        for i, k in enumerate(keys.tolist()):
            kept = self._found.get(k)
            out[i] = kept is not None and kept[0] <= radius and kept[1] == scan
        return out

    def take(self, keys: npt.NDArray[np.int64], radius: float) -> Pairs:
        """The kept (key, neighbour, similarity) of `keys` at least `radius` similar; the keys
        are let go (a key refuted again is kept again)."""
        parts = [self._found.pop(k) for k in keys.tolist()]
        self.pairs -= sum(len(p[2]) for p in parts)
        v = np.repeat(keys, [len(p[2]) for p in parts])
        u = np.concatenate([np.zeros(0, np.int32), *(p[2] for p in parts)]).astype(np.int64)
        s = np.concatenate([np.zeros(0, np.float32), *(p[3] for p in parts)])
        kept = s >= at_least(radius)
        return v[kept], u[kept], s[kept]

    def keep(
        self,
        v: npt.NDArray[np.int64],
        u: npt.NDArray[np.int64],
        s: npt.NDArray[np.float32],
        keys: npt.NDArray[np.int64],
        radius: float,
        scan: int,
    ) -> None:
        """Keep the pairs of `keys` among the search's (v, u, s), while the bound allows."""
        mine = np.isin(v, keys)
        v, u, s = v[mine], u[mine], s[mine]
        if self.pairs + len(v) > BALL_PAIRS:
            return
        order = np.argsort(v, kind="stable")
        v, u, s = v[order], u[order], s[order]
        starts = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1]])[: len(v)]).tolist()
        for a, b in zip(starts, [*starts[1:], len(v)], strict=True):
            self._found[int(v[a])] = (float(radius), scan, u[a:b].astype(np.int32), s[a:b])
        self.pairs += len(v)


def _held(held: npt.NDArray[np.int64], codes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which pair codes (u * n + v) are in the sorted `held`."""
    at = np.minimum(np.searchsorted(held, codes), max(len(held) - 1, 0))
    return held[at] == codes if len(held) else np.zeros(len(codes), dtype=np.bool_)


def prune(entry_lists: EntryLists, need: npt.NDArray[np.float64]) -> EntryLists:
    """What is worth keeping once the replay settled: the seed's pairs, and a search's pairs only
    down to the need of a key that is still an entry (keys made entries in early rounds that are
    none at the end fall back to their seed). The promise narrows to what is kept; a window's
    pairs are kept down to the need of its key, and the window with them."""
    bound = np.maximum(
        entry_lists.complete_from, np.minimum(entry_lists.seeded_from, float32_up(need))
    )
    lists = entry_lists.lists
    kept = lists.similarity >= bound[lists.index]
    window = entry_lists.window
    if window is not None:
        windowed = np.maximum(float32_up(window.radius), float32_up(need))
        kept |= lists.similarity >= windowed[lists.index]
    # the lists are in order and hold each pair once: what is kept of them is too
    offsets = np.zeros(lists.n + 1, dtype=np.int64)
    np.cumsum(per_list(lists.offsets, kept), out=offsets[1:])
    pruned = Neighbours(ANY, offsets, lists.index[kept], lists.similarity[kept], complete=False)
    return EntryLists(pruned, bound, entry_lists.seeded_from, window)


def assemble(n: int, *parts: Pairs) -> Neighbours:
    """Pairs (u, v, similarity) as lists per u, most similar first, ties by smaller v, once each."""
    u, v, s = joined(list(parts))
    order = list_order(u, v, s)
    u = u[order]  # one array at a time: the old one goes as its ordered copy comes
    v = v[order]
    s = s[order]
    del order
    if len(u):  # a pair found twice (seed and search) is kept once
        fresh = np.ones(len(u), dtype=np.bool_)
        fresh[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v, s = u[fresh], v[fresh], s[fresh]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=offsets[1:])
    return Neighbours(ANY, offsets, v, s, complete=False)


def list_order(
    u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], s: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    """`np.lexsort((v, -s, u))`, faster: one stable sort of (u, -s) packed in 64 bits (quick on
    lists already in order, as most are), then the rare runs of equal (u, s) by v."""
    if len(u) and (u.min() < 0 or u.max() >= 1 << 31):
        return np.lexsort((v, -s, u))
    bits = (-(s.astype(np.float32)) + np.float32(0.0)).view(np.uint32)  # -0.0 sorts as 0.0
    bits ^= np.where(bits >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    key = u.astype(np.uint64) << np.uint64(32)
    key |= bits
    del bits
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    del key
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(tied):
        at = np.unique(np.concatenate([tied, tied + 1]))
        within = order[at]
        order[at] = within[np.lexsort((v[within], ordered[at]))]
    return order


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def inserted(lists: Neighbours, extra: Pairs) -> Neighbours:
    """`lists` with the pairs `extra` added, as `assemble` of both would give: the pairs sorted
    among themselves, then merged into the lists in one pass (costlab.cache.merge)."""
    if not len(extra[0]):
        return lists
    return merged(lists, assemble(lists.n, extra))
