"""LiteLLM logs: the StandardLoggingPayload of its callbacks, and LiteLLM_SpendLogs rows.

Usage rule (checked in BerriAI/litellm, `litellm/llms/anthropic/chat/transformation.py`,
`calculate_usage`): LiteLLM normalises every provider to OpenAI semantics, so `prompt_tokens` is
the whole prompt. For Anthropic it is `input_tokens + cache_creation_input_tokens +
cache_read_input_tokens`, with `prompt_tokens_details.cached_tokens` = cache read and
`prompt_tokens_details.cache_creation_tokens` = cache write. For OpenAI, `cached_tokens` is
already inside `prompt_tokens` and there is no cache write. One rule covers both: uncached =
prompt - cache read - cache write. (LiteLLM before ~1.50 added only cache read to
`prompt_tokens`; such rows show up as `cached_gt_input` when writes exceed the remainder.)
The detail lives in `metadata.usage_object` or `response.usage` (payload) and in
`metadata.additional_usage_values` (spend logs, see `SpendLogsMetadata` in litellm/proxy/_types.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, system_prompt, text_of, unmapped
from costlab.formats.values import logged_cost, number, text


def _team(metadata: dict[str, Any]) -> str | None:
    """The LiteLLM team a key belongs to: its alias when set, else its id."""
    return text(metadata.get("user_api_key_team_alias")) or text(
        metadata.get("user_api_key_team_id")
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> Any:
    """A JSON column exported as text is decoded; anything else is returned as is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _usage_buckets(record: dict[str, Any], detail: dict[str, Any]) -> usage.Buckets:
    """Token buckets from LiteLLM's top-level counts plus the provider detail, if any."""
    prompt_details = _dict(detail.get("prompt_tokens_details"))
    write_split = _dict(prompt_details.get("cache_creation_token_details"))
    read = detail.get("cache_read_input_tokens")
    if read is None:
        read = prompt_details.get("cached_tokens")
    write = detail.get("cache_creation_input_tokens")
    if write is None:
        write = prompt_details.get("cache_creation_tokens")
    split_5m = write_split.get("ephemeral_5m_input_tokens")
    split_1h = write_split.get("ephemeral_1h_input_tokens")
    reasoning = _dict(detail.get("completion_tokens_details")).get("reasoning_tokens")
    return usage.inclusive(
        usage.count(record.get("prompt_tokens"), "prompt_tokens", default=None),
        usage.count(record.get("completion_tokens"), "completion_tokens", default=None),
        cache_read=usage.count(read, "cache_read_input_tokens"),
        cache_write=usage.count(write, "cache_creation_input_tokens"),
        cache_write_5m=None if split_5m is None else usage.count(split_5m, "ephemeral_5m"),
        cache_write_1h=None if split_1h is None else usage.count(split_1h, "ephemeral_1h"),
        reasoning=usage.count(reasoning, "reasoning_tokens"),
        total=_optional_count(record.get("total_tokens"), "total_tokens"),
    )


def _optional_count(value: Any, field: str) -> int | None:
    return None if value is None else usage.count(value, field)


def _model(record: dict[str, Any]) -> str:
    model = record.get("model")
    if not isinstance(model, str) or not model:
        raise RecordError("missing model")
    return model


def _feature(metadata: dict[str, Any]) -> str | None:
    """The caller's `feature` tag, sent as requester or spend-logs metadata."""
    for key in ("requester_metadata", "spend_logs_metadata"):
        value = _dict(metadata.get(key)).get("feature")
        if value is not None:
            return text(value)
    return None


def _status(value: Any) -> str:
    return "error" if value in ("failure", "error") else "ok"


