"""Google Gemini logs: `generateContent` responses from AI Studio and Vertex AI.

Shapes read: a bare `GenerateContentResponse`; a {request, response} record, whose response may be
the list of chunks a `streamGenerateContent` call returned; batch output lines, priced at batch
rates: Vertex AI batch prediction {request, response, status, processed_time}, Gemini API batch
{key, response | error}. Keys are read in REST camelCase
or SDK snake_case, enums as names or as numbers (`enum-encoding=int`): metadata holds the names.

Tokens as Google bills them (`UsageMetadata`):
- `promptTokenCount` is the whole prompt; `cachedContentTokenCount` is a part of it (cached input);
- `toolUsePromptTokenCount` (built-in tool results fed back to the model) is input on top of it;
- `candidatesTokenCount` excludes thinking; `thoughtsTokenCount` is billed as output, so output is
  candidates + thoughts, and the thoughts are also stored as reasoning;
- `totalTokenCount` is the sum of the four, and is checked.
A streamed response's usage is the last chunk's with a prompt count (chunk usage is cumulative).
Modality breakdowns (`*TokensDetails`) and `trafficType` are kept as metadata `usage`.

The model is `vertex_ai/<modelVersion>` for a Vertex AI response (a `createTime` or `trafficType`,
a `projects/...` model path, a batch prediction line), else `gemini/<modelVersion>`: each platform
resolves to its own catalogue prices.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import text_of, unmapped
from costlab.formats.values import text
from costlab.formats.wrapped import (
    APP_FIELDS,
    add_app_fields,
    blank_call,
    error_call,
    request_of,
    wrapped_response,
)

# Enum numbers of the Gemini / Vertex AI protos, for logs written with `enum-encoding=int`.
_ENUMS: dict[str, tuple[str, ...]] = {
    "finishReason": (
        "FINISH_REASON_UNSPECIFIED", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER",
        "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY",
    ),
    "modality": ("MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT"),
    "blockReason": (
        "BLOCKED_REASON_UNSPECIFIED", "SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT",
        "IMAGE_SAFETY",
    ),
    "trafficType": ("TRAFFIC_TYPE_UNSPECIFIED", "ON_DEMAND", "PROVISIONED_THROUGHPUT"),
}  # fmt: skip
_COUNTS = (
    "promptTokenCount",
    "cachedContentTokenCount",
    "toolUsePromptTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "totalTokenCount",
)
_RESPONSE_KEYS = ("candidates", "usageMetadata", "modelVersion", "createTime", "responseId")
_REQUEST_KEYS = ("model", "contents", "systemInstruction")
_BATCH_KEYS = frozenset({"request", "response", "status", "processed_time", "processedTime"})
_STUDIO_BATCH_KEYS = frozenset({"key", "response", "error"})


@cache
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _get(obj: dict[str, Any], key: str) -> Any:
    """A field by its camelCase name, or by its snake_case name (SDK `to_dict` / `model_dump`)."""
    value = obj.get(key)
    return obj.get(_snake(key)) if value is None else value


def _spellings(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(keys) | {_snake(k) for k in keys}


def _named(value: Any) -> Any:
    """Enum fields by name, whether logged as names or numbers, inside any dict or list."""
    if isinstance(value, list):
        return [_named(v) for v in value]
    if not isinstance(value, dict):
        return value
    named: dict[str, Any] = {}
    for key, inner in value.items():
        names = _ENUMS.get(key) or _ENUMS.get(re.sub(r"_(\w)", lambda m: m[1].upper(), key))
        if names and isinstance(inner, int) and 0 <= inner < len(names):
            named[key] = names[inner]
        else:
            named[key] = _named(inner)
    return named


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def buckets(meta: dict[str, Any]) -> usage.Buckets:
    """Buckets from `usageMetadata`, with the semantics in the module docstring."""
    prompt = usage.count(_get(meta, "promptTokenCount"), "promptTokenCount", default=None)
    tool_use = usage.count(_get(meta, "toolUsePromptTokenCount"), "toolUsePromptTokenCount")
    candidates = usage.count(_get(meta, "candidatesTokenCount"), "candidatesTokenCount")
    thoughts = usage.count(_get(meta, "thoughtsTokenCount"), "thoughtsTokenCount")
    total = _get(meta, "totalTokenCount")
    return usage.openai(
        prompt + tool_use,
        candidates + thoughts,
        cached_tokens=usage.count(_get(meta, "cachedContentTokenCount"), "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
        total_tokens=None if total is None else usage.count(total, "totalTokenCount"),
    )


def _is_vertex(response: dict[str, Any]) -> bool:
    meta = _dict(_get(response, "usageMetadata"))
    return _get(response, "createTime") is not None or _get(meta, "trafficType") is not None


def _model_name(value: Any) -> str | None:
    """`gemini-2.5-flash` from a model version or a `models/...` or `projects/...` path."""
    name = text(value)
    return name.rsplit("/", 1)[-1] if name else None


def _candidate_parts(response: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    candidates = _get(response, "candidates")
    first = _dict(candidates[0]) if isinstance(candidates, list) and candidates else {}
    parts = _dict(_get(first, "content")).get("parts")
    return first, parts if isinstance(parts, list) else []


def response_call(response: dict[str, Any], vertex: bool = False) -> Call:
    """A call from one `GenerateContentResponse` (vertex: known to come from Vertex AI)."""
    meta = _get(response, "usageMetadata")
    if not isinstance(meta, dict):
        raise RecordError("missing usageMetadata")
    vertex = vertex or _is_vertex(response)
    model = _model_name(_get(response, "modelVersion"))
    platform = "vertex_ai" if vertex else "gemini"
    call = blank_call(platform, f"{platform}/{model}" if model else None, buckets(meta))
    call["request_id"] = text(_get(response, "responseId"))
    call["ts"] = timestamps.parse(_get(response, "createTime"), "createTime")
    call["metadata"] = _named(unmapped(response, _spellings(_RESPONSE_KEYS)))
    extras = {k: v for k, v in meta.items() if k not in _spellings(_COUNTS)}
    if extras:
        call["metadata"]["usage"] = _named(extras)
    first, parts = _candidate_parts(response)
    texts = [p.get("text") for p in parts if isinstance(p, dict) and not p.get("thought")]
    call["response"] = "".join(t for t in texts if isinstance(t, str)) or None
    calls = [_get(p, "functionCall") for p in parts if isinstance(p, dict)]
    if any(calls):
        call["metadata"]["function_calls"] = [c for c in calls if c]
    reason = _get(first, "finishReason")
    if reason is not None:
        call["metadata"]["finish_reason"] = _named({"finishReason": reason})["finishReason"]
    candidates = _get(response, "candidates")
    if isinstance(candidates, list) and len(candidates) > 1:
        call["metadata"]["candidates"] = len(candidates)
    return call


def merge_chunks(chunks: list[Any]) -> dict[str, Any]:
    """One response from the chunks of a stream: parts joined, the last usage with counts."""
    merged: dict[str, Any] = {}
    parts: list[Any] = []
    reason: Any = None
    for chunk in chunks:
        if not isinstance(chunk, dict):
            raise RecordError(f"stream chunk is a JSON {type(chunk).__name__}, not an object")
        first, chunk_parts = _candidate_parts(chunk)
        parts.extend(chunk_parts)
        reason = _get(first, "finishReason") or reason
        meta = _dict(_get(chunk, "usageMetadata"))
        if _get(meta, "promptTokenCount") is not None or "usageMetadata" not in merged:
            merged["usageMetadata"] = meta or merged.get("usageMetadata")
        for key in ("modelVersion", "createTime", "responseId"):
            merged[key] = merged.get(key) or _get(chunk, key)
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if reason is not None:
        candidate["finishReason"] = reason
    merged["candidates"] = [candidate]
    return {k: v for k, v in merged.items() if v is not None}


def _last_user_text(contents: Any) -> str | None:
    """The text of the last user turn of `contents` (a string, one content, or a list of them)."""
    if isinstance(contents, str):
        return contents
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        return None
    for content in reversed(contents):
        if isinstance(content, str):
            return content
        if isinstance(content, dict) and content.get("role", "user") == "user":
            found = text_of(content.get("parts"))
            if found:
                return found
    return None


def _system_text(request: dict[str, Any]) -> str | None:
    config = _dict(_get(request, "config")) or _dict(_get(request, "generationConfig"))
    instruction = _get(request, "systemInstruction") or _get(config, "systemInstruction")
    if isinstance(instruction, dict):
        return text_of(instruction.get("parts"))
    return text_of(instruction)


def _add_request(call: Call, request: dict[str, Any]) -> None:
    """Prompt, messages (`contents`) and system prompt from a generateContent request."""
    contents = _get(request, "contents")
    call["messages"] = contents if isinstance(contents, list) else None
    call["prompt"] = _last_user_text(contents)
    call["system_prompt"] = _system_text(request)
    requested = _model_name(_get(request, "model"))
    if call["model"] is None and requested:
        call["model"] = f"{call['provider']}/{requested}"


def _request_vertex(request: dict[str, Any]) -> bool:
    return str(_get(request, "model") or "").startswith("projects/")


def _wrapped(record: dict[str, Any], batch: bool = False, vertex: bool = False) -> Call:
    """A call from a record that holds a response (or its chunks, or an error) and its request."""
    request, nested = request_of(record)
    vertex = vertex or _request_vertex(request)
    raw = record.get("response")
    response = merge_chunks(raw) if isinstance(raw, list) else wrapped_response(record) or {}
    if response.get("error") is not None and _get(response, "usageMetadata") is None:
        call = error_call("vertex_ai" if vertex else "gemini", None, response["error"])
    else:
        call = response_call(response, vertex)
        call["metadata"] = {"response": call["metadata"]} if call["metadata"] else {}
        if isinstance(raw, list):
            call["metadata"]["stream_chunks"] = len(raw)
    _add_request(call, request)
    if call["model"] is None:
        raise RecordError("missing model: no modelVersion in the response, no request model")
    extra = unmapped(request, _spellings(_REQUEST_KEYS))
    if nested and extra:
        call["metadata"]["request"] = extra
    mapped = APP_FIELDS if nested else APP_FIELDS | _spellings(_REQUEST_KEYS) | {"tools"}
    call["metadata"].update(unmapped(record, mapped | (_BATCH_KEYS if batch else set())))
    return call


def _gemini_response(value: Any) -> bool:
    if isinstance(value, list):
        return (
            bool(value) and all(isinstance(v, dict) for v in value) and _gemini_response(value[0])
        )
    if not isinstance(value, dict):
        return False
    return _get(value, "usageMetadata") is not None or _get(value, "candidates") is not None


class GeminiResponse(LogFormat):
    name = "gemini_response"
    description = (
        "Gemini generateContent responses (AI Studio, Vertex AI; camelCase or snake_case), bare or "
        "as {request, response} records; a list of stream chunks as the response"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        if GeminiBatchPrediction.detect(record):
            return False
        if _gemini_response(record):
            return _get(record, "usageMetadata") is not None or "modelVersion" in record
        response = record.get("response")
        if isinstance(response, list):
            return _gemini_response(response)
        body = wrapped_response(record)
        if body is None:
            return False
        if _gemini_response(body):
            return True
        return "error" in body and _get(request_of(record)[0], "contents") is not None

    def parse(self, record: dict[str, Any]) -> Call:
        if "response" not in record and _gemini_response(record):
            call = response_call(record)
            if call["model"] is None:
                raise RecordError("missing model: no modelVersion")
            return call
        call = _wrapped(record)
        add_app_fields(call, record)
        return call


class GeminiBatchPrediction(LogFormat):
    name = "gemini_batch_prediction"
    description = (
        "Vertex AI batch prediction output lines {request, response, status, processed_time}; "
        "Gemini API batch output lines {key, response | error}"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        if "processed_time" in record or "processedTime" in record:
            return isinstance(record.get("request"), dict)
        if "key" not in record or not set(record) <= _STUDIO_BATCH_KEYS:
            return False
        return "error" in record or _gemini_response(record.get("response"))

    def parse(self, record: dict[str, Any]) -> Call:
        vertex = "key" not in record
        failure = text(record.get("status")) or record.get("error")
        if failure or record.get("response") is None:
            call = _failed_line(record, failure, vertex)
        else:
            call = _wrapped(record, batch=True, vertex=vertex)
        call["ts"] = timestamps.parse(_get(record, "processedTime"), "processed_time") or call["ts"]
        call["batch"] = True
        return call


def _failed_line(record: dict[str, Any], failure: Any, vertex: bool) -> Call:
    """An error call from a failed batch line; its model can only come from its request."""
    request = _dict(record.get("request"))
    model = _model_name(_get(request, "model"))
    if model is None:
        reason = str(failure or "no response")[:80]
        raise RecordError(f"failed batch prediction line ({reason}) names no model")
    platform = "vertex_ai" if vertex else "gemini"
    call = error_call(platform, f"{platform}/{model}", failure)
    _add_request(call, request)
    call["metadata"].update(unmapped(record, _BATCH_KEYS | {"error"}))
    return call
