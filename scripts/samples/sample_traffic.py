"""One canonical LLM request, drawn from a seeded week of Lumen traffic, before any log format.

Token counts are estimates from text length (about 4 characters a token); costs are the list
prices of costlab's shipped price catalogue (LiteLLM 1.110.2), batch at half price.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sample_text import (
    CHAT_FOLLOW_UPS,
    CHAT_PROMPTS,
    CHAT_SYSTEM,
    DIFF_HUNKS,
    DOC_SENTENCES,
    HANDBOOK,
    HOUSE_STYLE,
    MONTHS,
    REVIEW_COMMENTS,
    SEARCH_QUESTIONS,
    SEARCH_SYSTEM,
    SUMMARIZE_SYSTEM,
    SUPPORT_RULES,
    code_review_system,
)

from costlab.prices import SHIPPED_CATALOGUE, Catalogue

# The dated name a provider echoes back in its response.
SNAPSHOTS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "o4-mini": "o4-mini-2025-04-16",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "gemini-2.5-pro": "gemini-2.5-pro",
}
PROVIDERS = {"gpt": "openai", "o4-": "openai", "cla": "anthropic", "gem": "gemini"}
MS_PER_TOKEN = {"gpt-4o": 12, "gpt-4o-mini": 7, "o4-mini": 9, "gemini-2.5-pro": 14}
FEATURE_MODELS = {
    "support": ["gpt-4o-mini", "gpt-4o-mini", "claude-haiku-4-5", "gpt-4o"],
    "chat": ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini", "gemini-2.5-pro"],
    "summarize": ["gpt-4o-mini", "gemini-2.5-pro", "claude-haiku-4-5", "gpt-4o"],
    "code-review": ["claude-sonnet-4-5", "gpt-4o", "o4-mini"],
    "search": ["gpt-4o-mini", "gemini-2.5-pro", "claude-haiku-4-5"],
}
FEATURE_WEIGHTS = {"support": 5, "chat": 3, "summarize": 2, "code-review": 2, "search": 3}
FIRST_DAY = datetime(2026, 11, 2)  # a Monday; samples span eight days
DAYS = 8
MODELS = list(SNAPSHOTS)


@cache
def shipped_catalogue() -> Catalogue:
    return Catalogue.load(SHIPPED_CATALOGUE)


@cache
def list_price(model: str) -> tuple[float, float, float, float, float]:
    """Per million tokens: input, output, cache read, cache write 5m, cache write 1h (0.0: none).

    The shipped catalogue's standard base-tier prices, not a user catalogue: the committed
    samples must not depend on the machine that makes them.
    """
    points = shipped_catalogue().points([model])
    point = next(p for p in points if not p.batch and p.above_tokens == 0)
    return (
        per_million(point.input),
        per_million(point.output),
        per_million(point.cache_read),
        per_million(point.cache_write_5m),
        per_million(point.cache_write_1h),
    )


def per_million(per_token: Decimal | None) -> float:
    """A per-token catalogue price as a float per million tokens (exact: 0.0000025 -> 2.5)."""
    return 0.0 if per_token is None else float(per_token * 1_000_000)


def provider(model: str) -> str:
    return PROVIDERS[model[:3]]


def tokens(text: str) -> int:
    """An estimate of the token count of a text (about 4 characters a token)."""
    return max(1, round(len(text) / 4))


def cost_usd(model: str, buckets: tuple[int, int, int, int, int], batch: bool = False) -> float:
    """List price of disjoint buckets (uncached, cached, write 5m, write 1h, output)."""
    rates = list_price(model)
    uncached, cached, write_5m, write_1h, output = buckets
    total = uncached * rates[0] + output * rates[1] + cached * rates[2]
    total += write_5m * rates[3] + write_1h * rates[4]
    return round(total / 1e6 * (0.5 if batch else 1.0), 10)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def epoch(ts: datetime) -> float:
    return ts.replace(tzinfo=UTC).timestamp()


@dataclass
class TextBank:
    """Prompts, system prompts and answers to draw traffic from."""

    questions: list[tuple[str, str]]  # (customer question, banking77 intent)
    support_system: str

    def system(self, feature: str) -> str:
        return {
            "support": self.support_system,
            "chat": CHAT_SYSTEM + HOUSE_STYLE,
            "summarize": SUMMARIZE_SYSTEM + HOUSE_STYLE,
            "code-review": code_review_system(),
            "search": SEARCH_SYSTEM + HOUSE_STYLE,
        }[feature]


def load_bank(path: Path) -> TextBank:
    """Customer questions from Banking77 (CC BY 4.0, PolyAI) and the support system prompt."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    intents = sorted({intent for _, intent in rows})
    lines = [f"- {i}: {i.replace('_', ' ')}" for i in intents]
    return TextBank(questions=rows, support_system=SUPPORT_RULES + "\n".join(lines))


