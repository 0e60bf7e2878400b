"""Each threshold's hits judged right or wrong, and checked by the false-hit guard.

The guard judges the hits of the replay after it (costlab.cache.guard): with it on, a refused hit
becomes a miss that is paid and does not become an entry, so the replay itself, proved equal to
the naive one, is unchanged. Precision is measured over the hits the guard keeps and over all of
them, from labels or estimated from the logged responses (costlab.cache.precision).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costlab.cache import embedders, logged, precision, simulate, sketch
from costlab.cache.vectors import Encode, vectors
from costlab.store import Store


def response_judge(
    store: Store,
    embedder: embedders.Embedder,
    t: logged.Logged,
    results: list[simulate.SimResult],
    progress: Callable[[int, int], None] | None,
    encode: Encode | None = None,
) -> precision.Judge:
    """Hits judged by how similar the two logged responses are (embedded once, like prompts;
    `encode`: where, as for the prompts)."""
    involved = np.zeros(len(t.responses) + 1, dtype=np.bool_)
    for r in results:
        hits = np.flatnonzero(r.hit)
        involved[t.response_ids[hits] + 1] = True
        involved[t.response_ids[r.served_by[hits]] + 1] = True
    wanted = np.flatnonzero(involved[1:])
    texts = [t.responses[i] for i in wanted.tolist()]
    found = (
        vectors(store, texts, embedder, progress, encode=encode)
        if texts
        else np.zeros((1, 1), np.float32)
    )
    row = np.full(len(t.responses) + 1, -1, dtype=np.int64)
    row[wanted + 1] = np.arange(len(wanted))
    return precision.response_judge(row[t.response_ids + 1], found)


@dataclass(frozen=True, eq=False)
class Checked:
    """One threshold's replay with each hit judged and checked by the guard; `result` is the
    replay as counted (refused hits made misses when the guard is on)."""

    result: simulate.SimResult
    guard_refused: int
    shown: precision.Precision  # with the guard when it is on, else without
    guarded: precision.Precision
    unguarded: precision.Precision
    estimated: bool


def check(
    result: simulate.SimResult,
    t: logged.Logged,
    judge: precision.Judge,
    memo: sketch.Memo,
    guard_on: bool,
    label_free: bool,
) -> Checked:
    """Judge and guard one threshold's hits; with `guard_on`, the refused ones become misses."""
    hits = np.flatnonzero(result.hit)
    served = result.served_by[hits]
    refused = memo.refused(t.prompts.ids[hits], t.prompts.ids[served])
    verdicts = judge(hits, served)
    distrusted = None
    if label_free:
        repeats = t.prompts.ids[hits] == t.prompts.ids[served]
        distrusted = precision.distrust(verdicts, repeats)
    kept = precision.Verdicts(verdicts.judged[~refused], verdicts.right[~refused])
    unguarded = precision.measure(verdicts, distrusted)
    guarded = precision.measure(kept, distrusted)
    if guard_on and refused.any():
        hit, served_by = result.hit.copy(), result.served_by.copy()
        hit[hits[refused]], served_by[hits[refused]] = False, -1
        result = dataclasses.replace(result, hit=hit, served_by=served_by)
    return Checked(
        result,
        int(refused.sum()),
        guarded if guard_on else unguarded,
        guarded,
        unguarded,
        label_free,
    )
