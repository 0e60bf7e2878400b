"""The sample cluster each other prompt is most similar to on average.

A cluster is its members' mean vector; a prompt's dot product with it is the prompt's mean
similarity to the members. Up to `EXACT_PRODUCTS` prompt × cluster products the best cluster is
found by blocked matrix products against every mean (exact). Above, a faiss inverted-file index
over the means scans the cells nearest each prompt (a sixth of the cells, at least `PROBES`),
and a seeded sample of `CHECK` prompts is searched both ways to measure how often the index
found the exact best cluster.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from costlab.cache.search import faiss_library

BLOCK = 4096  # prompts per matrix product: bounds the working memory (BLOCK × clusters floats)
EXACT_PRODUCTS = 400_000_000  # e.g. 200,000 prompts × 2,000 clusters
PROBES = 8
CHECK = 2000
Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def best(points: Floats, means: Floats) -> tuple[Ints, Floats, float | None]:
    """Per point the cluster with the highest mean similarity, and that similarity.

    The third value is the share of a checked sample given the exact best cluster when an index
    searched, else None (every point compared with every cluster).
    """
    if len(means) == 0:
        return np.zeros(len(points), np.int64), np.full(len(points), -np.inf, np.float32), None
    if len(points) * len(means) <= EXACT_PRODUCTS:
        found, similarity = _exact(points, means)
        return found, similarity, None
    found, similarity = _indexed(points, means)
    rng = np.random.default_rng(0)
    checked = np.sort(rng.choice(len(points), min(CHECK, len(points)), replace=False))
    _, exact = _exact(points[checked], means)
    return found, similarity, float(np.mean(similarity[checked] >= exact - 1e-6))


def _exact(points: Floats, means: Floats) -> tuple[Ints, Floats]:
    found = np.zeros(len(points), dtype=np.int64)
    similarity = np.zeros(len(points), dtype=np.float32)
    means_t = np.ascontiguousarray(means.T)
    for start in range(0, len(points), BLOCK):
        products = points[start : start + BLOCK] @ means_t
        top = products.argmax(axis=1)
        found[start : start + BLOCK] = top
        similarity[start : start + BLOCK] = products[np.arange(len(top)), top]
    return found, similarity


def _indexed(points: Floats, means: Floats) -> tuple[Ints, Floats]:
    faiss = faiss_library()
    dim = means.shape[1]
    cells = max(1, min(len(means) // 8, int(math.sqrt(len(means)))))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1
    index.cp.niter = 10
    means = np.ascontiguousarray(means, dtype=np.float32)
    index.train(means)
    index.add(means)
    index.nprobe = min(cells, max(PROBES, cells // 6))
    found = np.zeros(len(points), dtype=np.int64)
    similarity = np.zeros(len(points), dtype=np.float32)
    for start in range(0, len(points), BLOCK * 4):
        sims, keys = index.search(np.ascontiguousarray(points[start : start + BLOCK * 4]), 1)
        found[start : start + BLOCK * 4] = np.maximum(keys[:, 0], 0)
        similarity[start : start + BLOCK * 4] = np.where(keys[:, 0] >= 0, sims[:, 0], -np.inf)
    return found, similarity
