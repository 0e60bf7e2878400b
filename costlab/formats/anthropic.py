"""Anthropic logs: Messages API responses, request+response records, Message Batches results."""

from __future__ import annotations

from typing import Any

from costlab import usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, text_of, unmapped
from costlab.formats.values import text
from costlab.formats.wrapped import (
    WrappedShape,
    blank_call,
    error_call,
    request_of,
    wrapped_response,
)

_MESSAGE = frozenset({"id", "type", "role", "content", "model", "usage"})
_USAGE_MAPPED = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
    }
)
_REQUEST = frozenset({"model", "system", "messages"})
_FAILED_RESULTS = ("errored", "canceled", "expired")


def buckets(usage_: dict[str, Any]) -> usage.Buckets:
    """Buckets from Messages API usage (cache read and write come on top of input_tokens)."""
    split = usage_.get("cache_creation")
    split = split if isinstance(split, dict) else None
    return usage.anthropic(
        usage.count(usage_.get("input_tokens"), "input_tokens", default=None),
        usage.count(usage_.get("output_tokens"), "output_tokens", default=None),
        cache_read_tokens=usage.count(
            usage_.get("cache_read_input_tokens"), "cache_read_input_tokens"
        ),
        cache_creation_tokens=usage.count(
            usage_.get("cache_creation_input_tokens"), "cache_creation_input_tokens"
        ),
        cache_creation_5m_tokens=None
        if split is None
        else usage.count(split.get("ephemeral_5m_input_tokens"), "ephemeral_5m_input_tokens"),
        cache_creation_1h_tokens=None
        if split is None
        else usage.count(split.get("ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens"),
    )


def message_call(message: dict[str, Any]) -> Call:
    """A call from a Messages API `message` object."""
    usage_ = message.get("usage")
    if not isinstance(usage_, dict):
        raise RecordError("missing usage")
    model = message.get("model")
    if not isinstance(model, str) or not model:
        raise RecordError("missing model")
    call = blank_call("anthropic", model, buckets(usage_))
    call["request_id"] = text(message.get("id"))
    call["metadata"] = unmapped(message, _MESSAGE)
    blocks = message.get("content")
    blocks = blocks if isinstance(blocks, list) else []
    texts = [b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    call["response"] = "".join(t for t in texts if isinstance(t, str)) or None
    # Tool calls, thinking and server tool results are kept as logged.
    other = [b for b in blocks if not (isinstance(b, dict) and b.get("type") == "text")]
    if other:
        call["metadata"]["content"] = other
    extras = {k: v for k, v in usage_.items() if k not in _USAGE_MAPPED and v is not None}
    if extras:
        call["metadata"]["usage"] = extras
    return call


def _add_request(call: Call, request: dict[str, Any]) -> None:
    """Fill prompt, messages, system prompt, model and user from a Messages API request."""
    messages = request.get("messages")
    call["messages"] = messages
    call["prompt"] = last_user_turn(messages)
    call["system_prompt"] = text_of(request.get("system"))
    call["model"] = call["model"] or text(request.get("model"))
    meta = request.get("metadata")
    if isinstance(meta, dict):
        call["user_id"] = text(meta.get("user_id")) or call["user_id"]


def _is_error(body: dict[str, Any]) -> bool:
    return body.get("type") == "error"


_WRAPPED = WrappedShape("anthropic", _is_error, message_call, _add_request, _REQUEST)


class AnthropicMessage(LogFormat):
    name = "anthropic_message"
    description = (
        "Anthropic Messages API `message` objects, bare or as {request, response} records "
        "(+ timestamp, user, feature, latency_ms)"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        if record.get("type") == "message":
            return "usage" in record and "content" in record
        response = wrapped_response(record)
        if response is None:
            return False
        if response.get("type") == "message":
            return True
        return response.get("type") == "error" and "messages" in request_of(record)[0]

    def parse(self, record: dict[str, Any]) -> Call:
        if record.get("type") == "message":
            return message_call(record)
        return _WRAPPED.parse(record)


class AnthropicBatchResult(LogFormat):
    name = "anthropic_batch_result"
    description = "Anthropic Message Batches result lines {custom_id, result: {type, message}}"

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return "custom_id" in record and isinstance(record.get("result"), dict)

    def parse(self, record: dict[str, Any]) -> Call:
        result: dict[str, Any] = record["result"]
        kind = result.get("type")
        if kind == "succeeded":
            message = result.get("message")
            if not isinstance(message, dict):
                raise RecordError("succeeded batch result has no message")
            call = message_call(message)
        elif kind in _FAILED_RESULTS:
            call = error_call("anthropic", None, result.get("error"))
            call["metadata"]["result_type"] = kind
        else:
            raise RecordError(f"unknown batch result type {str(kind)[:40]!r}")
        call["metadata"].update(unmapped(record, frozenset({"result"})))
        call["batch"] = True
        return call