def _latency(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000


def _response_text(response: Any) -> str | None:
    """The assistant text of a logged response (an OpenAI-shaped object, or text)."""
    if isinstance(response, str):
        return response
    choices = _dict(response).get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return text_of(_dict(choices[0].get("message")).get("content"))
    return None


_PAYLOAD_MAPPED = frozenset(
    {
        "id",
        "startTime",
        "endTime",
        "model",
        "custom_llm_provider",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "response_cost",
        "messages",
        "end_user",
        "status",
    }
)


class LiteLLMPayload(LogFormat):
    name = "litellm_payload"
    description = (
        "LiteLLM StandardLoggingPayload (callbacks, custom loggers): id, call_type, startTime, "
        "model, prompt_tokens, completion_tokens, response_cost, metadata, messages, response"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return "call_type" in record and "response_cost" in record and "id" in record

    def parse(self, record: dict[str, Any]) -> Call:
        model = _model(record)
        metadata = _dict(record.get("metadata"))
        response = record.get("response")
        detail = _dict(metadata.get("usage_object")) or _dict(_dict(response).get("usage"))
        start = timestamps.parse(record.get("startTime"), "startTime")
        end = timestamps.parse(record.get("endTime"), "endTime")
        messages = record.get("messages")
        mapped = _PAYLOAD_MAPPED | ({"response"} if isinstance(response, str) else set())
        return Call(
            request_id=text(record.get("id")),
            ts=start,
            provider=text(record.get("custom_llm_provider")),
            model=model,
            feature=_feature(metadata),
            user_id=text(record.get("end_user")) or text(metadata.get("user_api_key_user_id")),
            team=_team(metadata),
            **_usage_buckets(record, detail),
            batch=False,
            logged_cost_usd=logged_cost(record.get("response_cost"), "response_cost"),
            latency_ms=_latency(start, end),
            status=_status(record.get("status")),
            system_prompt=system_prompt(messages),
            prompt=last_user_turn(messages),
            messages=messages,
            response=_response_text(response),
            metadata=unmapped(record, mapped),
        )


SPEND_MAPPED = frozenset(
    {
        "request_id",
        "startTime",
        "endTime",
        "model",
        "custom_llm_provider",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "spend",
        "end_user",
        "user",
        "status",
        "request_duration_ms",
    }
)


class LiteLLMSpendLog(LogFormat):
    name = "litellm_spend_log"
    description = (
        "LiteLLM proxy LiteLLM_SpendLogs rows (schema.prisma): request_id, call_type, spend, "
        "prompt_tokens, completion_tokens, startTime, endTime, model, user, metadata"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return "request_id" in record and "call_type" in record and "spend" in record

    def parse(self, record: dict[str, Any]) -> Call:
        model = _model(record)
        metadata = _json(record.get("metadata"))
        meta = _dict(metadata)
        detail = _dict(meta.get("additional_usage_values")) or _dict(meta.get("usage_object"))
        start = timestamps.parse(record.get("startTime"), "startTime")
        end = timestamps.parse(record.get("endTime"), "endTime")
        duration = number(record.get("request_duration_ms"), "request_duration_ms")
        messages, response = _json(record.get("messages")), _json(record.get("response"))
        kept = unmapped(record, SPEND_MAPPED | {"messages", "response"})
        kept["metadata"] = metadata
        if not isinstance(response, str):
            kept["response"] = response
        if not isinstance(messages, list):
            kept["messages"] = messages
        return Call(
            request_id=text(record.get("request_id")),
            ts=start,
            provider=text(record.get("custom_llm_provider")),
            model=model,
            feature=_feature(meta),
            user_id=text(record.get("end_user")) or text(record.get("user")),
            team=text(record.get("team_id")) or _team(meta),
            **_usage_buckets(record, detail),
            batch=False,
            logged_cost_usd=logged_cost(record.get("spend"), "spend"),
            latency_ms=duration if duration is not None else _latency(start, end),
            status=_status(record.get("status") or meta.get("status")),
            system_prompt=system_prompt(messages),
            prompt=last_user_turn(messages),
            messages=messages if isinstance(messages, list) else None,
            response=_response_text(response),
            metadata=kept,
        )
