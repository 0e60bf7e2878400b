"""Records an application logs around one provider call: {request, response} plus its own fields.

Shared by the OpenAI and Anthropic formats, whose wrapped records have the same outer shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from costlab import timestamps, usage
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats.chat import unmapped
from costlab.formats.values import logged_cost, number, text

# Keys that mark another format's record (LiteLLM payloads and spend logs carry `response` too).
_FOREIGN = frozenset({"call_type", "spend", "response_cost", "hidden_params", "startTime"})
# Fields an application adds around a request+response pair.
APP_FIELDS = frozenset(
    {"request", "response", "request_id", "timestamp", "user", "user_id", "feature", "team"}
    | {"latency_ms", "duration_ms", "cost", "cost_usd"}
)


def blank_call(provider: str, model: str | None, buckets: usage.Buckets) -> Call:
    """A call with nothing but provider, model and token buckets filled in."""
    return Call(
        request_id=None,
        ts=None,
        provider=provider,
        model=model,
        feature=None,
        user_id=None,
        team=None,
        **buckets,
        batch=False,
        logged_cost_usd=None,
        latency_ms=None,
        status="ok",
        system_prompt=None,
        prompt=None,
        messages=None,
        response=None,
        metadata={},
    )


def envelope(response: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body inside an HTTP envelope ({status_code, body}) and the envelope's other fields."""
    if not isinstance(response, dict):
        return {}, {}
    body = response.get("body")
    if isinstance(body, dict) and "object" not in response and "type" not in response:
        return body, {k: v for k, v in response.items() if k != "body"}
    return response, {}


def wrapped_response(record: dict[str, Any]) -> dict[str, Any] | None:
    """The response of a request+response record, or None when the record is another shape."""
    if _FOREIGN.intersection(record):
        return None
    response = record.get("response")
    return envelope(response)[0] if isinstance(response, dict) else None


def request_of(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The request of a request+response record, and whether it sits in its own `request` key."""
    request = record.get("request")
    if not isinstance(request, dict):
        return record, False
    body = request.get("body")
    if isinstance(body, dict) and "model" not in request:
        return body, True
    return request, True


def add_app_fields(call: Call, record: dict[str, Any]) -> None:
    """Fill the fields an application logs around a call: time, user, feature, latency, cost."""
    meta = record.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    request_id = text(record.get("request_id"))
    if request_id:
        if call["request_id"] and call["request_id"] != request_id:
            call["metadata"]["response_id"] = call["request_id"]
        call["request_id"] = request_id
    call["ts"] = timestamps.parse(record.get("timestamp")) or call["ts"]
    user = record.get("user_id") or record.get("user") or meta.get("user_id")
    call["user_id"] = text(user) or call["user_id"]
    call["feature"] = text(record.get("feature") or meta.get("feature"))
    call["team"] = text(record.get("team") or meta.get("team"))
    latency = record.get("latency_ms")
    if latency is None:
        latency = record.get("duration_ms")
    call["latency_ms"] = number(latency, "latency_ms")
    cost = record.get("cost_usd")
    call["logged_cost_usd"] = logged_cost(record.get("cost") if cost is None else cost)


def error_call(provider: str, model: str | None, error: Any) -> Call:
    """A failed call: no tokens, status error, the logged error kept as metadata."""
    zero = usage.openai(0, 0) if provider == "openai" else usage.anthropic(0, 0)
    call = blank_call(provider, model, zero)
    call["status"] = "error"
    if error is not None:
        call["metadata"]["error"] = error
    return call


@dataclass(frozen=True)
class WrappedShape:
    """How one provider's {request, response} records read: the parts that differ."""

    provider: str
    is_error: Callable[[dict[str, Any]], bool]
    body_call: Callable[[dict[str, Any]], Call]
    add_request: Callable[[Call, dict[str, Any]], None]
    request_fields: frozenset[str]

    def parse(self, record: dict[str, Any]) -> Call:
        """A call from a request+response record (an application's own log line)."""
        body, outer = envelope(record.get("response"))
        request, nested = request_of(record)
        if self.is_error(body) or outer.get("status_code", 200) != 200:
            model = text(request.get("model"))
            call = error_call(self.provider, model, body.get("error") or body)
        else:
            call = self.body_call(body)
            call["metadata"] = {"response": call["metadata"]} if call["metadata"] else {}
        call["metadata"].update(outer)
        self.add_request(call, request)
        if call["model"] is None:
            raise RecordError("missing model")
        if nested:
            call["metadata"].update(unmapped(record, APP_FIELDS))
            extra = unmapped(request, self.request_fields)
            if extra:
                call["metadata"]["request"] = extra
        else:
            call["metadata"].update(unmapped(record, APP_FIELDS | self.request_fields))
        add_app_fields(call, record)
        return call
