"""How well intents match known labels (a column or metadata.KEY of the requests).

Measured over the requests that have a label, each counted once: the adjusted Rand index (0 for
a random grouping, 1 for the labels exactly), homogeneity (each intent holds one label),
completeness (each label sits in one intent) and their harmonic mean, the V-measure, all from
`sklearn.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.errors import BadInput
from costlab.intents import learn


@dataclass(frozen=True)
class Agreement:
    label: str
    requests: int  # requests with a label: the ones measured
    labels: int  # distinct labels among them
    adjusted_rand: float
    homogeneity: float
    completeness: float
    v_measure: float


def measure(label: str, labels: npt.NDArray[np.int64], intents: npt.NDArray[np.int64]) -> Agreement:
    """The agreement of `intents` with `labels` (one code per request; -1: no label)."""
    known = labels >= 0
    if not known.any():
        raise BadInput(
            f"--label {label}: no request in scope has one",
            "check the column or metadata key (e.g. --label metadata.intent)",
        )
    metrics = learn.metrics()
    truth, found = labels[known], intents[known]
    homogeneity, completeness, v_measure = metrics.homogeneity_completeness_v_measure(truth, found)
    return Agreement(
        label=label,
        requests=int(known.sum()),
        labels=len(np.unique(truth)),
        adjusted_rand=float(metrics.adjusted_rand_score(truth, found)),
        homogeneity=float(homogeneity),
        completeness=float(completeness),
        v_measure=float(v_measure),
    )
