"""Large generated log files for benchmarks, streamed in chunks at constant memory."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sample_text import (
    CHAT_PROMPTS,
    CHAT_SYSTEM,
    CODE_REVIEW_RULES,
    SEARCH_QUESTIONS,
    SEARCH_SYSTEM,
    SUMMARIZE_SYSTEM,
    SUPPORT_RULES,
)
from sample_traffic import (
    DAYS,
    FEATURE_MODELS,
    FEATURE_WEIGHTS,
    FIRST_DAY,
    SNAPSHOTS,
    epoch,
    list_price,
    provider,
)

BULK_ASKS = [
    "How do I",
    "Can I",
    "Why can't I",
    "What happens if I",
    "Is it possible to",
    "Help me",
]
BULK_ACTIONS = [
    "reset my password",
    "change the card PIN",
    "top up by bank transfer",
    "dispute a card payment",
    "cancel a transfer",
    "order a virtual card",
    "export last month's statement",
    "raise my ATM limit",
    "add a joint holder",
    "pay in euros",
    "close my savings pot",
    "verify my identity",
    "unfreeze my card",
    "get a refund for a double charge",
    "change my address",
    "set a spending limit",
]
BULK_TAILS = [
    "?",
    " today?",
    " from abroad?",
    " in the app?",
    " without fees?",
    " on Android?",
    " before Friday?",
    " - it keeps failing?",
]
BULK_ANSWERS = {
    "support": "You can do this in the app: Account > Settings.",
    "chat": "Here is a short answer with one example.",
    "summarize": "Revenue above plan; launch moved to March.",
    "code-review": "- Bind the value as a SQL parameter.",
    "search": "Yes, with your manager's approval [1].",
}
BULK_SYSTEM = {
    "support": SUPPORT_RULES.rsplit("\n\nClassify", 1)[0],
    "chat": CHAT_SYSTEM,
    "summarize": SUMMARIZE_SYSTEM,
    "code-review": "You review Python pull requests at Lumen. House rules:\n"
    + "\n".join(CODE_REVIEW_RULES),
    "search": SEARCH_SYSTEM,
}
CHUNK_ROWS = 20_000
BULK_CACHED = 1024  # OpenAI caches prompt prefixes from 1,024 tokens


def bulk_prompts() -> list[str]:
    """Every question the templates make, as JSON string literals."""
    texts = [f"{a} {b}{c}" for a in BULK_ASKS for b in BULK_ACTIONS for c in BULK_TAILS]
    texts += CHAT_PROMPTS + SEARCH_QUESTIONS
    return [orjson.dumps(t).decode() for t in texts]


def bulk_combos() -> list[tuple[str, str, tuple[float, float, float, float, float]]]:
    """(feature, model, price per token) in traffic proportions."""
    return [
        (feature, model, tuple(p / 1e6 for p in list_price(model)))  # type: ignore[misc]
        for feature, weight in FEATURE_WEIGHTS.items()
        for model in FEATURE_MODELS[feature]
        for _ in range(weight)
    ]


class Clock:
    """ISO timestamps for rows spread evenly over the sample week, formatted cheaply."""

    def __init__(self, rows: int) -> None:
        self.start, self.step = epoch(FIRST_DAY), DAYS * 86400 / max(rows, 1)
        self._minute, self._prefix = -1, ""

    def at(self, row: int) -> tuple[str, int]:
        seconds = self.start + row * self.step
        minute = int(seconds // 60)
        if minute != self._minute:
            self._minute = minute
            self._prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        rest = seconds - minute * 60
        return f"{self._prefix}{int(rest):02d}.{int(rest * 1000) % 1000:03d}Z", int(seconds)


def bulk_usage(bits: int, model: str, prices: tuple[float, ...]) -> tuple[int, int, int, float]:
    """(input, cached, output tokens, cost) drawn from 64 random bits."""
    input_tokens = 300 + (bits >> 32) % 1700
    output = 20 + (bits >> 44) % 400
    cached = (
        BULK_CACHED if input_tokens >= 1152 and (bits >> 56) % 3 == 0 and model[:3] != "cla" else 0
    )
    cost = (input_tokens - cached) * prices[0] + cached * prices[2] + output * prices[1]
    return input_tokens, cached, output, cost


def flat_lines(rng: random.Random, rows: int) -> Iterator[str]:
    prompts, combos, clock = bulk_prompts(), bulk_combos(), Clock(rows)
    answers = {f: orjson.dumps(a).decode() for f, a in BULK_ANSWERS.items()}
    cached_field = ("", f'"cached_input_tokens":{BULK_CACHED},')
    for row in range(rows):
        bits = rng.getrandbits(64)
        feature, model, prices = combos[bits % len(combos)]
        input_tokens, cached, output, cost = bulk_usage(bits, model, prices)
        ts, _ = clock.at(row)
        yield (
            f'{{"request_id":"req_{bits:016x}","timestamp":"{ts}","model":"{model}",'
            f'"input_tokens":{input_tokens},"output_tokens":{output},{cached_field[cached > 0]}'
            f'"cache_hit":{"true" if cached else "false"},"cost":{cost:.8f},'
            f'"user_id":"u_{(bits >> 8) % 5000}","feature":"{feature}",'
            f'"duration_ms":{250 + output * 9},"prompt":{prompts[(bits >> 20) % len(prompts)]},'
            f'"response":{answers[feature]}}}\n'
        )


def chat_lines(rng: random.Random, rows: int) -> Iterator[str]:
    prompts, clock = bulk_prompts(), Clock(rows)
    combos = [c for c in bulk_combos() if provider(c[1]) == "openai"]
    systems = {f: orjson.dumps(s).decode() for f, s in BULK_SYSTEM.items()}
    answers = {f: orjson.dumps(a).decode() for f, a in BULK_ANSWERS.items()}
    for row in range(rows):
        bits = rng.getrandbits(64)
        feature, model, prices = combos[bits % len(combos)]
        prompt_tokens, cached, output, _ = bulk_usage(bits, model, prices)
        ts, created = clock.at(row)
        reasoning = output // 2 if model == "o4-mini" else 0
        yield (
            f'{{"timestamp":"{ts}","feature":"{feature}","user":"u_{(bits >> 8) % 5000}",'
            f'"request":{{"model":"{model}","messages":[{{"role":"system","content":{systems[feature]}}},'
            f'{{"role":"user","content":{prompts[(bits >> 20) % len(prompts)]}}}]}},'
            f'"response":{{"id":"chatcmpl-{bits:016x}{row:013x}","object":"chat.completion",'
            f'"created":{created},"model":"{SNAPSHOTS[model]}","choices":[{{"index":0,'
            f'"message":{{"role":"assistant","content":{answers[feature]},"refusal":null}},'
            f'"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{prompt_tokens},'
            f'"completion_tokens":{output},"total_tokens":{prompt_tokens + output},'
            f'"prompt_tokens_details":{{"cached_tokens":{cached},"audio_tokens":0}},'
            f'"completion_tokens_details":{{"reasoning_tokens":{reasoning},"audio_tokens":0,'
            f'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},'
            f'"system_fingerprint":"fp_{bits & 0xFFFFFFFFFF:010x}"}}}}\n'
        )


BULK_FORMATS = {"flat": flat_lines, "openai_chat": chat_lines}


def write_bulk(fmt: str, rows: int, out: Path, seed: int) -> None:
    """Stream `rows` records to `out`, CHUNK_ROWS lines at a time (constant memory)."""
    lines = BULK_FORMATS[fmt](random.Random(seed), rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        while chunk := [line for _, line in zip(range(CHUNK_ROWS), lines, strict=False)]:
            handle.write("".join(chunk))
