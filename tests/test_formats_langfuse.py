"""Langfuse observations, in the public API (camelCase) and export (snake_case) shapes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from costlab import usage
from costlab.errors import RecordError
from costlab.formats import Detector
from costlab.formats.langfuse import LangfuseObservation
from tests.conftest import OTHER_FORMATS

DATA = Path(__file__).parent / "data" / "langfuse"


def load(name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((DATA / name).read_text().splitlines()[0])
    return record


def api_item() -> dict[str, Any]:
    return load("openai_generation.jsonl")


def export_row() -> dict[str, Any]:
    return load("anthropic_export_synthetic.jsonl")


def test_api_generation_from_a_real_openai_response() -> None:
    call = LangfuseObservation().parse(api_item())
    assert call["request_id"] == "0b8f3c2e-6a1d-4f7e-9c3b-2d5e8a1f4c70"
    assert call["ts"] == datetime(2024, 11, 11, 23, 43, 50)
    assert call["latency_ms"] == pytest.approx(287.0)
    assert call["model"] == "gpt-4o-mini-2024-07-18"
    # usageDetails as Langfuse stores them: cached and reasoning moved out of input/output.
    assert call["uncached_input_tokens"] == 12
    assert call["cached_input_tokens"] == 0
    assert call["output_tokens"] == 5
    assert call["reasoning_tokens"] == 0
    assert call["total_tokens_logged"] == 17
    assert call["flags"] == []
    assert call["logged_cost_usd"] == "0.0000048"
    assert call["status"] == "ok"
    assert call["feature"] == "smoke-test"
    assert call["prompt"] == "Say this is a test"
    assert call["response"] == "This is a test."
    assert call["messages"] == [{"role": "user", "content": "Say this is a test"}]


def test_api_generation_keeps_unmapped_fields() -> None:
    meta = LangfuseObservation().parse(api_item())["metadata"]
    assert meta["traceId"] == "9d2c4e6f-1a3b-4c5d-8e7f-0a1b2c3d4e5f"
    assert meta["usageDetails"]["input_audio_tokens"] == 0
    assert meta["costDetails"]["input"] == 1.8e-06
    assert meta["modelParameters"] == {"temperature": 1, "max_tokens": "Infinity"}
    assert meta["output"] == {"role": "assistant", "content": "This is a test."}
    assert "input" not in meta and "model" not in meta and "startTime" not in meta


def test_cached_and_reasoning_are_separate_langfuse_buckets() -> None:
    record = api_item()
    record["usageDetails"] = {
        "input": 200,
        "input_cached_tokens": 1024,
        "output": 96,
        "output_reasoning_tokens": 310,
        "total": 1630,
    }
    call = LangfuseObservation().parse(record)
    assert call["uncached_input_tokens"] == 200
    assert call["cached_input_tokens"] == 1024
    assert call["output_tokens"] == 406  # output + output_reasoning_tokens
    assert call["reasoning_tokens"] == 310
    assert call["flags"] == []


def test_snake_case_export_with_anthropic_cache() -> None:
    call = LangfuseObservation().parse(export_row())
    assert call["request_id"] == "7f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
    assert call["ts"] == datetime(2025, 3, 4, 10, 15, 0, 250000)
    assert call["latency_ms"] == pytest.approx(3500.0)
    assert call["model"] == "claude-3-5-sonnet-20241022"
    assert call["uncached_input_tokens"] == 120
    assert call["cached_input_tokens"] == 3000
    assert call["cache_write_5m_tokens"] == 400
    assert call["cache_write_1h_tokens"] == 100
    assert call["output_tokens"] == 80
    assert call["total_tokens_logged"] == 3700
    assert call["flags"] == []
    assert call["logged_cost_usd"] == "0.00456"
    assert call["user_id"] == "user-42"
    assert call["feature"] == "ticket-summary"
    assert call["status"] == "ok"  # WARNING is not an error
    assert call["system_prompt"] == "You summarise support tickets."
    assert call["prompt"] == "Ticket 4411: printer on fire"
    assert call["response"] == "Customer reports a burning printer."
    assert call["metadata"]["level"] == "WARNING"
    assert call["metadata"]["trace_id"] == "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"
    assert call["metadata"]["input"]["messages"][0]["role"] == "system"


def test_both_shapes_detected_as_langfuse() -> None:
    detector = Detector()
    assert detector.parse(api_item())[0] == "langfuse_observation"
    assert detector.parse(export_row())[0] == "langfuse_observation"


def test_legacy_usage_and_error_level() -> None:
    record = api_item()
    del record["usageDetails"], record["costDetails"]
    record["level"] = "ERROR"
    call = LangfuseObservation().parse(record)
    assert (call["uncached_input_tokens"], call["output_tokens"]) == (12, 5)
    assert call["logged_cost_usd"] == "0.0000048"  # calculatedTotalCost
    assert call["status"] == "error"


def test_latency_seconds_when_no_end_time() -> None:
    record = api_item()
    del record["endTime"]
    assert LangfuseObservation().parse(record)["latency_ms"] == pytest.approx(287.0)


def test_total_that_disagrees_is_flagged() -> None:
    record = api_item()
    record["usageDetails"]["total"] = 99
    assert usage.TOTAL_MISMATCH in LangfuseObservation().parse(record)["flags"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model": None}, "missing model"),
        ({"type": "SPAN"}, "not an LLM call"),
        ({"usageDetails": {"input": -3}}, "negative"),
        ({"usageDetails": {"input": "12"}}, "not a number"),
        ({"usageDetails": [12, 5]}, "not an object"),
        ({"usageDetails": None, "usage": {"input": 10, "unit": "CHARACTERS"}}, "CHARACTERS"),
        ({"costDetails": {"total": "free"}}, "not a number"),
        ({"startTime": 12.5j}, "not a time"),
    ],
)
def test_bad_observations(change: dict[str, Any], reason: str) -> None:
    record = api_item()
    record.update(change)
    with pytest.raises(RecordError, match=reason):
        LangfuseObservation().parse(record)


@pytest.mark.parametrize(
    "record",
    [
        *OTHER_FORMATS,
        {
            "traceId": "t",
            "spanId": "s",
            "name": "chat",
            "startTimeUnixNano": "1",
            "attributes": [],
            "id": "x",
            "type": "GENERATION",
            "startTime": "1",
        },
    ],
)
def test_other_shapes_are_not_langfuse(record: dict[str, Any]) -> None:
    assert not LangfuseObservation.detect(record)
