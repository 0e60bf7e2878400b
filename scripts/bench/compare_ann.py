"""Which library finds simulate-cache's neighbours best here: faiss IVF, usearch or hnswlib (HNSW).

    python scripts/bench/compare_ann.py --db bench_data/e2e_100000.duckdb --embedder NAME [--write]

On the stored vectors of a store's distinct texts (run simulate-cache on it first), each library
is timed (build + search, 2 threads) and judged by the recall of the pairs at least 0.80, 0.85,
0.90 and 0.95 similar against the exact pairs (blocked products). faiss answers "every text at
least t similar" (range search); usearch and hnswlib answer the k nearest (k = 64), filtered by
t. Writes its own section of BENCHMARKS.md with --write.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
from bench_doc import write_section
from benchmark import ROOT, machine

RADII = (0.80, 0.85, 0.90, 0.95)
K = 64


def stored_vectors(db: str, embedder: str) -> np.ndarray:
    from costlab.store import Store

    with Store.open(db, read_only=True) as store:
        table = store.arrow("SELECT vector FROM embeddings WHERE embedder = ?", [embedder])
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.astype(np.float32).reshape(table.num_rows, -1))


def exact_pairs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (u < w) at least RADII[0] similar, by blocked products."""
    us, ws, ss = [], [], []
    for start in range(0, len(v), 2048):
        sim = v[start : start + 2048] @ v.T
        a, b = np.nonzero(sim >= RADII[0])
        keep = start + a < b
        us.append(start + a[keep])
        ws.append(b[keep])
        ss.append(sim[a[keep], b[keep]])
    return np.concatenate(us), np.concatenate(ws), np.concatenate(ss)


def recall(
    found: set[int], exact: tuple[np.ndarray, np.ndarray, np.ndarray], n: int
) -> list[float]:
    u, w, s = exact
    codes = u * n + w
    hit = np.fromiter((c in found for c in codes.tolist()), dtype=bool, count=len(codes))
    return [float(hit[s >= r].mean()) if (s >= r).any() else 1.0 for r in RADII]


def codes(a: np.ndarray, b: np.ndarray, n: int) -> set[int]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    return set((lo[keep] * n + hi[keep]).tolist())


def faiss_ivf(v: np.ndarray, probes: int) -> tuple[float, set[int]]:
    from costlab.cache.search import IndexSearch

    started = time.perf_counter()
    index = IndexSearch(v, probes=probes)
    q, k, _ = index.within(np.arange(len(v)), RADII[0])
    return time.perf_counter() - started, codes(q, k, len(v))


def usearch_hnsw(v: np.ndarray) -> tuple[float, set[int]]:
    from usearch.index import Index

    started = time.perf_counter()
    index = Index(
        ndim=v.shape[1],
        metric="ip",
        dtype="f16",
        connectivity=16,
        expansion_add=128,
        expansion_search=128,
    )
    index.add(np.arange(len(v)), v, threads=2)
    found = index.search(v, K, threads=2)
    keys, sim = found.keys.astype(np.int64), 1 - found.distances
    rows = np.repeat(np.arange(len(v)), K).reshape(len(v), K)
    keep = sim >= RADII[0]
    return time.perf_counter() - started, codes(rows[keep], keys[keep], len(v))


def hnswlib_hnsw(v: np.ndarray) -> tuple[float, set[int]]:
    import hnswlib

    started = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=v.shape[1])
    index.init_index(max_elements=len(v), ef_construction=128, M=16)
    index.set_num_threads(2)
    index.add_items(v, np.arange(len(v)))
    index.set_ef(128)
    keys, distance = index.knn_query(v, k=K)
    rows = np.repeat(np.arange(len(v)), K).reshape(len(v), K)
    keep = 1 - distance >= RADII[0]
    return time.perf_counter() - started, codes(rows[keep], keys[keep].astype(np.int64), len(v))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--embedder", required=True)
    parser.add_argument("--limit", type=int, default=50_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    v = stored_vectors(args.db, args.embedder)[: args.limit]
    started = time.perf_counter()
    exact = exact_pairs(v)
    rows: list[tuple[str, float, list[float]]] = [
        ("exact (blocked products)", time.perf_counter() - started, [1.0] * len(RADII))
    ]
    runs: list[tuple[str, Any]] = [
        ("faiss IVF, 16 probes (costlab's)", lambda: faiss_ivf(v, 16)),
        ("faiss IVF, 64 probes", lambda: faiss_ivf(v, 64)),
        (f"usearch HNSW f16, top {K}", lambda: usearch_hnsw(v)),
        (f"hnswlib HNSW, top {K}", lambda: hnswlib_hnsw(v)),
    ]
    for name, run in runs:
        seconds, found = run()
        rows.append((name, seconds, recall(found, exact, len(v))))
        print(f"{name}: {seconds:.1f} s {rows[-1][2]}", flush=True)
    lines = [
        "## Which index finds the neighbours (`scripts/bench/compare_ann.py`)",
        "",
        f"{len(v):,} stored `{args.embedder}` vectors of real requests ({len(exact[0]):,} pairs "
        f"at least {RADII[0]} similar); 2 threads; build and search together.",
        "",
        *machine(),
        "",
        "| search | time | × exact | " + " | ".join(f"recall ≥ {r}" for r in RADII) + " |",
        "|---|---:|---:|" + "---:|" * len(RADII),
    ]
    for name, seconds, found in rows:
        lines.append(
            f"| {name} | {seconds:.1f} s | {rows[0][1] / seconds:.1f} | "
            + " | ".join(f"{x:.4f}" for x in found)
            + " |"
        )
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", "compare_ann", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
