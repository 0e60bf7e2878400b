"""Recurring intents and cache health, read off one threshold's replay.

The replay is itself an online leader clustering: each entry leads the requests it serves. An
intent is a cache key with everything its entries served (a key can lead several times when its
entry expires or is evicted); the largest intents are the seed's "core questions" worth a
canned answer. Health is what a team would alert on: a low hit rate, hits lost to TTL expiry or
to eviction, and the memory the live entries would take.
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


def recurring(
    result: SimResult,
    keys: npt.NDArray[np.int64],
    prompts: Sequence[str],
    dollars: Dollars,
    top: int,
) -> list[Intent]:
    """The `top` intents with the most requests (ties: more spend first), at one threshold."""
    n = len(keys)
    if n == 0 or top <= 0:
        return []
    leader = np.where(result.hit, result.served_by, np.arange(n))
    intent = keys[leader]
    sizes = np.bincount(intent)
    hits = np.bincount(intent, weights=result.hit).astype(np.int64)
    recurring = np.flatnonzero(sizes > 1)  # a key nobody else reused is not recurring
    spend = dollars.sum_by(intent, len(sizes))
    saved = dollars.sum_by(np.where(result.hit, intent, len(sizes)), len(sizes) + 1)
    first = np.full(len(sizes), n, dtype=np.int64)
    np.minimum.at(first, intent, leader)  # the first entry of each intent, as logged
    total = dollars.sum()
    found = [
        Intent(
            requests=int(sizes[k]),
            hits=int(hits[k]),
            spend_usd=spend[k],
            share_of_spend=float(spend[k] / total) if total else 0.0,
            saved_usd=saved[k],
            prompt=prompts[int(first[k])],
        )
        for k in recurring.tolist()
    ]
    found.sort(key=lambda x: (-x.requests, -x.spend_usd, x.prompt))
    return found[:top]


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
