"""With a TTL, an entry serves only the requests within the TTL after it: lists kept to those.

Without a capacity, an entry of key v inserted at request e is live exactly while
`ts[i] - ts[e] < ttl`, so it can serve only requests after e and before `ts[e] + ttl`. Over a
month with a TTL of a day, most keys become entries at a low threshold (their similar entries
have expired), and promising every key near them a place in their lists (costlab.cache.entries)
comes close to all pairs above it. A *window* promises less, and enough:

    every key u with sim(u, v) >= radius[v] and a request in [lo[v], end(hi[v])) holds v,

where lo[v] <= hi[v] are request indices and end(h) is the first request at or after
`ts[h] + ttl`. An entry e of v at threshold t is covered by it when t >= radius[v] and
lo[v] <= e <= hi[v]: every request i it can serve lies in that range (e < i and
ts[i] < ts[e] + ttl <= ts[hi] + ttl), so every key at least t similar to v that has such a request
holds v, and the replay decides i as over complete lists. The lists' time-free promise
(`complete_from`) covers the rest; an entry neither covers makes its key be searched again with
the window grown to it (`Windows.uncovered`).

A search for v can only pair it with keys that have a request near v's window in time: the keys
its window reaches (a request in [lo[v], end(hi[v]))) and the entries that refute it (an entry
live at v's first entry, less than a TTL before or after it). So each key is searched *among*
the keys with a request from one TTL before the earlier of lo[v] and its first entry to one TTL
after the later of hi[v] and it (`Windows.spans`), which finds exactly the pairs a search among
all keys finds there: a month's search at a day's TTL scans a few days' keys.

What the replay cannot tell from such lists is the *expired* misses: a miss that an entry of long
ago would have served (costlab.cache.simulate) is a pair the window leaves out. Those are counted
afresh once the replay settles (costlab.cache.witness).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.cache import simulate
from costlab.cache.neighbours import at_least, float32_up

NONE = np.iinfo(np.int64).max  # lo of a key with no window
SPAN_BLOCKS = 4  # a TTL cut into this many blocks of time: a key's search spans whole blocks
MAX_BLOCKS = 4096  # at most this many blocks, however short the TTL (wider ones scan more)
MARGIN_S = 1.0  # a span reaches this much further each way than the float sums say


@dataclass(frozen=True, eq=False)
class Window:
    """Per key: the radius of its windowed promise (+inf: none) and its span of entries."""

    radius: npt.NDArray[np.float64]  # a threshold asked for, as given (not rounded)
    lo: npt.NDArray[np.int64]
    hi: npt.NDArray[np.int64]

    @classmethod
    def empty(cls, n: int) -> Window:
        return cls(np.full(n, math.inf), np.full(n, NONE, np.int64), np.full(n, -1, np.int64))


class Windows:
    """The traffic's requests per key, to keep a search's pairs to the keys a window reaches."""

    def __init__(self, traffic: simulate.Traffic, ttl_s: float, keys: int) -> None:
        self.traffic, self.ttl_s, self.keys = traffic, ttl_s, keys
        n = traffic.n
        # request i of key k as k * n + i, sorted: a key's requests in index order
        self._codes = np.sort(traffic.keys * max(n, 1) + np.arange(n, dtype=np.int64))
        # end(h): the first request at or after ts[h] + ttl, a few ulps later: the replay tests
        # `ts[i] - ts[h] < ttl`, which may round otherwise than `ts[i] < ts[h] + ttl` (a window
        # that reaches a little further only promises a few more pairs)
        bound = traffic.ts + ttl_s
        bound += 4 * np.spacing(np.abs(bound))
        self._end = np.searchsorted(traffic.ts, bound, side="right").astype(np.int64)

    def reaches(
        self, window: Window, v: npt.NDArray[np.int64], u: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Which pairs (v, u) the window of v promises: u has a request in v's span."""
        n = max(self.traffic.n, 1)
        lo, hi = window.lo[v], window.hi[v]
        spanned = hi >= 0
        start = u * n + np.where(spanned, lo, 0)
        stop = u * n + np.where(spanned, self._end[np.maximum(hi, 0)], 0)
        at = np.searchsorted(self._codes, start)
        inside = at < len(self._codes)
        inside[inside] = self._codes[at[inside]] < stop[inside]
        return inside & spanned

    def spans(
        self,
        window: Window,
        first: npt.NDArray[np.int64] | None,
        keys: npt.NDArray[np.int64],
        scan: int,
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], int]]:
        """`keys` (each searched for `window`, first an entry at request `first`) in groups of
        one span of time blocks: each group, the keys with a request in that span (every key its
        search can pair it with), and a code of the scan and the span (a search kept for one
        answers another only with the same code)."""
        ts = self.traffic.ts
        if not len(keys) or not len(ts):
            return
        lo, hi = window.lo[keys], window.hi[keys]
        if first is not None:
            entry = first[keys]
            known = entry < len(ts)
            lo = np.where(known, np.minimum(lo, entry), lo)
            hi = np.where(known, np.maximum(hi, entry), hi)
        width = max(self.ttl_s / SPAN_BLOCKS, (ts[-1] - ts[0]) / MAX_BLOCKS, 1e-3)
        count = int((ts[-1] - ts[0]) // width) + 1
        start = np.floor((ts[lo] - self.ttl_s - MARGIN_S - ts[0]) / width)
        stop = np.floor((ts[hi] + self.ttl_s + MARGIN_S - ts[0]) / width)
        start = np.clip(start, 0, count - 1).astype(np.int64)
        stop = np.clip(stop, 0, count - 1).astype(np.int64)
        # the first request of each block, and one past the last block
        bounds = np.searchsorted(ts, ts[0] + width * np.arange(count + 1), side="left")
        bounds[-1] = len(ts)
        span = start * count + stop
        order = np.argsort(span, kind="stable")
        cuts = np.flatnonzero(np.diff(span[order])) + 1
        for part in np.split(order, cuts):
            a, b = int(start[part[0]]), int(stop[part[0]])
            among = np.zeros(self.keys, np.bool_)
            among[self.traffic.keys[bounds[a] : bounds[b + 1]]] = True
            yield keys[part], among, (scan * count + a) * count + b

    def within_ttl(
        self, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Whether requests a[i] and b[i] are less than the TTL apart (any index past the
        traffic, as for no request: never)."""
        n = self.traffic.n
        both = (a >= 0) & (a < n) & (b >= 0) & (b < n)
        out = np.zeros(len(a), np.bool_)
        ts = self.traffic.ts
        out[both] = np.abs(ts[a[both]] - ts[b[both]]) < self.ttl_s
        return out

    def uncovered(
        self,
        results: Sequence[simulate.SimResult],
        complete_from: npt.NDArray[np.float32],
        window: Window,
    ) -> tuple[npt.NDArray[np.int64], Window]:
        """The keys with an entry neither promise covers, and the window each must be searched
        to: its radius lowered to the entry's threshold, its span grown to every entry of the
        key the time-free promise does not cover (so one search covers them all)."""
        short = np.zeros(self.keys, np.bool_)
        radius, lo, hi = window.radius.copy(), window.lo.copy(), window.hi.copy()
        for result in results:
            misses = np.flatnonzero(~result.hit)
            keys = self.traffic.keys[misses]
            up = at_least(result.threshold)
            below = up < complete_from[keys]  # entries the time-free promise leaves out
            misses, keys = misses[below], keys[below]
            covered = (
                (up >= float32_up(window.radius[keys]))
                & (window.lo[keys] <= misses)
                & (misses <= window.hi[keys])
            )
            short[keys[~covered]] = True
            np.minimum.at(radius, keys, result.threshold)
            np.minimum.at(lo, keys, misses)
            np.maximum.at(hi, keys, misses)
        keys = np.flatnonzero(short)
        grown = Window(window.radius.copy(), window.lo.copy(), window.hi.copy())
        grown.radius[keys], grown.lo[keys], grown.hi[keys] = radius[keys], lo[keys], hi[keys]
        return keys, grown
