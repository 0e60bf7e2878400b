"""`costlab ingest` of every log format against DuckDB's own read_json of the same file.

    python scripts/bench/bench_ingest_formats.py                       # 200,000 records a format
    python scripts/bench/bench_ingest_formats.py --records 20000 --runs 1 --appended-mb 100
    python scripts/bench/bench_ingest_formats.py --records 200000 --runs 1 --appended-mb 0 \
        --formats openai_chat anthropic_message
    python scripts/bench/bench_ingest_formats.py --appended-mb 1024 --appended-only

Each format's file is its `sample_logs/` file replicated to N records, every copy with its own
id (so every record is stored, none is a duplicate). Both loaders run in a fresh subprocess into
a fresh DuckDB file, timed from process start (imports included), medians of `--runs`; the ratio
is costlab's wall time over read_json's, from the same run; the CPU ratio (user + sys seconds of
each loader's processes) is the one to trust on a shared machine, where wall time waits for the
other users. read_json detects the columns itself
and stores every top-level field (nothing parsed, checked or priced).

Then an appended file: a flat file of `--appended-mb` MB is ingested, 1 MB of new records is
appended, and the second ingest (only the new lines) is timed.

Writes its own section of BENCHMARKS.md with `--write` (between the `bench_ingest_formats` markers).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bench_doc
from benchmark import ROOT, measure

SAMPLES = ROOT / "sample_logs"
FORMATS = {
    "flat": "flat.jsonl",
    "openai_chat": "openai_chat.jsonl",
    "openai_responses": "openai_responses.jsonl",
    "anthropic_message": "anthropic_messages.jsonl",
    "litellm_payload": "litellm_payloads.jsonl",
    "langfuse_observation": "langfuse_generations.jsonl",
    "otel_span": "otel_spans.jsonl.gz",
}
READ_JSON = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[2]); "
    "con.execute(\"CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited', "
    'maximum_object_size=67108864)", [sys.argv[1]]); con.close()'
)


def _lines(name: str) -> list[bytes]:
    path = SAMPLES / FORMATS[name]
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [line for line in data.splitlines() if line.strip()]


def _unique(line: bytes, i: int) -> bytes:
    """A copy of a record with its own id: the first id in it gets a prefix."""
    for key in (b'"request_id":"', b'"gen_ai.response.id":"', b'"id":"', b'"spanId":"'):
        if key in line:
            return line.replace(key, key + b"r%d-" % i, 1)
    return line[:-1] + b',"request_id":"r%d"}' % i


def replicate(name: str, records: int, out: Path) -> Path:
    """The format's sample records, copied until there are `records` of them (kept if made)."""
    path = out / f"{name}_{records}.jsonl"
    if not path.exists():
        lines = _lines(name)
        with path.open("wb") as f:
            for i in range(records):
                f.write(_unique(lines[i % len(lines)], i) + b"\n")
    return path


@dataclass(frozen=True)
class Timing:
    """Medians of a loader's runs: wall and CPU seconds (user + sys, its processes), peak RSS."""

    wall_s: float
    cpu_s: float
    peak_mib: float


def _median(cmd: list[str], runs: int, db: Path) -> Timing:
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        db.unlink(missing_ok=True)
        last = measure(cmd)
        if last["rc"] != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{last['stderr']}")
        walls.append(float(str(last["wall_s"])))
        cpus.append(float(str(last.get("cpu_s", 0.0))))
        peaks.append(int(str(last["peak_kib"])) / 1024)
    return Timing(statistics.median(walls), statistics.median(cpus), max(peaks))


def _costlab(file: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "costlab", "--db", str(db), "ingest", str(file), "--json"]


def formats_table(records: int, runs: int, work: Path, names: list[str]) -> list[str]:
    rows = [
        "| format | records | costlab ingest | CPU s | records/s | peak RSS | read_json | CPU s "
        "| ratio (wall) | ratio (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        file = replicate(name, records, work)
        db = work / f"{name}.duckdb"
        ours = _median(_costlab(file, db), runs, db)
        added = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
             "read_only=True).execute('SELECT count(*) FROM requests').fetchone()[0])", str(db)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        base = _median([sys.executable, "-c", READ_JSON, str(file), str(db)], runs, db)
        rows.append(
            f"| `{name}` | {int(added):,} | {ours.wall_s:.1f} s | {ours.cpu_s:.1f} | "
            f"{int(added) / ours.wall_s:,.0f} | {ours.peak_mib:,.0f} MiB | {base.wall_s:.1f} s | "
            f"{base.cpu_s:.1f} | {ours.wall_s / base.wall_s:.1f}× | "
            f"{ours.cpu_s / max(base.cpu_s, 1e-9):.1f}× |"
        )
        print(rows[-1], file=sys.stderr, flush=True)  # progress; the table is printed at the end
        db.unlink(missing_ok=True)
        if records >= 100_000:
            file.unlink(missing_ok=True)  # ~1 GB a format at 200,000 records: made again if asked
    return rows


def appended(megabytes: int, work: Path) -> str:
    """Ingest a flat file of `megabytes` MB, append 1 MB, time the second ingest."""
    lines = _lines("flat")
    path = work / f"appended_{megabytes}mb.jsonl"
    db = work / "appended.duckdb"
    db.unlink(missing_ok=True)
    i = 0
    with path.open("wb") as f:
        while f.tell() < megabytes * 1_000_000:
            f.write(
                b"".join(_unique(lines[(i + k) % len(lines)], i + k) + b"\n" for k in range(1000))
            )
            i += 1000
    first = measure(_costlab(path, db))
    with path.open("ab") as f:
        start = f.tell()
        while f.tell() - start < 1_000_000:
            f.write(_unique(lines[i % len(lines)], i) + b"\n")
            i += 1
    second = measure(_costlab(path, db))
    return (
        f"- appended file: {path.stat().st_size / 1e6:,.0f} MB flat file ingested in "
        f"{float(str(first['wall_s'])):.1f} s; after 1 MB was appended, the second ingest (only "
        f"the new lines, the part already read checked by its sha256) took "
        f"**{float(str(second['wall_s'])):.2f} s** (goal for 1 GB: ≤ 2 s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--appended-mb", type=int, default=1024)
    parser.add_argument(
        "--appended-only", action="store_true", help="only the appended file, no format table"
    )
    parser.add_argument("--data", type=Path, default=ROOT / "bench_data" / "formats")
    parser.add_argument(
        "--formats", nargs="+", choices=list(FORMATS), default=list(FORMATS), metavar="FORMAT"
    )
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    measured = (
        "an appended file"
        if args.appended_only
        else (f"{args.records:,} records a format, median of {args.runs} run(s)")
    )
    print(
        f"{measured}; load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"on {os.cpu_count()} CPUs (a shared machine: figures measured under that load)\n"
    )
    if not args.appended_only:
        for line in formats_table(args.records, args.runs, args.data, args.formats):
            print(line)
    if args.appended_mb:
        with tempfile.TemporaryDirectory(dir=args.data) as work:
            print("\n" + appended(args.appended_mb, Path(work)))
    load = os.getloadavg()
    print(f"- load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(
        bench_doc.run_section("bench_ingest_formats", "Ingest speed per log format", main)
    )
