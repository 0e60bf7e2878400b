"""OpenAI logs: Chat Completions and Responses objects, request+response records, Batch lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, system_prompt, text_of, unmapped
from costlab.formats.values import text
from costlab.formats.wrapped import (
    WrappedShape,
    blank_call,
    envelope,
    error_call,
    request_of,
    wrapped_response,
)

_REQUEST_FIELDS = frozenset({"model", "messages", "input", "instructions", "prompt", "user"})
_CHAT_OBJECTS = ("chat.completion", "text_completion")
_CHAT_BODY = frozenset({"id", "object", "created", "model", "choices", "usage"})
_RESPONSES_BODY = frozenset(
    {"id", "object", "created_at", "model", "output", "usage", "instructions", "user"}
)
# Embedding vectors (`data`) are not worth keeping as metadata.
_EMBEDDING_BODY = frozenset({"object", "model", "data", "usage"})
_USAGE_MAPPED = frozenset({"cached_tokens", "reasoning_tokens"})


def _details(usage_: dict[str, Any], key: str) -> dict[str, Any]:
    details = usage_.get(key)
    return details if isinstance(details, dict) else {}


def _usage_extras(usage_: dict[str, Any]) -> dict[str, Any]:
    """Non-zero usage details that no bucket holds (audio, predictions), kept as metadata."""
    extras: dict[str, Any] = {}
    for key, value in usage_.items():
        if isinstance(value, dict):
            extras.update(
                {f"{key}.{k}": v for k, v in value.items() if v and k not in _USAGE_MAPPED}
            )
    return extras


def _usage(body: dict[str, Any]) -> dict[str, Any]:
    usage_ = body.get("usage")
    if not isinstance(usage_, dict):
        raise RecordError("missing usage")
    return usage_


def _total(usage_: dict[str, Any]) -> int | None:
    total = usage_.get("total_tokens")
    return None if total is None else usage.count(total, "total_tokens")


def chat_buckets(usage_: dict[str, Any]) -> usage.Buckets:
    """Buckets from Chat Completions usage (prompt/completion tokens)."""
    return usage.openai(
        usage.count(usage_.get("prompt_tokens"), "prompt_tokens", default=None),
        usage.count(usage_.get("completion_tokens"), "completion_tokens", default=None),
        cached_tokens=usage.count(
            _details(usage_, "prompt_tokens_details").get("cached_tokens"), "cached_tokens"
        ),
        reasoning_tokens=usage.count(
            _details(usage_, "completion_tokens_details").get("reasoning_tokens"),
            "reasoning_tokens",
        ),
        total_tokens=_total(usage_),
    )


def responses_buckets(usage_: dict[str, Any]) -> usage.Buckets:
    """Buckets from Responses API usage (input/output tokens, OpenAI subset semantics)."""
    return usage.openai(
        usage.count(usage_.get("input_tokens"), "input_tokens", default=None),
        usage.count(usage_.get("output_tokens"), "output_tokens", default=None),
        cached_tokens=usage.count(
            _details(usage_, "input_tokens_details").get("cached_tokens"), "cached_tokens"
        ),
        reasoning_tokens=usage.count(
            _details(usage_, "output_tokens_details").get("reasoning_tokens"), "reasoning_tokens"
        ),
        total_tokens=_total(usage_),
    )


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RecordError("missing model")
    return model


def _body_call(body: dict[str, Any], buckets: usage.Buckets, mapped: frozenset[str]) -> Call:
    """The fields every OpenAI response object gives: id, model, tokens, user, metadata."""
    call = blank_call("openai", _model(body), buckets)
    call["request_id"] = text(body.get("id"))
    call["user_id"] = text(body.get("user"))
    call["metadata"] = unmapped(body, mapped)
    extras = _usage_extras(body.get("usage") or {})
    if extras:
        call["metadata"]["usage"] = extras
    return call


def _chat_call(body: dict[str, Any]) -> Call:
    """A call from a chat.completion (or legacy text_completion) object."""
    call = _body_call(body, chat_buckets(_usage(body)), _CHAT_BODY)
    call["ts"] = timestamps.parse(body.get("created"), "created")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return call
    first: dict[str, Any] = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message")
    message = message if isinstance(message, dict) else {}
    call["response"] = text_of(message.get("content")) or text_of(first.get("text"))
    if message.get("tool_calls"):
        call["metadata"]["tool_calls"] = message["tool_calls"]
    if first.get("finish_reason") is not None:
        call["metadata"]["finish_reason"] = first["finish_reason"]
    if len(choices) > 1:
        call["metadata"]["choices"] = choices
    return call


def _responses_call(body: dict[str, Any]) -> Call:
    """A call from a Responses API `response` object."""
    call = _body_call(body, responses_buckets(_usage(body)), _RESPONSES_BODY)
    call["ts"] = timestamps.parse(body.get("created_at"), "created_at")
    call["system_prompt"] = text_of(body.get("instructions"))
    texts: list[str] = []
    other: list[Any] = []
    for item in body.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            texts.extend(
                p["text"]
                for p in item.get("content") or []
                if isinstance(p, dict) and p.get("type") == "output_text"
            )
        elif not (isinstance(item, dict) and item.get("type") == "reasoning"):
            other.append(item)
    call["response"] = "".join(texts) or None
    if other:
        call["metadata"]["tool_calls"] = other
    if body.get("status") == "failed" or body.get("error"):
        call["status"] = "error"
    return call


def _embedding_call(body: dict[str, Any]) -> Call:
    """A call from an embeddings `list` object (Batch API lines for /v1/embeddings)."""
    usage_ = _usage(body)
    prompt = usage.count(usage_.get("prompt_tokens"), "prompt_tokens", default=None)
    buckets = usage.openai(prompt, 0, total_tokens=_total(usage_))
    return _body_call(body, buckets, _EMBEDDING_BODY)


_BODIES: dict[str, Callable[[dict[str, Any]], Call]] = {
    "chat.completion": _chat_call,
    "text_completion": _chat_call,
    "response": _responses_call,
    "list": _embedding_call,
}


def body_call(body: dict[str, Any]) -> Call:
    """A call from any OpenAI response object, chosen by its `object` field."""
    kind = body.get("object")
    parse = _BODIES.get(kind) if isinstance(kind, str) else None
    if parse is None:
        raise RecordError(f"unknown OpenAI response object {str(kind)[:40]!r}")
    return parse(body)


def _add_request(call: Call, request: dict[str, Any]) -> None:
    """Fill prompt, messages and system prompt (and a missing model or user) from a request."""
    messages = request.get("messages")
    given = request.get("input", request.get("prompt"))
    if messages is None and isinstance(given, str):
        messages = [{"role": "user", "content": given}]
    elif messages is None and isinstance(given, list):
        messages = given
    call["messages"] = messages
    call["prompt"] = last_user_turn(messages)
    instructions = text_of(request.get("instructions"))
    call["system_prompt"] = instructions or system_prompt(messages) or call["system_prompt"]
    call["model"] = call["model"] or text(request.get("model"))
    call["user_id"] = text(request.get("user")) or call["user_id"]


def _is_error(body: dict[str, Any]) -> bool:
    return body.get("error") is not None and "usage" not in body and body.get("type") != "error"


_WRAPPED = WrappedShape("openai", _is_error, body_call, _add_request, _REQUEST_FIELDS)


def _parse_bare_or_wrapped(record: dict[str, Any]) -> Call:
    if isinstance(record.get("object"), str):
        return body_call(record)
    return _WRAPPED.parse(record)


def _detect(record: dict[str, Any], objects: tuple[str, ...], request_key: str) -> bool:
    """Whether a record is a bare or wrapped response of these object kinds, or a wrapped error."""
    if record.get("object") in objects:
        return "usage" in record or "choices" in record or "output" in record
    response = wrapped_response(record)
    if response is None:
        return False
    if response.get("object") in objects:
        return True
    request = request_of(record)[0]
    return request_key in request and _is_error(response)


class OpenAIChat(LogFormat):
    name = "openai_chat"
    description = (
        "OpenAI chat.completion / text_completion objects, bare or as "
        "{request, response} records (+ timestamp, user, feature, latency_ms)"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return _detect(record, _CHAT_OBJECTS, "messages")

    def parse(self, record: dict[str, Any]) -> Call:
        return _parse_bare_or_wrapped(record)


class OpenAIResponses(LogFormat):
    name = "openai_responses"
    description = "OpenAI Responses API `response` objects, bare or as {request, response} records"

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return _detect(record, ("response",), "input")

    def parse(self, record: dict[str, Any]) -> Call:
        return _parse_bare_or_wrapped(record)


class OpenAIBatchOutput(LogFormat):
    name = "openai_batch_output"
    description = "OpenAI Batch API output lines {id, custom_id, response: {status_code, body}}"

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return "custom_id" in record and "response" in record and "body" not in record

    def parse(self, record: dict[str, Any]) -> Call:
        body, outer = envelope(record.get("response"))
        error = record.get("error")
        if error is not None or outer.get("status_code", 200) != 200 or _is_error(body):
            call = error_call("openai", text(body.get("model")), error or body.get("error"))
        else:
            call = body_call(body)
            if call["request_id"]:
                call["metadata"]["response_id"] = call["request_id"]
        call["metadata"].update(outer)
        call["metadata"].update(unmapped(record, frozenset({"id", "response", "error"})))
        call["request_id"] = text(record.get("id")) or call["request_id"]
        call["batch"] = True
        return call


class OpenAIBatchInput(LogFormat):
    name = "openai_batch_input"
    description = "OpenAI Batch API input lines {custom_id, method, url, body} (joined to outputs)"

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        return "custom_id" in record and isinstance(record.get("body"), dict) and "url" in record

    def parse(self, record: dict[str, Any]) -> Call:
        body: dict[str, Any] = record["body"]
        model = text(body.get("model"))
        if model is None:
            raise RecordError("missing model")
        call = blank_call("openai", model, usage.openai(0, 0))
        _add_request(call, body)
        call["batch"] = True
        call["metadata"] = unmapped(record, frozenset({"body"}))
        extra = unmapped(body, _REQUEST_FIELDS)
        if extra:
            call["metadata"]["body"] = extra
        return call
