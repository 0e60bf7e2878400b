"""From each request's group to the intents a report lists: ranked, sized, priced, described.

The ranking is the cache report's (costlab.cache.intents): the recurring intents (more than one
request) first, by most requests, then most spend, then prompt; the one-request intents follow
in time order; an intent's id is its rank + 1. An intent is described over its distinct prompts
(normalised keys), each counted once whatever its traffic:

- cohesion: the mean cosine similarity over every pair of them (1 for a single prompt), exact:
  for unit vectors it is (|Σv|² − Σ|v|²) / (m(m − 1)), read off the sum of the m vectors;
- the representative prompt is their medoid, the one with the highest summed similarity to the
  others (v · Σv; ties: the first key in hash order), shown as its first request logged it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.cache.dollars import Dollars
from costlab.cache.intents import Clusters

Ints = npt.NDArray[np.int64]
BLOCK = 65_536  # rows per vectorised dot product: bounds the working memory


@dataclass(frozen=True, eq=False)
class Described:
    """The ranked intents (as the store keeps them) and what describes each, in rank order."""

    clusters: Clusters
    prompts: Ints  # distinct prompts per intent
    cohesion: npt.NDArray[np.float64]


def describe(
    group: Ints,
    key: Ints,
    vectors: npt.NDArray[np.float32],
    prompt: Callable[[int], str],
    dollars: Dollars,
    threshold: float,
) -> Described:
    """Rank and describe the groups of `n` requests in time order.

    `group[i]` and `key[i]`: request i's group (0..g-1) and prompt (a row of `vectors`);
    `prompt(i)`: its prompt as logged.
    """
    n = len(group)
    count = int(group.max()) + 1 if n else 0
    sizes = np.bincount(group, minlength=count)
    spend = dollars.sum_by(group, count)
    pair_group, pair_key = _pairs(group, key, int(vectors.shape[0]))
    sums = _sums(vectors, pair_group, pair_key, count)
    distinct = np.bincount(pair_group, minlength=count)
    medoid = _medoids(vectors, sums, pair_group, pair_key, count)
    shown = np.full(count, n, dtype=np.int64)  # the first request of each medoid
    mine = key == medoid[group]
    np.minimum.at(shown, group[mine], np.flatnonzero(mine))
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, group, np.arange(n))
    many = np.flatnonzero(sizes > 1).tolist()
    many.sort(key=lambda g: (-sizes[g], -spend[g], prompt(int(shown[g])), first[g]))
    ones = np.flatnonzero(sizes == 1)
    order = np.array(many + ones[np.argsort(first[ones], kind="stable")].tolist(), np.int64)
    rank = np.zeros(count, dtype=np.int64)
    rank[order] = np.arange(len(order))
    clusters = Clusters(
        threshold=threshold,
        of_request=rank[group],
        requests=sizes[order].astype(np.int64),
        hits=np.zeros(len(order), dtype=np.int64),  # no cache is replayed: no hits
        first=shown[order],
        spend_usd=[spend[g] for g in order.tolist()],
        saved_usd=[spend[g] * 0 for g in order.tolist()],
        prompts=[prompt(i) for i in shown[order].tolist()],
        recurring=len(many),
    )
    cohesion = _cohesion(vectors, sums, pair_group, pair_key, distinct)
    return Described(clusters, distinct[order].astype(np.int64), cohesion[order])


def _pairs(group: Ints, key: Ints, keys: int) -> tuple[Ints, Ints]:
    """The distinct (group, prompt) pairs, ordered by group then prompt."""
    codes = np.unique(group * keys + key)
    return codes // keys, codes % keys


def _sums(
    vectors: npt.NDArray[np.float32], pair_group: Ints, pair_key: Ints, count: int
) -> npt.NDArray[np.float64]:
    """Per group the sum of its prompts' vectors (pairs come ordered by group)."""
    sums = np.zeros((count, vectors.shape[1]), dtype=np.float64)
    for s in range(0, len(pair_group), BLOCK):
        groups = pair_group[s : s + BLOCK]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        rows = vectors[pair_key[s : s + BLOCK]].astype(np.float64)
        sums[groups[starts]] += np.add.reduceat(rows, starts, axis=0)
    return sums


def _dots(
    vectors: npt.NDArray[np.float32],
    sums: npt.NDArray[np.float64],
    pair_group: Ints,
    pair_key: Ints,
) -> npt.NDArray[np.float64]:
    """Per pair, its prompt's vector · its group's sum."""
    out = np.empty(len(pair_group), dtype=np.float64)
    for s in range(0, len(pair_group), BLOCK):
        rows = vectors[pair_key[s : s + BLOCK]].astype(np.float64)
        out[s : s + BLOCK] = np.einsum("ij,ij->i", rows, sums[pair_group[s : s + BLOCK]])
    return out


def _medoids(
    vectors: npt.NDArray[np.float32],
    sums: npt.NDArray[np.float64],
    pair_group: Ints,
    pair_key: Ints,
    count: int,
) -> Ints:
    """Per group the prompt with the highest summed similarity to its group (first key on ties)."""
    score = _dots(vectors, sums, pair_group, pair_key)
    order = np.lexsort((pair_key, -score, pair_group))
    starts = np.flatnonzero(np.r_[True, np.diff(pair_group[order]) != 0])
    medoid = np.zeros(count, dtype=np.int64)
    medoid[pair_group[order][starts]] = pair_key[order][starts]
    return medoid


def _cohesion(
    vectors: npt.NDArray[np.float32],
    sums: npt.NDArray[np.float64],
    pair_group: Ints,
    pair_key: Ints,
    distinct: Ints,
) -> npt.NDArray[np.float64]:
    """Per group the mean similarity over its pairs of distinct prompts (1 for one prompt)."""
    count = len(distinct)
    squares = np.zeros(count, dtype=np.float64)
    for s in range(0, len(pair_group), BLOCK):
        rows = vectors[pair_key[s : s + BLOCK]].astype(np.float64)
        np.add.at(squares, pair_group[s : s + BLOCK], np.einsum("ij,ij->i", rows, rows))
    m = distinct.astype(np.float64)
    pairs = m * (m - 1)
    together = np.einsum("ij,ij->i", sums, sums) - squares
    cohesion: npt.NDArray[np.float64] = np.ones(count, dtype=np.float64)
    np.divide(together, pairs, out=cohesion, where=pairs > 0)
    return cohesion
