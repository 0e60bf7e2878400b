"""simulate-cache at production scale: a month of a busy product (1,000,000 requests), here.

Writes its own section of BENCHMARKS.md (between the `bench_cache_scale` markers).

    python scripts/bench/bench_cache_scale.py            # everything (~40 min on 2 cores)
    python scripts/bench/bench_cache_scale.py --quick    # 20,000 / 50,000 requests: a smoke test

Data: `scripts/samples/scale_logs.py` (real Banking77 and CLINC150 questions rephrased as people
do; its docstring says how), ingested once into bench_data/; the first N requests (in time) for the
smaller sizes. Measured:

1. End to end, `costlab simulate-cache --sweep 0.80:0.99:0.01 --label metadata.intent` with the
   default settings (`--embedder auto`, `--neighbours auto`) on a fresh copy of the ingested
   store, embedding included, in a fresh process (wall time from process start, peak RSS); then
   `--ttl 24h --scope feature`, and re-runs from what is stored with other thresholds, TTL,
   scope and capacity. The embedder is made once beforehand in bench_data/home (its cost is
   given apart: distilling minilm-static, fitting minilm-tuned).
2. The neighbour stage alone on the same stored vectors: the index (approx) against the exact
   search, at each size; the exact search in full where it fits in time, else its products on
   a sample of rows, scaled to all rows (its cost is the same for every row).
3. Fidelity: hits at every threshold, approx against exact on the same vectors, at 100,000
   requests and on the labelled sets (Banking77, CLINC150 with MiniLM's vectors); beside each,
   what the run's own check (costlab.cache.fidelity) estimated.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_doc import write_section
from benchmark import ROOT, machine, measure

DATA = ROOT / "bench_data"
HOME = DATA / "home"
THRESHOLDS = [round(0.80 + 0.01 * k, 2) for k in range(20)]
SWEEP = ["--sweep", "0.80:0.99:0.01", "--label", "metadata.intent"]
# Above 100,000 requests the runs only (the default, --ttl 24h --scope feature, the re-run
# with other thresholds): the other re-runs take minutes each at 1,000,000.
SKIP_AT_1M = ("re-run: --ttl", "re-run: --scope")


def costlab(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "costlab", "--db", str(db), *args]


def store_of(size: int) -> Path:
    """An ingested store of the first `size` requests of the 1M set, made once."""
    full = DATA / "scale_1000000.jsonl"
    if not full.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "samples" / "scale_logs.py"),
                "--out",
                str(full),
            ],
            check=True,
        )
    db = DATA / f"scale_{size}.duckdb"
    if not db.exists():
        part = DATA / f"scale_{size}.jsonl"
        if size < 1_000_000 and not part.exists():
            with full.open() as src, part.open("w") as out:
                for i, line in enumerate(src):
                    if i == size:
                        break
                    out.write(line)
        source = full if size == 1_000_000 else part
        subprocess.run(
            costlab(db, "ingest", str(source), "--json"), check=True, capture_output=True
        )
    return db


def timed(cmd: list[str]) -> dict[str, Any]:
    os.environ["COSTLAB_HOME"] = str(HOME)
    started = time.perf_counter()
    outcome = measure(cmd)
    outcome["elapsed_s"] = time.perf_counter() - started
    if outcome["rc"] != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{outcome.get('stderr', '')}")
    return outcome


def end_to_end(size: int) -> list[dict[str, Any]]:
    """The default run on a fresh copy, then TTL/scope, then re-runs from what is stored."""
    fresh = DATA / f"e2e_{size}.duckdb"
    shutil.copy(store_of(size), fresh)
    rows = []
    for label, args in [
        ("default, from the store (embedding included)", SWEEP),
        ("--ttl 24h --scope feature", [*SWEEP, "--ttl", "24h", "--scope", "feature"]),
        ("re-run: other thresholds", ["--sweep", "0.85:0.97:0.02", "--label", "metadata.intent"]),
        ("re-run: --ttl 6h --max-entries 20000", [*SWEEP, "--ttl", "6h", "--max-entries", "20000"]),
        ("re-run: --scope feature,user_id", [*SWEEP, "--scope", "feature,user_id"]),
    ]:
        if size > 100_000 and label.startswith(SKIP_AT_1M):
            continue
        out = DATA / "e2e_report.json"  # the JSON is longer than the wrapper keeps of stdout
        command = " ".join(shlex.quote(a) for a in costlab(fresh, "simulate-cache", *args))
        outcome = timed(["sh", "-c", f"{command} --json > {shlex.quote(str(out))}"])
        report = json.loads(out.read_text())
        rows.append({"size": size, "run": label, **_summary(outcome, report)})
        print(f"  {size:,} {label}: {rows[-1]['wall_s']:.1f} s", flush=True)
    return rows


def _summary(outcome: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    check = report.get("approximation")
    return {
        "wall_s": float(outcome["wall_s"]),
        "peak_mib": int(outcome["peak_kib"]) / 1024,
        "keys": report["distinct_keys"],
        "embedder": report["embedder"],
        "index": report["index"],
        "check": None if check is None else check["max_deviation"],
        "stages_s": report["stages_s"],
        "hits": [t["hits"] for t in report["thresholds"]],
    }


def neighbour_stage(
    size: int, embedder: str, exact_in_full: bool, approx_s: float | None = None
) -> dict[str, Any]:
    """The index against the exact search on the stored vectors of the first `size` requests."""
    from costlab.cache import entries, fidelity, logged
    from costlab.cache.search import BLOCK, ExactSearch, IndexSearch
    from costlab.cache.simulate import CacheSettings
    from costlab.cache.vectors import vectors
    from costlab.scope import Scope
    from costlab.store import Store

    with Store.open(DATA / f"e2e_{1_000_000 if size > 100_000 else size}.duckdb") as store:
        t = logged.load(store, Scope())
        keys = np.unique(t.traffic.keys[:size])
        rows = vectors(store, [t.keys[k] for k in keys], _Stored(embedder))
    traffic = _first(t.traffic, size, keys)
    out: dict[str, Any] = {"size": size, "keys": len(keys)}
    if approx_s is None:
        started = time.perf_counter()
        index = IndexSearch(rows, probes=16)
        settings = CacheSettings()
        approx = entries.build(traffic, THRESHOLDS, settings, entries.seed(index), lambda: index)
        out["approx_s"] = time.perf_counter() - started
        check = fidelity.check(rows, approx, traffic, THRESHOLDS, settings)
        out["check_s"] = time.perf_counter() - started - out["approx_s"]
        out["approx_hits"] = [int(r.hit.sum()) for r in approx.results]
        out["estimate"] = [c.hits_exact_estimate for c in check.thresholds]
    else:  # the end-to-end run's own neighbour stage
        out["approx_s"], out["from_e2e"] = approx_s, True
    exact_search = ExactSearch(rows)
    started = time.perf_counter()
    if exact_in_full:
        exact = entries.build(
            traffic, THRESHOLDS, CacheSettings(), entries.seed(exact_search), lambda: exact_search
        )
        out["exact_s"] = time.perf_counter() - started
        out["exact_hits"] = [int(r.hit.sum()) for r in exact.results]
    else:  # the products of one block of rows, scaled: every row costs the same
        exact_search.nearest(16, queries=np.arange(min(BLOCK, len(keys))))
        out["exact_s"] = (time.perf_counter() - started) * len(keys) / min(BLOCK, len(keys))
        out["exact_scaled"] = True
    print(f"  neighbours {size:,}: approx {out['approx_s']:.1f} s, exact {out['exact_s']:.1f} s")
    return out


class _Stored:
    """An embedder that only reads the store (every vector there already)."""

    dim = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, texts: list[str]) -> Any:
        raise SystemExit(f"{len(texts)} texts have no stored vector of {self.name}")


def _first(traffic: Any, size: int, keys: np.ndarray) -> Any:
    from costlab.cache.simulate import Traffic

    return Traffic(
        traffic.ts[:size], np.zeros(size, np.int64), np.searchsorted(keys, traffic.keys[:size])
    )


def labelled(name: str) -> dict[str, Any]:
    """Approx against exact on MiniLM's vectors of a labelled set, one request per query."""
    from bench_cache import banking77_texts, embedded

    from costlab.cache import entries, fidelity
    from costlab.cache.search import ExactSearch, IndexSearch
    from costlab.cache.simulate import CacheSettings, Traffic

    if name == "banking77":
        texts, rows = banking77_texts(), embedded(DATA)
    else:
        texts, rows = _clinc150()
    _, first, key = np.unique(np.array(texts, dtype=object), return_index=True, return_inverse=True)
    rows = rows[first]
    order = np.random.default_rng(7).permutation(len(texts))
    traffic = Traffic(
        np.arange(len(texts), dtype=np.float64),
        np.zeros(len(texts), np.int64),
        key.reshape(-1)[order],
    )
    out: dict[str, Any] = {"set": name, "requests": len(texts), "keys": len(rows)}
    for kind, search in (("approx", IndexSearch(rows, probes=16)), ("exact", ExactSearch(rows))):
        started = time.perf_counter()
        built = entries.build(
            traffic, THRESHOLDS, CacheSettings(), entries.seed(search), lambda s=search: s
        )
        out[f"{kind}_s"] = time.perf_counter() - started
        out[f"{kind}_hits"] = [int(r.hit.sum()) for r in built.results]
        if kind == "approx":
            check = fidelity.check(rows, built, traffic, THRESHOLDS, CacheSettings())
            out["estimate"] = [c.hits_exact_estimate for c in check.thresholds]
    print(f"  {name}: approx {out['approx_s']:.1f} s, exact {out['exact_s']:.1f} s")
    return out


