"""Each replayed request's recurring intent, kept in the store for route-replay's rules.

simulate-cache writes the intents of its focus threshold (the recommended one, else the highest):
`intent_sets` says what they came from, `intents` holds one row per intent (its id, size, hits,
spend and representative prompt) and `request_intents` one row per replayed request. A later run
replaces all three, so the store holds one set: rules read it as the columns `intent`,
`intent_size` and `intent_prompt` (costlab.routing.derived) without loading any model.
`costlab intents` writes the same tables from an order-independent clustering (its `method`
names it; its intents have a cohesion and no hits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from costlab.cache.intents import Clusters
from costlab.scope import Scope
from costlab.store import Store

_MONEY = pa.decimal128(38, 18)


@dataclass(frozen=True)
class Source:
    """What a set of intents came from: the embedder, the threshold and the cache replayed."""

    embedder: str
    threshold: float
    cache_key: str
    normalized: bool
    cache_scope: tuple[str, ...]
    ttl_s: float | None
    max_entries: int | None
    scope: Scope  # the requests replayed: --since, --until, --where
    method: str = "leader"  # the replay's own entries; else the clustering of `costlab intents`


_SET_COLUMNS = (
    "embedder, threshold, cache_key, normalized, cache_scope, ttl_s, max_entries, since, until, "
    "where_sql, requests, intents, recurring, built_at, method"
)


def save(
    store: Store,
    clusters: Clusters,
    request_ids: Sequence[str],
    source: Source,
    cohesion: npt.NDArray[np.float64] | None = None,
) -> None:
    """Replace the stored intents by these (`request_ids` in the replay's order).

    `cohesion`: per intent in rank order, from `costlab intents`; that replays no cache, so its
    intents have no hits (NULL).
    """
    ids = clusters.of_request + 1
    leader = cohesion is None
    count = len(clusters.requests)
    intents = pa.table(
        {
            "intent": pa.array(np.arange(1, count + 1), pa.int32()),
            "requests": pa.array(clusters.requests, pa.int64()),
            "hits": pa.array(clusters.hits if leader else [None] * count, pa.int64()),
            "spend_usd": pa.array(clusters.spend_usd, _MONEY),
            "first_request_id": pa.array(
                [request_ids[i] for i in clusters.first.tolist()], pa.string()
            ),
            "prompt": pa.array(clusters.prompts, pa.string()),
            "cohesion": pa.array(
                cohesion if cohesion is not None else [None] * count, pa.float64()
            ),
        }
    )
    requests = pa.table(
        {
            "request_id": pa.array(request_ids, pa.string()),
            "intent": pa.array(ids, pa.int32()),
        }
    )
    scope = source.scope
    with store.transaction():
        for table in ("intent_sets", "intents", "request_intents"):
            store.execute(f"DELETE FROM {table}")
        store.execute(
            f"INSERT INTO intent_sets ({_SET_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source.embedder,
                source.threshold,
                source.cache_key,
                source.normalized,
                list(source.cache_scope),
                source.ttl_s,
                source.max_entries,
                scope.since,
                scope.until,
                scope.where,
                len(request_ids),
                len(clusters.requests),
                clusters.recurring,
                datetime.now(UTC).replace(tzinfo=None),
                source.method,
            ],
        )
        store.append("intents", intents)
        store.append("request_intents", requests)
