"""simulate-cache on Ray (a local 2-CPU instance) against the single process (issue 19, item 4).

    python scripts/bench/bench_ray.py --write      # ~25 min on 2 cores (more under load)

With --write, its section of BENCHMARKS.md is written after each pair of runs, so a run stopped
part way keeps the pairs it finished. Both engines run the same command on a fresh copy of the
same ingested store, each in a fresh process (wall time from process start, so Ray's start is in
it; peak RSS of the process tree, Ray's workers included), and must report the same hits at
every threshold:

1. 100,000 requests (scripts/samples/scale_logs.py, as scripts/bench/bench_cache_scale.py), the
   default
   settings: `--sweep 0.80:0.99:0.01 --label metadata.intent` (minilm-tuned, the index).
2. MiniLM (torch) embedding the distinct texts of the first 2,000 requests: Ray Data with one
   embedder per worker against the single process's batches.
3. The first 20,000 requests with `--scope feature --neighbours exact`: the Ray engine splits the
   exact search by scope (costlab.distributed.partitions), where the single process searches
   all keys at once.

On one 2-core machine Ray cannot be faster by more than the cores it adds (none): what it shows
is its overhead, and what partitioning the search saves.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_cache_scale import DATA, SWEEP, costlab, store_of
from bench_doc import BENCHMARKS, write_section
from benchmark import machine, measure

HOME = DATA / "home_ray"  # the embedders this benchmark makes, apart from bench_cache_scale's
SIZE, SMALL, SCOPED = 100_000, 2_000, 20_000
RAY = ["--engine", "ray", "--workers", "2"]
# Under heavy load a local Ray instance can miss its own start-up deadline (the raylet's 30 s):
# such a run is tried again, from a fresh copy of the store.
TRIES = 3
RUNS: list[tuple[str, int, list[str]]] = [
    ("default settings", SIZE, SWEEP),
    ("MiniLM embedding (--embedder minilm)", SMALL, [*SWEEP, "--embedder", "minilm"]),
    (
        "--scope feature --neighbours exact",
        SCOPED,
        [*SWEEP, "--scope", "feature", "--neighbours", "exact"],
    ),
]


def made_embedder() -> float | None:
    """minilm-tuned made once in HOME (fitted to the 100,000 requests); seconds, or None."""
    from costlab.cache import static, tuned

    os.environ["COSTLAB_HOME"] = str(HOME)
    if static.manifest(tuned.folder()) is not None:
        return None
    started = time.perf_counter()
    if static.manifest() is None:
        static.build()
    tuned.build(tuned.Tuning(str(store_of(SIZE))))
    return time.perf_counter() - started


def first(size: int) -> Path:
    """The first `size` requests of the 1,000,000, ingested once."""
    if size == SIZE:
        return store_of(SIZE)
    db = DATA / f"scale_{size}.duckdb"
    if not db.exists():
        part = DATA / f"scale_{size}.jsonl"
        with (DATA / "scale_1000000.jsonl").open() as src, part.open("w") as out:
            for i, line in enumerate(src):
                if i == size:
                    break
                out.write(line)
        outcome = measure(costlab(db, "ingest", str(part), "--json"))
        if outcome["rc"] != 0:
            raise SystemExit(f"ingest failed: {outcome.get('stderr', '')}")
    return db


def run(source: Path, args: list[str]) -> dict[str, Any]:
    """One simulate-cache on a fresh copy of `source`: wall, peak RSS, stages and hits."""
    fresh = DATA / "ray_bench.duckdb"
    shutil.copy(source, fresh)
    out = DATA / "ray_bench.json"  # the JSON is longer than the wrapper keeps of stdout
    command = " ".join(shlex.quote(a) for a in costlab(fresh, "simulate-cache", *args, "--json"))
    for attempt in range(TRIES):
        outcome = measure(["sh", "-c", f"{command} > {shlex.quote(str(out))}"])
        if outcome["rc"] == 0:
            break
        print(f"  failed (try {attempt + 1}): {outcome.get('stderr', '')}", file=sys.stderr)
        shutil.copy(source, fresh)
    else:
        raise SystemExit(f"failed: {command}")
    report = json.loads(out.read_text())
    return {
        "wall_s": float(outcome["wall_s"]),
        "peak_mib": int(outcome["peak_kib"]) / 1024,  # type: ignore[call-overload]
        "keys": report["distinct_keys"],
        "stages_s": report["stages_s"],
        "hits": [t["hits"] for t in report["thresholds"]],
        "engine": report["engine"],
    }


def main(write: bool) -> int:
    started, loads = time.perf_counter(), [os.getloadavg()[0]]
    took = made_embedder()
    rows: list[str] = []
    ratios: list[str] = []
    for label, size, args in RUNS:
        source = first(size)
        local = run(source, args)
        print(f"  {label}, local: {local['wall_s']:.1f} s", file=sys.stderr, flush=True)
        on_ray = run(source, [*args, *RAY])
        print(f"  {label}, ray: {on_ray['wall_s']:.1f} s", file=sys.stderr, flush=True)
        loads.append(os.getloadavg()[0])
        if on_ray["hits"] != local["hits"]:
            raise SystemExit(f"{label}: the hits differ: {local['hits']} vs {on_ray['hits']}")
        for name, r in (("local", local), ("ray, 2 workers", on_ray)):
            stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stages_s"].items())
            rows.append(
                f"| {label} | {size:,} | {r['keys']:,} | {name} | {r['wall_s']:.1f} s "
                f"| {r['peak_mib']:,.0f} MiB | {stages} |"
            )
        ratio = on_ray["wall_s"] / local["wall_s"]
        ratios.append(f"- {label}: {ratio:.2f}x ({on_ray['engine']})")
        text = markdown(rows, ratios, took, loads, time.perf_counter() - started)
        if write:
            write_section(BENCHMARKS, "bench_ray", text)
    print(text)
    return 0


def markdown(
    rows: list[str], ratios: list[str], took: float | None, loads: list[float], spent_s: float
) -> str:
    lines = [
        "## simulate-cache on Ray against the single process",
        "",
        *machine(),
        "- command: `python scripts/bench/bench_ray.py --write` (`make bench-ray`)",
        "",
        "| run | requests | texts | engine | wall | peak RSS | where the time went (s) |",
        "|---|---:|---:|---|---:|---:|---|",
        *rows,
        "",
        "Ray's wall time against the single process's (the same hits at all 20 thresholds, "
        "checked by the script):",
        "",
        *ratios,
    ]
    if took is not None:
        lines += ["", f"minilm-tuned was made beforehand in {took:.0f} s (not in the times above)."]
    lines += [
        "",
        "One run each, wall time from process start (a Ray run includes starting its local "
        "instance). Measured UNDER LOAD: the 2-core machine was shared with other work (load "
        f"average {min(loads):.1f} to {max(loads):.1f} over the runs, median "
        f"{statistics.median(loads):.1f}); the script had run {spent_s / 60:.0f} min at the "
        "last pair.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main("--write" in sys.argv))