def _clinc150() -> tuple[list[str], np.ndarray]:
    source = ROOT.parent / "shared" / "data" / "clinc150" / "train_val.json"
    data = json.loads(source.read_text())
    texts = [t for split in ("train", "val", "oos_train", "oos_val") for t, _ in data[split]]
    path = DATA / "clinc150_minilm.npy"
    if not path.exists():
        from costlab.cache import embedders

        print("embedding CLINC150 with MiniLM (a few minutes) ...", flush=True)
        np.save(path, embedders.load("minilm").encode(texts))
    return texts, np.load(path).astype(np.float32)


def made_embedder() -> dict[str, float]:
    """Make minilm-static and minilm-tuned in bench_data/home once; how long each took."""
    from costlab.cache import static, tuned

    os.environ["COSTLAB_HOME"] = str(HOME)
    took: dict[str, float] = {}
    if static.manifest() is None:
        started = time.perf_counter()
        static.build()
        took["distil minilm-static"] = time.perf_counter() - started
    if static.manifest(tuned.folder()) is None:
        started = time.perf_counter()
        tuned.build(tuned.Tuning(str(store_of(1_000_000))))
        took["fit minilm-tuned (2,000 prompts)"] = time.perf_counter() - started
    return took


def deviation(got: list[int] | list[float], want: list[int]) -> str:
    worst = max(abs(g - w) / w for g, w in zip(got, want, strict=True) if w)
    return f"{worst:.2%}"


