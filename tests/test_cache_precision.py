"""The response judge: each distinct pair of responses compared once, verdicts as one per hit."""

from __future__ import annotations

import numpy as np
import pytest

from costlab.cache import precision


def _one_per_hit(
    response: np.ndarray, vectors: np.ndarray, hits: np.ndarray, served: np.ndarray
) -> precision.Verdicts:
    """The judge as it was: one cosine per hit, gathered row by row."""
    a, b = response[hits], response[served]
    judged = (a >= 0) & (b >= 0)
    similar = np.einsum("ij,ij->i", vectors[np.maximum(a, 0)], vectors[np.maximum(b, 0)])
    return precision.Verdicts(judged, judged & ((a == b) | (similar >= 0.9)))


@pytest.mark.parametrize("seed", range(12))
def test_judging_each_distinct_pair_once_gives_every_hit_the_same_verdict(seed: int) -> None:
    rng = np.random.default_rng(seed)
    responses = int(rng.choice([1, 3, 20, 500]))
    dim = int(rng.choice([4, 16, 384]))
    # unit vectors, some near copies of others so that pairs fall on both sides of 0.9
    base = rng.normal(size=(responses, dim)).astype(np.float32)
    near = rng.random(responses) < 0.5
    base[near] = base[rng.integers(0, responses, near.sum())] + 0.3 * base[near]
    vectors = base / np.linalg.norm(base, axis=1, keepdims=True)
    requests = int(rng.integers(1, 3000))
    response = rng.integers(-1, responses, requests)  # -1: no response logged
    hits = np.flatnonzero(rng.random(requests) < 0.6)
    served = rng.integers(0, requests, len(hits))
    judge = precision.response_judge(response, vectors)
    got, want = judge(hits, served), _one_per_hit(response, vectors, hits, served)
    assert got.judged.tolist() == want.judged.tolist()
    assert got.right.tolist() == want.right.tolist()
    both = (response[hits] >= 0) & (response[served] >= 0)
    assert both.sum() == got.judged.sum()


def test_the_same_response_is_right_and_a_missing_one_unjudged() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    response = np.array([0, 0, 1, -1])
    judge = precision.response_judge(response, vectors)
    got = judge(np.array([1, 2, 3]), np.array([0, 0, 0]))
    assert got.judged.tolist() == [True, True, False]
    assert got.right.tolist() == [True, False, False]
