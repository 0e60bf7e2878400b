"""Figures for `costlab compress`: speed of the model-free methods, and each method's reduction.

    python scripts/bench/bench_compress.py               # markdown tables on stdout
    python scripts/bench/bench_compress.py --model DIR   # + LLMLingua-2 throughput with that model

1. minify + fewshot over 1,000 generated templates (median of 3 runs, lexical embedder).
2. Token reduction of each method on the recurring prompts of sample_logs/ (taken from a store
   built from them, as --from-store does) and on the 8-example sentiment few-shot prompt.
3. LLMLingua-2 throughput (prose tokens/s on CPU) when a model is installed; otherwise says so.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bench_doc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from costlab import encodings, ingest, prices  # noqa: E402
from costlab.compress import fewshot, from_store, lingua, run  # noqa: E402
from costlab.compress.templates import Template  # noqa: E402
from costlab.errors import BadInput  # noqa: E402
from costlab.ingest import sources  # noqa: E402
from costlab.store import Store  # noqa: E402

SEED_PROMPT = ROOT / "tests" / "data" / "compress" / "sentiment_fewshot.txt"
TARGET = "gpt-4o"
REVIEWS = [
    ("The blender crushes ice in seconds and is easy to clean", "positive"),
    ("The headphones broke after two days and support never answered", "negative"),
    ("It arrived on Tuesday and it fits the phone", "neutral"),
    ("Best purchase all year, the battery lasts a whole week", "positive"),
    ("Another charger that stops working after a week, just what I needed", "negative"),
    ("Warm and well made jacket, but the zipper sticks", "neutral"),
    ("Great quality for the price, the kids use them every day", "positive"),
    ("The shoes are a full size smaller than the chart says", "negative"),
    ("Delivery was fine, the box was a box", "neutral"),
    ("Works exactly as described and setup took two minutes", "positive"),
]


def generated(count: int, seed: int = 1) -> list[Template]:
    """Templates with markdown noise, repeated rules and an 8-example few-shot block."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        rules = [
            f"- Rule {n}: answer in   **plain** words about topic {rng.randint(1, 99)}."
            for n in range(6)
        ]
        shots = rng.sample(REVIEWS, 8)
        block = "\n\n".join(f"Review: {text} ({i}).\nSentiment: {label}" for text, label in shots)
        text = (
            f"# Classifier {i}\n\nYou classify reviews for {{shop}}.\n\n\n---\n"
            + "\n".join(rules + rules[:2])
            + f"\n\n{block}\n\nReview: {{{{ review }}}}\nSentiment:\n"
        )
        out.append(Template(f"t{i}.md", text))
    return out


def timing(items: list[Template], methods: tuple[str, ...], runs: int = 3) -> float:
    options = run.CompressOptions(methods, target_model=TARGET, encode=fewshot.lexical)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        run.compress(items, options, {}, None)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def store_prompts(catalogue: prices.Catalogue) -> list[Template]:
    """The recurring prompts of sample_logs/, as --from-store finds them."""
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "s.duckdb") as store:
        ingest.ingest(
            store, sources.expand([str(ROOT / "sample_logs")]), ingest.IngestOptions(), catalogue
        )
        count = encodings.counter(TARGET).count
        return [p.template for p in from_store.recurring(store, catalogue, count, 20)]


def reduction(items: list[Template], chains: list[tuple[str, ...]]) -> list[list[str]]:
    rows = []
    for methods in chains:
        options = run.CompressOptions(methods, target_model=TARGET, encode=fewshot.lexical)
        report, _ = run.compress(items, options, {}, None)
        before, after = report.tokens_before, report.tokens_after
        change = (after - before) / before
        failed = f", {report.failed} failed the check" if report.failed else ""
        rows.append(["+".join(methods), f"{before:,}", f"{after:,}", f"{change:+.1%}{failed}"])
    return rows


def throughput(model: str | None, items: list[Template]) -> str:
    try:
        loaded = lingua.load("llmlingua2", model)
    except BadInput as err:
        return f"not measured: {err.message}"
    count = encodings.counter(TARGET).count
    total = sum(count(t.text) for t in items)
    start = time.perf_counter()
    for t in items:
        loaded.compress(t.text, 0.5)
    seconds = time.perf_counter() - start
    return f"{total / seconds:,.0f} tokens/s ({total:,} tokens in {seconds:.1f} s, {loaded.model})"


def table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a local LLMLingua-2 model folder")
    parser.add_argument("--templates", type=int, default=1000)
    args = parser.parse_args()
    catalogue = prices.Catalogue.load()
    items = generated(args.templates)
    print(f"## compress: speed ({args.templates:,} generated templates, median of 3)\n")
    rows = []
    for methods in [("minify",), ("fewshot",), ("minify", "fewshot")]:
        seconds = timing(items, methods)
        rate = args.templates / seconds
        rows.append(["+".join(methods), f"{seconds:.2f} s", f"{rate:,.0f} templates/s"])
    print(table(["methods", "time", "rate"], rows) + "\n")
    chains = [("minify",), ("fewshot",), ("minify", "fewshot"), ("gzip",)]
    seed = [Template(SEED_PROMPT.name, SEED_PROMPT.read_text())]
    print(f"## compress: token reduction ({TARGET} tokens, cl100k)\n")
    for label, group in [
        ("sample_logs recurring prompts", store_prompts(catalogue)),
        ("seed 8-shot sentiment prompt", seed),
    ]:
        print(f"### {label} ({len(group)} templates)\n")
        print(
            table(["methods", "tokens before", "after", "change"], reduction(group, chains)) + "\n"
        )
    print("## compress: LLMLingua-2 on CPU\n")
    print(throughput(args.model, store_prompts(catalogue)[:5]) + "\n")


if __name__ == "__main__":
    sys.exit(bench_doc.run_section("bench_compress", "compress", main))
