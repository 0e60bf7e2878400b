"""The false-hit guard on labelled traffic: precision with and without it, correct hits kept.

    python scripts/bench/bench_guard.py [--write]

Data (../shared/data): Banking77 (10,003 bank-support queries, 77 intents) and CLINC150 (4,000
of its 18,200 assistant queries, drawn at random: 150 intents and out-of-scope; each out-of-scope
query is its own label, so a hit on one is wrong; the sample keeps the embedding time here
bounded), and GPTCache's 999 paraphrase pairs (all positives: every pair the cache would match
should stand). Each intent set is shuffled (seed 1) and cut in two halves: the rules
were chosen on the *development* half (the ablation below) and the figures are reported on the
*held-out* half, each half replayed as its own log in its shuffled order, keys normalised and
embedded with MiniLM as simulate-cache does (vectors kept in bench_data/ after the first run).

A hit is correct when the entry serving it has the request's label. The guard judges each hit of
the replay after it (costlab.cache.savings): a refused hit is paid, and the request does not
become an entry. The *stored* row replays again one request at a time with a refused request
made an entry (as a cache that stores every answer it paid for would), to show how far that
policy moves the figures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_doc import run_section  # noqa: E402

from costlab.cache import guard, simulate  # noqa: E402
from costlab.cache.neighbours import neighbours  # noqa: E402
from costlab.cache.normalize import normalize  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench_data"
THRESHOLDS = [round(0.80 + 0.01 * i, 2) for i in range(20)]
FOCUS = 0.92
CLINC150_SAMPLE = 4000
SEED = 1
Labelled = list[tuple[str, str]]


def banking77() -> Labelled:
    with (SHARED / "banking77" / "train.csv").open(newline="", encoding="utf-8") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def clinc150() -> Labelled:
    """A seeded sample of CLINC150_SAMPLE queries: embedding all 18,200 takes too long here."""
    data = json.loads((SHARED / "clinc150" / "train_val.json").read_text(encoding="utf-8"))
    rows = [(t, i) for split in ("train", "val", "oos_train", "oos_val") for t, i in data[split]]
    labelled = [(t, f"oos:{k}" if i == "oos" else i) for k, (t, i) in enumerate(rows)]
    return random.Random(SEED).sample(labelled, CLINC150_SAMPLE)


def embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """MiniLM vectors of `texts`, kept in bench_data/ under a hash of the texts."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"guard_minilm_{digest}.npy"
    if path.exists():
        return np.load(path)
    from costlab.cache import embedders

    vectors = np.asarray(embedders.load("minilm").encode(texts), dtype=np.float32)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


@dataclass(frozen=True)
class Half:
    """One half of a labelled set, replayed: its texts, labels and every threshold's result."""

    texts: list[str]
    labels: npt.NDArray[np.int64]
    results: list[simulate.SimResult]


def halves(rows: Labelled) -> tuple[Half, Half]:
    shuffled = random.Random(SEED).sample(rows, len(rows))
    middle = len(shuffled) // 2
    return replayed(shuffled[:middle]), replayed(shuffled[middle:])


def replayed(rows: Labelled) -> Half:
    texts = [t for t, _ in rows]
    keys = [normalize(t) for t in texts]
    distinct = sorted(set(keys))
    position = {k: i for i, k in enumerate(distinct)}
    vectors = embed(distinct)
    traffic = simulate.Traffic(
        ts=np.arange(len(texts), dtype=np.float64),
        scope=np.zeros(len(texts), dtype=np.int64),
        keys=np.array([position[k] for k in keys], dtype=np.int64),
    )
    lists = neighbours(vectors, min(THRESHOLDS))
    results = simulate.sweep(lists, traffic, THRESHOLDS)
    names = {label: i for i, label in enumerate(sorted({label for _, label in rows}))}
    labels = np.array([names[label] for _, label in rows], dtype=np.int64)
    return Half(texts, labels, results)


@dataclass(frozen=True)
class Row:
    threshold: float
    hits: int
    correct: int
    refused: int
    refused_correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.hits if self.hits else float("nan")

    @property
    def guarded(self) -> float:
        kept = self.hits - self.refused
        return (self.correct - self.refused_correct) / kept if kept else float("nan")

    @property
    def kept_correct(self) -> float:
        return (self.correct - self.refused_correct) / self.correct if self.correct else 1.0


def measure(half: Half, rules: frozenset[guard.Rule]) -> list[Row]:
    check = guard.Guard(rules)
    rows = []
    for r in half.results:
        hits = np.flatnonzero(r.hit)
        served = r.served_by[hits]
        right = half.labels[hits] == half.labels[served]
        refused = np.array(
            [
                check.refuses(half.texts[i], half.texts[e]) is not None
                for i, e in zip(hits, served, strict=True)
            ],
            dtype=np.bool_,
        )
        rows.append(
            Row(
                r.threshold,
                len(hits),
                int(right.sum()),
                int(refused.sum()),
                int((refused & right).sum()),
            )
        )
    return rows


def at(rows: list[Row], threshold: float) -> Row:
    return next(r for r in rows if abs(r.threshold - threshold) < 1e-9)


