"""costlab intents: how well its intents match real ones, and how it scales.

Writes its own section of BENCHMARKS.md (between the `bench_intents` markers).

    python scripts/bench/bench_intents.py                 # everything (prepares what is missing)
    python scripts/bench/bench_intents.py --sizes 100000 --sets banking77   # a part only

Measured:

1. Agreement with real intents on Banking77 (10,003 support queries, 77 intents) and CLINC150
   (22,500 assistant queries, 150 intents + out-of-scope), each query a request
   (`scripts/samples/labelled_logs.py`), embedded with MiniLM (the reference) by
   `costlab simulate-cache --threshold 0.8 --embedder minilm`: `costlab intents --label
   metadata.intent` with the default (agglomerative, 0.6), against the cache's leader clusters
   at 0.8 (the issue's comparison) and at 0.6. Each command in a fresh process: wall time (from
   process start) and peak RSS.
2. Sample and assign against the full clustering, on Banking77's MiniLM vectors (all 10,003 fit
   a full clustering): the adjusted Rand index between the two partitions, and each one's
   against the labels, at several sample sizes.
3. Scale: the first 100,000 and all 1,000,000 requests of `scripts/samples/scale_logs.py`
   (real questions rephrased), embedded once with minilm-tuned (the embedder simulate-cache's
   `auto` picks at this size; made beforehand in bench_data/home), then `costlab intents --json`
   end to end (storing the intents), in a fresh process: wall time, CPU time, peak RSS, stages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_cache_scale import store_of
from bench_doc import run_section
from benchmark import ROOT

DATA = ROOT / "bench_data"
HOME = DATA / "home"
LABELLED = ("banking77", "clinc150")
RUNS = [  # (what, flags)
    ("agglomerative 0.6 (default)", []),
    ("leader 0.8 (the issue's baseline)", ["--method", "leader", "--min-similarity", "0.8"]),
    ("leader 0.6", ["--method", "leader", "--min-similarity", "0.6"]),
]


def costlab(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "costlab", "--db", str(db), *args]


EMBEDDER = {"name": "minilm"}  # --embedder: the reference, or a faster one where time is short


def labelled_store(name: str) -> Path:
    """The labelled set as a store with the embedder's vectors (MiniLM's by default), made once."""
    suffix = "" if EMBEDDER["name"] == "minilm" else f"_{EMBEDDER['name']}"
    db = DATA / f"intents_{name}{suffix}.duckdb"
    if db.exists() and _has_vectors(db):
        return db
    db.unlink(missing_ok=True)
    log = DATA / f"{name}.jsonl"
    script = ROOT / "scripts" / "samples" / "labelled_logs.py"
    subprocess.run([sys.executable, str(script), name, "--out", str(log)], check=True)
    subprocess.run(costlab(db, "ingest", str(log), "--json"), check=True, capture_output=True)
    args = ["simulate-cache", "--threshold", "0.8", "--embedder", EMBEDDER["name"], "--json"]
    subprocess.run(costlab(db, *args), check=True, capture_output=True)
    return db


def _has_vectors(db: Path) -> bool:
    from costlab.store import Store

    with Store.open(db, read_only=True) as store:
        row = store.row("SELECT count(*) FROM embeddings")
    return bool(row and row[0])


def timed(cmd: list[str]) -> dict[str, Any]:
    """Run a command; its wall time, CPU time (user + system: what the shared load does not
    inflate), peak RSS and JSON report."""
    out = DATA / "intents_report.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with out.open("w") as sink:
        done = subprocess.run(cmd, stdout=sink, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mib": after.ru_maxrss / 1024,  # the largest child so far: runs go smallest first
        "report": json.loads(out.read_text()),
    }


def agreement(sets: list[str]) -> None:
    print(f"### Agreement with the real intents ({EMBEDDER['name']} vectors)\n")
    print("| set | method | intents | recurring | ARI | homogeneity | completeness | wall | CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in sets:
        db = labelled_store(name)
        ari = {}
        for what, flags in RUNS:
            args = ["intents", "--label", "metadata.intent", "--no-save", "--json", *flags]
            run = timed(costlab(db, *args))
            r, a = run["report"], run["report"]["agreement"]
            ari[what] = a["adjusted_rand"]
            print(
                f"| {name} ({r['prompts']:,} prompts) | {what} | {r['intents']:,} | "
                f"{r['recurring']:,} | {a['adjusted_rand']:.3f} | {a['homogeneity']:.3f} | "
                f"{a['completeness']:.3f} | {run['wall_s']:.1f} s | {run['cpu_s']:.1f} s |",
                flush=True,
            )
        base = ari[RUNS[1][0]]
        ratio = ari[RUNS[0][0]] / base if base else float("inf")
        print(f"| {name} | **ratio default / leader 0.8** | | | **{ratio:.2f}×** | | | | |")
    print("\nGoal: ARI ≥ 2.5× the leader clusters' on both sets.\n")


def sample_against_full(name: str = "banking77") -> None:
    from sklearn.metrics import adjusted_rand_score

    from costlab.cache import logged
    from costlab.intents import agglomerative, stored
    from costlab.scope import Scope
    from costlab.store import Store

    with Store.open(labelled_store(name), read_only=True) as store:
        traffic = logged.load(store, Scope(), label="metadata.intent")
        embedder = stored.choose(store, traffic.key_hashes, None)
        vectors, _ = stored.read(store, traffic.key_hashes, embedder)
    keys, labels = traffic.traffic.keys, traffic.labels
    started = time.perf_counter()
    whole = agglomerative.cluster(vectors, 0.6, full_up_to=len(vectors))
    full_s = time.perf_counter() - started
    print(f"### Sample and assign against the full clustering ({name}, {len(vectors):,} prompts)\n")
    print("| clustering | ARI vs full | ARI vs labels | intents | assigned | alone | time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    full_labels = whole.labels[keys]
    print(
        f"| full (0.6) | 1.000 | {adjusted_rand_score(labels, full_labels):.3f} | "
        f"{whole.count:,} | — | — | {full_s:.1f} s |"
    )
    for sample in (2500, 5000):
        started = time.perf_counter()
        part = agglomerative.cluster(vectors, 0.6, full_up_to=sample, sample=sample)
        seconds = time.perf_counter() - started
        s = part.sampling
        assert s is not None
        print(
            f"| sample {sample:,} | {adjusted_rand_score(whole.labels, part.labels):.3f} | "
            f"{adjusted_rand_score(labels, part.labels[keys]):.3f} | {part.count:,} | "
            f"{s.assigned:,} | {s.alone:,} | {seconds:.1f} s |",
            flush=True,
        )
    print()


def scale_store(size: int) -> Path:
    """The first `size` scale requests, ingested, with minilm-tuned's vectors, made once.

    A copy of the ingested store: the vectors stored here must not reach bench_cache_scale's
    store, whose end-to-end run times the embedding.
    """
    db = DATA / f"intents_{size}.duckdb"
    if not db.exists():
        shutil.copy(store_of(size), db)
    if not _has_vectors(db):
        from costlab.cache import embedders, logged
        from costlab.cache.vectors import vectors
        from costlab.scope import Scope
        from costlab.store import Store

        with Store.open(db) as store:
            traffic = logged.load(store, Scope())
            vectors(store, traffic.keys, embedders.load(embedders.TUNED), None, traffic.key_hashes)
    return db


def scale(sizes: list[int]) -> None:
    print("### At scale (scripts/samples/scale_logs.py, minilm-tuned vectors stored beforehand)\n")
    print("| requests | prompts | intents | recurring (share) | wall | CPU | peak RSS | "
          "stages (s, wall) | sampling |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for size in sizes:
        run = timed(costlab(scale_store(size), "intents", "--json"))
        r, s = run["report"], run["report"]["sampling"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
        sampled = (
            "full"
            if s is None
            else f"{s['rounds']} rounds: {s['sampled']:,} clustered, {s['assigned']:,} assigned, "
            f"{s['alone']:,} alone; index check {_share(s['exact_check'])}"
        )
        print(
            f"| {size:,} | {r['prompts']:,} | {r['intents']:,} | {r['recurring']:,} "
            f"({r['recurring_share']:.1%}) | {run['wall_s']:.1f} s | {run['cpu_s']:.1f} s | "
            f"{run['peak_mib']:,.0f} MiB | "
            f"{stages} | {sampled} |",
            flush=True,
        )
    print(
        "\nGoal: 1,000,000 requests' intents in ≤ 2 min once embeddings are stored, "
        "peak RSS ≤ 4 GB."
    )


def _share(value: float | None) -> str:
    return "exact" if value is None else f"{value:.1%} exact"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--sets", default=",".join(LABELLED), help="labelled sets ('' for none)")
    parser.add_argument("--embedder", default="minilm", help="the labelled sets' embedder")
    parser.add_argument("--no-sample-check", action="store_true")
    args = parser.parse_args()
    os.environ["COSTLAB_HOME"] = str(HOME)
    DATA.mkdir(exist_ok=True)
    load = os.getloadavg()
    print(
        f"Measured under shared load: load average {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f} at the start (2 cores shared by several sessions): times are upper "
        "bounds.\n"
    )
    sets = [s for s in args.sets.split(",") if s]
    EMBEDDER["name"] = args.embedder
    if sets:
        agreement(sets)
        if not args.no_sample_check:
            sample_against_full(sets[0])
    scale([int(s) for s in args.sizes.split(",") if s])
    return 0


if __name__ == "__main__":
    sys.exit(run_section("bench_intents", "costlab intents: real intents and scale", main))
