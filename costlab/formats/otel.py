"""OpenTelemetry GenAI spans exported as JSON: one OTLP-JSON span, or a console-exporter span.

Attribute names (current semconv first, then the older and OpenLLMetry spellings) were checked
against open-telemetry/semantic-conventions (model/gen-ai) and traceloop/openllmetry
(`SpanAttributes` in opentelemetry-semantic-conventions-ai).

Usage rule: the semconv says `gen_ai.usage.input_tokens` "SHOULD include all types of input
tokens, including cached tokens", and that `gen_ai.usage.cache_read.input_tokens` and
`gen_ai.usage.cache_creation.input_tokens` "SHOULD be included in gen_ai.usage.input_tokens".
So for every provider uncached = input - cache read - cache write: OpenAI spans go through
`usage.openai` (cached is a subset), Anthropic spans (or any span with cache writes) through
the same inclusive rule as LiteLLM. An instrumentation that reports Anthropic's raw, exclusive
`input_tokens` shows up as `cached_gt_input` when its cache exceeds the input.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, system_prompt, text_of, unmapped
from costlab.formats.values import text

_PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
_INPUT = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.usage.prompt_tokens",
    "llm.usage.input_tokens",
)
_OUTPUT = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.usage.completion_tokens",
    "llm.usage.output_tokens",
)
_TOTAL = ("llm.usage.total_tokens", "gen_ai.usage.total_tokens")
_CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.usage.cache_read_input_tokens",
    "gen_ai.usage.input_tokens.cached",
)
_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.usage.cache_creation_input_tokens",
    "gen_ai.usage.input_tokens.cache_write",
)
_REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.output_tokens.reasoning",
)
_MODEL = ("gen_ai.response.model", "gen_ai.request.model")
_MAPPED_ATTRS = frozenset(
    {
        *_PROVIDER,
        *_INPUT,
        *_OUTPUT,
        *_TOTAL,
        *_CACHE_READ,
        *_CACHE_WRITE,
        *_REASONING,
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.input.messages",
        "gen_ai.system_instructions",
    }
)
_LEGACY_PROMPT = re.compile(r"^gen_ai\.prompt\.(\d+)\.(role|content)$")
_SPAN_KEYS = ("traceId", "trace_id", "spanId", "span_id", "context")
_TIME_KEYS = ("startTimeUnixNano", "endTimeUnixNano", "start_time", "end_time")


def _any_value(value: Any) -> Any:
    """A plain value from an OTLP AnyValue ({"stringValue": ...}, {"intValue": "42"}, ...)."""
    if not isinstance(value, dict):
        return value
    if "intValue" in value:
        raw = value["intValue"]
        return int(raw) if isinstance(raw, str) and raw.lstrip("-").isdigit() else raw
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return _attributes((value["kvlistValue"] or {}).get("values", []))
    for key in ("stringValue", "doubleValue", "boolValue", "bytesValue"):
        if key in value:
            return value[key]
    return None


def _attributes(raw: Any) -> dict[str, Any]:
    """Span attributes as a flat dict, from a dict or the OTLP list of {key, value}."""
    if isinstance(raw, dict):
        return dict(raw)
    if not isinstance(raw, list):
        raise RecordError(f"attributes is {type(raw).__name__}, not an object or a list")
    attrs: dict[str, Any] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise RecordError("attributes entry has no 'key'")
        attrs[entry["key"]] = _any_value(entry.get("value"))
    return attrs


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


def _tokens(attrs: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    """A token attribute; digit strings are accepted (some exporters write ints as text)."""
    value = _first(attrs, keys)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return None if value is None else usage.count(value, keys[0])


def _buckets(attrs: dict[str, Any], provider: str | None) -> usage.Buckets:
    """Token buckets under the semconv rule (cache reads and writes are inside input)."""
    prompt = _tokens(attrs, _INPUT) or 0
    completion = _tokens(attrs, _OUTPUT) or 0
    read = _tokens(attrs, _CACHE_READ) or 0
    write = _tokens(attrs, _CACHE_WRITE) or 0
    reasoning = _tokens(attrs, _REASONING) or 0
    total = _tokens(attrs, _TOTAL)
    if write or "anthropic" in (provider or "").lower():
        return usage.inclusive(
            prompt, completion, cache_read=read, cache_write=write, reasoning=reasoning, total=total
        )
    return usage.openai(
        prompt, completion, cached_tokens=read, reasoning_tokens=reasoning, total_tokens=total
    )


def _structured(value: Any) -> Any:
    """A structured attribute that may have been recorded as a JSON string."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _legacy_prompts(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Messages from the indexed gen_ai.prompt.N.role / .content attributes (OpenLLMetry)."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = _LEGACY_PROMPT.match(key)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [found[i] for i in sorted(found)] or None


