"""Measure `costlab ingest` against DuckDB's read_json and a pandas loader, and `costlab report`.

Writes BENCHMARKS.md, keeping the sections other scripts own (see bench_doc.py).

    python scripts/bench/benchmark.py            # 1M flat rows, 200k chat records, median of 3
    python scripts/bench/benchmark.py --quick    # 100k / 20k rows, one run: a smoke test

Every measurement runs in a fresh subprocess; its peak RSS comes from getrusage(RUSAGE_CHILDREN)
of a small wrapper process that only waits for it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench_doc import write_document

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "samples" / "generate_logs.py"

# Runs one command, then prints its wall time, the peak RSS of its process tree and the CPU
# seconds (user + sys) of the command and of its worker processes.
WRAPPER = """
import json, resource, subprocess, sys, tempfile, time
import psutil
start = time.perf_counter()
out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
proc = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err, text=True)
# Worker processes (a forkserver's children) are not waited for by the command, so their CPU
# is not in RUSAGE_CHILDREN: sample it while they run (the last sample of each counts).
workers = {}
def sample():
    try:
        for child in psutil.Process(proc.pid).children():
            for worker in child.children(recursive=True):
                try:
                    times = worker.cpu_times()
                    workers[worker.pid] = times.user + times.system
                except psutil.Error:
                    pass
    except psutil.Error:
        pass
while proc.poll() is None:
    sample()
    time.sleep(0.1)
proc.wait()
out.seek(0)
err.seek(0)
stdout, stderr = out.read(), err.read()
wall_s = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak_kib, cpu_s = usage.ru_maxrss, usage.ru_utime + usage.ru_stime + sum(workers.values())
print(json.dumps({"rc": proc.returncode, "wall_s": wall_s, "peak_kib": peak_kib, "cpu_s": cpu_s,
                  "stdout": stdout[-4000:], "stderr": stderr[-4000:]}))
"""

FLAT_COLUMNS = {
    "request_id": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "model": "VARCHAR",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "cached_input_tokens": "BIGINT",
    "cache_hit": "BOOLEAN",
    "cost": "DECIMAL(18,10)",
    "user_id": "VARCHAR",
    "feature": "VARCHAR",
    "duration_ms": "DOUBLE",
    "prompt": "VARCHAR",
    "response": "VARCHAR",
}


@dataclass(frozen=True)
class Result:
    """The median of repeated runs of one loader over one file."""

    name: str
    rows: int
    wall_s: float
    peak_mib: float
    error: str = ""
    note: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0


# ---------------------------------------------------------------- the baseline loaders (workers)


def duckdb_read_json(file: str, db: str) -> None:
    """DuckDB's own newline-delimited JSON reader, explicit columns, into a table."""
    import duckdb

    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in FLAT_COLUMNS.items()) + "}"
    con = duckdb.connect(db)
    con.execute(
        "CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited', "
        f"columns={columns})",
        [file],
    )
    con.close()


