"""Replay logged requests through a semantic cache: the naive reference and the threshold sweep.

The cache, request by request in time order (request i at `ts[i]`, in scope `scope[i]`, with the
cache key `keys[i]`; each key has one vector, so a request's vector is its key's):

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
TTL is set and `ts[i] - ts[entry] >= ttl_s`, and evicted otherwise. `live_at_end` lists the
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
    live_at_end: npt.NDArray[np.int64]  # the entries live at the last request's time

    @property
    def live_entries_end(self) -> int:
        """How many entries are live at the last request's time."""
        return len(self.live_at_end)

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
    """The reference replay: each request compared with every entry, one request at a time.

    `vectors` has one row per key: request i's vector is `vectors[traffic.keys[i]]`.
    """
    check_threshold(threshold)
    _check_keys(len(vectors), traffic)
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


def sweep(
    neighbours: Neighbours,
    traffic: Traffic,
    thresholds: Sequence[float],
    settings: CacheSettings = CacheSettings(),  # noqa: B008 (frozen, so safe to share)
) -> list[SimResult]:
    """Replay every threshold over neighbour lists computed once; equal to `naive` for each one."""
    if not neighbours.complete:
        raise ValueError("a sweep is exact only over complete neighbour lists")
    _check_keys(neighbours.n, traffic)
    for threshold in thresholds:
        check_threshold(threshold)
        if threshold < neighbours.min_threshold:
            raise ValueError(
                f"threshold {threshold} is below the neighbour lists' "
                f"min_threshold {neighbours.min_threshold}"
            )
    lists = _Lists.of(neighbours, traffic)
    return [_Replay(lists, threshold, settings).run() for threshold in thresholds]


def _check_keys(count: int, traffic: Traffic) -> None:
    if traffic.n and (traffic.keys.min() < 0 or traffic.keys.max() >= count):
        raise ValueError(f"traffic keys must index the {count} keys' vectors")


@dataclass(frozen=True)
class _Lists:
    """The traffic as slots, one per (scope, key) seen, with each slot's neighbour slots.

    A slot's list is its key's list kept to the keys seen in the same scope, in the same order.
    At most one entry per slot is live at a time (a request whose slot has a live entry is an
    exact hit), so the replay keeps, per slot, its latest entry and its first one.
    """

    slot: list[int]  # per request
    offsets: npt.NDArray[np.int64]  # per slot
    index: npt.NDArray[np.int64]  # neighbour slots
    similarity: npt.NDArray[np.float64]  # float64, so that `>= threshold` compares as in naive
    ts: list[float]

    @classmethod
    def of(cls, neighbours: Neighbours, traffic: Traffic) -> _Lists:
        keys = neighbours.n
        _, scope = np.unique(traffic.scope, return_inverse=True)
        codes, slot = np.unique(scope.astype(np.int64) * keys + traffic.keys, return_inverse=True)
        slot_scope, slot_key = codes // max(keys, 1), codes % max(keys, 1)
        owner, position = neighbours.gather(slot_key)
        wanted = slot_scope[owner] * keys + neighbours.index[position]
        found = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
        kept = codes[found] == wanted if len(codes) else np.zeros(0, dtype=np.bool_)
        offsets = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[kept], minlength=len(codes)), out=offsets[1:])
        similarity = neighbours.similarity[position[kept]].astype(np.float64)
        return cls(slot.tolist(), offsets, found[kept], similarity, traffic.ts.tolist())

    @property
    def slots(self) -> int:
        return len(self.offsets) - 1

    def runs(self, threshold: float) -> tuple[list[int], list[int], list[bool]]:
        """Per slot: where its list starts, where the run at least `threshold` similar ends,
        and whether that run is the slot alone (no other slot near enough to serve it)."""
        within = np.concatenate([[0], np.cumsum(self.similarity >= threshold)])
        starts = self.offsets[:-1]
        ends = starts + within[self.offsets[1:]] - within[starts]
        alone = np.zeros(self.slots, dtype=np.bool_)
        single = np.flatnonzero(ends - starts == 1)
        alone[single] = self.index[starts[single]] == single
        return starts.tolist(), ends.tolist(), alone.tolist()


