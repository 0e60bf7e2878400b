"""The traffic split into parts that replay independently: one per cache scope.

An entry serves only requests of its own scope, and without a capacity (`max_entries` bounds the
whole cache, so one scope's insertions evict another's entries) nothing else ties two scopes
together: a scope's hits, its entries, its expired misses depend on its own requests alone. So
each scope is replayed on its own, over its own keys (the neighbour search shrinks from the
square of all keys to the sum of each scope's square), and the parts merge back exactly:

- a request's hit and the entry serving it are its scope's (request indices mapped back);
- expired and evicted misses add up;
- an entry is live at the end when it is live at its scope's last request and, with a TTL, still
  within it at the last request of all (expiry is the only way a live entry goes without a
  capacity).

With a TTL each scope is cut again, into time windows (costlab.distributed.windows): a TTL
bounds which entries can *serve* a request, so a window's hits follow from the misses within one
TTL before it; the misses an expired entry would have served reach back to every earlier entry
of the scope, however old, and are counted in a pass of their own once every hit is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from costlab.cache import entries, simulate
from costlab.cache.entries import EntryLists
from costlab.cache.neighbours import Neighbours
from costlab.cache.search import ExactSearch


@dataclass(frozen=True, eq=False)
class Part:
    """One scope's requests (indices into the whole traffic) and the keys they use."""

    requests: npt.NDArray[np.int64]
    keys: npt.NDArray[np.int64]  # global key ids, sorted: local key i is `keys[i]`
    traffic: simulate.Traffic  # the scope's own traffic over local keys

    @property
    def cost(self) -> int:
        """What its neighbour search costs, relatively: the square of its keys."""
        return len(self.keys) ** 2


@dataclass(frozen=True, eq=False)
class Replayed:
    """One part's replay: each threshold's result over its own requests, and its lists."""

    results: list[simulate.SimResult]
    lists: Neighbours  # over the part's own keys
    rounds: int
    searched: int


class Costed(Protocol):
    @property
    def cost(self) -> int: ...


C = TypeVar("C", bound=Costed)


def separable(traffic: simulate.Traffic, settings: simulate.CacheSettings) -> bool:
    """Whether the traffic splits exactly: no capacity, and several scopes or a TTL (time
    windows, costlab.distributed.windows)."""
    if settings.max_entries is not None:
        return False
    return settings.ttl_s is not None or len(np.unique(traffic.scope)) > 1


def by_scope(traffic: simulate.Traffic) -> list[Part]:
    """One part per scope, in the order of each scope's first request."""
    order = np.argsort(traffic.scope, kind="stable")  # time order kept within a scope
    scopes, starts = np.unique(traffic.scope[order], return_index=True)
    parts = []
    for requests in np.split(order, starts[1:]):
        keys, local = np.unique(traffic.keys[requests], return_inverse=True)
        part_traffic = simulate.Traffic(
            traffic.ts[requests], np.zeros(len(requests), np.int64), local.reshape(-1)
        )
        parts.append(Part(requests.astype(np.int64), keys.astype(np.int64), part_traffic))
    return sorted(parts, key=lambda p: int(p.requests[0]))


def within(part: Part, local: npt.NDArray[np.int64]) -> Part:
    """The part's requests `local` (indices in it, ascending) as a part of their own."""
    keys, inverse = np.unique(part.keys[part.traffic.keys[local]], return_inverse=True)
    traffic = simulate.Traffic(
        part.traffic.ts[local], part.traffic.scope[local], inverse.reshape(-1)
    )
    return Part(part.requests[local], keys.astype(np.int64), traffic)


def balance(parts: Sequence[C], groups: int) -> list[list[C]]:
    """The parts in at most `groups` groups of about equal cost (largest first, to the lightest)."""
    loads = [0] * max(1, min(groups, len(parts)))
    grouped: list[list[C]] = [[] for _ in loads]
    for part in sorted(parts, key=lambda p: -p.cost):
        lightest = loads.index(min(loads))
        grouped[lightest].append(part)
        loads[lightest] += part.cost
    return [g for g in grouped if g]


def replay(
    part: Part,
    vectors: npt.NDArray[np.float32],
    thresholds: Sequence[float],
    settings: simulate.CacheSettings,
) -> Replayed:
    """One part replayed over entry lists found by the exact search of its own keys' `vectors`
    (costlab.cache.entries: equal to the replay over complete lists)."""
    search = ExactSearch(vectors)
    start = entries.seed(search)
    built = entries.build(part.traffic, thresholds, settings, start, lambda: search)
    return Replayed(built.results, built.entry_lists.lists, built.rounds, built.searched)


def merged_lists(
    keys: int, found_in: Sequence[tuple[npt.NDArray[np.int64], Neighbours]]
) -> EntryLists:
    """The parts' lists (each over its own keys: ids of all keys, and the lists) over all
    `keys` (a key in several parts gets each part's pairs, once). They hold what each part
    needs, not what the store's lists promise: they promise nothing."""
    found = []
    for part_keys, lists in found_in:
        owner = np.repeat(np.arange(lists.n, dtype=np.int64), np.diff(lists.offsets))
        found.append((part_keys[owner], part_keys[lists.index], lists.similarity))
    nothing = np.full(keys, entries.UNKNOWN, dtype=np.float32)
    return EntryLists(entries.assemble(keys, *found), nothing, nothing.copy())


def merge(
    traffic: simulate.Traffic,
    parts: Sequence[Part],
    replayed: Sequence[list[simulate.SimResult]],
    settings: simulate.CacheSettings,
) -> list[simulate.SimResult]:
    """Each threshold's result over the whole traffic, from each part's results over its own
    requests (see the module's rules)."""
    merged = []
    for t, threshold in enumerate(r.threshold for r in replayed[0]):
        hit = np.zeros(traffic.n, dtype=np.bool_)
        served_by = np.full(traffic.n, -1, dtype=np.int64)
        expired = evicted = 0
        live: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)]
        for part, done in zip(parts, replayed, strict=True):
            result = done[t]
            hit[part.requests] = result.hit
            served = result.served_by >= 0
            served_by[part.requests[served]] = part.requests[result.served_by[served]]
            expired += result.expired_misses
            evicted += result.evicted_misses
            live.append(part.requests[result.live_at_end])
        live_at_end = np.sort(np.concatenate(live))
        if settings.ttl_s is not None and traffic.n:
            last = traffic.ts[traffic.n - 1]
            live_at_end = live_at_end[last - traffic.ts[live_at_end] < settings.ttl_s]
        merged.append(simulate.SimResult(threshold, hit, served_by, expired, evicted, live_at_end))
    return merged
