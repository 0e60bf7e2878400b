"""A month of a busy product's traffic, made from real questions: the scale test of simulate-cache.

    python scripts/samples/scale_logs.py --requests 1000000 --out bench_data/scale_1000000.jsonl

How the set is built (seeded, so the same command writes the same file):
- The questions are real: Banking77's 10,003 and CLINC150's 18,200 (train and val, out-of-scope
  included), 28,203 in all, read from ../shared/data (CC BY 4.0 and CC BY 3.0).
- Each request picks one at random (Zipf-like: a few questions are asked far more often than
  others, as in real traffic) and rewrites it the way people rephrase: a greeting or a closing
  from a list, a filler word dropped, two neighbouring words swapped, a word replaced by a
  synonym, a typo (two letters swapped). Each edit applies with its own probability, so most
  requests are distinct after costlab's normalisation, and some repeat exactly.
- The intent label (`intent`, kept in metadata) is the source question's; CLINC150's
  out-of-scope questions each get a label of their own, so a hit on one is always wrong. The
  logged response is one canned answer per intent.
- Timestamps spread evenly over 30 days; four features (support and billing for banking
  questions, assistant and travel for CLINC150's), 5,000 users, gpt-4o-mini prices.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

from labelled_logs import DATASETS, OUT_OF_SCOPE, PRICE_IN, PRICE_OUT

START = datetime(2026, 10, 1)
DAYS = 30
GREETINGS = ["hi", "hello", "hey there", "good morning", "excuse me", "quick question", "help"]
CLOSINGS = ["thanks", "thank you", "please", "asap", "any idea", "cheers", "thx in advance"]
FILLERS = {"the", "a", "an", "my", "please", "i", "is", "to", "can", "do", "you"}
SYNONYMS = {
    "card": "credit card",
    "money": "funds",
    "account": "acct",
    "transfer": "send",
    "how": "in what way",
    "want": "would like",
    "need": "have to",
    "get": "receive",
    "why": "for what reason",
    "cancel": "stop",
    "help": "assist",
    "what": "which",
    "phone": "mobile",
    "change": "update",
}


def questions() -> list[tuple[str, str, str]]:
    """(text, intent, dataset) for every real question."""
    found = []
    for name in ("banking77", "clinc150"):
        read, path = DATASETS[name]
        if not path.is_file():
            raise SystemExit(f"error: {path} not found (it ships in ../shared/data)")
        for i, (text, label) in enumerate(read(path)):
            intent = f"{OUT_OF_SCOPE}:{i}" if label == OUT_OF_SCOPE else f"{name}:{label}"
            found.append((text, intent, name))
    return found


def rephrase(text: str, rng: random.Random) -> str:
    """The question as another person might type it (each edit with its own probability)."""
    words = text.split()
    if len(words) > 3 and rng.random() < 0.35:
        droppable = [i for i, w in enumerate(words) if w.lower() in FILLERS]
        if droppable:
            del words[rng.choice(droppable)]
    if len(words) > 2 and rng.random() < 0.25:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    if rng.random() < 0.35:
        swappable = [i for i, w in enumerate(words) if w.lower() in SYNONYMS]
        if swappable:
            i = rng.choice(swappable)
            words[i] = SYNONYMS[words[i].lower()]
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        word = words[i]
        if len(word) > 3:
            j = rng.randrange(len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    if rng.random() < 0.45:
        words.insert(0, rng.choice(GREETINGS) + ",")
    if rng.random() < 0.35:
        words.append(rng.choice(CLOSINGS))
    return " ".join(words)


def records(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    source = questions()
    rng.shuffle(source)
    # Zipf-like popularity: weight 1/(rank + 10)
    weights = [1.0 / (rank + 10) for rank in range(len(source))]
    picks = rng.choices(range(len(source)), weights=weights, k=count)
    step = DAYS * 86_400 / max(count, 1)
    rows = []
    for i, q in enumerate(picks):
        text, intent, dataset = source[q]
        prompt = rephrase(text, rng)
        answer = f"Here is what to do about {intent.split(':', 1)[-1].replace('_', ' ')}."
        input_tokens, output_tokens = 40 + len(prompt) // 4, max(1, len(answer) // 4)
        feature = rng.choice(
            ("support", "billing") if dataset == "banking77" else ("assistant", "travel")
        )
        rows.append(
            {
                "request_id": f"s{i:07d}",
                "timestamp": (START + timedelta(seconds=i * step)).isoformat(
                    timespec="milliseconds"
                )
                + "Z",
                "model": "gpt-4o-mini",
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost": round(input_tokens * PRICE_IN + output_tokens * PRICE_OUT, 10),
                "feature": feature,
                "user_id": f"u{rng.randrange(5000)}",
                "duration_ms": rng.randint(300, 1500),
                "prompt": prompt,
                "response": answer,
                "intent": intent,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rows = records(args.requests, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    print(f"wrote {len(rows):,} requests to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
