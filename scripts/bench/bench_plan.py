"""Benchmark `costlab plan`: one plan over N requests, against the commands it composes.

    python scripts/bench/bench_plan.py                              # 100,000 requests
    python scripts/bench/bench_plan.py --sizes 100000,1000000       # and the issue's size
    python scripts/bench/bench_plan.py --sizes 1000000 --no-small   # only the scale run
    python scripts/bench/bench_plan.py --write                      # also writes BENCHMARKS.md

Data: `scripts/samples/scale_logs.py --requests N` (real Banking77 and CLINC150 questions,
rephrased; gpt-4o-mini, four features), ingested once into bench_data/plan_N.duckdb. The cache's
neighbour structure is stored beforehand by one `simulate-cache --threshold T` (timed apart),
as the issue asks. Measured per size, each in a fresh process (wall time, CPU time user + system,
peak RSS), with the load average, since wall time on a shared machine says more about the load:

1. `costlab plan --threshold T --policy A --policy B --batch-feature billing --json`, and where
   its time went (its own stage timings);
2. the baseline, in the same run: the commands it composes, one after the other
   (simulate-cache at T, route-replay of A and B, simulate-prefix-cache with batch).

Then the table of standalone against stacked savings on sample_logs/ and on the labelled
Banking77 sample (tests/data/banking77/support_sample.jsonl, hits judged by intent).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import bench_doc
from benchmark import ROOT, measure

DATA = ROOT / "bench_data"
THRESHOLD = "0.9"
POLICIES = {
    "assistant-nano": 'default = "logged"\n[[rules]]\nwhen = "feature = \'assistant\'"\n'
    'route_to = "gpt-4.1-nano"\n',
    "all-flash-lite": 'default = "gemini-2.5-flash-lite"\n',
}


def costlab(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "costlab", "--db", str(db), *args]


def store_of(requests: int) -> Path:
    """bench_data/plan_N.duckdb: the scale logs of N requests, ingested once."""
    db = DATA / f"plan_{requests}.duckdb"
    if db.exists():
        return db
    DATA.mkdir(exist_ok=True)
    logs = DATA / f"scale_{requests}.jsonl"
    if not logs.exists():
        script = ROOT / "scripts" / "samples" / "scale_logs.py"
        run([sys.executable, str(script), "--requests", str(requests), "--out", str(logs)])
    run(costlab(db, "ingest", str(logs)))
    return db


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def policies(folder: Path) -> list[str]:
    args = []
    for name, text in POLICIES.items():
        path = folder / f"{name}.toml"
        path.write_text(text)
        args += ["--policy", str(path)]
    return args


def scale(requests: int, embedder: str) -> None:
    db = store_of(requests)
    cache = ["--threshold", THRESHOLD, "--embedder", embedder]
    before = checked(measure(costlab(db, "simulate-cache", *cache, "--no-save-intents", "--json")))
    with tempfile.TemporaryDirectory() as tmp:
        routing = policies(Path(tmp))
        out = Path(tmp) / "plan.json"
        command = costlab(db, "plan", *cache, *routing, "--batch-feature", "billing", "--json")
        plan = checked(measure(["sh", "-c", f"{shlex.join(command)} > {shlex.quote(str(out))}"]))
        load_plan = os.getloadavg()
        data = json.loads(out.read_text())
        parts = [
            ("simulate-cache", cache + ["--no-save-intents"]),
            ("route-replay", routing),
            ("simulate-prefix-cache", ["--batch-feature", "billing"]),
        ]
        baseline = [
            (name, checked(measure(costlab(db, name, *args, "--json")))) for name, args in parts
        ]
    load = os.getloadavg()
    print(f"### {requests:,} requests (scripts/samples/scale_logs.py), two routing policies, "
          "cache structure stored\n")  # fmt: skip
    print(f"Load average (1/5/15 min) right after plan: {_load(load_plan)}; after the baseline: "
          f"{_load(load)}; {len(os.sched_getaffinity(0))} cores.\n")  # fmt: skip
    print(f"Made once beforehand: simulate-cache {THRESHOLD} storing the neighbour structure, "
          f"{before['wall_s']:.1f} s wall, {_cpu(before)} CPU, peak RSS {_mib(before)} "
          f"({embedder}).\n")  # fmt: skip
    print("| run | wall | CPU (user + sys) | peak RSS |\n|---|---:|---:|---:|")
    print(f"| `costlab plan` (5 levers, 2 policies) | {plan['wall_s']:.1f} s | {_cpu(plan)} | "
          f"{_mib(plan)} |")  # fmt: skip
    for name, result in baseline:
        print(f"| {name} alone | {result['wall_s']:.1f} s | {_cpu(result)} | {_mib(result)} |")
    total = sum(float(r["wall_s"]) for _, r in baseline)
    cpu = sum(float(r.get("cpu_s", 0.0)) for _, r in baseline)
    print(f"| the three commands, one after the other | {total:.1f} s | {cpu:.1f} s | "
          f"{max(_kib(r) for _, r in baseline) / 1024:,.0f} MiB |")  # fmt: skip
    print(f"\nplan ÷ the three commands: {float(plan['wall_s']) / total:.2f}x wall, "
          f"{float(plan.get('cpu_s', 0.0)) / (cpu or 1.0):.2f}x CPU")  # fmt: skip
    spent = ", ".join(f"{stage} {s:.1f}" for stage, s in data["stages_s"].items())
    print(f"\nWhere plan's wall time went (s): {spent}\n")
    print(_table(data))


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def _cpu(result: dict[str, Any]) -> str:
    return f"{float(result.get('cpu_s', 0.0)):.1f} s"


def checked(result: dict[str, Any]) -> dict[str, Any]:
    if result.get("rc"):
        said = f"{result.get('stdout', '')}{result.get('stderr', '')}"  # --json errors: stdout
        raise SystemExit(f"a measured run failed:\n{said[-3000:]}")
    return result


def _kib(result: dict[str, Any]) -> int:
    return int(result.get("peak_kib", 0))


def _mib(result: dict[str, Any]) -> str:
    return f"{_kib(result) / 1024:,.0f} MiB"


def _table(data: dict[str, Any]) -> str:
    lines = [
        f"logged ${float(data['logged_usd']):,.2f} → after ${float(data['after_usd']):,.2f}"
        + _ci(data),
        "",
        "| lever | status | standalone | stacked | of spend | risk |",
        "|---|---|---:|---:|---:|---|",
    ]
    for s in data["steps"]:
        standalone = s["standalone_saved_usd"]
        risk = s["risk"]
        lines.append(
            f"| {s['lever']} | {s['status']} | "
            + ("—" if standalone is None else f"${float(standalone):,.4f}")
            + f" | ${float(s['saved_usd']):,.4f} | {s['share_of_spend']:.1%} | "
            + ("—" if risk is None else f"{risk['measure']}: {risk['value']}")
            + " |"
        )
    return "\n".join(lines) + "\n"


def _ci(data: dict[str, Any]) -> str:
    ci = data.get("after_usd_ci")
    return "" if not ci else f" (95 % interval ${float(ci[0]):,.2f} … ${float(ci[1]):,.2f})"


def small_sets(embedder: str) -> None:
    """Standalone against stacked on sample_logs/ and on the labelled Banking77 sample."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "samples.duckdb"
        run(costlab(db, "ingest", str(ROOT / "sample_logs")))
        examples = ROOT / "examples" / "plan"
        args = ["--policy", str(examples / "support-mini.toml"),
                "--policy", str(examples / "mini-first.toml"), "--min-quality", "8",
                "--batch-feature", "summarize", "--embedder", embedder]  # fmt: skip
        print("### sample_logs/ (`--policy examples/plan/*.toml --min-quality 8 "
              f"--batch-feature summarize --embedder {embedder}`)\n")  # fmt: skip
        print(_table(json.loads(run(costlab(db, "plan", *args, "--json")))))
        labelled = folder / "banking.duckdb"
        run(costlab(labelled, "ingest", str(ROOT / "tests/data/banking77/support_sample.jsonl")))
        args = ["--label", "metadata.intent", "--embedder", embedder, "--policy",
                str(examples / "support-mini.toml")]  # fmt: skip
        print("### Banking77 sample, 600 real queries (`--label metadata.intent "
              f"--policy examples/plan/support-mini.toml --embedder {embedder}`)\n")  # fmt: skip
        print(_table(json.loads(run(costlab(labelled, "plan", *args, "--json")))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", type=_sizes, default=[100_000], help="requests, comma-separated (100000,1000000)"
    )
    parser.add_argument("--requests", type=int, help="one size (the same as --sizes N)")
    parser.add_argument("--embedder", default="minilm-static")
    parser.add_argument("--small-embedder", default="minilm")
    parser.add_argument("--no-small", action="store_true", help="skip the sample_logs tables")
    args = parser.parse_args()
    for requests in [args.requests] if args.requests else args.sizes:
        scale(requests, args.embedder)
    if not args.no_small:
        small_sets(args.small_embedder)
    return 0


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    raise SystemExit(bench_doc.run_section("bench_plan", "costlab plan", main))