def document(rng: random.Random, sentences: int) -> str:
    picked = [rng.choice(DOC_SENTENCES) for _ in range(sentences)]
    text = " ".join(
        s.format(
            n=rng.randint(2, 9),
            m=rng.randint(1, 9),
            p=rng.randint(3, 40),
            month=rng.choice(MONTHS),
            day=f"2026-10-{rng.randint(10, 28)}",
        )
        for s in picked
    )
    title = rng.choice(["Board pack", "Incident report", "Weekly leadership notes", "Q3 review"])
    return f"{title}\n\n{text}"


def exchange(
    bank: TextBank, rng: random.Random, feature: str
) -> tuple[list[dict[str, str]], str, str]:
    """(conversation turns without the system prompt, answer, intent) for one request."""
    intent = ""
    if feature == "support":
        question, intent = rng.choice(bank.questions)
        topic = intent.replace("_", " ")
        answer = (
            f"Thanks for getting in touch. About your {topic}: you can check and manage this "
            f"in the app. Full steps: https://help.lumen.example/{intent}. Is there anything "
            "else I can help with?"
        )
        turns = [{"role": "user", "content": question}]
    elif feature == "chat":
        turns = [{"role": "user", "content": rng.choice(CHAT_PROMPTS)}]
        if rng.random() < 0.3:
            turns += [
                {"role": "assistant", "content": "Here is a first draft: ..."},
                {"role": "user", "content": rng.choice(CHAT_FOLLOW_UPS)},
            ]
        answer = "Sure - here is a concise version:\n\n" + " ".join(
            rng.choice(DOC_SENTENCES[:6]).format(n=3, m=4, p=12, month="March", day="Tuesday")
            for _ in range(rng.randint(2, 6))
        )
    elif feature == "summarize":
        turns = [
            {
                "role": "user",
                "content": "Summarise this document:\n\n" + document(rng, rng.randint(12, 60)),
            }
        ]
        answer = (
            "Summary\n- " + "\n- ".join(rng.sample(DOC_SENTENCES, 4)) + "\nOpen questions: none"
        )
    elif feature == "code-review":
        hunks = rng.sample(range(len(DIFF_HUNKS)), rng.randint(1, 3))
        diff = "\n".join(DIFF_HUNKS[i] for i in hunks)
        turns = [{"role": "user", "content": f"Review this diff:\n```diff\n{diff}\n```"}]
        answer = "\n".join(f"- {REVIEW_COMMENTS[i]}" for i in hunks)
    else:
        sources = rng.sample(HANDBOOK, 4)
        numbered = "\n".join(f"[{i}] {s}" for i, s in enumerate(sources, 1))
        question = rng.choice(SEARCH_QUESTIONS)
        turns = [{"role": "user", "content": f"Sources:\n{numbered}\n\nQuestion: {question}"}]
        answer = f"According to the handbook, {sources[0].split(': ', 1)[1]} [1]"
    return turns, answer, intent


