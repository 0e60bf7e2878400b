"""Amazon Bedrock model invocation logs (delivered to CloudWatch Logs or S3), and their exports.

A log is one invocation: `schemaType: "ModelInvocationLog"`, `operation` Converse, ConverseStream,
InvokeModel or InvokeModelWithResponseStream. Tokens are the log's own counts, as Bedrock bills
them: `input.inputTokenCount` is the uncached input; `input.cacheReadInputTokenCount` and
`input.cacheWriteInputTokenCount` come on top of it (a write is taken as a 5-minute write: the log
has no TTL); `output.outputTokenCount` is the output. A Converse `usage.totalTokens` is checked.

The model: a foundation-model or inference-profile ARN becomes its id (a cross-region profile like
`us.anthropic.claude-…` keeps its prefix: the catalogue prices it, or its base id); an application
inference-profile, provisioned or custom-model ARN is kept as logged and stays unpriced unless a
config price names it or `--map model=PATH` says where the model is.

The user is the role session (or IAM user) name of `identity.arn`; `requestMetadata` tags `feature`,
`team` and `user_id` (or `user`) fill those fields, and every tag stays in metadata. Prompt, system
prompt and response text come from the Converse, Anthropic, Titan, Llama, Mistral and Cohere body
shapes; a body delivered to S3 (`inputBodyS3Path` / `outputBodyS3Path`) is counted from the log's
token counts, its path kept, its text never guessed.

CloudWatch Logs exports are read too: an event whose `message` (or `@message`) holds the log as JSON
text, and a subscription payload's `logEvents` list: one record, one call per event (`parse_all`;
a bad event rejects the record, naming its index).
"""

from __future__ import annotations

import json
import re
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import LogFormat
from costlab.formats.chat import last_user_turn, text_of, unmapped
from costlab.formats.values import number, text
from costlab.formats.wrapped import blank_call

