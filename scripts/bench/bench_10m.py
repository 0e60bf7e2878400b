"""report and route-replay over 10,000,000 flat requests: DuckDB out of core (issue 19, item 4).

    python scripts/bench/bench_10m.py --write         # ~20 min on 2 cores: generate once, then time
    python scripts/bench/bench_10m.py --rows 1000000  # a smaller run of the same steps

Data: `scripts/samples/generate_logs.py --format flat --rows N` (seeded: the same file every
time), made once in bench_data/. Each command runs once, in a fresh process, timed from process
start with the peak RSS of its process tree (the figures are minutes, not seconds: one run each):

1. `costlab ingest FILE` into a fresh store;
2. `costlab report --format json` (every section);
3. `costlab route-replay --json` with the ten policies of scripts/bench/bench_routing.py (one, two,
   five rules; a 1,000-resample bootstrap each), as its 1M benchmark runs them.

The store holds DuckDB to 1 GB of memory and spills past it (costlab.store.MEMORY_LIMIT): the
peak RSS shows whether that holds at 10M.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_doc import run_section
from bench_routing import POLICIES
from benchmark import ROOT, ensure_data, measure

DATA = ROOT / "bench_data"


def costlab(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "costlab", "--db", str(db), *args]


def step(name: str, cmd: list[str]) -> dict[str, object]:
    outcome = measure(cmd)
    if outcome["rc"] != 0:
        raise SystemExit(f"{name} failed (exit {outcome['rc']}): {outcome.get('stderr', '')}")
    wall, peak = float(outcome["wall_s"]), int(outcome["peak_kib"]) / 1024  # type: ignore[call-overload]
    print(f"  {name}: {wall:,.1f} s, {peak:,.0f} MiB", file=sys.stderr, flush=True)
    return {"name": name, "wall_s": wall, "peak_mib": peak, "stdout": outcome.get("stdout", "")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    logs = ensure_data("flat", args.rows, DATA)
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        db = Path(tmp) / "store.duckdb"
        ingest = step("ingest", costlab(db, "ingest", str(logs), "--json"))
        files = json.loads(str(ingest["stdout"]) or "{}").get("files", [])
        added = f"{sum(f['added'] for f in files):,}"
        report = step("report", costlab(db, "report", "--format", "json"))
        policies = []
        for name, text in POLICIES.items():
            (Path(tmp) / f"{name}.toml").write_text(text)
            policies += ["--policy", str(Path(tmp) / f"{name}.toml")]
        routes = step("route-replay", costlab(db, "route-replay", *policies, "--json"))
        store_mib = db.stat().st_size / 2**20
    load = os.getloadavg()
    rows = [
        ("`costlab ingest FILE --json`", ingest),
        ("`costlab report --format json` (every section)", report),
        (f"`costlab route-replay --policy ... --json` ({len(POLICIES)} policies)", routes),
    ]
    size_gib = logs.stat().st_size / 2**30
    print(
        f"{args.rows:,} flat requests ({size_gib:.1f} GiB of JSON lines; {added} rows added, "
        f"the store {store_mib:,.0f} MiB on disk). Load average at the start: "
        f"{load_at_start:.1f}.\n"
    )
    print("| step | wall | rows/s | peak RSS |")
    print("|---|---:|---:|---:|")
    for label, r in rows:
        wall, peak = float(r["wall_s"]), float(r["peak_mib"])  # type: ignore[arg-type]
        print(f"| {label} | {wall:,.1f} s | {args.rows / wall:,.0f} | {peak:,.0f} MiB |")
    print(
        f"\nOne run each, in a fresh process (imports included). Measured UNDER LOAD: the machine "
        f"(2 cores) was shared with other work; load average at the end {load[0]:.1f} "
        f"(1 min), {load[1]:.1f} (5 min). The whole script took "
        f"{(time.perf_counter() - started) / 60:.0f} min, generation included."
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_section("bench_10m", "report and route-replay over 10M requests", main))
