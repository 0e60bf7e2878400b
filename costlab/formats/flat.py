"""The flat record of the seed article: one JSON object per call, usage at the top level."""

from __future__ import annotations

from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, system_prompt, unmapped
from costlab.formats.values import logged_cost, number, text

MAPPED_KEYS = frozenset(
    {
        "request_id",
        "timestamp",
        "model",
        "provider",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
        "cost",
        "user_id",
        "team",
        "feature",
        "duration_ms",
        "status",
        "prompt",
        "system_prompt",
        "response",
        "messages",
        "batch",
    }
)


class FlatRecord(LogFormat):
    name = "flat"
    description = (
        "request_id, timestamp, model, input_tokens, output_tokens, cache_hit, cost, user_id, "
        "feature, duration_ms (+ prompt, system_prompt, response, messages)"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return "input_tokens" in record and "output_tokens" in record and "model" in record

    def parse(self, record: dict[str, Any]) -> Call:
        model = record.get("model")
        if not isinstance(model, str) or not model:
            raise RecordError("missing model")
        # Flat input_tokens are the whole prompt; cached tokens, when given, are part of it.
        buckets = usage.openai(
            usage.count(record.get("input_tokens"), "input_tokens", default=None),
            usage.count(record.get("output_tokens"), "output_tokens", default=None),
            cached_tokens=usage.count(record.get("cached_input_tokens"), "cached_input_tokens"),
            reasoning_tokens=usage.count(record.get("reasoning_tokens"), "reasoning_tokens"),
        )
        messages = record.get("messages")
        return Call(
            request_id=text(record.get("request_id")),
            ts=timestamps.parse(record.get("timestamp")),
            provider=text(record.get("provider")),
            model=model,
            feature=text(record.get("feature")),
            user_id=text(record.get("user_id")),
            team=text(record.get("team")),
            **buckets,
            batch=bool(record.get("batch", False)),
            logged_cost_usd=logged_cost(record.get("cost")),
            latency_ms=number(record.get("duration_ms"), "duration_ms"),
            status=str(record.get("status") or "ok"),
            system_prompt=text(record.get("system_prompt")) or system_prompt(messages),
            prompt=text(record.get("prompt")) or last_user_turn(messages),
            messages=messages,
            response=text(record.get("response")),
            metadata=unmapped(record, MAPPED_KEYS),
        )
