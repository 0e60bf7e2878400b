"""The committed sample set: every file of sample_logs/, from one seeded random stream."""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import zstandard
from gateway_records import langfuse_generation, litellm_payload, otel_span, spend_log
from sample_records import (
    anthropic_batch,
    anthropic_message,
    anthropic_record,
    flat_record,
    openai_batch,
    openai_chat_record,
    responses_object,
)
from sample_traffic import (
    FIRST_DAY,
    MODELS,
    Request,
    TextBank,
    cost_usd,
    document,
    make_request,
    provider,
    requests,
    without_cache,
)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BANKING77 = SHARED_DATA / "banking77" / "train.csv"
LITELLM_TEMPLATE = SHARED_DATA / "log_samples/litellm/example_standard_logging_payload.json"
OPENAI_MODELS = ["gpt-4o", "gpt-4o-mini"]
ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5"]

BAD_LINES = [
    # malformed JSON: the line was cut off mid-record
    '{"request_id": "req_7a1f0c93d2b4e580", "timestamp": "2026-11-04T10:12:09.511Z", '
    '"model": "gpt-4o", "input_tokens": 812, "output_tok',
    # a negative token count
    '{"request_id": "req_0b9de1c27f3a8845", "timestamp": "2026-11-04T10:13:40.002Z", '
    '"model": "gpt-4o-mini", "input_tokens": 1406, "output_tokens": -35, "cost": 0.0002, '
    '"user_id": "u_1003", "feature": "support", "duration_ms": 640}',
    # a string where a number should be
    '{"request_id": "req_5c2e8f7a10d94b36", "timestamp": "2026-11-05T15:01:22.870Z", '
    '"model": "gpt-4o", "input_tokens": "about 900", "output_tokens": 120, "cost": 0.00345, '
    '"user_id": "u_1008", "feature": "chat", "duration_ms": 1800}',
    # not an LLM call at all: a web analytics event in the same log stream
    '{"event": "page_view", "path": "/pricing", "ts": "2026-11-05T15:02:00Z", "session": "s_81"}',
    # a flat record whose model is missing
    '{"request_id": "req_e4a6b0f9c3d21877", "timestamp": "2026-11-06T09:44:31.250Z", '
    '"model": null, "input_tokens": 1520, "output_tokens": 88, "cost": 0.0, "user_id": "u_1011", '
    '"feature": "search", "duration_ms": 910}',
    # a JSON array, not an object
    '["req_93c1", "2026-11-06T09:45:00Z", "gpt-4o-mini", 900, 40]',
]


def cached_gt_prompt(rng: random.Random, bank: TextBank) -> str:
    """A well-formed chat record whose cached tokens exceed its prompt tokens (loads, flagged)."""
    req = make_request(
        bank, rng, ["gpt-4o-mini"], feature="support", ts=FIRST_DAY + timedelta(days=3, hours=11)
    )
    record = openai_chat_record(rng, without_cache(req))
    record["response"]["usage"]["prompt_tokens_details"]["cached_tokens"] = req.prompt_tokens + 512
    return orjson.dumps(record).decode()


def write_jsonl(path: Path, records: list[Any], opener: Callable[..., Any] = open) -> None:
    with opener(path, "wb") as handle:
        for record in records:
            handle.write(
                record.encode() + b"\n" if isinstance(record, str) else orjson.dumps(record) + b"\n"
            )


def misprice(rng: random.Random, reqs: list[Request], records: list[dict[str, Any]]) -> list[str]:
    """Give three flat rows a logged cost that disagrees with the list price; their ids."""
    mini = next(i for i, r in enumerate(reqs) if r.model == "gpt-4o-mini" and not r.cached)
    cached = next(i for i, r in enumerate(reqs) if r.cached and i != mini)
    slip = next(i for i, r in enumerate(reqs) if r.model == "gpt-4o" and i not in (mini, cached))
    records[mini]["cost"] = cost_usd("gpt-4o", reqs[mini].buckets)  # priced as the wrong model
    plain = without_cache(Request(**vars(reqs[cached])))
    records[cached]["cost"] = plain.cost  # the cache discount ignored
    records[slip]["cost"] = round(reqs[slip].cost * 10, 10)  # a decimal slip
    return [reqs[i].request_id for i in (mini, cached, slip)]


def fail(record: dict[str, Any], reason: str) -> None:
    """Turn a flat row into a failed call: nothing billed, no response."""
    record |= {
        "status": "error",
        "error": reason,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_hit": False,
        "cost": 0.0,
        "response": None,
    }
    record.pop("cached_input_tokens", None)


def flat_samples(bank: TextBank, rng: random.Random, count: int) -> tuple[list[Any], list[str]]:
    reqs = requests(bank, rng, count, MODELS)
    for req in reqs:
        if provider(req.model) != "openai":  # flat cached tokens follow OpenAI's semantics
            without_cache(req)
        req.batch = req.feature == "summarize" and rng.random() < 0.3
    records = [flat_record(req) for req in reqs]
    off = misprice(rng, reqs, records)
    for index in rng.sample(range(count), 2):
        if reqs[index].request_id not in off:
            fail(records[index], "429 Rate limit reached for requests")
    return records, off


