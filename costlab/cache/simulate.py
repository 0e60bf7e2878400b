"""Replay logged requests through a semantic cache: the threshold sweep over neighbour lists.

The naive reference it is tested against, request by request, is `costlab.cache.reference`.

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from costlab import jit
from costlab.cache.neighbours import Neighbours, at_least, check_threshold, per_list

# Below this many request replays (requests × thresholds) the loop runs as plain Python: importing
# numba and loading the compiled loop costs a second or two, more than such a sweep takes.
COMPILE_FROM = 200_000
SLOT_BLOCK = 1 << 16  # slots whose lists are mapped at once (bounds the working arrays)

Loop = Callable[..., tuple[Any, int, int, Any]]


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


def sweep(
    neighbours: Neighbours,
    traffic: Traffic,
    thresholds: Sequence[float],
    settings: CacheSettings = CacheSettings(),  # noqa: B008 (frozen, so safe to share)
) -> list[SimResult]:
    """Replay every threshold over neighbour lists computed once; equal to `naive` for each one."""
    if not neighbours.complete:
        raise ValueError("a sweep is exact only over complete neighbour lists")
    for threshold in thresholds:
        if threshold < neighbours.min_threshold:
            raise ValueError(
                f"threshold {threshold} is below the neighbour lists' "
                f"min_threshold {neighbours.min_threshold}"
            )
    return replay(neighbours, traffic, thresholds, settings)


def replay(
    neighbours: Neighbours,
    traffic: Traffic,
    thresholds: Sequence[float],
    settings: CacheSettings = CacheSettings(),  # noqa: B008 (frozen, so safe to share)
) -> list[SimResult]:
    """Replay every threshold over the lists as they are: `sweep`'s loop, without its checks
    that the lists are complete (costlab.cache.entries proves its own lists sufficient)."""
    check_keys(neighbours.n, traffic)
    for threshold in thresholds:
        check_threshold(threshold)
    lists = _Lists.of(neighbours, traffic)
    loop = (
        jit.compiled(_replay_loop) if traffic.n * len(thresholds) >= COMPILE_FROM else _replay_loop
    )
    return [_replay(loop, lists, threshold, settings) for threshold in thresholds]


def check_keys(count: int, traffic: Traffic) -> None:
    if traffic.n and (traffic.keys.min() < 0 or traffic.keys.max() >= count):
        raise ValueError(f"traffic keys must index the {count} keys' vectors")


def slots_of(traffic: Traffic, keys: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The (scope, key) pairs seen, as sorted codes `scope * keys + key` (scopes numbered from 0
    in their own order), and each request's slot: the position of its code."""
    _, scope = np.unique(traffic.scope, return_inverse=True)
    codes, slot = np.unique(scope.astype(np.int64) * keys + traffic.keys, return_inverse=True)
    return codes, slot.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class _Lists:
    """The traffic as slots, one per (scope, key) seen, with each slot's neighbour slots.

    A slot's list is its key's list kept to the keys seen in the same scope, in the same order.
    At most one entry per slot is live at a time (a request whose slot has a live entry is an
    exact hit), so the replay keeps, per slot, its latest entry and its first one.
    """

    slot: npt.NDArray[np.int64]  # per request
    offsets: npt.NDArray[np.int64]  # per slot
    index: npt.NDArray[np.integer[Any]]  # neighbour slots (int32 when they fit)
    similarity: npt.NDArray[np.float32]  # compared with thresholds rounded up to float32: exact
    ts: npt.NDArray[np.float64]

    @classmethod
    def of(cls, neighbours: Neighbours, traffic: Traffic) -> _Lists:
        keys = neighbours.n
        codes, slot = slots_of(traffic, keys)
        slot_scope, slot_key = codes // max(keys, 1), codes % max(keys, 1)
        # a long log has tens of millions of pairs: the slots' lists are mapped a block of slots
        # at a time into arrays made once, so only one block's working arrays exist at a time
        room = int((neighbours.offsets[slot_key + 1] - neighbours.offsets[slot_key]).sum())
        index: npt.NDArray[np.integer[Any]] = np.empty(
            room, dtype=np.int32 if len(codes) < 1 << 31 else np.int64
        )
        similarity = np.empty(room, dtype=np.float32)
        counts = np.zeros(len(codes), dtype=np.int64)
        filled = 0
        for start in range(0, len(codes), SLOT_BLOCK):
            stop = min(start + SLOT_BLOCK, len(codes))
            owner, position = neighbours.gather(slot_key[start:stop])
            wanted = slot_scope[start:stop][owner]
            wanted *= keys
            wanted += neighbours.index[position]
            found = np.searchsorted(codes, wanted)
            np.minimum(found, len(codes) - 1, out=found)
            kept = codes[found] == wanted
            del wanted
            counts[start:stop] = np.bincount(owner[kept], minlength=stop - start)
            took = filled + int(kept.sum())
            index[filled:took] = found[kept]
            similarity[filled:took] = neighbours.similarity[position[kept]]
            filled = took
        if filled < room:  # pairs out of scope: the lists keep only what they hold
            index, similarity = index[:filled].copy(), similarity[:filled].copy()
        offsets = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(slot, offsets, index, similarity, traffic.ts)

    @property
    def slots(self) -> int:
        return len(self.offsets) - 1

    def runs(
        self, threshold: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Per slot: where its list starts, where the run at least `threshold` similar ends,
        and whether that run is the slot alone (no other slot near enough to serve it)."""
        # s >= t exactly when s >= the smallest float32 at or above t
        starts = self.offsets[:-1]
        ends = starts + per_list(self.offsets, self.similarity >= at_least(threshold))
        alone = np.zeros(self.slots, dtype=np.bool_)
        single = np.flatnonzero(ends - starts == 1)
        alone[single] = self.index[starts[single]] == single
        return starts, ends, alone


def _replay(loop: Loop, lists: _Lists, threshold: float, settings: CacheSettings) -> SimResult:
    """One threshold's replay over the lists by `loop` (compiled, or plain Python)."""
    starts, ends, alone = lists.runs(threshold)
    served, expired, evicted, live_end = loop(
        lists.slot,
        lists.ts,
        starts,
        ends,
        alone,
        lists.index,
        lists.similarity,
        -1.0 if settings.ttl_s is None else settings.ttl_s,
        -1 if settings.max_entries is None else settings.max_entries,
    )
    return SimResult(
        threshold, served >= 0, served, int(expired), int(evicted), np.flatnonzero(live_end)
    )


def _replay_loop(  # noqa: C901 (one loop, kept whole so that numba compiles it as one)
    slot: npt.NDArray[np.int64],
    ts: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    alone: npt.NDArray[np.bool_],
    index: npt.NDArray[np.integer[Any]],
    similarity: npt.NDArray[np.float32],
    ttl: float,  # < 0: none
    capacity: int,  # < 0: none
) -> tuple[npt.NDArray[np.int64], int, int, npt.NDArray[np.bool_]]:
    """The cache as flat arrays: live entries in a doubly linked LRU list (least recent first),
    insertions in a queue for the TTL, and per slot its latest and first entry."""
    n, slots = len(ts), len(starts)
    served = np.full(n, -1, dtype=np.int64)
    latest = np.full(slots, -1, dtype=np.int64)
    first = np.full(slots, -1, dtype=np.int64)
    live = np.zeros(n, dtype=np.bool_)
    before = np.full(n, -1, dtype=np.int64)
    after = np.full(n, -1, dtype=np.int64)
    head, tail, count = -1, -1, 0
    queue = np.empty(n, dtype=np.int64)
    queue_head, queue_tail = 0, 0
    expired, evicted = 0, 0
    for i in range(n):
        now, k = ts[i], slot[i]
        entry = latest[k]
        if entry >= 0 and live[entry] and (ttl < 0 or now - ts[entry] < ttl):
            pass  # the exact tier
        elif alone[k]:  # only its own key is near enough: its entry, if any, is gone
            if entry >= 0:
                if ttl >= 0 and now - ts[first[k]] >= ttl:
                    expired += 1
                else:
                    evicted += 1
            entry = -1
        else:  # the earliest live entry among the most similar slots above the threshold
            entry, best, top, dropped = -1, 0.0, 0.0, -1
            for p in range(starts[k], ends[k]):
                other = latest[index[p]]
                if other < 0:
                    continue
                s = similarity[p]
                if dropped < 0:
                    top = s
                if entry >= 0 and s < best:
                    break
                if s == top and (dropped < 0 or first[index[p]] < dropped):
                    dropped = first[index[p]]
                alive = live[other] and (ttl < 0 or now - ts[other] < ttl)
                if alive and (entry < 0 or other < entry):
                    entry, best = other, s
            if entry < 0 and dropped >= 0:  # the most similar slot ever entered lost its entry
                if ttl >= 0 and now - ts[dropped] >= ttl:
                    expired += 1
                else:
                    evicted += 1
        if entry >= 0:
            served[i] = entry
            if capacity >= 0 and entry != tail:  # used now: to the end of the LRU list
                if before[entry] >= 0:
                    after[before[entry]] = after[entry]
                else:
                    head = after[entry]
                before[after[entry]] = before[entry]
                before[entry], after[entry] = tail, -1
                after[tail] = entry
                tail = entry
            continue
        if ttl >= 0:  # drop the entries expired by now, oldest first
            while queue_head < queue_tail and now - ts[queue[queue_head]] >= ttl:
                gone = queue[queue_head]
                queue_head += 1
                if live[gone]:
                    live[gone] = False
                    count -= 1
                    if before[gone] >= 0:
                        after[before[gone]] = after[gone]
                    else:
                        head = after[gone]
                    if after[gone] >= 0:
                        before[after[gone]] = before[gone]
                    else:
                        tail = before[gone]
            queue[queue_tail] = i
            queue_tail += 1
        if capacity >= 0 and count >= capacity:  # evict the least recently used
            gone = head
            live[gone] = False
            count -= 1
            head = after[gone]
            if head >= 0:
                before[head] = -1
            else:
                tail = -1
        live[i] = True
        count += 1
        before[i], after[i] = tail, -1
        if tail >= 0:
            after[tail] = i
        else:
            head = i
        tail = i
        latest[k] = i
        if first[k] < 0:
            first[k] = i
    live_end = live.copy()
    if n and ttl >= 0:
        live_end &= ts[n - 1] - ts < ttl
    return served, expired, evicted, live_end
