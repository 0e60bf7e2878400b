"""Experiment: fit minilm-static's token vectors to MiniLM on a sample of texts ("tokenlearn").

    PYTHONPATH=. python scripts/bench/tune_static.py --out /tmp/tune_static.md
    PYTHONPATH=. python scripts/bench/tune_static.py --splits held-out --variants map --seed 1

The static embedder sums one vector per WordPiece token. Variants (`--variants`), each fitted so
that the sum over a sample text points the way MiniLM's vector of that text does:
- map: a ridge least-squares map (dims × 384) from the normalised sums (closed form; shipped as
  minilm-tuned, costlab.cache.tuned); map-mean / map-scaled: from the means / to rescaled targets;
- weights, map+weights, tokens: a weight per token, both, or every row (cosine loss, Adam,
  torch on CPU, `--epochs`, rows pulled to the map by `--anchor`).
`--bases`: start from the distilled minilm-static matrix, MiniLM's input embeddings, or both.
Each fitted matrix is saved as a real static-embedder folder and measured the way
scripts/bench/compare_embedders.py does: `simulate-cache --label metadata.intent` (in-process, same
sweep), precision read at MiniLM's recommended hit rate with its `precision_at`.

Splits (`--splits`), so the figure is not inflated by fitting on the test texts:
- full: fit on a sample of all Banking77 queries, test on all 10,003 (optimistic);
- held-out: fit on a sample of the queries after the first `--heldout` in log order, test on
  the first `--heldout` only (MiniLM's reference is recomputed on that part);
- clinc: fit on CLINC150 queries, test on all of Banking77 (another domain);
- clinc-self: fit on CLINC150 queries, test on all of CLINC150 (a second data set).
Teacher vectors are read from copies (in `--work`) of the stores that compare_embedders.py and
labelled_logs.py made (`--bench`: bench_data/compare_embedders.duckdb, clinc150.duckdb), so the
experiment runs no transformer and needs minilm-static distilled. The distill time a user pays
(MiniLM on the sample, then the fit) is measured with the real command instead:
`costlab embedders distill --corpus STORE --sample 2000`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import compare_embedders
import numpy as np

from costlab.cache import embedders, normalize, savings, static, vectors
from costlab.scope import Scope
from costlab.store import Store

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench_data"  # made by compare_embedders.py and labelled_logs.py
TEACHER = "all-MiniLM-L6-v2"
WORK = Path("/tmp/tune_static")


def thresholds() -> list[float]:
    lo, hi, step = (float(x) for x in compare_embedders.SWEEP.split(":"))
    return [round(lo + k * step, 2) for k in range(round((hi - lo) / step) + 1)]


def simulate(db: Path, embedder: str) -> dict[str, Any]:
    """compare_embedders.simulate, in-process (so a fitted matrix can be registered)."""
    options = savings.CacheOptions(
        thresholds=thresholds(),
        scope=Scope(),
        label="metadata.intent",
        embedder=embedder,
        min_precision=compare_embedders.MIN_PRECISION,
    )
    with Store.open(str(db)) as store:
        report = savings.run(store, options)
    return {
        "embedder": report.embedder,
        "requests": report.requests,
        "recommended_threshold": report.recommended_threshold,
        "thresholds": [
            {"threshold": r.threshold, "hit_rate": r.hit_rate, "precision": r.precision}
            for r in report.thresholds
        ],
    }


def teacher(db: Path) -> tuple[list[str], np.ndarray]:
    """The distinct cache keys of a store, in log order, and MiniLM's stored vector of each."""
    with Store.open(str(db), read_only=True) as store:
        prompts = [r[0] for r in store.rows("SELECT prompt FROM requests ORDER BY ts, request_id")]
        keys = list(dict.fromkeys(normalize.normalize(p) for p in prompts if p))
        found = vectors.stored(store, sorted({vectors.text_hash(k) for k in keys}), TEACHER)
    keys = [k for k in keys if vectors.text_hash(k) in found]
    return keys, np.stack([found[vectors.text_hash(k)] for k in keys])


