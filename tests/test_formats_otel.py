"""OpenTelemetry GenAI spans: OTLP-JSON and console-exporter shapes, current and legacy names."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from costlab import usage
from costlab.errors import RecordError
from costlab.formats import Detector
from costlab.formats.otel import OTelSpan
from tests.conftest import OTHER_FORMATS

DATA = Path(__file__).parent / "data" / "otel"


def spans(name: str = "openai_spans.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def test_chat_span_from_a_real_response() -> None:
    call = OTelSpan().parse(spans()[0])
    assert call["request_id"] == "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q"
    assert call["ts"] == datetime(2024, 11, 11, 23, 43, 50)
    assert call["latency_ms"] == 287.0
    assert call["provider"] == "openai"
    assert call["model"] == "gpt-4o-mini-2024-07-18"
    assert call["uncached_input_tokens"] == 12
    assert call["cached_input_tokens"] == 0
    assert call["output_tokens"] == 5
    assert call["total_tokens_logged"] is None
    assert call["flags"] == []
    assert call["logged_cost_usd"] is None
    assert call["status"] == "ok"
    assert call["prompt"] is None  # content was not captured on this span
    meta = call["metadata"]
    assert meta["traceId"] == "5b8aa5a2d2c872e8321cf37308d69df2"
    assert meta["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert meta["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert "gen_ai.usage.input_tokens" not in meta["attributes"]


def test_console_span_with_reasoning_and_messages() -> None:
    call = OTelSpan().parse(spans()[1])
    assert call["request_id"] == "resp_05177a4994c7df3a0069e2f402f00881a1b9eda520cb779fef"
    assert call["ts"] == datetime(2026, 4, 18, 3, 1, 22)
    assert call["latency_ms"] == 6000.0
    assert call["model"] == "gpt-5.4-2026-03-05"
    assert call["uncached_input_tokens"] == 44
    assert call["cached_input_tokens"] == 0
    assert call["output_tokens"] == 288
    assert call["reasoning_tokens"] == 9
    assert call["flags"] == []
    assert call["prompt"] is not None and call["prompt"].startswith("\nWrite a bash script")
    assert call["response"] is not None and call["response"].startswith("```bash")
    assert call["messages"][0]["role"] == "user"
    assert call["metadata"]["context"]["span_id"] == "0x7a1b2c3d4e5f6071"


def test_embeddings_span_has_no_output() -> None:
    call = OTelSpan().parse(spans()[2])
    assert call["model"] == "text-embedding-3-small"
    assert call["uncached_input_tokens"] == 6
    assert call["output_tokens"] == 0
    assert call["request_id"] == "1a2b3c4d5e6f7081"  # no response id: the span id
    assert call["ts"] == datetime(2025, 5, 3, 1, 48, 7)
    assert call["latency_ms"] == 70.0


def test_error_span() -> None:
    call = OTelSpan().parse(spans()[3])
    assert call["status"] == "error"
    assert call["model"] == "this-model-does-not-exist"  # the requested model
    assert call["uncached_input_tokens"] == call["output_tokens"] == 0
    assert call["metadata"]["status"]["message"].startswith("The model `this-model")


def test_anthropic_legacy_span_input_includes_cache() -> None:
    call = OTelSpan().parse(spans("anthropic_openllmetry_synthetic.jsonl")[0])
    assert call["provider"] == "Anthropic"
    assert call["request_id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert call["uncached_input_tokens"] == 120  # 3520 - 3000 read - 400 written
    assert call["cached_input_tokens"] == 3000
    assert call["cache_write_5m_tokens"] == 400
    assert call["output_tokens"] == 80
    assert call["total_tokens_logged"] == 3600
    assert call["flags"] == []
    assert call["latency_ms"] == 1250.0
    assert call["system_prompt"] == "You summarise support tickets."
    assert call["prompt"] == "Ticket 4411: printer on fire"
    assert call["response"] == "A printer is burning."
    assert call["messages"] == [
        {"role": "system", "content": "You summarise support tickets."},
        {"role": "user", "content": "Ticket 4411: printer on fire"},
    ]
    attrs = call["metadata"]["attributes"]
    assert attrs["llm.request.type"] == "chat"
    assert attrs["gen_ai.completion.0.content"] == "A printer is burning."
    assert "gen_ai.prompt.1.content" not in attrs


def test_openai_cached_tokens_are_inside_input() -> None:
    span = copy.deepcopy(spans()[1])
    span["attributes"]["gen_ai.usage.cache_read.input_tokens"] = 40
    call = OTelSpan().parse(span)
    assert (call["uncached_input_tokens"], call["cached_input_tokens"]) == (4, 40)
    span["attributes"]["gen_ai.usage.cache_read.input_tokens"] = 50
    assert usage.CACHED_GT_INPUT in OTelSpan().parse(span)["flags"]


def test_every_span_detected_as_otel() -> None:
    detector = Detector()
    records = spans() + spans("anthropic_openllmetry_synthetic.jsonl")
    assert {detector.parse(r)[0] for r in records} == {"otel_span"}


def test_non_genai_span_is_rejected() -> None:
    span = {
        "traceId": "5b8aa5a2d2c872e8321cf37308d69df2",
        "spanId": "0000000000000001",
        "name": "GET /orders",
        "startTimeUnixNano": "1731368630000000000",
        "endTimeUnixNano": "1731368630100000000",
        "attributes": [{"key": "http.request.method", "value": {"stringValue": "GET"}}],
    }
    assert OTelSpan.detect(span)
    with pytest.raises(RecordError, match="'GET /orders' is not a GenAI span"):
        OTelSpan().parse(span)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("gen_ai.usage.input_tokens", {"intValue": "-4"}, "negative"),
        ("gen_ai.usage.output_tokens", {"stringValue": "five"}, "not a number"),
        ("gen_ai.usage.output_tokens", {"doubleValue": 2.5}, "whole number"),
        ("gen_ai.response.model", {"intValue": "4"}, "missing model"),
    ],
)
def test_bad_attribute_values(key: str, value: dict[str, Any], reason: str) -> None:
    span = copy.deepcopy(spans()[0])
    attrs = [a for a in span["attributes"] if a["key"] not in (key, "gen_ai.request.model")]
    if key != "gen_ai.response.model":
        attrs.append({"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}})
    span["attributes"] = [*attrs, {"key": key, "value": value}]
    with pytest.raises(RecordError, match=reason):
        OTelSpan().parse(span)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [("chat", "not an object or a list"), ([{"value": {"stringValue": "x"}}], "no 'key'")],
)
def test_malformed_attributes(attributes: Any, reason: str) -> None:
    span = copy.deepcopy(spans()[0])
    span["attributes"] = attributes
    with pytest.raises(RecordError, match=reason):
        OTelSpan().parse(span)


def test_missing_model() -> None:
    span = copy.deepcopy(spans("anthropic_openllmetry_synthetic.jsonl")[0])
    del span["attributes"]["gen_ai.request.model"], span["attributes"]["gen_ai.response.model"]
    with pytest.raises(RecordError, match="missing model"):
        OTelSpan().parse(span)


@pytest.mark.parametrize(
    "record",
    OTHER_FORMATS,
)
def test_other_shapes_are_not_otel(record: dict[str, Any]) -> None:
    assert not OTelSpan.detect(record)
