"""Replay logged requests through a semantic cache: the naive reference and the threshold sweep.

The cache, request by request in time order (request i at `ts[i]`, in scope `scope[i]`):

- An entry is a request that missed; it is live at request i while it has not been evicted and,
  with a TTL, while `ts[i] - ts[entry] < ttl_s` (expiry counts from insertion; hits do not renew).
- Exact tier: a live entry of the same scope with the same key serves i (most recently used first).
- Semantic tier: otherwise the live entry of the same scope with the highest similarity (the float32
  dot product of the vectors; ties go to the earliest entry) serves i if similarity >= threshold.
- A hit marks the entry used at i. A miss makes i an entry: expired entries are dropped first, and
  when `max_entries` are still live, the least recently used (inserted or hit) one is evicted.

A miss counts as an *expired miss* or an *evicted miss* when the entry of the same scope most
similar to i among all entries ever inserted before i (live or not; ties to the earliest) has
similarity >= threshold, so it would have served i had it still been live. It is expired when a
TTL is set and `ts[i] - ts[entry] >= ttl_s`, and evicted otherwise. `live_entries_end` counts the
entries live at the last request's timestamp.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from costlab.cache.neighbours import Neighbours, check_threshold


@dataclass(frozen=True, eq=False)
class Traffic:
    """The logged requests in time order: timestamps (s), scope ids and exact-match key ids."""

    ts: npt.NDArray[np.float64]
    scope: npt.NDArray[np.int64]
    keys: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", np.asarray(self.ts, dtype=np.float64))
        object.__setattr__(self, "scope", np.asarray(self.scope, dtype=np.int64))
        object.__setattr__(self, "keys", np.asarray(self.keys, dtype=np.int64))
        if not self.ts.ndim == self.scope.ndim == self.keys.ndim == 1:
            raise ValueError("ts, scope and keys must be 1-D")
        if not len(self.ts) == len(self.scope) == len(self.keys):
            raise ValueError("ts, scope and keys must have one item per request")
        if np.any(np.diff(self.ts) < 0):
            raise ValueError("requests must be in time order")

    @property
    def n(self) -> int:
        """The number of requests."""
        return len(self.ts)


@dataclass(frozen=True)
class CacheSettings:
    """How long an entry lives after insertion and how many entries the whole cache holds."""

    ttl_s: float | None = None
    max_entries: int | None = None

    def __post_init__(self) -> None:
        if self.ttl_s is not None and not self.ttl_s > 0:
            raise ValueError(f"ttl_s must be positive, got {self.ttl_s!r}")
        if self.max_entries is not None and self.max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {self.max_entries!r}")


@dataclass(frozen=True, eq=False)
class SimResult:
    """One threshold's replay: each request's hit, and the entry (request index) serving it."""

    threshold: float
    hit: npt.NDArray[np.bool_]
    served_by: npt.NDArray[np.int64]
    expired_misses: int
    evicted_misses: int
    live_entries_end: int

    @property
    def hit_rate(self) -> float:
        """The share of requests served from the cache (0 for no requests)."""
        return float(self.hit.mean()) if len(self.hit) else 0.0


def naive(
    vectors: npt.NDArray[np.float32],
    traffic: Traffic,
    threshold: float,
    settings: CacheSettings = CacheSettings(),  # noqa: B008 (frozen, so safe to share)
) -> SimResult:
    """The reference replay: each request compared with every entry, one request at a time."""
    check_threshold(threshold)
    if vectors.ndim != 2 or len(vectors) != traffic.n:
        raise ValueError("vectors must be n × d, one row per request")
    cache = _Reference(np.asarray(vectors, dtype=np.float32), traffic, settings)
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
    live_end = int(cache.live(end, traffic.n).sum()) if traffic.n else 0
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


def sweep(
    neighbours: Neighbours,
    traffic: Traffic,
    thresholds: Sequence[float],
    settings: CacheSettings = CacheSettings(),  # noqa: B008 (frozen, so safe to share)
) -> list[SimResult]:
    """Replay every threshold over neighbour lists computed once; equal to `naive` for each one."""
    if not neighbours.complete:
        raise ValueError("a sweep is exact only over complete neighbour lists")
    if neighbours.n != traffic.n:
        raise ValueError(f"neighbour lists cover {neighbours.n} requests, traffic has {traffic.n}")
    for threshold in thresholds:
        check_threshold(threshold)
        if threshold < neighbours.min_threshold:
            raise ValueError(
                f"threshold {threshold} is below the neighbour lists' "
                f"min_threshold {neighbours.min_threshold}"
            )
    lists = _Lists.of(neighbours, traffic)
    return [_Replay(lists, threshold, settings).run() for threshold in thresholds]


@dataclass(frozen=True)
class _Lists:
    """The neighbour lists and the traffic in the forms the replay loop reads fastest."""

    starts: list[int]
    offsets: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]
    similarity: npt.NDArray[np.float64]  # float64, so that `>= threshold` compares as in naive
    ts: list[float]
    scope_key: list[tuple[int, int]]

    @classmethod
    def of(cls, neighbours: Neighbours, traffic: Traffic) -> _Lists:
        offsets, similarity = neighbours.offsets, neighbours.similarity.astype(np.float64)
        scope_key = list(zip(traffic.scope.tolist(), traffic.keys.tolist(), strict=True))
        starts: list[int] = offsets[:-1].tolist()
        return cls(starts, offsets, neighbours.index, similarity, traffic.ts.tolist(), scope_key)

    def ends(self, threshold: float) -> list[int]:
        """Per request, where the run of its neighbours at least `threshold` similar ends."""
        within = np.concatenate([[0], np.cumsum(self.similarity >= threshold)])
        ends: list[int] = (
            self.offsets[:-1] + within[self.offsets[1:]] - within[self.offsets[:-1]]
        ).tolist()
        return ends


@dataclass
class _Replay:
    """One threshold's replay over the lists; the live entries are kept in LRU order."""

    lists: _Lists
    threshold: float
    settings: CacheSettings
    live: OrderedDict[int, None] = field(default_factory=OrderedDict)  # least recently used first
    inserted: deque[int] = field(default_factory=deque)
    exact: dict[tuple[int, int], int] = field(default_factory=dict)
    is_entry: npt.NDArray[np.bool_] = field(init=False)  # ever inserted, by request index
    expired: int = 0
    evicted: int = 0

    def __post_init__(self) -> None:
        self.is_entry = np.zeros(len(self.lists.ts), dtype=np.bool_)

    def alive(self, entry: int, now: float) -> bool:
        ttl_s = self.settings.ttl_s
        return entry in self.live and (ttl_s is None or now - self.lists.ts[entry] < ttl_s)

    def run(self) -> SimResult:
        ts, scope_key = self.lists.ts, self.lists.scope_key
        starts, ends = self.lists.starts, self.lists.ends(self.threshold)
        lru = self.settings.max_entries is not None
        served_by = [-1] * len(ts)
        for i, now in enumerate(ts):
            entry = self.exact.get(scope_key[i], -1)
            if entry < 0 or not self.alive(entry, now):
                entry = self.semantic(now, starts[i], ends[i]) if ends[i] > starts[i] else -1
            if entry >= 0:
                served_by[i] = entry
                if lru:
                    self.live.move_to_end(entry)
            else:
                self.insert(i, now)
        live_end = sum(self.alive(e, ts[-1]) for e in self.live) if ts else 0
        served = np.array(served_by, dtype=np.int64)
        return SimResult(self.threshold, served >= 0, served, self.expired, self.evicted, live_end)

    def semantic(self, now: float, start: int, end: int) -> int:
        """The first live entry in the list's run above the threshold, else -1 (counting drops)."""
        index = self.lists.index[start:end]
        entries: list[int] = index[self.is_entry[index]].tolist()  # best first, ties earliest
        for entry in entries:
            if self.alive(entry, now):
                return entry
        if entries:
            ttl_s = self.settings.ttl_s
            if ttl_s is not None and now - self.lists.ts[entries[0]] >= ttl_s:
                self.expired += 1
            else:
                self.evicted += 1
        return -1

    def insert(self, i: int, now: float) -> None:
        """Make request i an entry: drop expired entries, then evict the LRU one when full."""
        ttl_s, max_entries = self.settings.ttl_s, self.settings.max_entries
        if ttl_s is not None:
            while self.inserted and now - self.lists.ts[self.inserted[0]] >= ttl_s:
                self.live.pop(self.inserted.popleft(), None)
            self.inserted.append(i)
        if max_entries is not None and len(self.live) >= max_entries:
            self.live.popitem(last=False)
        self.live[i] = None
        self.is_entry[i] = True
        self.exact[self.lists.scope_key[i]] = i