def pandas_loader(file: str, db: str) -> None:
    """The straightforward loader: json.loads per line, a DataFrame, CREATE TABLE AS."""
    import duckdb
    import pandas as pd

    with open(file, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    df = pd.DataFrame(rows)  # noqa: F841 (DuckDB reads the local variable by name)
    con = duckdb.connect(db)
    con.execute("CREATE TABLE t AS SELECT * FROM df")
    con.close()


def stored_rows_copy(store: str, db: str) -> None:
    """Only the write of costlab's rows: the `requests` table of an ingested store, copied.

    No parsing, checking or pricing: what writing the 1M stored rows (their 40 columns) costs
    alone, a floor under any loader that stores them.
    """
    import duckdb

    con = duckdb.connect(db)
    quoted = store.replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS src (READ_ONLY)")
    con.execute("CREATE TABLE requests AS SELECT * FROM src.requests")
    con.close()


WORKERS = {"duckdb": duckdb_read_json, "pandas": pandas_loader, "floor": stored_rows_copy}


# ---------------------------------------------------------------- measuring


def measure(cmd: list[str]) -> dict[str, object]:
    """Run cmd under the wrapper; its wall time, peak RSS and output."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    }
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, cwd=ROOT, env=env
    )
    if done.returncode != 0:
        return {"rc": done.returncode, "wall_s": 0.0, "peak_kib": 0, "stderr": done.stderr}
    return json.loads(done.stdout)


def command(loader: str, file: Path, db: Path) -> list[str]:
    if loader == "costlab":
        return [sys.executable, "-m", "costlab", "--db", str(db), "ingest", str(file), "--json"]
    return [sys.executable, str(Path(__file__).resolve()), "--worker", loader, str(file), str(db)]


def run(name: str, loader: str, file: Path, rows: int, repeat: int) -> Result:
    """The median wall time and peak RSS of `repeat` runs, each into a fresh store."""
    walls, peaks = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(dir=file.parent) as tmp:
            outcome = measure(command(loader, file, Path(tmp) / "store.duckdb"))
        if outcome["rc"] != 0:
            tail = str(outcome.get("stderr", "")).strip().splitlines()[-3:]
            print(f"  {name}: failed (exit {outcome['rc']}): {' / '.join(tail)}", file=sys.stderr)
            return Result(name, rows, 0.0, 0.0, error=" / ".join(tail) or f"exit {outcome['rc']}")
        note = added_note(loader, str(outcome.get("stdout", "")), rows)
        walls.append(float(outcome["wall_s"]))  # type: ignore[arg-type]
        peaks.append(int(outcome["peak_kib"]) / 1024)  # type: ignore[call-overload]
    result = Result(name, rows, statistics.median(walls), statistics.median(peaks), note=note)
    print(
        f"  {name}: {result.wall_s:.2f} s,"
        f" {result.rows_per_s:,.0f} rows/s, {result.peak_mib:,.0f} MiB"
    )
    return result


def report_store(flat: Path, rows: int) -> Path:
    """A store holding the flat file, ingested once and reused by the report timings."""
    db = flat.with_suffix(".report.duckdb")
    if not db.exists():
        print(f"  ingesting {rows:,} rows for the report timings", file=sys.stderr)
        subprocess.run(command("costlab", flat, db), check=True, capture_output=True, cwd=ROOT)
    return db


def run_report(name: str, args: list[str], db: Path, rows: int, repeat: int) -> Result:
    """The median wall time of `costlab report ARGS` over one store."""
    walls, peaks = [], []
    for _ in range(repeat):
        outcome = measure([sys.executable, "-m", "costlab", "--db", str(db), "report", *args])
        if outcome["rc"] != 0:
            return Result(name, rows, 0.0, 0.0, error=str(outcome.get("stderr", ""))[-200:])
        walls.append(float(outcome["wall_s"]))  # type: ignore[arg-type]
        peaks.append(int(outcome["peak_kib"]) / 1024)  # type: ignore[call-overload]
    result = Result(name, rows, statistics.median(walls), statistics.median(peaks))
    print(f"  {name}: {result.wall_s:.2f} s, {result.peak_mib:,.0f} MiB")
    return result


def report_goals(full: Result, html: Result, html_bytes: int) -> list[str]:
    if full.error or html.error:
        return ["- not judged: the report did not run (see the table)."]
    return [
        f"- `costlab report`: {full.wall_s:.2f} s (goal: ≤ 3 s) — "
        + ("met" if full.wall_s <= 3 else "NOT met"),
        f"- `costlab report --html`: {html.wall_s:.2f} s (goal: ≤ 10 s) — "
        + ("met" if html.wall_s <= 10 else "NOT met"),
        f"- HTML file: {html_bytes / 1e6:.2f} MB (goal: < 5 MB) — "
        + ("met" if html_bytes < 5e6 else "NOT met"),
    ]


def added_note(loader: str, stdout: str, rows: int) -> str:
    """For costlab, a warning when its JSON summary does not report every row added."""
    if loader != "costlab":
        return ""
    try:
        added = json.loads(stdout)["totals"]["added"]
    except (ValueError, KeyError, TypeError):
        return "no JSON summary"
    return "" if added == rows else f"added {added:,} of {rows:,}"


def ensure_data(fmt: str, rows: int, data: Path) -> Path:
    """The generated file for this format and size, made once and reused."""
    path = data / f"{fmt}_{rows}.jsonl"
    if not path.exists():
        print(f"generating {path} ...")
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                "--format",
                fmt,
                "--rows",
                str(rows),
                "--out",
                str(path),
            ],
            check=True,
        )
    return path


# ---------------------------------------------------------------- the report


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def machine() -> list[str]:
    import duckdb

    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu_model()}; nproc {len(os.sched_getaffinity(0))} ({os.cpu_count()} logical)",
        f"- RAM: {ram_gib:.1f} GiB",
        f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}, {platform.platform()}",
    ]


def table(results: list[Result]) -> list[str]:
    lines = ["| loader | rows | wall (s) | rows/s | peak RSS (MiB) |", "|---|---:|---:|---:|---:|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.name} | {r.rows:,} | failed: {r.error} | | |")
        else:
            figures = f"{r.wall_s:.2f} | {r.rows_per_s:,.0f} | {r.peak_mib:,.0f}"
            name = f"{r.name} ({r.note})" if r.note else r.name
            lines.append(f"| {name} | {r.rows:,} | {figures} |")
    return lines


def goals(costlab: Result, duckdb: Result, pandas: Result, chat: Result) -> list[str]:
    """Each goal with its measured value, or why it could not be judged."""
    failed = [r.name for r in (costlab, duckdb, pandas, chat) if r.error]
    if failed:
        return [f"- not judged: {', '.join(failed)} did not run (see the tables)."]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    vs_duckdb, vs_pandas = costlab.wall_s / duckdb.wall_s, pandas.wall_s / costlab.wall_s
    peak = max(costlab.peak_mib, chat.peak_mib)
    rate = costlab.rows_per_s
    return [
        f"- costlab vs DuckDB read_json: {vs_duckdb:.2f}× the time (goal: within 2×) — "
        + verdict(vs_duckdb <= 2),
        f"- the pandas loader takes {vs_pandas:.1f}× costlab's time (goal: ≥ 5×) — "
        + verdict(vs_pandas >= 5),
        f"- flat ingest: {rate:,.0f} rows/s (goal: ≥ 100,000) — {verdict(rate >= 100_000)}",
        f"- peak RSS of costlab: {peak:,.0f} MiB (goal: < 2 GB) — {verdict(peak < 2000)}",
    ]


def floor_note(floor: Result | None, duckdb: Result, pandas: Result) -> list[str]:
    """What writing costlab's rows alone takes, against the two goals' time budgets."""
    if floor is None or floor.error or duckdb.error or pandas.error:
        return []
    return [
        f"- writing costlab's stored rows alone (the copy) takes {floor.wall_s:.2f} s: "
        f"{floor.wall_s / duckdb.wall_s:.2f}× read_json's whole load, against budgets of "
        f"{2 * duckdb.wall_s:.2f} s (2× read_json) and {pandas.wall_s / 5:.2f} s (a fifth of "
        "the pandas loader) for reading, checking, pricing and writing them",
    ]


def report(results: dict[str, Result], argv: list[str], repeat: int) -> str:
    flat = [results[k] for k in ("costlab", "duckdb", "pandas", "floor") if k in results]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{shlex.join(['python', 'scripts/bench/benchmark.py', *argv])}` on:",
        "",
        *machine(),
        "",
        f"Each figure is the median of {repeat} run(s); each run is a fresh subprocess into a "
        "fresh DuckDB file, timed from process start (imports included). Peak RSS is the process's "
        "`ru_maxrss`. Data: `scripts/samples/generate_logs.py`, seed 1.",
        "",
        "## Flat records",
        "",
        *table(flat),
        "",
        "- costlab: `python -m costlab --db DB ingest FILE --json`",
        "- duckdb: `read_json(FILE, format='newline_delimited', columns={...})` into a table",
        "- pandas: `json.loads` per line, `pandas.DataFrame`, `CREATE TABLE t AS SELECT * FROM df`",
        "- copy: the `requests` table of a store costlab ingested from the same file, copied into "
        "a fresh file (`CREATE TABLE requests AS SELECT * FROM src.requests`): writing costlab's "
        "rows alone, without reading, checking or pricing anything",
        "",
        "## OpenAI chat-completion records (request + response, with messages)",
        "",
        *table([results["chat"]]),
        "",
        "## Goals",
        "",
        *goals(results["costlab"], results["duckdb"], results["pandas"], results["chat"]),
        *floor_note(results.get("floor"), results["duckdb"], results["pandas"]),
        "",
    ]
    if "report" in results:
        html_bytes = int(results["report-html"].note or 0)
        html = dataclasses.replace(results["report-html"], note="")
        lines += [
            f"## `costlab report` over {results['report'].rows:,} requests",
            "",
            *table([results["report"], html]),
            "",
            "- report: `costlab --db DB report --format json` (every section)",
            "- html: `costlab --db DB report --html FILE --format json`",
            "",
            *report_goals(results["report"], html, html_bytes),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100k / 20k rows, one run")
    parser.add_argument(
        "--repeat", type=int, help="runs per measurement (default 3, 1 with --quick)"
    )
    parser.add_argument("--data", type=Path, default=ROOT / "bench_data", help="generated files")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["costlab", "duckdb", "pandas", "floor", "chat", "report"],
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("LOADER", "FILE", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        loader, file, db = args.worker
        WORKERS[loader](file, db)
        return 0
    repeat = args.repeat or (1 if args.quick else 3)
    flat_rows, chat_rows = (100_000, 20_000) if args.quick else (1_000_000, 200_000)
    flat = ensure_data("flat", flat_rows, args.data)
    plan = {
        "costlab": ("costlab ingest", "costlab", flat, flat_rows),
        "duckdb": ("duckdb read_json", "duckdb", flat, flat_rows),
        "pandas": ("json.loads + pandas", "pandas", flat, flat_rows),
        "chat": ("costlab ingest", "costlab", None, chat_rows),
    }
    results = {}
    for key, (name, loader, file, rows) in plan.items():
        if key in args.skip:
            results[key] = Result(name, rows, 0.0, 0.0, error="skipped")
            continue
        print(f"{key}: {rows:,} rows x {repeat}")
        path = file or ensure_data("openai_chat", chat_rows, args.data)
        results[key] = run(name, loader, path, rows, repeat)
    if "floor" not in args.skip:
        print(f"floor: {flat_rows:,} stored rows x {repeat}")
        store = report_store(flat, flat_rows)
        results["floor"] = run("copy of costlab's stored rows", "floor", store, flat_rows, repeat)
    if "report" not in args.skip:
        print(f"report: {flat_rows:,} requests x {repeat}")
        db = report_store(flat, flat_rows)
        results["report"] = run_report(
            "costlab report", ["--format", "json"], db, flat_rows, repeat
        )
        html_file = db.with_suffix(".html")
        html_args = ["--html", str(html_file), "--format", "json"]
        html = run_report("costlab report --html", html_args, db, flat_rows, repeat)
        size = html_file.stat().st_size if html_file.exists() else 0
        results["report-html"] = dataclasses.replace(html, note=str(size))
    write_document(args.out, report(results, argv, repeat))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