def heldout_store(full: Path, target: Path, first: int) -> None:
    """The first `first` requests of `full` (log order) with MiniLM's vectors copied over."""
    if target.exists():
        return
    shutil.copyfile(full, target)
    with Store.open(str(target)) as store:
        store.execute(
            "DELETE FROM requests WHERE request_id NOT IN (SELECT request_id FROM requests "
            "ORDER BY ts, request_id LIMIT ?)",
            [first],
        )
        store.execute("DELETE FROM embeddings WHERE embedder <> ?", [TEACHER])
        store.execute("DELETE FROM neighbour_lists")
        store.execute("DELETE FROM neighbour_sets")


@dataclass(frozen=True)
class Fit:
    variant: str
    matrix: np.ndarray
    fit_s: float


def token_ids(tokenizer: Any, texts: list[str]) -> tuple[Any, Any]:
    import torch

    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    ids = [e.ids or [0] for e in encodings]  # [PAD] for an empty text: a zero row either way
    offsets = np.cumsum([0] + [len(i) for i in ids[:-1]])
    return torch.tensor(np.concatenate(ids)), torch.tensor(offsets)


def fit(
    base: np.ndarray,
    tokenizer: Any,
    texts: list[str],
    target: np.ndarray,
    variant: str,
    epochs: int,
    anchor: float,
    alpha: float = 1e-2,
) -> Fit:
    """Fit a linear map (`map`), a weight per token (`weights`) or every token row (`tokens`)."""
    import torch

    torch.manual_seed(0)
    started = time.perf_counter()
    flat, offsets = token_ids(tokenizer, texts)
    y = torch.nn.functional.normalize(torch.tensor(target), dim=1)
    e0 = torch.tensor(base)
    w = torch.nn.Parameter(
        _ridge(base, flat, offsets, y, variant, alpha)
    )  # closed form, a start for all
    weight = torch.nn.Parameter(torch.zeros(len(base)))  # log weight per token
    delta = torch.nn.Parameter(torch.zeros(len(base), y.shape[1]))
    params = {
        "map": [],
        "map-mean": [],
        "map-scaled": [],
        "weights": [weight],
        "tokens": [delta],
        "map+weights": [w, weight],
    }
    trainable = params[variant]
    batches = list(range(0, len(texts), 256))

    def pooled(tokens: Any, bag_offsets: Any) -> Any:
        # Pooling is linear: weight the base rows, sum them, then map; the per-token change
        # (`delta`) is summed in the teacher's space.
        scale = weight.exp()[tokens]
        base_sum = torch.nn.functional.embedding_bag(
            tokens, e0, bag_offsets, mode="sum", per_sample_weights=scale
        )
        return base_sum @ w + torch.nn.functional.embedding_bag(
            tokens, delta, bag_offsets, mode="sum"
        )

    if trainable:
        opt = torch.optim.Adam(trainable, lr=1e-2 if variant != "tokens" else 3e-3)
        for _ in range(epochs):
            order = torch.randperm(len(texts))
            for b in batches:
                chosen = order[b : b + 256]
                bags = [flat[offsets[i] : _end(offsets, flat, i)] for i in chosen.tolist()]
                bag_offsets = torch.tensor(np.cumsum([0] + [len(x) for x in bags[:-1]]))
                got = pooled(torch.cat(bags), bag_offsets)
                loss = 1 - torch.nn.functional.cosine_similarity(got, y[chosen]).mean()
                loss = loss + anchor * (delta.pow(2).sum(1).mean() + weight.pow(2).mean())
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        matrix = ((e0 * weight.exp()[:, None]) @ w + delta).numpy().astype(np.float32)
    return Fit(variant, matrix, time.perf_counter() - started)


def _end(offsets: Any, flat: Any, i: int) -> int:
    return int(offsets[i + 1]) if i + 1 < len(offsets) else len(flat)