def refusals(half: Half, rules: frozenset[guard.Rule]) -> None:
    """Every hit the guard refuses at FOCUS, with the rule and what the labels say."""
    check = guard.Guard(rules)
    result = next(r for r in half.results if abs(r.threshold - FOCUS) < 1e-9)
    hits = np.flatnonzero(result.hit)
    lines = []
    for i, e in zip(hits.tolist(), result.served_by[hits].tolist(), strict=True):
        rule = check.refuses(half.texts[i], half.texts[e])
        if rule is not None:
            same = "same" if half.labels[i] == half.labels[e] else "different"
            lines.append(f"| {rule} | {same} | {half.texts[i]} | {half.texts[e]} |")
    print(f"\nThe {len(lines)} hits refused at {FOCUS}:\n")
    print("| rule | label | request | entry serving it |")
    print("|---|---|---|---|")
    print("\n".join(lines))


def stored_policy(half: Half, threshold: float, rules: frozenset[guard.Rule]) -> Row:
    """One request at a time; a refused request becomes an entry (its answer stored)."""
    check = guard.Guard(rules)
    result = next(r for r in half.results if abs(r.threshold - threshold) < 1e-9)
    del result
    keys = [normalize(t) for t in half.texts]
    distinct = sorted(set(keys))
    vectors = embed(distinct)[[distinct.index(k) for k in keys]]
    entries: list[int] = []
    hits = correct = 0
    for i in range(len(keys)):
        if entries:
            similarity = vectors[entries] @ vectors[i]
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                e = entries[best]
                if check.refuses(half.texts[i], half.texts[e]) is None:
                    hits += 1
                    correct += int(half.labels[i] == half.labels[e])
                    continue
        entries.append(i)
    return Row(threshold, hits, correct, 0, 0)


def pairs_kept(rules: frozenset[guard.Rule]) -> tuple[int, int, int]:
    """GPTCache's paraphrase pairs at FOCUS or above, and how many of them the guard refuses."""
    data = json.loads((SHARED / "gptcache" / "mock_data.json").read_text(encoding="utf-8"))
    origin, similar = [p["origin"] for p in data], [p["similar"] for p in data]
    a, b = embed([normalize(t) for t in origin]), embed([normalize(t) for t in similar])
    close = np.flatnonzero(np.einsum("ij,ij->i", a, b) >= FOCUS)
    check = guard.Guard(rules)
    refused = sum(check.refuses(similar[i], origin[i]) is not None for i in close)
    return len(data), len(close), refused


def table(rows: list[Row]) -> None:
    print(
        "| threshold | hits | precision | refused by the guard | precision with the guard "
        "| gain (points) | correct hits kept | most gain possible (points) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.threshold:.2f} | {r.hits:,} | {r.precision:.1%} | {r.refused:,} "
            f"({r.refused_correct:,} correct) | {r.guarded:.1%} | "
            f"{100 * (r.guarded - r.precision):+.1f} | {r.kept_correct:.1%} | "
            f"{100 * (1 - r.precision):.1f} |"
        )


def main() -> None:
    load = os.getloadavg()[0]
    print(f"Load average (1 min) at start: {load:.1f} on a shared machine; every figure below is")
    print("a count of hits, not a timing, so the load does not change it.\n")
    sets = {"Banking77": banking77(), "CLINC150": clinc150()}
    split = {name: halves(rows) for name, rows in sets.items()}
    default = guard.DEFAULT_RULES
    print(f"Rules on by default: {', '.join(sorted(default))}. Threshold in focus: {FOCUS}.\n")
    print("### Development halves: each rule alone and all together, at", FOCUS)
    print()
    print(
        "| rules | set | hits | refused (correct) | precision → with the guard "
        "| correct hits kept |"
    )
    print("|---|---|---:|---:|---:|---:|")
    choices = [frozenset([r]) for r in guard.RULES] + [frozenset(guard.RULES), default]
    choices = list(dict.fromkeys(choices))
    for rules in choices:
        for name, (dev, _) in split.items():
            r = at(measure(dev, rules), FOCUS)
            print(
                f"| {'+'.join(sorted(rules))} | {name} | {r.hits:,} | {r.refused:,} "
                f"({r.refused_correct:,}) | {r.precision:.1%} → {r.guarded:.1%} "
                f"| {r.kept_correct:.1%} |"
            )
    for name, (_, held) in split.items():
        print(f"\n### Held-out half of {name} ({len(held.texts):,} requests), default rules\n")
        rows = measure(held, default)
        table(rows)
        refusals(held, default)
        stored = stored_policy(held, FOCUS, default)
        print(
            f"\nA cache that stores refused requests as entries, at {FOCUS}: {stored.hits:,} hits "
            f"at {stored.precision:.1%} precision (judged after the replay: "
            f"{at(rows, FOCUS).hits - at(rows, FOCUS).refused:,} at {at(rows, FOCUS).guarded:.1%})."
        )
    total, close, refused = pairs_kept(default)
    print(
        f"\nGPTCache paraphrase pairs (all the same meaning): {close} of {total} at {FOCUS} or "
        f"above; the guard refuses {refused} ({refused / max(close, 1):.1%}) of them."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md's section")
    parser.parse_args()
    sys.exit(run_section("bench_guard", "False-hit guard (issue 16, item 4)", main))
