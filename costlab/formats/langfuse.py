"""Langfuse observations: `GET /api/public/observations` items (camelCase) and exports (snake_case).

Usage rule: Langfuse prices each `usageDetails` key on its own (cost = sum of units x price per
key), so the keys are disjoint buckets and `total` is their sum. Its ingestion turns OpenAI usage
into that shape by moving each `prompt_tokens_details` entry out of `input` into
`input_<name>` (e.g. `input_cached_tokens`) and each `completion_tokens_details` entry out of
`output` into `output_<name>` (e.g. `output_reasoning_tokens`); see
langfuse/langfuse `packages/shared/src/server/ingestion/types.ts` (OpenAICompletionUsageSchema).
Anthropic-style keys (`cache_read_input_tokens`, `cache_creation_input_tokens`,
`input_cache_read`, `input_cache_creation[_5m|_1h]`) are likewise their own buckets, as in
Langfuse's default Claude prices. So: every key naming `input` is input, every key naming
`output` is output, and the known cache keys are taken out of the uncached remainder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, system_prompt, text_of, unmapped
from costlab.formats.values import logged_cost, number, text

_CACHE_READ = frozenset({"input_cached_tokens", "cache_read_input_tokens", "input_cache_read"})
_CACHE_WRITE = frozenset({"cache_creation_input_tokens", "input_cache_creation"})
_WRITE_5M, _WRITE_1H = "input_cache_creation_5m", "input_cache_creation_1h"
_REASONING = "output_reasoning_tokens"
_LLM_TYPES = frozenset({"GENERATION", "EMBEDDING"})

# Each canonical field, by its API (camelCase) name first and its export (snake_case) names after.
_ALIASES: dict[str, tuple[str, ...]] = {
    "traceId": ("traceId", "trace_id"),
    "startTime": ("startTime", "start_time"),
    "endTime": ("endTime", "end_time"),
    "model": ("model", "providedModelName", "provided_model_name"),
    "usageDetails": ("usageDetails", "usage_details"),
    "costDetails": ("costDetails", "cost_details"),
    "totalCost": ("totalCost", "total_cost"),
    "calculatedTotalCost": ("calculatedTotalCost", "calculated_total_cost"),
    "userId": ("userId", "user_id"),
    "latency": ("latency",),
}


def _get(record: dict[str, Any], field: str) -> Any:
    """The first present spelling of a field."""
    for key in _ALIASES[field]:
        if record.get(key) is not None:
            return record[key]
    return None


# Fields fully carried by the Call; usageDetails, costDetails and the rest stay in metadata.
_MAPPED = frozenset(
    {
        "id",
        *_ALIASES["startTime"],
        *_ALIASES["endTime"],
        *_ALIASES["model"],
        *_ALIASES["userId"],
        *_ALIASES["totalCost"],
        *_ALIASES["calculatedTotalCost"],
    }
)


def _counts(details: dict[str, Any]) -> dict[str, int]:
    """Every usage entry as a validated count."""
    if not isinstance(details, dict):
        raise RecordError(f"usageDetails is {type(details).__name__}, not an object")
    return {key: usage.count(value, f"usageDetails.{key}") for key, value in details.items()}


def _from_details(details: dict[str, Any]) -> usage.Buckets:
    """Buckets from Langfuse usageDetails (disjoint keys, see the module docstring)."""
    counts = _counts(details)
    read = sum(v for k, v in counts.items() if k in _CACHE_READ)
    write = sum(v for k, v in counts.items() if k in _CACHE_WRITE)
    split = _WRITE_5M in counts or _WRITE_1H in counts
    cache_keys = _CACHE_READ | _CACHE_WRITE | {_WRITE_5M, _WRITE_1H}
    uncached = sum(v for k, v in counts.items() if "input" in k and k not in cache_keys)
    output = sum(v for k, v in counts.items() if "output" in k)
    return usage.anthropic(
        uncached,
        output,
        cache_read_tokens=read,
        cache_creation_tokens=write,
        cache_creation_5m_tokens=counts.get(_WRITE_5M) if split else None,
        cache_creation_1h_tokens=counts.get(_WRITE_1H) if split else None,
        reasoning_tokens=counts.get(_REASONING, 0),
        total_tokens=counts.get("total"),
    )


def _from_legacy(legacy: Any) -> usage.Buckets:
    """Buckets from the deprecated `usage` object {input, output, total, unit}."""
    if not isinstance(legacy, dict):
        return usage.openai(0, 0)
    unit = legacy.get("unit")
    if unit not in (None, "TOKENS"):
        raise RecordError(f"usage is counted in {unit}, not tokens")
    total = legacy.get("total")
    return usage.openai(
        usage.count(legacy.get("input"), "usage.input"),
        usage.count(legacy.get("output"), "usage.output"),
        total_tokens=None if total is None else usage.count(total, "usage.total"),
    )


def _cost(record: dict[str, Any]) -> str | None:
    """The logged total cost: costDetails.total, else the (deprecated) total cost fields."""
    details = _get(record, "costDetails")
    if isinstance(details, dict) and details.get("total") is not None:
        return logged_cost(details["total"], "costDetails.total")
    for field in ("totalCost", "calculatedTotalCost"):
        value = _get(record, field)
        if value is not None:
            return logged_cost(value, field)
    return None


def _messages(value: Any) -> Any:
    """The chat messages of an observation input: a list, or {"messages": [...]}."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return value["messages"]
    return value


