"""A TTL run's searches among the keys near each window in time (costlab.cache.windows.spans)."""

from __future__ import annotations

import numpy as np

from costlab.cache import simulate
from costlab.cache.windows import Window, Windows


def test_a_span_holds_every_key_with_a_request_within_a_ttl_of_the_window_and_its_entry() -> None:
    rng = np.random.default_rng(3)
    n, keys, ttl = 5000, 900, 3600.0
    ts = np.sort(rng.uniform(0, 40 * ttl, n))
    traffic = simulate.Traffic(ts=ts, scope=np.zeros(n), keys=rng.integers(keys, size=n))
    windows = Windows(traffic, ttl, keys)
    window = Window.empty(keys)
    searched = rng.choice(keys, 300, replace=False)
    for k in searched:  # a window over some of the key's requests
        mine = np.flatnonzero(traffic.keys == k)
        if len(mine):
            window.lo[k], window.hi[k] = mine[0], mine[rng.integers(len(mine))]
    searched = searched[window.hi[searched] >= 0]
    first = np.full(keys, np.iinfo(np.int64).max, np.int64)
    first[searched[::2]] = rng.integers(n, size=len(searched[::2]))  # an entry, anywhere
    groups = list(windows.spans(window, first, searched, scan=3))
    assert sorted(np.concatenate([g for g, _, _ in groups]).tolist()) == sorted(searched.tolist())
    assert len({code for _, _, code in groups}) == len(groups) > 1
    for group, among, _ in groups:
        assert among.sum() < keys  # a span, not the month
        for k in group:
            ends = [window.lo[k], window.hi[k]] + ([first[k]] if first[k] < n else [])
            start, stop = ts[min(ends)] - ttl, ts[max(ends)] + ttl
            near = np.unique(traffic.keys[(ts >= start) & (ts <= stop)])
            assert among[near].all()
