"""The sample cluster each other prompt is most similar to on average.

A cluster is its members' mean vector; a prompt's dot product with it is the prompt's mean
similarity to the members. The best cluster is found by blocked matrix products against every
mean (exact), so the working memory is one block of products whatever the number of prompts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BLOCK = 4096  # prompts per matrix product: bounds the working memory (BLOCK × clusters floats)


def best(
    points: npt.NDArray[np.float32], means: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], float | None]:
    """Per point the cluster with the highest mean similarity, and that similarity.

    The third value is the share of a checked sample that got the exact best cluster: None
    here, where every point is compared with every cluster.
    """
    found = np.zeros(len(points), dtype=np.int64)
    similarity = np.zeros(len(points), dtype=np.float32)
    if len(means) == 0:
        return found, np.full(len(points), -np.inf, dtype=np.float32), None
    means_t = np.ascontiguousarray(means.T)
    for start in range(0, len(points), BLOCK):
        products = points[start : start + BLOCK] @ means_t
        top = products.argmax(axis=1)
        found[start : start + BLOCK] = top
        similarity[start : start + BLOCK] = products[np.arange(len(top)), top]
    return found, similarity, None