def spike(bank: TextBank, rng: random.Random) -> list[Request]:
    """A digest job stuck in a retry loop: the same long board pack, every two minutes."""
    turns = [{"role": "user", "content": "Summarise this document:\n\n" + document(rng, 270)}]
    start = FIRST_DAY + timedelta(days=4, hours=13)
    return [
        make_request(
            bank,
            rng,
            ["gpt-4o"],
            feature="summarize",
            model="gpt-4o",
            turns=turns,
            user_id="svc-digest",
            ts=start + timedelta(minutes=2 * i, seconds=rng.uniform(0, 9)),
        )
        for i in range(50)
    ]


def batch_requests(
    bank: TextBank, rng: random.Random, feature: str, model: str, count: int
) -> list[Request]:
    """Requests sent through a nightly batch job (02:00 UTC on alternate days)."""
    return [
        make_request(
            bank,
            rng,
            [model],
            feature=feature,
            model=model,
            batch=True,
            user_id="svc-batch",
            ts=FIRST_DAY + timedelta(days=1 + 2 * (i % 3), hours=2, seconds=rng.uniform(0, 3000)),
        )
        for i in range(count)
    ]


def write_samples(out: Path, bank: TextBank, seed: int) -> None:
    """Every sample file, from one seeded random stream."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    flat, off = flat_samples(bank, rng, 140)
    write_jsonl(out / "flat.jsonl", flat)
    more = requests(bank, rng, 50, MODELS)
    more = sorted([without_cache(r) for r in more] + spike(bank, rng), key=lambda r: r.ts)
    with zstandard.open(
        out / "flat_more.jsonl.zst", "wb", cctx=zstandard.ZstdCompressor(level=19)
    ) as handle:
        handle.write(b"".join(orjson.dumps(flat_record(r)) + b"\n" for r in more))
    write_jsonl(
        out / "openai_chat.jsonl",
        [openai_chat_record(rng, r) for r in requests(bank, rng, 40, OPENAI_MODELS)],
    )
    inputs, outputs = openai_batch(rng, batch_requests(bank, rng, "summarize", "gpt-4o-mini", 16))
    write_jsonl(out / "openai_batch_input.jsonl", inputs)
    write_jsonl(out / "openai_batch_output.jsonl", outputs)
    write_jsonl(
        out / "openai_responses.jsonl",
        [responses_object(rng, r) for r in requests(bank, rng, 20, ["o4-mini", "gpt-4o"])],
    )
    reviews = [
        make_request(bank, rng, ANTHROPIC_MODELS, feature="code-review", model="claude-sonnet-4-5")
        for _ in range(14)
    ]
    first = next(r for r in reviews if r.cached)  # one review writes a 1-hour cache entry
    first.write_1h, first.cached = first.cached, 0
    messages = sorted(requests(bank, rng, 22, ANTHROPIC_MODELS) + reviews, key=lambda r: r.ts)
    anthropic = [anthropic_record(rng, r) for r in messages]
    anthropic += [anthropic_message(rng, r) for r in requests(bank, rng, 4, ANTHROPIC_MODELS)]
    write_jsonl(out / "anthropic_messages.jsonl", anthropic)
    reviews = batch_requests(bank, rng, "code-review", "claude-sonnet-4-5", 12)
    write_jsonl(out / "anthropic_batch_results.jsonl", anthropic_batch(rng, reviews))
    write_gateway_samples(out, bank, rng)
    bad = [*BAD_LINES, cached_gt_prompt(rng, bank)]
    write_jsonl(out / "bad_lines.jsonl", bad)
    print(f"wrote {out}/; flat rows with a deliberately wrong cost: {', '.join(off)}")


def write_gateway_samples(out: Path, bank: TextBank, rng: random.Random) -> None:
    """LiteLLM, Langfuse and OpenTelemetry exports."""
    template = orjson.loads(LITELLM_TEMPLATE.read_bytes())
    payloads = requests(bank, rng, 24, ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-pro"])
    for req in rng.sample(payloads, 2):
        req.extra["litellm_cache_hit"] = True
    write_jsonl(
        out / "litellm_payloads.jsonl", [litellm_payload(rng, r, template) for r in payloads]
    )
    rows = requests(bank, rng, 24, ["gpt-4o-mini", "gpt-4o", "claude-haiku-4-5"])
    rows[7].extra["status"] = "failure"
    spend = [spend_log(rng, r) for r in rows]
    (out / "litellm_spend_logs.json").write_bytes(
        orjson.dumps(spend, option=orjson.OPT_INDENT_2) + b"\n"
    )
    generations = requests(bank, rng, 24, ["gpt-4o", "claude-sonnet-4-5"])
    write_jsonl(
        out / "langfuse_generations.jsonl", [langfuse_generation(rng, r) for r in generations]
    )
    spans = requests(bank, rng, 30, ["gpt-4o-mini", "claude-haiku-4-5"])
    records = [otel_span(rng, r, legacy=i % 3 == 2) for i, r in enumerate(spans)]
    write_jsonl(
        out / "otel_spans.jsonl.gz", records, opener=lambda p, m: gzip.GzipFile(p, m, mtime=0)
    )