def markdown(results: dict[str, Any], argv: list[str]) -> str:
    lines = [
        "## simulate-cache at scale (`scripts/bench/bench_cache_scale.py`)",
        "",
        f"`python scripts/bench/bench_cache_scale.py {' '.join(argv)}`".replace(" `", "`"),
        "",
        *machine(),
        "",
        "One run each (these take minutes); the machine was shared, see the load note.",
        "",
        "### End to end: `simulate-cache --sweep 0.80:0.99:0.01` (20 thresholds), default settings",
        "",
        "| requests | run | texts | embedder | neighbours | wall | peak RSS | check "
        "| where the time went (s) |",
        "|---:|---|---:|---|---|---:|---:|---:|---|",
    ]
    for r in results["e2e"]:
        i = r["index"]
        how = f"{i['neighbours']}, {'read' if i['reused'] else 'built'}, {i['rounds']} replays"
        check = "exact" if r["check"] is None else f"±{r['check']:.2%}"
        lines.append(
            f"| {r['size']:,} | {r['run']} | {r['keys']:,} | {r['embedder']} | {how} | "
            f"{r['wall_s']:.1f} s | {r['peak_mib']:,.0f} MiB | {check} | "
            + ", ".join(f"{k} {v:.0f}" for k, v in r["stages_s"].items())
            + " |"
        )
    lines += ["", "Made once beforehand (not in the times above):", ""]
    lines += [f"- {k}: {v:.0f} s" for k, v in results["made"].items()] or ["- (already made)"]
    lines += [
        "",
        "### The neighbour stage: the index against the exact search, same vectors",
        "",
        "| requests | texts | approx (index + fixed point) | its check | exact | exact / approx "
        "| hits moved (measured) | hits moved (run's own estimate) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["stage"]:
        scaled = " (scaled from one block)" if r.get("exact_scaled") else ""
        measured = deviation(r["approx_hits"], r["exact_hits"]) if "exact_hits" in r else "—"
        estimated = (
            deviation(r["approx_hits"], [round(e) for e in r["estimate"]])
            if "estimate" in r
            else "in the end-to-end table"
        )
        check_s = f"{r['check_s']:.1f} s" if "check_s" in r else "—"
        source = " (end-to-end run's stage)" if r.get("from_e2e") else ""
        lines.append(
            f"| {r['size']:,} | {r['keys']:,} | {r['approx_s']:.1f} s{source} | {check_s} | "
            f"{r['exact_s']:.0f} s{scaled} | {r['exact_s'] / r['approx_s']:.1f}x | {measured} | "
            f"{estimated} |"
        )
    lines += [
        "",
        "### Fidelity on the labelled sets (MiniLM's vectors, one request per query)",
        "",
        "| set | requests | approx | exact | largest hit difference over 20 thresholds "
        "| the run's own estimate |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["labelled"]:
        lines.append(
            f"| {r['set']} | {r['requests']:,} | {r['approx_s']:.1f} s | {r['exact_s']:.1f} s | "
            f"{deviation(r['approx_hits'], r['exact_hits'])} | "
            f"{deviation(r['approx_hits'], [round(e) for e in r['estimate']])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md's section")
    parser.add_argument("--sizes", default="100000,1000000", help="end-to-end sizes")
    parser.add_argument(
        "--e2e-only", action="store_true", help="skip the neighbour stage and labelled tables"
    )
    args = parser.parse_args(argv)
    sizes = [20_000, 50_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    results: dict[str, Any] = {"made": made_embedder(), "e2e": [], "stage": [], "labelled": []}
    for size in sizes:
        results["e2e"] += end_to_end(size)
    embedder = results["e2e"][0]["embedder"]
    stage_sizes = [sizes[0], 300_000, 1_000_000] if not args.quick else sizes
    if args.e2e_only:
        stage_sizes = []
    for size in stage_sizes:
        e2e = [r for r in results["e2e"] if r["size"] == size and r["run"].startswith("default")]
        approx_s = e2e[0]["stages_s"]["neighbours"] if e2e and size > 300_000 else None
        results["stage"].append(
            neighbour_stage(size, embedder, exact_in_full=size <= 100_000, approx_s=approx_s)
        )
    for name in () if args.e2e_only else ("banking77", "clinc150"):
        results["labelled"].append(labelled(name))
    (DATA / "bench_cache_scale.json").write_text(json.dumps(results, indent=1, default=str))
    text = markdown(results, argv or sys.argv[1:])
    text += f"\n\nLoad average at the end: {os.getloadavg()[0]:.1f}; the whole script took "
    text += f"{(time.perf_counter() - started) / 60:.0f} min."
    print(text)
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", "bench_cache_scale", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
