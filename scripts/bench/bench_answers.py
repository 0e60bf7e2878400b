"""Hit precision without labels, checked against labels on real answers: MT-Bench, four models.

    python scripts/bench/bench_answers.py [--write]

Without `--label`, simulate-cache judges a hit right when the response logged for the request
and the one logged for its entry are at least SAME_ANSWER_SIMILARITY similar (costlab.cache.
precision). This checks that estimate on a set that has both labels and real responses: the 80
MT-Bench questions × 2 turns (lm-sys/RouteLLM, Apache-2.0), each asked four times and answered by
a different real model each time (gpt-4-1106-preview, Mixtral-8x7B, and the Martian and Unify
routers), in a seeded random order. The label is the question and turn; the prompt is the turn
as the user typed it (so second turns such as "Rewrite your previous response..." of different
questions look alike, and hits between them are wrong). Keys normalised and embedded with MiniLM,
responses too, as simulate-cache does; the replay is costlab's own (`simulate.sweep`).

The similarity was chosen on the questions with an odd id (development) and is reported on the
even ones (held out): the error is estimate minus labelled precision, in points.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_doc import run_section  # noqa: E402
from bench_guard import embed  # noqa: E402
from routellm_logs import answers  # noqa: E402

from costlab.cache import precision, simulate  # noqa: E402
from costlab.cache.neighbours import neighbours  # noqa: E402
from costlab.cache.normalize import normalize  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "routellm_mt_bench"
THRESHOLDS = [round(0.80 + 0.01 * i, 2) for i in range(20)]
CANDIDATES = [0.70, 0.75, 0.80, 0.85, 0.90]
SEED = 1


def requests() -> list[tuple[str, str, str]]:
    """(prompt, label, response): each question's turn once per model that answered it."""
    questions = [json.loads(line) for line in (DATA / "question.jsonl").open(encoding="utf-8")]
    said = {}
    for name in ("judgements.jsonl", "commercial_routers/gpt-4_single.jsonl"):
        said |= answers([json.loads(line) for line in (DATA / name).open(encoding="utf-8")])
    rows = []
    for q in questions:
        for turn in (1, 2):
            for (qid, t, _model), text in said.items():
                if qid == q["question_id"] and t == turn:
                    rows.append((q["turns"][turn - 1], f"{qid}-{turn}", text))
    return random.Random(SEED).sample(rows, len(rows))


class Replayed:
    """One part of the set replayed at every threshold, with labels and response vectors."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        keys = [normalize(p) for p, _, _ in rows]
        distinct = sorted(set(keys))
        at = {k: i for i, k in enumerate(distinct)}
        traffic = simulate.Traffic(
            np.arange(len(rows), dtype=np.float64),
            np.zeros(len(rows), dtype=np.int64),
            np.array([at[k] for k in keys], dtype=np.int64),
        )
        lists = neighbours(embed(distinct), min(THRESHOLDS))
        self.results = simulate.sweep(lists, traffic, THRESHOLDS)
        names = {label: i for i, label in enumerate(sorted({r[1] for r in rows}))}
        self.labels = np.array([names[r[1]] for r in rows], dtype=np.int64)
        responses = sorted({r[2] for r in rows})
        row = {text: i for i, text in enumerate(responses)}
        self.response = np.array([row[r[2]] for r in rows], dtype=np.int64)
        self.vectors = embed(responses)
        self.prompts = np.array([at[k] for k in keys], dtype=np.int64)

    def errors(self, same: float) -> list[tuple[float, int, float | None, float | None, str]]:
        """Per threshold: hits, labelled precision, the estimate (or None) and why not."""
        by_label = precision.label_judge(self.labels)
        by_response = precision.response_judge(self.response, self.vectors, same)
        out = []
        for r in self.results:
            hits = np.flatnonzero(r.hit)
            served = r.served_by[hits]
            truth = precision.measure(by_label(hits, served))
            verdicts = by_response(hits, served)
            repeats = self.prompts[hits] == self.prompts[served]
            estimate = precision.measure(verdicts, precision.distrust(verdicts, repeats))
            out.append(
                (r.threshold, len(hits), truth.value, estimate.value, estimate.unavailable or "")
            )
        return out


def worst(rows: list[tuple[float, int, float | None, float | None, str]]) -> float:
    gaps = [abs(e - t) for _, _, t, e, _ in rows if t is not None and e is not None]
    return 100 * max(gaps, default=float("nan"))


def main() -> None:
    load = os.getloadavg()[0]
    print(f"Load average (1 min) at start: {load:.1f} on a shared machine; every figure below is")
    print("a count of hits, not a timing, so the load does not change it.\n")
    rows = requests()
    dev = Replayed([r for r in rows if int(r[1].split("-")[0]) % 2 == 1])
    held = Replayed([r for r in rows if int(r[1].split("-")[0]) % 2 == 0])
    print(f"{len(rows)} requests: {len(rows) // 4} question turns × 4 real answers.\n")
    print("Development questions (odd ids): the largest error at any threshold per similarity\n")
    print("| same answer at cosine ≥ | largest error (points) |")
    print("|---:|---:|")
    for same in CANDIDATES:
        print(f"| {same:.2f} | {worst(dev.errors(same)):.1f} |")
    same = precision.SAME_ANSWER_SIMILARITY
    print(f"\nHeld-out questions (even ids), at costlab's {same}:\n")
    print("| threshold | hits | labelled precision | label-free estimate | error (points) |")
    print("|---:|---:|---:|---:|---:|")
    for t, hits, truth, estimate, why in held.errors(same):
        shown = "unavailable: " + why if estimate is None else f"{estimate:.1%}"
        gap = "" if truth is None or estimate is None else f"{100 * (estimate - truth):+.1f}"
        print(
            f"| {t:.2f} | {hits} | {'—' if truth is None else f'{truth:.1%}'} | {shown} | {gap} |"
        )
    print(
        f"\nLargest error on held-out questions: {worst(held.errors(same)):.1f} points "
        "(goal: within 5)."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md's section")
    parser.parse_args()
    sys.exit(run_section("bench_answers", "Label-free hit precision (issue 16, item 5)", main))
