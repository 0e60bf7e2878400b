"""Hit precision that means what it says: judged only where it can be, and never guessed.

A hit (request i served by entry e) is *judged* right or wrong, or left *unjudged*:

- from labels (`--label`): right when i and e have the same label; unjudged when either has no
  label. Precision is right / judged; the unjudged hits are counted, not counted as wrong.
- from logged responses (no `--label`): right when the two responses are the same text or at
  least SAME_ANSWER_SIMILARITY similar; unjudged when either response is missing. This estimate
  is shown as a number only where it can be trusted (`distrust`): it needs MIN_JUDGED judged
  hits, and where the log repeats a prompt word for word, the responses to those repeats must
  mostly be judged the same answer (if not, the responses vary with more than the question, e.g.
  ticket numbers or times written into them, and every hit would read as wrong).

SAME_ANSWER_SIMILARITY was checked against labels on MT-Bench questions answered by four real
models (scripts/bench/bench_answers.py, BENCHMARKS.md "Label-free hit precision").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.bool_]
Indices = npt.NDArray[np.int64]
# Without labels, a hit is right when the response logged for the request and the one logged
# for the entry serving it are at least this similar (cosine, the cache's embedder).
SAME_ANSWER_SIMILARITY = 0.9
MIN_JUDGED = 30  # judged hits below which a label-free estimate is not shown
MIN_REPEATS = 10  # word-for-word repeats needed to check that responses follow the question
MIN_REPEATS_SAME = 0.5  # the share of those repeats that must be judged the same answer


@dataclass(frozen=True)
class Verdicts:
    """Per hit: whether it could be judged, and whether it was right (False where unjudged)."""

    judged: Mask
    right: Mask


# Which hits got a right answer: (hitting requests, the entries serving them) -> verdicts.
Judge = Callable[[Indices, Indices], Verdicts]


@dataclass(frozen=True)
class Precision:
    """One threshold's precision: None with the reason when it is not shown."""

    value: float | None
    judged: int
    unjudged: int
    unavailable: str | None = None  # why there is no value (no hits, too few judged, ...)


def label_judge(labels: npt.NDArray[np.int64]) -> Judge:
    """Right when the entry has the request's label; unjudged when either has none (-1)."""

    def judge(hits: Indices, served: Indices) -> Verdicts:
        judged = (labels[hits] >= 0) & (labels[served] >= 0)
        return Verdicts(judged, judged & (labels[hits] == labels[served]))

    return judge


def response_judge(
    response: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    same: float = SAME_ANSWER_SIMILARITY,
) -> Judge:
    """Right when the two responses are the same or similar; unjudged when one is missing.

    `response` gives per request its row of `vectors` (-1: no response logged); requests
    sharing a row logged the same response text.
    """

    def judge(hits: Indices, served: Indices) -> Verdicts:
        a, b = response[hits], response[served]
        judged = (a >= 0) & (b >= 0)
        right = judged & (a == b)
        # hits share few distinct response pairs (canned answers, repeats): each pair's cosine
        # once, not one (hits, dim) gather per side (at 1M hits, two 1.5 GB copies)
        open_ = np.flatnonzero(judged & (a != b))
        pairs, inverse = np.unique(
            a[open_] * len(vectors) + b[open_], return_inverse=True
        )  # fmt: skip
        x, y = np.divmod(pairs, len(vectors))
        similar = np.einsum("ij,ij->i", vectors[x], vectors[y])
        right[open_] = similar[inverse.reshape(-1)] >= same
        return Verdicts(judged, right)

    return judge


def measure(verdicts: Verdicts, distrusted: str | None = None) -> Precision:
    """Precision over the judged hits; unavailable with the reason where there are none."""
    judged = int(verdicts.judged.sum())
    unjudged = len(verdicts.judged) - judged
    if distrusted is not None:
        return Precision(None, judged, unjudged, distrusted)
    if not len(verdicts.judged):
        return Precision(None, 0, 0, "no hits")
    if not judged:
        return Precision(None, 0, unjudged, "no hit could be judged")
    return Precision(float(verdicts.right.sum()) / judged, judged, unjudged)


def distrust(verdicts: Verdicts, repeats: Mask) -> str | None:
    """Why a label-free estimate over these hits cannot be trusted, or None.

    `repeats` marks the hits whose request repeats its entry's prompt word for word.
    """
    judged = int(verdicts.judged.sum())
    if judged < MIN_JUDGED:
        return f"too few hits with both responses logged ({judged}; {MIN_JUDGED} needed)"
    checked = repeats & verdicts.judged
    if int(checked.sum()) >= MIN_REPEATS:
        same = float(verdicts.right[checked].mean())
        if same < MIN_REPEATS_SAME:  # one wording for every threshold: it is shown once
            return (
                "the responses to word-for-word repeated prompts differ (under "
                f"{MIN_REPEATS_SAME:.0%} judged the same answer): they vary with more than the "
                "question, so similar responses cannot say whether a hit was right"
            )
    return None


@dataclass(frozen=True)
class Choice:
    """The recommended threshold, or why there is none and the best there was."""

    recommended: float | None
    best: float | None  # the threshold of highest precision (more saved on ties)
    best_precision: float | None


def choose(
    thresholds: list[float], precisions: list[Precision], saved: list[float], min_precision: float
) -> Choice:
    """The threshold saving most at `min_precision` or better; else the most precise one."""
    rows = [
        (t, p.value, s)
        for t, p, s in zip(thresholds, precisions, saved, strict=True)
        if p.value is not None
    ]
    good = [r for r in rows if r[1] is not None and r[1] >= min_precision]
    recommended = max(good, key=lambda r: (r[2], r[0]))[0] if good else None
    if not rows:
        return Choice(recommended, None, None)
    best = max(rows, key=lambda r: (r[1] or 0.0, r[2], r[0]))
    return Choice(recommended, best[0], best[1])