def _as_chat(messages: Any) -> Any:
    """Semconv messages ({role, parts}) in the {role, content} shape the chat helpers read."""
    if not isinstance(messages, list):
        return messages
    return [
        {**m, "content": m["parts"]} if isinstance(m, dict) and "parts" in m else m
        for m in messages
    ]


def _response(attrs: dict[str, Any]) -> str | None:
    """The first output choice's text (gen_ai.output.messages, else gen_ai.completion.0)."""
    output = _structured(attrs.get("gen_ai.output.messages"))
    if isinstance(output, list) and output and isinstance(output[0], dict):
        first = output[0]
        return text_of(first.get("parts", first.get("content")))
    return text(attrs.get("gen_ai.completion.0.content"))


def _span_field(record: dict[str, Any], camel: str, snake: str) -> Any:
    context = record.get("context")
    nested = context.get(snake) if isinstance(context, dict) else None
    return record.get(camel) or record.get(snake) or nested


def _times(record: dict[str, Any]) -> tuple[datetime | None, float | None]:
    """Start (UTC) and duration in ms, from OTLP nanoseconds or console ISO times."""
    start_raw = record.get("startTimeUnixNano") or record.get("start_time")
    end_raw = record.get("endTimeUnixNano") or record.get("end_time")
    start = timestamps.parse(start_raw, "startTimeUnixNano")
    end = timestamps.parse(end_raw, "endTimeUnixNano")
    nanos = [str(v) for v in (start_raw, end_raw)]
    if all(v.isdigit() for v in nanos):
        return start, (int(nanos[1]) - int(nanos[0])) / 1e6
    if start is None or end is None:
        return start, None
    return start, (end - start).total_seconds() * 1000


def _status(record: dict[str, Any], attrs: dict[str, Any]) -> str:
    status = record.get("status")
    code = status.get("code", status.get("status_code")) if isinstance(status, dict) else None
    if code in (2, "STATUS_CODE_ERROR", "ERROR") or attrs.get("error.type") is not None:
        return "error"
    return "ok"


class OTelSpan(LogFormat):
    name = "otel_span"
    description = (
        "OpenTelemetry GenAI spans as JSON (OTLP span or console exporter): name, traceId, "
        "spanId, start/end time, gen_ai.* / llm.* attributes"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        if "attributes" not in record:
            return False
        return any(k in record for k in _SPAN_KEYS) or any(k in record for k in _TIME_KEYS)

    def parse(self, record: dict[str, Any]) -> Call:
        attrs = _attributes(record.get("attributes"))
        if not any(k.startswith(("gen_ai.", "llm.")) for k in attrs):
            name = str(record.get("name"))[:60]
            raise RecordError(f"span {name!r} is not a GenAI span: no gen_ai.* or llm.* attributes")
        model = _first(attrs, _MODEL)
        if not isinstance(model, str) or not model:
            raise RecordError("missing model: no gen_ai.response.model or gen_ai.request.model")
        provider = text(_first(attrs, _PROVIDER))
        messages = _structured(attrs.get("gen_ai.input.messages")) or _legacy_prompts(attrs)
        chat = _as_chat(messages)
        system = text_of(_structured(attrs.get("gen_ai.system_instructions")))
        ts, latency = _times(record)
        span_id = text(_span_field(record, "spanId", "span_id"))
        return Call(
            request_id=text(attrs.get("gen_ai.response.id")) or span_id,
            ts=ts,
            provider=provider,
            model=model,
            feature=None,
            user_id=text(_first(attrs, ("user.id", "enduser.id", "gen_ai.user", "llm.user"))),
            team=None,
            **_buckets(attrs, provider),
            batch=False,
            logged_cost_usd=None,
            latency_ms=latency,
            status=_status(record, attrs),
            system_prompt=system or system_prompt(chat),
            prompt=last_user_turn(chat),
            messages=messages if isinstance(messages, list) else None,
            response=_response(attrs),
            metadata=_kept(record, attrs),
        )


def _kept(record: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """Span fields and attributes that the call does not carry."""
    kept = unmapped(record, frozenset({"attributes", *_TIME_KEYS}))
    kept["attributes"] = {
        k: v for k, v in attrs.items() if k not in _MAPPED_ATTRS and not _LEGACY_PROMPT.match(k)
    }
    return kept