SCHEMA = "ModelInvocationLog"
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[\w-]*:\d*:(?:foundation-model|inference-profile)/(.+)$")
_LOG_MAPPED = frozenset(
    {"schemaType", "timestamp", "requestId", "modelId", "input", "output", "errorCode"}
)
_INPUT_MAPPED = frozenset(
    {"inputBodyJson", "inputTokenCount", "cacheReadInputTokenCount", "cacheWriteInputTokenCount"}
)
_OUTPUT_MAPPED = frozenset({"outputBodyJson", "outputTokenCount"})
_PROMPT_KEYS = ("inputText", "prompt", "message")  # Titan, Llama / Mistral / Claude 2, Cohere
_REQUEST_MAPPED = frozenset({"messages", "system", "preamble", *_PROMPT_KEYS})
# Response text by body shape: Titan, Llama, Cohere, Claude 2 text completions.
_RESPONSE_KEYS = ("outputText", "generation", "text", "completion")
_STREAM_METRICS = "amazon-bedrock-invocationMetrics"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_text(body: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _model(model_id: str) -> str:
    """The model id inside a foundation-model or inference-profile ARN; anything else as logged."""
    match = _ARN.match(model_id)
    return match[1] if match else model_id


def _principal(arn: str) -> tuple[str, str | None]:
    """The user (role session or IAM user name) of an identity ARN, and the role assumed."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role" and "/" in rest:
        role, session = rest.split("/", 1)
        return session, role
    if kind == "user" and rest:
        return rest.rsplit("/", 1)[-1], None
    return arn, None


def _response_text(body: Any) -> str | None:
    """The generated text of an output body of any supported shape, or of its stream chunks."""
    if isinstance(body, list):
        texts = [_response_text(chunk) for chunk in body]
        return "".join(t for t in texts if t) or None
    if not isinstance(body, dict):
        return None
    message = _dict(_dict(body.get("output")).get("message"))  # Converse, Nova
    delta = _dict(body.get("delta"))  # Anthropic stream events
    listed = body.get("results") or body.get("generations") or body.get("outputs")
    first = _dict(listed[0]) if isinstance(listed, list) and listed else {}
    choices = body.get("choices")
    choice = _dict(choices[0]) if isinstance(choices, list) and choices else {}
    return (
        text_of(message.get("content"))
        or (text_of(body["content"]) if isinstance(body.get("content"), list) else None)
        or (delta.get("text") if isinstance(delta.get("text"), str) else None)
        or _first_text(body, _RESPONSE_KEYS)
        or _first_text(first, _RESPONSE_KEYS)
        or text_of(_dict(choice.get("message")).get("content"))
    )


def _latency_ms(body: Any) -> float | None:
    if isinstance(body, list):
        metrics: Any = next((c[_STREAM_METRICS] for c in body if _STREAM_METRICS in _dict(c)), {})
        return number(_dict(metrics).get("invocationLatency"), "invocationLatency")
    return number(_dict(_dict(body).get("metrics")).get("latencyMs"), "metrics.latencyMs")


def _total(body: Any) -> int | None:
    total = _dict(_dict(body).get("usage")).get("totalTokens")
    return None if total is None else usage.count(total, "usage.totalTokens")


def _buckets(log: dict[str, Any], failed: bool) -> usage.Buckets:
    given, made = _dict(log.get("input")), _dict(log.get("output"))
    required = 0 if failed else None
    return usage.anthropic(
        usage.count(given.get("inputTokenCount"), "input.inputTokenCount", default=required),
        usage.count(made.get("outputTokenCount"), "output.outputTokenCount"),
        cache_read_tokens=usage.count(
            given.get("cacheReadInputTokenCount"), "input.cacheReadInputTokenCount"
        ),
        cache_creation_tokens=usage.count(
            given.get("cacheWriteInputTokenCount"), "input.cacheWriteInputTokenCount"
        ),
        total_tokens=_total(made.get("outputBodyJson")),
    )


def _add_request(call: Call, body: dict[str, Any]) -> None:
    messages = body.get("messages")
    call["messages"] = messages if isinstance(messages, list) else None
    call["prompt"] = last_user_turn(messages) or _first_text(body, _PROMPT_KEYS)
    call["system_prompt"] = text_of(body.get("system")) or text(body.get("preamble"))
    extra = unmapped(body, _REQUEST_MAPPED)
    if extra:
        call["metadata"]["request"] = extra


def _add_response(call: Call, body: Any) -> None:
    call["response"] = _response_text(body)
    call["latency_ms"] = _latency_ms(body)
    if isinstance(body, list):
        call["metadata"]["stream_chunks"] = len(body)
    elif isinstance(body, dict):
        extra = unmapped(body, frozenset({"output", "content", "results", "generations"}))
        extra = {k: v for k, v in extra.items() if k not in _RESPONSE_KEYS}
        if extra:
            call["metadata"]["response"] = extra


def _add_tags(call: Call, log: dict[str, Any]) -> None:
    """User from `identity.arn`; feature, team and user from `requestMetadata` tags."""
    arn = text(_dict(log.get("identity")).get("arn"))
    if arn:
        call["user_id"], role = _principal(arn)
        if role:
            call["metadata"]["role"] = role
    tags = _dict(log.get("requestMetadata"))
    call["feature"] = text(tags.get("feature"))
    call["team"] = text(tags.get("team"))
    call["user_id"] = text(tags.get("user_id") or tags.get("user")) or call["user_id"]


def invocation_call(log: dict[str, Any]) -> Call:
    """A call from one model invocation log."""
    logged = text(log.get("modelId"))
    if logged is None:
        raise RecordError("missing modelId")
    failed = log.get("errorCode") is not None
    call = blank_call("bedrock", _model(logged), _buckets(log, failed))
    call["request_id"] = text(log.get("requestId"))
    call["ts"] = timestamps.parse(log.get("timestamp"))
    call["metadata"] = unmapped(log, _LOG_MAPPED)
    if call["model"] != logged:
        call["metadata"]["model_arn"] = logged
    if failed:
        call["status"] = "error"
        call["metadata"]["error"] = log["errorCode"]
    given, made = _dict(log.get("input")), _dict(log.get("output"))
    for key, part, mapped in (("input", given, _INPUT_MAPPED), ("output", made, _OUTPUT_MAPPED)):
        if unmapped(part, mapped):
            call["metadata"][key] = unmapped(part, mapped)
    _add_request(call, _dict(given.get("inputBodyJson")))
    _add_response(call, made.get("outputBodyJson"))
    _add_tags(call, log)
    return call


def _event_log(event: dict[str, Any]) -> dict[str, Any]:
    """The invocation log inside one CloudWatch Logs event (`message` JSON text or object)."""
    message = event.get("message", event.get("@message"))
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            raise RecordError("CloudWatch event 'message' is not JSON") from None
    if not isinstance(message, dict) or message.get("schemaType") != SCHEMA:
        raise RecordError(f"CloudWatch event 'message' is not a Bedrock {SCHEMA}")
    return message


def _event_call(envelope: dict[str, Any]) -> Call:
    """The call of one CloudWatch event; the event's other fields kept as metadata."""
    call = invocation_call(_event_log(envelope))
    call["metadata"]["cloudwatch"] = unmapped(envelope, frozenset({"message", "@message"}))
    return call


def _holds_log(event: Any) -> bool:
    message = _dict(event).get("message", _dict(event).get("@message"))
    if isinstance(message, str):
        return f'"{SCHEMA}"' in message
    return _dict(message).get("schemaType") == SCHEMA


class BedrockInvocationLog(LogFormat):
    name = "bedrock_invocation_log"
    description = (
        "Amazon Bedrock model invocation logs (Converse, ConverseStream, InvokeModel, "
        "InvokeModelWithResponseStream), bare or as CloudWatch Logs events"
    )

    @staticmethod
    def detect(record: dict[str, Any]) -> bool:
        if record.get("schemaType") == SCHEMA:
            return True
        events = record.get("logEvents")
        if isinstance(events, list):
            return bool(events) and _holds_log(events[0])
        return _holds_log(record)

    def parse(self, record: dict[str, Any]) -> Call:
        calls = self.parse_all(record)
        if len(calls) != 1:
            raise RecordError(f"a logEvents list of {len(calls)} events, not one call")
        return calls[0]

    def parse_all(self, record: dict[str, Any]) -> list[Call]:
        """One call per log: a bare log, one CloudWatch event, or each of a payload's logEvents."""
        if record.get("schemaType") == SCHEMA:
            return [invocation_call(record)]
        events = record.get("logEvents")
        if not isinstance(events, list):
            return [_event_call(record)]
        shared = unmapped(record, frozenset({"logEvents"}))
        calls = []
        for index, event in enumerate(events):
            try:
                calls.append(_event_call({**shared, **_dict(event)}))
            except RecordError as err:
                raise RecordError(f"logEvents[{index}]: {err}") from None
        return calls
