"""Expired misses counted afresh, for a replay over lists kept to windows (costlab.cache.windows).

With a TTL and no capacity, a miss i (key u, scope σ) at threshold t is an expired miss exactly
when an entry of scope σ inserted before i is at least t similar to it (costlab.cache.simulate: the
most similar such entry is not live, or it would have served i, and without a capacity only
expiry ends an entry). A window keeps such a pair out of u's list when the entry is older than the
TTL, so the replay's own count cannot be trusted; everything else it decides is exact.

Per threshold and slot w = (σ, u), with `first[w]` its first entry: `earliest[w]` is the first
entry of any other slot (σ, v) at least t similar. Miss i of w then has such an entry before it
when earliest[w] < i, or when it is not w's first miss and u is at least t similar to itself (its
own entry, first[w]). `earliest` is the minimum over the pairs the lists hold, both ways round;
it is exact for w when the pairs cannot have missed a key: when t is at or above u's time-free
promise (every key at least that similar to u holds u), or after u is searched down to t. Where
neither holds and no earlier entry was found, u is searched (the searches are not kept), among
the keys with a request before the end of the block of the traffic that holds u's last request:
an entry after all of u's misses cannot make one expired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from costlab import jit
from costlab.cache import simulate
from costlab.cache.neighbours import Neighbours, float32_up
from costlab.cache.search import Search, score

NEVER = np.iinfo(np.int64).max
COMPILE_FROM = 100_000  # pairs: below this the loop runs as plain Python
PREFIX_BLOCKS = 32  # a searched key looks among the keys asked for up to its block's end


def recounted(
    results: Sequence[simulate.SimResult],
    traffic: simulate.Traffic,
    lists: Neighbours,
    complete_from: npt.NDArray[np.float32],
    search: Search,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[simulate.SimResult], int]:
    """`results` with their expired (and evicted: none) misses counted as the module says; and
    how many keys had to be searched for it."""
    if not results:
        return [], 0
    order = np.argsort([r.threshold for r in results], kind="stable")
    thresholds = np.array([results[k].threshold for k in order], dtype=np.float64)
    codes, slot = simulate.slots_of(traffic, lists.n)
    keys = max(lists.n, 1)
    slot_scope, slot_key = codes // keys, codes % keys
    by_key = np.argsort(slot_key, kind="stable")  # a key's slots, by scope
    key_offsets = np.zeros(lists.n + 1, np.int64)
    np.cumsum(np.bincount(slot_key, minlength=lists.n), out=key_offsets[1:])
    first = np.full((len(thresholds), len(codes)), NEVER, np.int64)
    for row, k in enumerate(order):
        misses = np.flatnonzero(~results[k].hit)
        entered, at = np.unique(slot[misses], return_index=True)
        first[row, entered] = misses[at]
    earliest = np.full_like(first, NEVER)
    shape = (thresholds, key_offsets, by_key, slot_scope, first, earliest)
    owner = np.repeat(np.arange(lists.n, dtype=np.int64), np.diff(lists.offsets))
    _spread(owner, lists.index, lists.similarity, shape)
    _spread(lists.index, owner, lists.similarity, shape)
    del owner
    # where no earlier entry was found and the lists may have missed one, search
    up = float32_up(thresholds)
    unsure = (first < NEVER) & (earliest >= first)
    unsure &= up[:, None] < complete_from[slot_key][None, :]
    radius = np.full(lists.n, np.inf)
    rows, slots_unsure = np.nonzero(unsure)
    np.minimum.at(radius, slot_key[slots_unsure], thresholds[rows])
    searched = np.flatnonzero(np.isfinite(radius))
    # only an entry before one of the key's misses counts, and an entry is a request: a key is
    # searched among the keys with a request up to the end of its last request's block
    last = np.full(lists.n, -1, np.int64)
    np.maximum.at(last, traffic.keys, np.arange(traffic.n, dtype=np.int64))
    cuts = np.linspace(0, traffic.n, PREFIX_BLOCKS + 1).round().astype(np.int64)
    block = np.searchsorted(cuts, last, side="right") - 1
    before = 0  # keys searched at the radii and blocks done
    for r in np.unique(radius[searched]):
        at_r = searched[radius[searched] == r]
        for b in np.unique(block[at_r]):
            group = at_r[block[at_r] == b]
            among = np.zeros(lists.n, np.bool_)
            among[traffic.keys[: cuts[min(b + 1, PREFIX_BLOCKS)]]] = True
            stage = None
            if progress is not None:
                stage = partial(lambda done, _, at: progress(at + done, len(searched)), at=before)
            for q, x, s in search.within_blocks(group, float(r), stage, among):
                _spread(q, x, s, shape)
            before += len(group)
    alone = score(search.vectors, np.arange(lists.n), np.arange(lists.n))  # self-similarity
    out = list(results)
    for row, k in enumerate(order):
        misses = np.flatnonzero(~results[k].hit)
        w = slot[misses]
        own = (misses > first[row, w]) & (alone[slot_key[w]] >= thresholds[row])
        expired = int(((earliest[row, w] < misses) | own).sum())
        out[k] = replace(results[k], expired_misses=expired, evicted_misses=0)
    return out, len(searched)


def _spread(
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    s: npt.NDArray[np.float32],
    shape: tuple[npt.NDArray[Any], ...],
) -> None:
    """Pairs (a, b, similarity): each slot of a takes b's first entry in its scope as a
    candidate for `earliest`, at every threshold the pair reaches. `shape`: the thresholds,
    the slots by key and their scopes, `first` and `earliest` (`_spread_loop`'s arguments)."""
    loop = jit.compiled(_spread_loop) if len(a) >= COMPILE_FROM else _spread_loop
    loop(a, b, s, *shape)


def _spread_loop(  # noqa: PLR0913 (arrays, as numba takes them)
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    s: npt.NDArray[np.float32],
    thresholds: npt.NDArray[np.float64],
    key_offsets: npt.NDArray[np.int64],
    by_key: npt.NDArray[np.int64],
    slot_scope: npt.NDArray[np.int64],
    first: npt.NDArray[np.int64],
    earliest: npt.NDArray[np.int64],
) -> None:
    levels = len(thresholds)
    for p in range(len(a)):
        x, y = a[p], b[p]
        if x == y:
            continue
        reached = 0  # thresholds ascending: those the pair is at least as similar as
        while reached < levels and s[p] >= thresholds[reached]:
            reached += 1
        i, j = key_offsets[x], key_offsets[y]
        while reached and i < key_offsets[x + 1] and j < key_offsets[y + 1]:
            wx, wy = by_key[i], by_key[j]
            if slot_scope[wx] < slot_scope[wy]:
                i += 1
            elif slot_scope[wx] > slot_scope[wy]:
                j += 1
            else:
                for t in range(reached):
                    if first[t, wy] < earliest[t, wx]:
                        earliest[t, wx] = first[t, wy]
                i += 1
                j += 1