def _ridge(
    base: np.ndarray, flat: Any, offsets: Any, y: Any, variant: str, alpha: float = 1e-2
) -> Any:
    """The least-squares map from the static vectors of the texts to MiniLM's.

    map: from the normalised sums; map-mean: from the means; map-scaled: from the normalised
    sums to MiniLM's vectors each rescaled (alternating fits) - only directions count.
    """
    import torch

    mode = "mean" if variant == "map-mean" else "sum"
    pooled = torch.nn.functional.embedding_bag(flat, torch.tensor(base), offsets, mode=mode)
    x = pooled.double() if mode == "mean" else torch.nn.functional.normalize(pooled, dim=1).double()
    gram = x.T @ x + alpha * torch.eye(x.shape[1], dtype=torch.float64)
    target = y.double()
    w = torch.linalg.solve(gram, x.T @ target)
    for _ in range(5 if variant == "map-scaled" else 0):
        got = x @ w
        scale = (got * y.double()).sum(1, keepdim=True)  # best multiple of each unit target
        target = y.double() * scale / scale.mean()
        w = torch.linalg.solve(gram, x.T @ target)
    return w.float()


def register(fitted: Fit, tag: str, work: Path) -> str:
    """Save the matrix as a static-embedder folder and register it under its manifest name."""
    import hashlib

    folder = work / "embedders" / tag
    digest = hashlib.sha256(fitted.matrix.tobytes()).hexdigest()[:8]
    manifest = static.Manifest(
        name=f"tuned-{tag}-{digest}",
        source_model=TEACHER,
        source_path="",
        vocab_size=fitted.matrix.shape[0],
        dims=fitted.matrix.shape[1],
        created="",
        method=f"tune_static.py {fitted.variant}",
        recipe={},
        distill_s=round(fitted.fit_s, 1),
    )
    static.save(folder, fitted.matrix, embedders.minilm_path() / static.TOKENIZER, manifest)
    embedders.EMBEDDERS[manifest.name] = lambda: static.load(folder)
    return manifest.name


def base_matrix(kind: str) -> np.ndarray:
    """Where the fit starts: the distilled minilm-static matrix (`static`), MiniLM's input
    embeddings (`minilm-input`, free: no distillation), or both side by side (`static+input`)."""
    if kind == "static":
        return np.load(static.folder() / static.MATRIX)
    from safetensors.numpy import load_file

    weights = load_file(str(embedders.minilm_path() / "model.safetensors"))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    inputs = weights[key].astype(np.float32)
    if kind == "minilm-input":
        return inputs
    distilled = np.load(static.folder() / static.MATRIX)
    # Scaled so that neither half dominates the normalised sum.
    scale = np.linalg.norm(distilled, axis=1).mean() / np.linalg.norm(inputs, axis=1).mean()
    return np.concatenate([distilled, inputs * scale], axis=1)


def cosine(matrix: np.ndarray, tokenizer: Any, texts: list[str], target: np.ndarray) -> float:
    """Mean cosine between the static vectors of texts and MiniLM's."""
    import torch

    if matrix.shape[1] != target.shape[1]:
        return float("nan")
    flat, offsets = token_ids(tokenizer, texts)
    pooled = torch.nn.functional.embedding_bag(flat, torch.tensor(matrix), offsets, mode="sum")
    got = torch.nn.functional.normalize(pooled, dim=1).numpy()
    return float((got * target).sum(1).mean())


Row = dict[str, Any]