def _latency(record: dict[str, Any], start: datetime | None, end: datetime | None) -> float | None:
    if start is not None and end is not None:
        return (end - start).total_seconds() * 1000
    seconds = number(_get(record, "latency"), "latency")
    return None if seconds is None else seconds * 1000


class LangfuseObservation(LogFormat):
    name = "langfuse_observation"
    description = (
        "Langfuse GENERATION observations (public API or export): id, traceId, type, startTime, "
        "model, input, output, usageDetails, costDetails, metadata"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        has_trace = "traceId" in record or "trace_id" in record
        has_start = "startTime" in record or "start_time" in record
        return (
            "id" in record
            and "type" in record
            and has_trace
            and has_start
            and ("attributes" not in record)
        )

    def parse(self, record: dict[str, Any]) -> Call:
        kind = record.get("type")
        if kind not in _LLM_TYPES:
            raise RecordError(f"observation type {kind!r} is not an LLM call (GENERATION)")
        model = _get(record, "model")
        if not isinstance(model, str) or not model:
            raise RecordError("missing model")
        details = _get(record, "usageDetails")
        buckets = _from_details(details) if details else _from_legacy(record.get("usage"))
        start = timestamps.parse(_get(record, "startTime"), "startTime")
        end = timestamps.parse(_get(record, "endTime"), "endTime")
        metadata = record.get("metadata")
        messages = _messages(record.get("input"))
        feature = metadata.get("feature") if isinstance(metadata, dict) else None
        return Call(
            request_id=text(record.get("id")),
            ts=start,
            provider=None,
            model=model,
            feature=text(feature),
            user_id=text(_get(record, "userId")),
            team=None,
            **buckets,
            batch=False,
            logged_cost_usd=_cost(record),
            latency_ms=_latency(record, start, end),
            status="error" if record.get("level") == "ERROR" else "ok",
            system_prompt=system_prompt(messages),
            prompt=last_user_turn(messages),
            messages=messages if isinstance(messages, list) else None,
            response=text_of(record.get("output")),
            metadata=_kept(record, messages),
        )


def _kept(record: dict[str, Any], messages: Any) -> dict[str, Any]:
    """Unmapped fields; input and output stay too unless they were plain messages / text."""
    mapped = set(_MAPPED)
    if isinstance(messages, list) and messages is record.get("input"):
        mapped.add("input")
    if isinstance(record.get("output"), str):
        mapped.add("output")
    return unmapped(record, frozenset(mapped))
