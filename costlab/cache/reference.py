"""The reference cache replay: each request compared with every entry, one request at a time.

Slow (quadratic) and obviously right: it follows the rules of `costlab.cache.simulate`'s docstring
literally, and every faster replay (the sweep over neighbour lists, the fixed point, the index,
the Ray engine) is tested against it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from costlab.cache.neighbours import check_threshold
from costlab.cache.simulate import CacheSettings, SimResult, Traffic, check_keys


def naive(
    vectors: npt.NDArray[np.float32],
    traffic: Traffic,
    threshold: float,
    settings: CacheSettings = CacheSettings(),  # noqa: B008 (frozen, so safe to share)
) -> SimResult:
    """The reference replay: each request compared with every entry, one request at a time.

    `vectors` has one row per key: request i's vector is `vectors[traffic.keys[i]]`.
    """
    check_threshold(threshold)
    check_keys(len(vectors), traffic)
    if vectors.ndim != 2:
        raise ValueError("vectors must be k × d, one row per key")
    per_request = np.asarray(vectors, dtype=np.float32)[traffic.keys]
    cache = _Reference(per_request, traffic, settings)
    served_by = np.full(traffic.n, -1, dtype=np.int64)
    for i in range(traffic.n):
        entry = cache.serve(i, threshold)
        if entry >= 0:
            served_by[i] = entry
            cache.last_used[entry] = i
        else:
            cache.count_dropped(i, threshold)
            cache.insert(i)
    end = traffic.n - 1
    live_end = np.flatnonzero(cache.live(end, traffic.n)) if traffic.n else np.zeros(0, np.int64)
    return SimResult(threshold, served_by >= 0, served_by, cache.expired, cache.evicted, live_end)


class _Reference:
    """The naive cache's state as flags over request indices."""

    def __init__(self, vectors: npt.NDArray[np.float32], traffic: Traffic, settings: CacheSettings):
        self.vectors, self.traffic, self.settings = vectors, traffic, settings
        self.is_entry = np.zeros(traffic.n, dtype=np.bool_)
        self.evicted_flag = np.zeros(traffic.n, dtype=np.bool_)
        self.last_used = np.full(traffic.n, -1, dtype=np.int64)
        self.expired = self.evicted = 0

    def live(self, i: int, before: int) -> npt.NDArray[np.bool_]:
        """Which of requests [0, before) are entries live at request i's time."""
        mask = self.is_entry[:before] & ~self.evicted_flag[:before]
        if self.settings.ttl_s is not None:
            mask &= self.traffic.ts[i] - self.traffic.ts[:before] < self.settings.ttl_s
        return mask

    def _best(self, i: int, entries: npt.NDArray[np.int64]) -> tuple[int, float]:
        """The most similar of `entries` to request i (the first on ties) and its similarity."""
        similarity = self.vectors[entries] @ self.vectors[i]
        k = int(np.argmax(similarity))
        return int(entries[k]), float(similarity[k])

    def serve(self, i: int, threshold: float) -> int:
        """The entry serving request i, or -1 for a miss."""
        same = self.traffic.scope[:i] == self.traffic.scope[i]
        live = np.flatnonzero(self.live(i, i) & same)
        exact = live[self.traffic.keys[live] == self.traffic.keys[i]]
        if len(exact):
            return int(exact[np.argmax(self.last_used[exact])])
        if len(live):
            entry, similarity = self._best(i, live)
            if similarity >= threshold:
                return entry
        return -1

    def count_dropped(self, i: int, threshold: float) -> None:
        """Count a miss whose best entry ever would have served it (it must have been dropped)."""
        ever = np.flatnonzero(self.is_entry[:i] & (self.traffic.scope[:i] == self.traffic.scope[i]))
        if not len(ever):
            return
        entry, similarity = self._best(i, ever)
        if similarity < threshold:
            return
        ttl_s = self.settings.ttl_s
        if ttl_s is not None and self.traffic.ts[i] - self.traffic.ts[entry] >= ttl_s:
            self.expired += 1
        else:
            self.evicted += 1

    def insert(self, i: int) -> None:
        """Make request i an entry, evicting the least recently used live entry when full."""
        if self.settings.max_entries is not None:
            live = np.flatnonzero(self.live(i, i))
            if len(live) >= self.settings.max_entries:
                self.evicted_flag[live[np.argmin(self.last_used[live])]] = True
        self.is_entry[i] = True
        self.last_used[i] = i