@dataclass
class Request:
    """One LLM call before it is written in some log format. Token buckets are disjoint."""

    request_id: str
    ts: datetime
    feature: str
    user_id: str
    model: str
    system: str
    turns: list[dict[str, str]]
    answer: str
    intent: str
    uncached: int
    output: int
    cached: int = 0
    write_5m: int = 0
    write_1h: int = 0
    reasoning: int = 0
    batch: bool = False
    latency_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def buckets(self) -> tuple[int, int, int, int, int]:
        return self.uncached, self.cached, self.write_5m, self.write_1h, self.output

    @property
    def prompt_tokens(self) -> int:
        """All input tokens, OpenAI style (cached and cache writes included)."""
        return self.uncached + self.cached + self.write_5m + self.write_1h

    @property
    def cost(self) -> float:
        return cost_usd(self.model, self.buckets, self.batch)

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, *self.turns]


def timestamp(rng: random.Random, day: int | None = None) -> datetime:
    """A time in the sample week, busier on weekdays and in working hours (UTC)."""
    if day is None:
        day = rng.choices(range(DAYS), weights=[1, 1, 1, 1, 1, 0.4, 0.4, 1])[0]
    hour = rng.choices(range(24), weights=[1] * 7 + [3, 6, 8, 8, 8, 6, 7, 8, 8, 7, 5, 3] + [2] * 5)[
        0
    ]
    return FIRST_DAY + timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))


def apply_cache(rng: random.Random, req: Request, system_tokens: int) -> None:
    """Prompt caching as each provider does it: a prefix of the system prompt is read or written."""
    kind = provider(req.model)
    if kind == "openai" and system_tokens >= 1024 and rng.random() < 0.6:
        req.cached = 1024 + (system_tokens - 1024) // 128 * 128
    elif kind == "anthropic" and system_tokens >= 1024 and req.model != "claude-haiku-4-5":
        roll = rng.random()
        if roll < 0.6:
            req.cached = system_tokens
        elif roll < 0.75:
            req.write_5m = system_tokens
        elif roll < 0.8:
            req.write_1h = system_tokens
    req.uncached -= req.cached + req.write_5m + req.write_1h


def make_request(bank: TextBank, rng: random.Random, models: list[str], **fixed: Any) -> Request:
    """A realistic request; `fixed` pins any field (feature, model, ts, user_id, batch)."""
    feature = (
        fixed.pop("feature", None)
        or rng.choices(list(FEATURE_WEIGHTS), weights=list(FEATURE_WEIGHTS.values()))[0]
    )
    usable = [m for m in FEATURE_MODELS[feature] if m in models] or models
    model = fixed.pop("model", None) or rng.choice(usable)
    turns, answer, intent = exchange(bank, rng, feature)
    turns = fixed.pop("turns", turns)
    system = bank.system(feature)
    system_tokens = tokens(system)
    req = Request(
        request_id=f"req_{rng.getrandbits(64):016x}",
        ts=fixed.pop("ts", None) or timestamp(rng),
        feature=feature,
        user_id=fixed.pop("user_id", None) or f"u_{rng.randint(1001, 1014)}",
        model=model,
        system=system,
        turns=turns,
        answer=answer,
        intent=intent,
        uncached=system_tokens + sum(tokens(t["content"]) + 4 for t in turns) + 3,
        output=tokens(answer),
        **fixed,
    )
    apply_cache(rng, req, system_tokens)
    if model == "o4-mini":
        req.reasoning = rng.randint(128, 1500)
        req.output += req.reasoning
    per_token = MS_PER_TOKEN.get(model, 16 if "sonnet" in model else 8)
    req.latency_ms = int(250 + req.output * per_token * rng.uniform(0.7, 1.4))
    return req


def requests(bank: TextBank, rng: random.Random, count: int, models: list[str]) -> list[Request]:
    return sorted((make_request(bank, rng, models) for _ in range(count)), key=lambda r: r.ts)


def without_cache(req: Request) -> Request:
    """The request with its cache reads and writes folded back into plain input."""
    req.uncached, req.cached, req.write_5m, req.write_1h = req.prompt_tokens, 0, 0, 0
    return req
