"""Recurring intents and cache health, read off one threshold's replay.

The replay is itself an online leader clustering: each entry leads the requests it serves. An
intent is a cache key with everything its entries served (a key can lead several times when its
entry expires or is evicted); the largest intents are the seed's "core questions" worth a
canned answer. Every replayed request has one intent (many hold only themselves), and
`cache.assignment` keeps them in the store for route-replay's rules. Health is what a team
would alert on: a low hit rate, hits lost to TTL expiry or to eviction, and the memory the live
entries would take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from costlab.cache.dollars import Dollars
from costlab.cache.simulate import SimResult

LOW_HIT_RATE = 0.20  # the seed's alert: below this a cache rarely pays for its lookups
LOST_SHARE = 0.25  # hits lost to TTL or eviction worth a warning, as a share of the hits made
# Per live entry beyond its texts and its float32 vector: keys, timestamps, index overhead.
ENTRY_OVERHEAD_BYTES = 64


@dataclass(frozen=True)
class Intent:
    intent: int  # its id, as stored for route-replay's `intent` column: 1 is the largest
    requests: int  # the entries of this key and every request they served
    hits: int
    spend_usd: Decimal  # the logged cost of all those requests
    share_of_spend: float  # of the spend of every request replayed
    saved_usd: Decimal  # the logged cost of the hits
    prompt: str  # the first entry's prompt, as logged


@dataclass(frozen=True)
class Health:
    threshold: float
    hit_rate: float
    entries_live: int
    memory_bytes: int  # what the entries live at the end would take: texts, vectors, overhead
    lost_to_ttl: int  # misses whose most similar earlier entry had expired
    lost_to_eviction: int  # misses whose most similar earlier entry had been evicted
    alerts: list[str]


@dataclass(frozen=True, eq=False)
class Clusters:
    """Every replayed request's intent at one threshold, the intents in rank order.

    The recurring intents (more than one request) come first, by most requests, then most
    spend, then prompt; the one-request intents follow in time order. An intent's id is its
    rank + 1, so intent 1 is the first one the report lists.
    """

    threshold: float
    of_request: npt.NDArray[np.int64]  # per request: its intent's rank
    requests: npt.NDArray[np.int64]  # per intent, in rank order
    hits: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]  # per intent: its first entry (a request index)
    spend_usd: list[Decimal]
    saved_usd: list[Decimal]
    prompts: list[str]  # per intent: its first entry's prompt, as logged
    recurring: int  # how many intents have more than one request

    def listed(self, top: int, total_usd: Decimal) -> list[Intent]:
        """The first `top` recurring intents, as the report lists them."""
        return [
            Intent(
                intent=r + 1,
                requests=int(self.requests[r]),
                hits=int(self.hits[r]),
                spend_usd=self.spend_usd[r],
                share_of_spend=float(self.spend_usd[r] / total_usd) if total_usd else 0.0,
                saved_usd=self.saved_usd[r],
                prompt=self.prompts[r],
            )
            for r in range(min(max(top, 0), self.recurring))
        ]


def clusters(
    result: SimResult, keys: npt.NDArray[np.int64], prompts: Sequence[str], dollars: Dollars
) -> Clusters:
    """Each request's intent: the key of the entry that served it (or its own, on a miss)."""
    n = len(keys)
    count = int(keys.max()) + 1 if n else 0
    leader = np.where(result.hit, result.served_by, np.arange(n))
    intent = keys[leader]
    sizes = np.bincount(intent, minlength=count)
    hits = np.bincount(intent, weights=result.hit, minlength=count).astype(np.int64)
    spend = dollars.sum_by(intent, count)
    saved = dollars.sum_by(np.where(result.hit, intent, count), count + 1)
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, intent, leader)  # the first entry of each intent, as logged
    many = np.flatnonzero(sizes > 1).tolist()
    many.sort(key=lambda k: (-sizes[k], -spend[k], prompts[int(first[k])], first[k]))
    ones = np.flatnonzero(sizes == 1)
    order = np.array(many + ones[np.argsort(first[ones], kind="stable")].tolist(), np.int64)
    rank = np.zeros(count, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return Clusters(
        threshold=result.threshold,
        of_request=rank[intent],
        requests=sizes[order].astype(np.int64),
        hits=hits[order],
        first=first[order],
        spend_usd=[spend[k] for k in order.tolist()],
        saved_usd=[saved[k] for k in order.tolist()],
        prompts=[prompts[i] for i in first[order].tolist()],
        recurring=len(many),
    )


def recurring(
    result: SimResult,
    keys: npt.NDArray[np.int64],
    prompts: Sequence[str],
    dollars: Dollars,
    top: int,
) -> list[Intent]:
    """The `top` intents with the most requests (ties: more spend first), at one threshold."""
    if len(keys) == 0 or top <= 0:
        return []
    return clusters(result, keys, prompts, dollars).listed(top, dollars.sum())


def health(result: SimResult, entry_bytes: npt.NDArray[np.int64]) -> Health:
    """The cache's state at the end of the replay, and the alerts it would raise.

    `entry_bytes[i]` is what request i would take as an entry: prompt, response and vector.
    """
    hits = int(result.hit.sum())
    alerts = []
    if result.hit_rate < LOW_HIT_RATE:
        alerts.append(
            f"hit rate {result.hit_rate:.1%} is below {LOW_HIT_RATE:.0%}: "
            "the cache may cost more in lookups and memory than it saves"
        )
    if result.expired_misses > LOST_SHARE * max(hits, 1):
        alerts.append(
            f"{result.expired_misses:,} requests missed because their entry had expired "
            f"({result.expired_misses / max(hits, 1):.0%} of the hits made): the TTL may be "
            "too short"
        )
    if result.evicted_misses > LOST_SHARE * max(hits, 1):
        alerts.append(
            f"{result.evicted_misses:,} requests missed because their entry had been evicted "
            f"({result.evicted_misses / max(hits, 1):.0%} of the hits made): the cache may be "
            "too small"
        )
    return Health(
        threshold=result.threshold,
        hit_rate=result.hit_rate,
        entries_live=result.live_entries_end,
        memory_bytes=int(entry_bytes[result.live_at_end].sum()),
        lost_to_ttl=result.expired_misses,
        lost_to_eviction=result.evicted_misses,
        alerts=alerts,
    )
