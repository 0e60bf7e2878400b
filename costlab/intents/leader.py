"""The cache's own intents, for comparison: the online leader clusters of a replay.

Requests replayed in time order through a cache without TTL or capacity at `min_similarity`
(costlab.cache.index, as simulate-cache replays them): a request's group is the prompt of the
entry that served it, or its own on a miss. Which prompt leads depends on the order requests came
in, which is why `agglomerative` is the default.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from costlab.cache import index, savings, simulate
from costlab.cache.logged import Logged
from costlab.store import Store


def groups(
    store: Store,
    embedder: str,
    traffic: Logged,
    vectors: npt.NDArray[np.float32],
    min_similarity: float,
) -> npt.NDArray[np.int64]:
    """Per request (in time order) the key of the entry that served it, or its own."""
    keys = len(traffic.keys)
    mode: index.Mode = "exact" if keys <= savings.EXACT_UP_TO else "approx"
    request = index.Request(
        embedder,
        traffic.key_hashes,
        traffic.traffic,
        [min_similarity],
        simulate.CacheSettings(),
        mode,
    )
    result = index.replay(store, request, lambda: vectors).built.results[0]
    leader = np.where(result.hit, result.served_by, np.arange(traffic.traffic.n))
    found: npt.NDArray[np.int64] = traffic.traffic.keys[leader]
    return found