def run(args: argparse.Namespace, report: Callable[[str], None]) -> list[Row]:
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    full_db, clinc_db = work / "banking77.duckdb", work / "clinc150.duckdb"
    for source, copy in (
        (args.bench / "compare_embedders.duckdb", full_db),
        (args.bench / "clinc150.duckdb", clinc_db),
    ):
        if not copy.exists():
            shutil.copyfile(source, copy)
    held_db = work / f"banking77_first{args.heldout}.duckdb"
    heldout_store(full_db, held_db, args.heldout)
    tokenizer = static._tokenizer(embedders.minilm_path() / static.TOKENIZER)
    b77_texts, b77_y = teacher(full_db)
    held_texts, _ = teacher(held_db)
    held = set(held_texts)
    rng = np.random.default_rng(args.seed)
    clinc_texts, clinc_y = teacher(clinc_db)
    pools = {
        "full": (b77_texts, b77_y, full_db),
        "held-out": (
            [t for t in b77_texts if t not in held],
            b77_y[[t not in held for t in b77_texts]],
            held_db,
        ),
        "clinc": (clinc_texts, clinc_y, full_db),
        "clinc-self": (clinc_texts, clinc_y, clinc_db),
    }
    tested = {pools[split][2] for split in args.splits.split(",")}
    refs = {
        db: simulate(db, embedders.DEFAULT)
        for db in (full_db, held_db) + (clinc_db,)
        if db in tested
    }
    for db, ref in refs.items():
        row = compare_embedders._row(ref, ref["recommended_threshold"])
        report(f"reference {db.name}: threshold {ref['recommended_threshold']} {row}")
    held_y = b77_y[[t in held for t in b77_texts]]
    rows: list[Row] = []
    baseline_done: set[Path] = set()
    for base_kind in args.bases.split(","):
        base = base_matrix(base_kind)
        for split in args.splits.split(","):
            texts, y, test_db = pools[split]
            pick = rng.permutation(len(texts))[: args.sample]
            sample, target = [texts[i] for i in pick], y[pick]
            for variant in ["none", *args.variants.split(",")]:
                if variant == "none":
                    if test_db in baseline_done:
                        continue
                    baseline_done.add(test_db)
                    fitted = Fit("none", base.astype(np.float32), 0.0)
                else:
                    fitted = fit(
                        base,
                        tokenizer,
                        sample,
                        target,
                        variant,
                        args.epochs,
                        args.anchor,
                        args.alpha,
                    )
                name = register(
                    fitted,
                    f"{base_kind}-{split}-{variant}-{args.sample}-s{args.seed}-a{args.alpha}",
                    work,
                )
                result = simulate(test_db, name)
                ref = refs[test_db]
                rate = compare_embedders._row(ref, ref["recommended_threshold"])["hit_rate"]
                at = compare_embedders.precision_at(result, rate)
                own = compare_embedders._row(result, result["recommended_threshold"])
                row = {
                    "base": base_kind,
                    "split": split if variant != "none" else "—",
                    "variant": variant,
                    "seed": args.seed,
                    "alpha": args.alpha,
                    "sample": args.sample,
                    "dims": fitted.matrix.shape[1],
                    "fit_s": fitted.fit_s,
                    "cos_heldout": cosine(fitted.matrix, tokenizer, held_texts, held_y),
                    "test": test_db.name,
                    "ref_rate": rate,
                    "ref_precision": compare_embedders._row(ref, ref["recommended_threshold"])[
                        "precision"
                    ],
                    "precision_at": at,
                    "own_threshold": result["recommended_threshold"],
                    "own_rate": own and own["hit_rate"],
                    "name": name,
                }
                rows.append(row)
                report(str(row))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/tune_static.md"))
    parser.add_argument("--bench", type=Path, default=BENCH, help="where the stores are read")
    parser.add_argument("--work", type=Path, default=WORK, help="copies of the stores, matrices")
    parser.add_argument("--bases", default="static", help="static,minilm-input")
    parser.add_argument("--splits", default="full,held-out,clinc")
    parser.add_argument("--variants", default="map,weights,map+weights,tokens")
    parser.add_argument("--sample", type=int, default=2000, help="teacher texts to fit on")
    parser.add_argument("--heldout", type=int, default=5000, help="first N requests held out")
    parser.add_argument("--seed", type=int, default=0, help="which sample is drawn")
    parser.add_argument("--alpha", type=float, default=1e-2, help="ridge penalty of the map")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--anchor", type=float, default=1e-3, help="pull of rows to the start")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    run(args, report)
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
