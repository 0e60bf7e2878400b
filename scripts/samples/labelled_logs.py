"""Turn labelled query sets into flat logs, the honest test of a semantic cache.

    python scripts/samples/labelled_logs.py banking77 --out bench_data/banking77.jsonl
    python scripts/samples/labelled_logs.py clinc150 --out bench_data/clinc150.jsonl

One request per query, in a seeded random order, timestamps spread over `--days` days, a
plausible gpt-4o-mini cost; the intent label is kept as the extra field `intent` (so
`costlab simulate-cache --label metadata.intent` can judge each hit), and the logged response is
the same canned answer for every query of an intent (so precision can also be estimated from
responses). CLINC150's out-of-scope queries each get a label and an answer of their own, so a
cache hit on one always counts as wrong. Banking77 (PolyAI, CC BY 4.0) and CLINC150 (CC BY 3.0)
are read from ../shared/data.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
SYSTEM = "You are the support assistant of a bank. Answer in two sentences."
PRICE_IN, PRICE_OUT = 0.15e-6, 0.60e-6  # gpt-4o-mini per token
START = datetime(2026, 10, 1)
# CLINC150's out-of-scope queries share this label but not a meaning: each gets its own label.
OUT_OF_SCOPE = "oos"


def banking77(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def clinc150(path: Path) -> list[tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    splits = ("train", "val", "oos_train", "oos_val")
    return [(text, intent) for split in splits for text, intent in data[split]]


DATASETS = {
    "banking77": (banking77, SHARED / "banking77" / "train.csv"),
    "clinc150": (clinc150, SHARED / "clinc150" / "train_val.json"),
}


def records(
    queries: list[tuple[str, str]],
    days: int,
    seed: int,
    limit: int | None = None,
    requests: int | None = None,
) -> list[dict[str, object]]:
    rng = random.Random(seed)
    order = rng.sample(queries, len(queries))[:limit]
    if requests is not None:  # repeat traffic: queries drawn again, with replacement
        order = [rng.choice(order) for _ in range(requests)]
    step = days * 86_400 / max(len(order), 1)
    rows = []
    for i, (text, label) in enumerate(order):
        input_tokens = len(SYSTEM) // 4 + max(1, len(text) // 4)
        if label == OUT_OF_SCOPE:  # unrelated to one another: any hit on one is a wrong answer
            intent, answer = f"{OUT_OF_SCOPE}:{i}", f"Sorry, I cannot help with request {i}."
        else:
            intent, answer = label, f"Here is how {label.replace('_', ' ')} works for your account."
        output_tokens = max(1, len(answer) // 4)
        ts = START + timedelta(seconds=i * step + rng.uniform(0, step))
        rows.append(
            {
                "request_id": f"q{i:06d}",
                "timestamp": ts.isoformat(timespec="milliseconds") + "Z",
                "model": "gpt-4o-mini",
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost": round(input_tokens * PRICE_IN + output_tokens * PRICE_OUT, 10),
                "feature": "support",
                "user_id": f"u{rng.randrange(2000)}",
                "duration_ms": rng.randint(300, 1500),
                "system_prompt": SYSTEM,
                "prompt": text,
                "response": answer,
                "intent": intent,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", type=Path, help="the dataset file [default: ../shared/data]")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--limit", type=int, help="only the first N queries (after shuffling)")
    parser.add_argument(
        "--requests", type=int, help="N requests drawn with replacement (repeat traffic)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    read, default = DATASETS[args.dataset]
    source = args.source or default
    if not source.is_file():
        print(f"error: {source} not found (it ships in ../shared/data)", file=sys.stderr)
        return 2
    rows = records(read(source), args.days, args.seed, args.limit, args.requests)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    print(f"wrote {len(rows):,} requests to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
