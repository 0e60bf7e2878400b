"""Time `costlab simulate-prefix-cache` on generated traffic; print a markdown table.

    python scripts/bench/bench_prefix.py                 # 100,000 chat requests, median of 3
    python scripts/bench/bench_prefix.py --rows 20000 --runs 1

The logs come from scripts/samples/generate_logs.py (OpenAI chat records with a system prompt per
feature), ingested into a temporary store; each run is a fresh subprocess, so tokenizer loading
and imports are counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_doc

ROOT = Path(__file__).resolve().parents[2]
COSTLAB = [sys.executable, "-m", "costlab"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--format", default="openai_chat", choices=["openai_chat", "flat"])
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        logs, db = Path(folder) / "logs.jsonl", Path(folder) / "bench.duckdb"
        generator = ROOT / "scripts" / "samples" / "generate_logs.py"
        subprocess.run(
            [sys.executable, str(generator), "--format", args.format, "--rows", str(args.rows),
             "--out", str(logs)],
            check=True,
        )  # fmt: skip
        subprocess.run([*COSTLAB, "--db", str(db), "ingest", str(logs)], check=True, env=env,
                       capture_output=True)  # fmt: skip
        command = [*COSTLAB, "--db", str(db), "simulate-prefix-cache", "--json"]
        times, result = [], {}
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
            result = json.loads(done.stdout)
    total = result["total"]
    print(f"simulate-prefix-cache on {args.rows:,} {args.format} requests "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)\n")  # fmt: skip
    print("| requests | replayed | median s | runs (s) | logged $ | with caching $ | saved $ |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    print(
        f"| {result['requests']:,} | {result['replayed']:,} | {statistics.median(times):.1f} | "
        f"{', '.join(f'{t:.1f}' for t in times)} | {float(total['logged_usd']):,.2f} | "
        f"{float(total['with_cache_usd']):,.2f} | {float(total['saved_usd']):,.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(bench_doc.run_section("bench_prefix", "simulate-prefix-cache", main))
