"""Anthropic formats: Messages API records and Message Batches result lines."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import RecordError
from costlab.formats import Detector
from costlab.formats.anthropic import AnthropicBatchResult, AnthropicMessage
from costlab.usage import CACHE_WRITE_SPLIT_MISMATCH

DATA = Path(__file__).parent / "data" / "anthropic"


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


MESSAGES = lines("messages.jsonl")
BATCH = lines("batch_results.jsonl")


def buckets(call: Any) -> tuple[int, int, int, int, int, int]:
    return (
        call["uncached_input_tokens"],
        call["cached_input_tokens"],
        call["cache_write_5m_tokens"],
        call["cache_write_1h_tokens"],
        call["output_tokens"],
        call["reasoning_tokens"],
    )


def test_bare_message_has_no_timestamp() -> None:
    call = AnthropicMessage().parse(MESSAGES[0])
    assert call["request_id"] == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert call["provider"] == "anthropic"
    assert call["model"] == "claude-sonnet-4-5-20250929"
    assert call["ts"] is None
    assert buckets(call) == (12, 0, 0, 0, 10, 0)
    assert call["response"] == "Hi! My name is Claude."
    assert call["status"] == "ok"
    assert call["batch"] is False
    assert call["metadata"]["stop_reason"] == "end_turn"
    assert call["metadata"]["usage"] == {"service_tier": "standard"}


def test_cache_read_and_writes_come_on_top_of_input_tokens() -> None:
    call = AnthropicMessage().parse(MESSAGES[1])
    assert buckets(call) == (100, 2000, 300, 200, 42, 0)
    assert call["flags"] == []
    assert call["ts"] == datetime(2025, 11, 3, 9, 15, 2, 481000)
    assert call["user_id"] == "u-42"
    assert call["feature"] == "contract-qa"
    assert call["latency_ms"] == 2310.0
    assert call["system_prompt"] == "You are a contracts assistant.\n<contract>...</contract>"
    assert call["prompt"] == "Summarise the termination clause."
    assert call["response"] == "Either party may terminate with 30 days' written notice."
    assert call["request_id"] == "msg_01HCDu5LRGeP2o7s2xGmxyFE"
    assert call["metadata"]["request"] == {"max_tokens": 1024}


def test_tool_use_blocks_and_request_metadata_user() -> None:
    call = AnthropicMessage().parse(MESSAGES[2])
    assert buckets(call) == (384, 0, 0, 0, 73, 0)
    assert call["user_id"] == "u-7"
    assert call["prompt"] == "What's the weather like in San Francisco?"
    assert call["response"] == "I'll check the current weather in San Francisco for you."
    [tool_use] = call["metadata"]["response"]["content"]
    assert tool_use["name"] == "get_weather"
    assert call["metadata"]["response"]["stop_reason"] == "tool_use"
    assert call["metadata"]["request"]["metadata"] == {"user_id": "u-7"}


def test_thinking_is_not_split_out_of_output_tokens() -> None:
    call = AnthropicMessage().parse(MESSAGES[3])
    assert buckets(call) == (58, 0, 0, 0, 812, 0)
    assert call["system_prompt"] == "Answer briefly."
    assert call["response"].startswith("Yes: a Euclid-style argument")
    assert call["metadata"]["response"]["content"][0]["type"] == "thinking"


def test_error_response_is_an_error_call() -> None:
    call = AnthropicMessage().parse(MESSAGES[4])
    assert call["status"] == "error"
    assert call["model"] == "claude-opus-4-1"
    assert buckets(call) == (0, 0, 0, 0, 0, 0)
    assert call["metadata"]["error"]["type"] == "overloaded_error"
    assert call["prompt"] == "Hello"


def with_usage(**usage: Any) -> dict[str, Any]:
    record = copy.deepcopy(MESSAGES[0])
    record["usage"] = usage
    return record


def test_cache_write_without_a_split_counts_as_5m() -> None:
    record = with_usage(input_tokens=10, output_tokens=5, cache_creation_input_tokens=700)
    call = AnthropicMessage().parse(record)
    assert buckets(call) == (10, 0, 700, 0, 5, 0)


def test_cache_write_split_that_does_not_add_up_is_flagged() -> None:
    record = with_usage(
        input_tokens=10,
        output_tokens=5,
        cache_creation_input_tokens=500,
        cache_creation={"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 100},
    )
    call = AnthropicMessage().parse(record)
    assert buckets(call) == (10, 0, 100, 100, 5, 0)
    assert call["flags"] == [CACHE_WRITE_SPLIT_MISMATCH]


def test_top_level_messages_next_to_the_response() -> None:
    record = {
        "model": "claude-sonnet-4-5",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "response": MESSAGES[0],
        "timestamp": 1730000000,
    }
    call = AnthropicMessage().parse(record)
    assert call["system_prompt"] == "Be brief."
    assert call["prompt"] == "Hi"
    assert call["ts"] == datetime(2024, 10, 27, 3, 33, 20)
    assert buckets(call) == (12, 0, 0, 0, 10, 0)


def test_batch_succeeded_result() -> None:
    call = AnthropicBatchResult().parse(BATCH[0])
    assert call["batch"] is True
    assert call["metadata"]["custom_id"] == "my-second-request"
    assert call["request_id"] == "msg_014VwiXbi91y3JMjcpyGBHX5"
    assert buckets(call) == (11, 0, 0, 0, 36, 0)
    assert call["response"].startswith("Hello again!")
    assert call["status"] == "ok"


@pytest.mark.parametrize(("line", "kind"), [(2, "errored"), (3, "canceled"), (4, "expired")])
def test_batch_results_that_failed_are_error_calls(line: int, kind: str) -> None:
    call = AnthropicBatchResult().parse(BATCH[line])
    assert call["status"] == "error"
    assert call["batch"] is True
    assert buckets(call) == (0, 0, 0, 0, 0, 0)
    assert call["metadata"]["result_type"] == kind
    assert call["metadata"]["custom_id"] == BATCH[line]["custom_id"]


def test_batch_error_is_kept() -> None:
    call = AnthropicBatchResult().parse(BATCH[2])
    assert call["metadata"]["error"]["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("fmt", "record", "reason"),
    [
        (AnthropicMessage(), {**MESSAGES[0], "usage": None}, "missing usage"),
        (AnthropicMessage(), {**MESSAGES[0], "model": ""}, "missing model"),
        (AnthropicMessage(), with_usage(input_tokens=-1, output_tokens=5), "negative"),
        (AnthropicMessage(), with_usage(input_tokens="12", output_tokens=5), "not a number"),
        (AnthropicMessage(), with_usage(input_tokens=12), "missing token count"),
        (
            AnthropicMessage(),
            {**MESSAGES[1], "request": {"messages": []}, "response": MESSAGES[4]["response"]},
            "missing model",
        ),
        (AnthropicBatchResult(), {"custom_id": "a", "result": {"type": "odd"}}, "unknown"),
        (
            AnthropicBatchResult(),
            {"custom_id": "a", "result": {"type": "succeeded"}},
            "no message",
        ),
    ],
)
def test_bad_records_are_rejected_with_a_reason(fmt: Any, record: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        fmt.parse(record)


@pytest.mark.parametrize(
    ("record", "expected"),
    [(r, "anthropic_message") for r in MESSAGES] + [(r, "anthropic_batch_result") for r in BATCH],
)
def test_each_sample_is_detected_as_its_own_format(record: Any, expected: str) -> None:
    name, call = Detector().parse(record)
    assert name == expected
    assert call["provider"] == "anthropic"


FLAT = {
    "request_id": "r1",
    "timestamp": "2025-01-01T00:00:00Z",
    "model": "claude-sonnet-4-5",
    "input_tokens": 10,
    "output_tokens": 5,
    "response": "hi",
}
OPENAI_CHAT = {
    "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    "response": {"error": {"message": "nope", "type": "invalid_request_error"}},
}
OPENAI_BATCH = {"id": "batch_req_1", "custom_id": "request-1", "response": None, "error": {}}
LITELLM = {
    "id": "x",
    "call_type": "anthropic_messages",
    "startTime": 1.0,
    "model": "claude-sonnet-4-5",
    "response": MESSAGES[0],
}


@pytest.mark.parametrize("record", [FLAT, OPENAI_CHAT, OPENAI_BATCH, LITELLM])
@pytest.mark.parametrize("fmt", [AnthropicMessage, AnthropicBatchResult], ids=str)
def test_other_formats_shapes_are_not_claimed(fmt: Any, record: dict[str, Any]) -> None:
    assert not fmt.detect(record)
