"""Compare embedders as a semantic-cache key on Banking77: throughput, hit rate, precision.

    python scripts/bench/compare_embedders.py --out /tmp/compare_embedders.md
    python scripts/bench/compare_embedders.py --limit 3000 --out /tmp/compare.md   # quicker
    python scripts/bench/compare_embedders.py \
        --embedders minilm,minilm-int8,paraphrase-l3,minilm-static

Runs the real pipeline (scripts/samples/labelled_logs.py, `costlab ingest`, `costlab simulate-cache
--label metadata.intent --json`) once per embedder on one store, so the vectors are embedded
once and a rerun only replays. The first embedder is the reference. Throughput is timed
in-process on the same queries, batch of `costlab.cache.vectors.BATCH`, after a warm-up, the
embedders taking turns for `--rounds` rounds (the median is reported: the machine is shared).
minilm-static needs `costlab embedders distill` to have run, and minilm-tuned
`costlab embedders distill --corpus DB` (fitted on the store this script made).
`compare()` returns the markdown, for a later benchmark script.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench_doc
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
SWEEP = "0.70:0.99:0.01"
MIN_PRECISION = 0.95


@dataclass(frozen=True)
class Speed:
    embedder: str
    texts: int
    batch: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.texts / self.seconds


def throughput(names: list[str], texts: list[str], rounds: int = 3) -> list[Speed]:
    """Sentences per second of each embedder, taking turns; load and a warm-up batch excluded."""
    from costlab.cache import embedders
    from costlab.cache.vectors import BATCH

    loaded = [embedders.load(name) for name in names]
    for embedder in loaded:
        embedder.encode(texts[:BATCH])
    seconds: list[list[float]] = [[] for _ in loaded]
    for _ in range(rounds):
        for embedder, timings in zip(loaded, seconds, strict=True):
            started = time.perf_counter()
            for start in range(0, len(texts), BATCH):
                embedder.encode(texts[start : start + BATCH])
            timings.append(time.perf_counter() - started)
    return [
        Speed(e.name, len(texts), BATCH, float(np.median(t)))
        for e, t in zip(loaded, seconds, strict=True)
    ]


def costlab(db: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "costlab", "--db", str(db), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"costlab {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def prepare(db: Path, limit: int | None) -> None:
    """The labelled Banking77 log, ingested once into `db`."""
    if db.exists():
        return
    log = db.with_suffix(".jsonl")
    extra = ["--limit", str(limit)] if limit else []
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "samples" / "labelled_logs.py"),
            "banking77",
            "--out",
            str(log),
        ]
        + extra,
        check=True,
        capture_output=True,
    )
    costlab(db, "ingest", str(log))


def simulate(db: Path, embedder: str) -> dict[str, Any]:
    out = costlab(
        db,
        "simulate-cache",
        "--sweep",
        SWEEP,
        "--label",
        "metadata.intent",
        "--embedder",
        embedder,
        "--min-precision",
        str(MIN_PRECISION),
        "--json",
    )
    result: dict[str, Any] = json.loads(out)
    return result


def precision_at(result: dict[str, Any], hit_rate: float) -> float | None:
    """Precision at a given hit rate, interpolated along the threshold sweep."""
    points = sorted(
        (r["hit_rate"], r["precision"]) for r in result["thresholds"] if r["precision"] is not None
    )
    rates = [p[0] for p in points]
    if not points or not rates[0] <= hit_rate <= rates[-1]:
        return None
    return float(np.interp(hit_rate, rates, [p[1] for p in points]))


def _row(result: dict[str, Any], threshold: float | None) -> dict[str, Any] | None:
    return next((r for r in result["thresholds"] if r["threshold"] == threshold), None)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def report(speeds: list[Speed], results: list[dict[str, Any]]) -> str:
    """The comparison as markdown: the first embedder is the reference."""
    base = results[0]
    lines = [
        f"Banking77: {base['requests']:,} queries, hits judged by the intent label "
        f"(`--label metadata.intent`), sweep {SWEEP}.",
        "",
        "| embedder | texts timed | batch | seconds (median) | sentences/s | × reference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in speeds:
        ratio = s.per_s / speeds[0].per_s
        lines.append(
            f"| {s.embedder} | {s.texts:,} | {s.batch} | {s.seconds:.1f} | {s.per_s:,.0f} "
            f"| {ratio:.1f}× |"
        )
    lines += [
        "",
        f"At the threshold each recommends (`--min-precision {MIN_PRECISION}`):",
        "",
        "| embedder | recommended threshold | hit rate | precision "
        f"| precision of {results[0]['embedder']} at this hit rate |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        row = _row(r, r["recommended_threshold"])
        rate = None if row is None else row["hit_rate"]
        lines.append(
            f"| {r['embedder']} | {r['recommended_threshold']} | {_pct(rate)} "
            f"| {_pct(row and row['precision'])} "
            f"| {_pct(None if rate is None else precision_at(base, rate))} |"
        )
    lines += _equal_hit_rate(results)
    lines += ["", "Full sweeps:", ""]
    names = [r["embedder"] for r in results]
    lines.append("| threshold | " + " | ".join(f"hit rate / precision, {n}" for n in names) + " |")
    lines.append("|---:|" + "---:|" * len(names))
    for i, row in enumerate(base["thresholds"]):
        cells = [
            f"{r['thresholds'][i]['hit_rate']:.1%} / {_pct(r['thresholds'][i]['precision'])}"
            for r in results
        ]
        lines.append(f"| {row['threshold']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _equal_hit_rate(results: list[dict[str, Any]]) -> list[str]:
    """Each other embedder's precision at the reference's hit rates, and its loss in points."""
    base, others = results[0], results[1:]
    lines = [
        "",
        "Precision at equal hit rate (each curve interpolated at the reference's hit rates; "
        "points against the reference):",
        "",
        f"| threshold ({base['embedder']}) | hit rate | precision, {base['embedder']} | "
        + " | ".join(f"precision, {r['embedder']}" for r in others)
        + " |",
        "|---:|---:|---:|" + "---:|" * len(others),
    ]
    for row in base["thresholds"]:
        if row["precision"] is None or not row["hit_rate"]:
            continue
        cells = []
        for other in others:
            at = precision_at(other, row["hit_rate"])
            cells.append("—" if at is None else f"{at:.1%} ({100 * (at - row['precision']):+.1f})")
        lines.append(
            f"| {row['threshold']:.2f} | {row['hit_rate']:.1%} | {row['precision']:.1%} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def compare(
    db: Path,
    embedders: tuple[str, ...] = ("minilm", "minilm-static"),
    limit: int | None = None,
    timed: int = 2000,
    rounds: int = 3,
) -> str:
    """Run the embedders through simulate-cache and the throughput timer; the markdown."""
    prepare(db, limit)
    with QUERIES.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)][:timed]
    speeds = throughput(list(embedders), texts, rounds)
    results = [simulate(db, name) for name in embedders]
    return report(speeds, results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=Path("/tmp/compare_embedders.duckdb"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/compare_embedders.md"))
    parser.add_argument("--limit", type=int, help="only the first N queries of the log")
    parser.add_argument("--timed", type=int, default=2000, help="queries timed per embedder")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (median kept)")
    parser.add_argument(
        "--embedders", default="minilm,minilm-static", help="reference,other[,other…]"
    )
    args = parser.parse_args(argv)
    names = tuple(args.embedders.split(","))
    if len(names) < 2:
        parser.error("--embedders needs a reference and at least one other")
    markdown = compare(args.db, names, args.limit, args.timed, args.rounds)
    args.out.write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(bench_doc.run_section("compare_embedders", "Embedders on Banking77", main))