@dataclass
class _Replay:
    """One threshold's replay over the lists; the live entries are kept in LRU order."""

    lists: _Lists
    threshold: float
    settings: CacheSettings
    live: OrderedDict[int, None] = field(default_factory=OrderedDict)  # least recently used first
    inserted: deque[int] = field(default_factory=deque)
    latest: list[int] = field(init=False)  # per slot, its latest entry (request index) or -1
    latest_np: npt.NDArray[np.int64] = field(init=False)  # the same, for vectorised lookups
    first: list[int] = field(init=False)  # per slot, its first entry or -1
    first_np: npt.NDArray[np.int64] = field(init=False)  # the same, for vectorised lookups
    expired: int = 0
    evicted: int = 0

    def __post_init__(self) -> None:
        self.latest = [-1] * self.lists.slots
        self.latest_np = np.full(self.lists.slots, -1, dtype=np.int64)
        self.first = [-1] * self.lists.slots
        self.first_np = np.full(self.lists.slots, -1, dtype=np.int64)

    def alive(self, entry: int, now: float) -> bool:
        ttl_s = self.settings.ttl_s
        return entry in self.live and (ttl_s is None or now - self.lists.ts[entry] < ttl_s)

    def run(self) -> SimResult:
        ts, slot = self.lists.ts, self.lists.slot
        starts, ends, alone = self.lists.runs(self.threshold)
        lru = self.settings.max_entries is not None
        served_by = [-1] * len(ts)
        for i, now in enumerate(ts):
            k = slot[i]
            entry = self.latest[k]
            if entry >= 0 and self.alive(entry, now):
                pass  # the exact tier
            elif alone[k]:  # only its own key is near enough: its entry, if any, is gone
                if entry >= 0:
                    self.dropped(self.first[k], now)
                entry = -1
            elif ends[k] > starts[k]:
                entry = self.semantic(now, starts[k], ends[k])
            if entry >= 0:
                served_by[i] = entry
                if lru:
                    self.live.move_to_end(entry)
            else:
                self.insert(i, k, now)
        live_end = sorted(e for e in self.live if self.alive(e, ts[-1])) if ts else []
        served = np.array(served_by, dtype=np.int64)
        return SimResult(
            self.threshold,
            served >= 0,
            served,
            self.expired,
            self.evicted,
            np.array(live_end, dtype=np.int64),
        )

    def semantic(self, now: float, start: int, end: int) -> int:
        """The earliest live entry among the most similar slots above the threshold, else -1.

        A miss whose most similar slot ever entered lost its entry counts as expired or evicted.
        """
        index = self.lists.index[start:end]
        entries = self.latest_np[index]
        entered = entries >= 0
        if not entered.any():
            return -1
        similarity: list[float] = self.lists.similarity[start:end][entered].tolist()
        best, best_similarity = -1, 0.0
        for entry, s in zip(entries[entered].tolist(), similarity, strict=True):
            if best >= 0 and s < best_similarity:
                break
            if (best < 0 or entry < best) and self.alive(entry, now):
                best, best_similarity = entry, s
        if best >= 0:
            return best
        top = np.asarray(similarity) == similarity[0]
        self.dropped(int(self.first_np[index[entered]][top].min()), now)
        return -1

    def dropped(self, entry: int, now: float) -> None:
        """Count a miss that `entry`, had it still been live, would have served."""
        ttl_s = self.settings.ttl_s
        if ttl_s is not None and now - self.lists.ts[entry] >= ttl_s:
            self.expired += 1
        else:
            self.evicted += 1

    def insert(self, i: int, k: int, now: float) -> None:
        """Make request i its slot's entry: drop expired entries, then evict the LRU one if full."""
        ttl_s, max_entries = self.settings.ttl_s, self.settings.max_entries
        if ttl_s is not None:
            while self.inserted and now - self.lists.ts[self.inserted[0]] >= ttl_s:
                self.live.pop(self.inserted.popleft(), None)
            self.inserted.append(i)
        if max_entries is not None and len(self.live) >= max_entries:
            self.live.popitem(last=False)
        self.live[i] = None
        self.latest[k] = i
        self.latest_np[k] = i
        if self.first[k] < 0:
            self.first[k] = i
            self.first_np[k] = i
