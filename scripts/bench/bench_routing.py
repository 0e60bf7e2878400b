"""Benchmark route-replay: N logged requests × 10 policies, printed as a markdown table.

    python scripts/bench/bench_routing.py --logs bench_data/flat_1000000.jsonl
    python scripts/bench/bench_routing.py --logs bench_data/flat_100000.jsonl --db /tmp/bench.duckdb

The logs are flat records made by `scripts/samples/generate_logs.py --format flat --rows N`.
They are ingested once into `--db` (kept, and reused when it already holds requests); the figure
is the replay alone: derived columns, rules, repricing on every candidate, per-policy totals and a
1,000-resample bootstrap, as `costlab route-replay` runs them. Goal: 1,000,000 × 10 in ≤ 10 s.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bench_doc

from costlab import ingest, prices
from costlab.ingest import sources
from costlab.routing import compare, policy, sweep
from costlab.store import Store

HAIKU = "claude-haiku-4-5"
# One rule with a parameter, swept over 50 steps (plus calibration to a 30 % strong share).
SWEPT = """default = "gpt-4o-mini"
[[rules]]
when = "complexity >= {t}"
route_to = "gpt-4o"
[sweep]
t = { from = 0, to = 1, steps = 50 }
"""

POLICIES = {
    "all-mini": 'default = "gpt-4o-mini"\n',
    "all-haiku": f'default = "{HAIKU}"\n',
    "support-mini": 'default = "logged"\n[[rules]]\nwhen = "feature = \'support\'"\n'
    'route_to = "gpt-4o-mini"\n',
    "short-mini": 'default = "gpt-4o"\n[[rules]]\nwhen = "input_tokens < 1500"\n'
    'route_to = "gpt-4o-mini"\n',
    "by-task": 'default = "gpt-4o-mini"\n[[rules]]\nwhen = "task_type IN (\'code\', '
    '\'reasoning\')"\nroute_to = "gpt-4o"\n[[rules]]\nwhen = "task_type = \'summary\'"\n'
    f'route_to = "{HAIKU}"\n',
    "complex-strong": 'default = "gpt-4o-mini"\n[[rules]]\nwhen = "complexity >= 0.4"\n'
    'route_to = "claude-sonnet-4-5"\n',
    "faq-cheap": 'default = "logged"\n[[rules]]\nwhen = "task_type = \'faq\'"\n'
    'route_to = "gpt-4o-mini"\n[[rules]]\nwhen = "output_tokens > 400"\nroute_to = "gpt-4o"\n',
    "chat-haiku": 'default = "logged"\n[[rules]]\nwhen = "feature = \'chat\' AND '
    f'prompt_tokens < 30"\nroute_to = "{HAIKU}"\n',
    "random-half": 'default = "gpt-4o"\n[[rules]]\nwhen = "hash(request_id) % 2 = 0"\n'
    'route_to = "gpt-4o-mini"\n',
    "five-rules": 'default = "gpt-4o"\n'
    + "".join(
        f'[[rules]]\nwhen = "input_tokens < {limit}"\nroute_to = "{target}"\n'
        for limit, target in [
            (300, "gpt-4o-mini"),
            (800, HAIKU),
            (1500, "gpt-4o-mini"),
            (3000, "gemini-2.5-flash"),
            (6000, "claude-sonnet-4-5"),
        ]
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logs", type=Path, required=True, help="flat JSON lines")
    parser.add_argument("--db", type=Path, help="store to ingest into (default: a temp file)")
    parser.add_argument("--repeat", type=int, default=3, help="replays; the median is reported")
    args = parser.parse_args(argv)
    catalogue = prices.Catalogue.load()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        paths = []
        for name, text in POLICIES.items():
            paths.append(Path(tmp) / f"{name}.toml")
            paths[-1].write_text(text, encoding="utf-8")
        policies = [policy.load(p, catalogue) for p in paths]
        with Store.open(db) as store:
            row = store.row("SELECT count(*) FROM requests")
            if not row or row[0] == 0:
                started = time.perf_counter()
                options = ingest.IngestOptions()
                ingest.ingest(store, sources.expand([str(args.logs)]), options, catalogue)
                print(f"ingested in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            timings, result = [], None
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = compare.run(store, catalogue, policies, compare.CompareOptions())
                timings.append(time.perf_counter() - started)
            swept_path = Path(tmp) / "swept.toml"
            swept_path.write_text(SWEPT, encoding="utf-8")
            swept = policy.load(swept_path, catalogue)
            sweep_timings, curve = [], None
            for _ in range(args.repeat):
                started = time.perf_counter()
                curve = sweep.run(store, catalogue, swept, sweep.SweepOptions(target_share=0.3))
                sweep_timings.append(time.perf_counter() - started)
    assert result is not None and curve is not None
    print("runs (s): " + ", ".join(f"{t:.2f}" for t in timings), file=sys.stderr)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best = statistics.median(timings)
    print("| requests | policies | replay s (median) | requests × policies / s | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    pace = result.requests * len(policies) / best
    print(f"| {result.requests:,} | {len(policies)} | {best:.2f} | {pace:,.0f} | {rss:,.0f} |")
    print()
    swept_s = statistics.median(sweep_timings)
    print("| sweep | thresholds | s (median) | runs (s) | APGR | calibrated to 30 % strong |")
    print("|---|---:|---:|---|---:|---|")
    runs = ", ".join(f"{t:.2f}" for t in sweep_timings)
    calibrated = curve.calibrated
    apgr = "—" if curve.apgr is None else f"{curve.apgr:.3f}"
    print(
        f"| `complexity >= {{t}}` → gpt-4o, else gpt-4o-mini, {result.requests:,} requests "
        f"| {len(curve.points)} | {swept_s:.2f} | {runs} | {apgr} | "
        + (
            f"t = {calibrated.threshold:.3f} ({calibrated.strong_share:.1%} strong)"
            if calibrated
            else "—"
        )
        + " |"
    )
    print()
    print("| policy | cost | savings | 95% CI | input tokens estimated |")
    print("|---|---:|---:|---:|---:|")
    for p in result.policies:
        ci = p.savings_ci
        interval = f"{ci.low:+.1%} … {ci.high:+.1%}" if ci else "—"
        savings = "—" if p.savings is None else f"{p.savings:.1%}"
        print(
            f"| {p.name} | ${p.after_usd:,.2f} | {savings} | {interval} | "
            f"{p.input_estimated_share:.0%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(bench_doc.run_section("bench_routing", "route-replay", main))
