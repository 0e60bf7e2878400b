"""Order-independent intents: average-linkage agglomerative clustering of prompt vectors.

Distinct prompts share an intent when they end in one cluster of scikit-learn's
`AgglomerativeClustering` (cosine, average linkage) cut at `min_similarity`: two clusters merge
while the mean similarity between their members is at least that. The result depends on the
vectors alone, not on the order the requests came in (unlike the cache's leader clusters).

The full clustering holds a distance matrix (n² / 2 doubles), so it runs on up to `full_up_to`
prompts. Above that, sample and assign: a seeded random sample of `sample` prompts is clustered
in full, and every other prompt joins the sample cluster it is most similar to on average when
that mean similarity is at least `min_similarity` -- the very test average linkage applies to a
merge (a unit vector's mean similarity to a cluster's members is its dot product with their
mean vector). The prompts that join none are sampled again, up to `ROUNDS` rounds; what is left
then is clustered in full when it fits, else each such prompt is an intent of its own (counted).
The nearest cluster comes from `costlab.intents.nearest`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.intents import learn, nearest

Vectors = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]

# Prompts clustered in full (about 0.4 GB of distances at 10,000), and per sample round above
# that: a full clustering is quadratic, so a round of 5,000 costs a quarter of one of 10,000.
FULL_UP_TO = 10_000
SAMPLE = 5_000
ROUNDS = 4  # sample rounds before what no cluster takes is left as one-prompt intents


@dataclass(frozen=True)
class Sampling:
    """How a sample-and-assign clustering went."""

    prompts: int  # every prompt clustered
    rounds: int
    sampled: int  # prompts clustered in full, over all rounds (and the rest, when it fitted)
    assigned: int  # prompts that joined a sample cluster
    alone: int  # prompts left as intents of their own after the last round
    exact_check: float | None  # share of a checked sample given the exact nearest cluster


@dataclass(frozen=True)
class Clustering:
    """Per prompt its cluster (0..count-1), and how it was made when sampled."""

    labels: Labels
    count: int
    sampling: Sampling | None


def cluster(
    vectors: Vectors,
    min_similarity: float,
    *,
    full_up_to: int = FULL_UP_TO,
    sample: int = SAMPLE,
    seed: int = 0,
) -> Clustering:
    """The prompts' clusters: in full up to `full_up_to` prompts, else sampled and assigned."""
    n = len(vectors)
    if n <= full_up_to:
        labels = full(vectors, min_similarity)
        return Clustering(labels, int(labels.max()) + 1 if n else 0, None)
    rng = np.random.default_rng(seed)
    labels = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    made = rounds = sampled = assigned = 0
    checks: list[float] = []
    while len(todo) > full_up_to and rounds < ROUNDS:
        picked = np.sort(rng.choice(todo, size=min(sample, len(todo)), replace=False))
        inner = full(vectors[picked], min_similarity)
        count = int(inner.max()) + 1
        labels[picked] = inner + made
        rest = np.setdiff1d(todo, picked, assume_unique=True)
        best, similarity, check = nearest.best(vectors[rest], _means(vectors[picked], inner, count))
        joins = similarity >= min_similarity
        labels[rest[joins]] = best[joins] + made
        if check is not None:
            checks.append(check)
        made += count
        rounds += 1
        sampled += len(picked)
        assigned += int(joins.sum())
        todo = rest[~joins]
    alone = 0
    if len(todo) <= full_up_to:
        labels[todo] = full(vectors[todo], min_similarity) + made if len(todo) else labels[todo]
        sampled += len(todo)
    else:
        labels[todo] = made + np.arange(len(todo))
        alone = len(todo)
    count = int(labels.max()) + 1
    check_share = float(np.mean(checks)) if checks else None
    return Clustering(labels, count, Sampling(n, rounds, sampled, assigned, alone, check_share))


def full(vectors: Vectors, min_similarity: float) -> Labels:
    """scikit-learn's average-linkage clustering (cosine), cut at `min_similarity`."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    model = learn.agglomerative()(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        # merges happen below the threshold: just above 1 - s keeps a pair at exactly s together
        distance_threshold=float(np.nextafter(1.0 - min_similarity, 2.0)),
        compute_full_tree=True,
    )
    labels: Labels = model.fit_predict(vectors).astype(np.int64)
    return labels


def _means(vectors: Vectors, labels: Labels, count: int) -> Vectors:
    """Each cluster's mean vector (not normalised: its dot with x is x's mean similarity)."""
    sums = np.zeros((count, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, vectors)
    sizes = np.bincount(labels, minlength=count).astype(np.float64)
    means: Vectors = (sums / sizes[:, None]).astype(np.float32)
    return means
