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

What the replay cannot tell from such lists is the *expired* misses: a miss that an entry of long
ago would have served (costlab.cache.simulate) is a pair the window leaves out. Those are counted
afresh once the replay settles (costlab.cache.witness).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.cache import simulate
from costlab.cache.neighbours import at_least, float32_up

NONE = np.iinfo(np.int64).max  # lo of a key with no window


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
