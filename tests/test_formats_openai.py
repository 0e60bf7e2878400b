"""OpenAI formats: chat completions, Responses API, Batch API input and output lines."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import RecordError
from costlab.formats import Detector
from costlab.formats.openai import (
    OpenAIBatchInput,
    OpenAIBatchOutput,
    OpenAIChat,
    OpenAIResponses,
)
from costlab.usage import CACHED_GT_INPUT, REASONING_GT_OUTPUT, TOTAL_MISMATCH

DATA = Path(__file__).parent / "data" / "openai"


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


CHAT = lines("chat_completions.jsonl")
RESPONSES = lines("responses.jsonl")
BATCH_OUT = lines("litellm_test_fixture_batch_output.jsonl")
BATCH_IN = lines("batch_input.jsonl")


def tokens(call: Any) -> tuple[int, int, int, int]:
    return (
        call["uncached_input_tokens"],
        call["cached_input_tokens"],
        call["output_tokens"],
        call["reasoning_tokens"],
    )


# --- Batch API -------------------------------------------------------------------------------


def test_batch_output_line_is_a_batch_call_with_its_custom_id() -> None:
    call = OpenAIBatchOutput().parse(BATCH_OUT[0])
    assert tokens(call) == (20, 0, 10, 0)
    assert call["total_tokens_logged"] == 30
    assert call["batch"] is True
    assert call["metadata"]["custom_id"] == "request-1"
    assert call["request_id"] == "batch_req_6769ca596b38819093d7ae9f522de924"
    assert call["metadata"]["response_id"] == "chatcmpl-AhjSMl7oZ79yIPHLRYgmgXSixTJr7"
    assert call["metadata"]["status_code"] == 200
    assert call["model"] == "gpt-4o-mini-2024-07-18"
    assert call["provider"] == "openai"
    assert call["ts"] == datetime(2024, 12, 23, 20, 36, 42)
    assert call["response"] == "Hello! How can I assist you today?"
    assert call["status"] == "ok"
    assert call["flags"] == []


def test_second_batch_line_keeps_its_finish_reason() -> None:
    call = OpenAIBatchOutput().parse(BATCH_OUT[1])
    assert tokens(call) == (22, 0, 10, 0)
    assert call["metadata"]["custom_id"] == "request-2"
    assert call["metadata"]["finish_reason"] == "length"


def test_batch_line_with_an_error_is_an_error_call_not_a_reject() -> None:
    record = {
        "id": "batch_req_456",
        "custom_id": "request-3",
        "response": None,
        "error": {"code": "batch_expired", "message": "This request could not be executed."},
    }
    call = OpenAIBatchOutput().parse(record)
    assert call["status"] == "error"
    assert tokens(call) == (0, 0, 0, 0)
    assert call["batch"] is True
    assert call["metadata"]["custom_id"] == "request-3"
    assert call["metadata"]["error"]["code"] == "batch_expired"
    assert call["model"] is None


def test_batch_line_with_a_failed_http_status_is_an_error_call() -> None:
    body = {"error": {"message": "bad", "type": "invalid_request_error", "code": None}}
    record = {
        "id": "batch_req_789",
        "custom_id": "request-4",
        "response": {"status_code": 400, "request_id": "req_1", "body": body},
        "error": None,
    }
    call = OpenAIBatchOutput().parse(record)
    assert call["status"] == "error"
    assert call["metadata"]["status_code"] == 400
    assert call["metadata"]["error"]["type"] == "invalid_request_error"
    assert call["request_id"] == "batch_req_789"


def test_batch_output_of_a_responses_body() -> None:
    record = copy.deepcopy(BATCH_OUT[0])
    record["response"]["body"] = RESPONSES[0]["response"]
    call = OpenAIBatchOutput().parse(record)
    assert tokens(call) == (22, 0, 6, 0)
    assert call["response"] == "This is a test."
    assert call["batch"] is True


def test_batch_input_line_gives_prompt_and_messages_with_no_tokens() -> None:
    call = OpenAIBatchInput().parse(BATCH_IN[0])
    assert call["model"] == "gpt-4o-mini"
    assert call["prompt"] == "Hello world!"
    assert call["system_prompt"] == "You are a helpful assistant."
    assert call["messages"] == BATCH_IN[0]["body"]["messages"]
    assert call["metadata"]["custom_id"] == "request-1"
    assert call["metadata"]["url"] == "/v1/chat/completions"
    assert call["metadata"]["body"] == {"max_tokens": 1000}
    assert tokens(call) == (0, 0, 0, 0)


# --- Chat Completions ------------------------------------------------------------------------


def test_chat_request_and_response_record() -> None:
    call = OpenAIChat().parse(CHAT[0])
    assert call["request_id"] == "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q"
    assert call["model"] == "gpt-4o-mini-2024-07-18"
    assert call["provider"] == "openai"
    assert tokens(call) == (12, 0, 5, 0)
    assert call["total_tokens_logged"] == 17
    assert call["ts"] == datetime(2024, 11, 11, 23, 43, 50)
    assert call["prompt"] == "Say this is a test"
    assert call["system_prompt"] is None
    assert call["response"] == "This is a test."
    assert call["messages"] == [{"role": "user", "content": "Say this is a test"}]
    assert call["status"] == "ok"
    assert call["batch"] is False
    assert call["metadata"]["request"] == {"stream": False}
    assert call["metadata"]["response"]["system_fingerprint"] == "fp_0ba0d124f1"


def test_chat_tool_call_keeps_the_tool_calls() -> None:
    call = OpenAIChat().parse(CHAT[1])
    assert tokens(call) == (75, 0, 51, 0)
    assert call["response"] is None
    assert call["system_prompt"] == "You're a helpful assistant."
    assert call["prompt"] == "What's the weather in Seattle and San Francisco today?"
    tool_calls = call["metadata"]["response"]["tool_calls"]
    assert [t["function"]["name"] for t in tool_calls] == ["get_current_weather"] * 2
    assert call["metadata"]["response"]["finish_reason"] == "tool_calls"
    assert call["metadata"]["request"]["tool_choice"] == "auto"


def test_chat_answer_after_tool_results_takes_the_last_user_turn() -> None:
    call = OpenAIChat().parse(CHAT[2])
    assert tokens(call) == (99, 0, 25, 0)
    assert call["prompt"] == "What's the weather in Seattle and San Francisco today?"
    assert call["response"].startswith("Today, the weather in Seattle is 50 degrees")
    assert len(call["messages"]) == 5


def test_chat_with_several_choices_keeps_them_all() -> None:
    call = OpenAIChat().parse(CHAT[3])
    assert tokens(call) == (12, 0, 24, 0)
    assert call["response"] == "This is a test. How can I assist you further?"
    assert len(call["metadata"]["response"]["choices"]) == 2


def test_chat_error_response_is_an_error_call() -> None:
    call = OpenAIChat().parse(CHAT[4])
    assert call["status"] == "error"
    assert call["model"] == "this-model-does-not-exist"
    assert tokens(call) == (0, 0, 0, 0)
    assert call["metadata"]["error"]["code"] == "model_not_found"
    assert call["prompt"] == "Say this is a test"


def with_usage(record: dict[str, Any], **usage: Any) -> dict[str, Any]:
    record = copy.deepcopy(record)
    record["response"]["usage"] = usage
    return record


def test_cached_tokens_are_a_subset_of_prompt_tokens() -> None:
    record = with_usage(
        CHAT[0],
        prompt_tokens=2006,
        completion_tokens=300,
        total_tokens=2306,
        prompt_tokens_details={"cached_tokens": 1920, "audio_tokens": 0},
        completion_tokens_details={"reasoning_tokens": 192, "audio_tokens": 0},
    )
    call = OpenAIChat().parse(record)
    assert tokens(call) == (86, 1920, 300, 192)
    assert call["flags"] == []


def test_invariant_violations_are_flagged_not_fixed() -> None:
    record = with_usage(
        CHAT[0],
        prompt_tokens=100,
        completion_tokens=10,
        total_tokens=999,
        prompt_tokens_details={"cached_tokens": 150},
        completion_tokens_details={"reasoning_tokens": 20},
    )
    call = OpenAIChat().parse(record)
    assert call["uncached_input_tokens"] == 0
    assert call["cached_input_tokens"] == 150
    assert call["flags"] == [CACHED_GT_INPUT, REASONING_GT_OUTPUT, TOTAL_MISMATCH]


def test_usage_details_without_a_bucket_are_kept() -> None:
    record = with_usage(
        CHAT[0],
        prompt_tokens=50,
        completion_tokens=40,
        prompt_tokens_details={"cached_tokens": 0, "audio_tokens": 20},
        completion_tokens_details={"accepted_prediction_tokens": 7},
    )
    call = OpenAIChat().parse(record)
    assert call["metadata"]["response"]["usage"] == {
        "prompt_tokens_details.audio_tokens": 20,
        "completion_tokens_details.accepted_prediction_tokens": 7,
    }


def test_application_fields_around_the_record() -> None:
    record = copy.deepcopy(CHAT[0])
    record.update(
        timestamp="2025-03-01T10:00:00+01:00",
        request_id="app-1",
        user="alice",
        feature="support-bot",
        latency_ms=412.5,
        cost=0.0021,
        metadata={"tenant": "acme"},
        env="prod",
    )
    call = OpenAIChat().parse(record)
    assert call["ts"] == datetime(2025, 3, 1, 9, 0, 0)
    assert call["request_id"] == "app-1"
    assert call["metadata"]["response_id"] == "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q"
    assert call["user_id"] == "alice"
    assert call["feature"] == "support-bot"
    assert call["latency_ms"] == 412.5
    assert call["logged_cost_usd"] == "0.0021"
    assert call["metadata"]["metadata"] == {"tenant": "acme"}
    assert call["metadata"]["env"] == "prod"


def test_user_and_feature_from_the_metadata_and_duration_ms() -> None:
    record = copy.deepcopy(CHAT[0])
    record.update(metadata={"user_id": "u-9", "feature": "search"}, duration_ms=80)
    call = OpenAIChat().parse(record)
    assert call["user_id"] == "u-9"
    assert call["feature"] == "search"
    assert call["latency_ms"] == 80.0


def test_messages_at_the_top_level_next_to_the_response() -> None:
    record = {
        "model": "gpt-4o-mini",
        "messages": CHAT[1]["request"]["messages"],
        "temperature": 0.2,
        "response": CHAT[1]["response"],
        "timestamp": "2025-01-02T03:04:05Z",
    }
    call = OpenAIChat().parse(record)
    assert call["prompt"] == "What's the weather in Seattle and San Francisco today?"
    assert call["system_prompt"] == "You're a helpful assistant."
    assert call["ts"] == datetime(2025, 1, 2, 3, 4, 5)
    assert call["metadata"]["temperature"] == 0.2
    assert tokens(call) == (75, 0, 51, 0)


def test_bare_chat_completion_object() -> None:
    call = OpenAIChat().parse(CHAT[0]["response"])
    assert call["request_id"] == "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q"
    assert tokens(call) == (12, 0, 5, 0)
    assert call["prompt"] is None
    assert call["response"] == "This is a test."
    assert call["metadata"]["system_fingerprint"] == "fp_0ba0d124f1"


def test_legacy_text_completion() -> None:
    record = {
        "request": {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test"},
        "response": {
            "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
            "object": "text_completion",
            "created": 1589478378,
            "model": "gpt-3.5-turbo-instruct",
            "choices": [
                {"text": "\n\nThis is indeed a test", "index": 0, "finish_reason": "length"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        },
    }
    call = OpenAIChat().parse(record)
    assert tokens(call) == (5, 0, 7, 0)
    assert call["prompt"] == "Say this is a test"
    assert call["response"] == "\n\nThis is indeed a test"


# --- Responses API ---------------------------------------------------------------------------


def test_responses_record() -> None:
    call = OpenAIResponses().parse(RESPONSES[0])
    assert call["request_id"] == "resp_0a8171a24e10956f0069e2f3f03a4c819da6eca7c5d387a3b8"
    assert call["model"] == "gpt-4o-mini-2024-07-18"
    assert tokens(call) == (22, 0, 6, 0)
    assert call["total_tokens_logged"] == 28
    assert call["ts"] == datetime(2026, 4, 18, 3, 1, 4)
    assert call["system_prompt"] == "You are a helpful assistant."
    assert call["prompt"] == "Say this is a test"
    assert call["messages"] == [{"role": "user", "content": "Say this is a test"}]
    assert call["response"] == "This is a test."
    assert call["status"] == "ok"
    assert call["metadata"]["response"]["status"] == "completed"


def test_responses_reasoning_tokens_are_inside_output_tokens() -> None:
    call = OpenAIResponses().parse(RESPONSES[1])
    assert call["model"] == "gpt-5.4-2026-03-05"
    assert tokens(call) == (44, 0, 288, 9)
    assert call["total_tokens_logged"] == 332
    assert call["flags"] == []
    assert call["prompt"].startswith("\nWrite a bash script")
    assert call["response"].startswith("```bash")
    assert call["metadata"]["request"]["reasoning"] == {"effort": "low"}


def test_responses_cached_tokens_are_a_subset_of_input_tokens() -> None:
    record = with_usage(
        RESPONSES[0],
        input_tokens=2006,
        input_tokens_details={"cached_tokens": 1920},
        output_tokens=6,
        output_tokens_details={"reasoning_tokens": 0},
        total_tokens=2012,
    )
    call = OpenAIResponses().parse(record)
    assert tokens(call) == (86, 1920, 6, 0)
    assert call["flags"] == []


def test_responses_function_call_is_kept() -> None:
    call = OpenAIResponses().parse(RESPONSES[2])
    assert tokens(call) == (72, 0, 8, 0)
    assert call["response"] is None
    [tool_call] = call["metadata"]["response"]["tool_calls"]
    assert tool_call["name"] == "get_current_weather"


def test_responses_error_is_an_error_call() -> None:
    call = OpenAIResponses().parse(RESPONSES[3])
    assert call["status"] == "error"
    assert call["model"] == "this-model-does-not-exist"
    assert call["prompt"] == "Hello"
    assert tokens(call) == (0, 0, 0, 0)


def test_bare_responses_object() -> None:
    call = OpenAIResponses().parse(RESPONSES[0]["response"])
    assert tokens(call) == (22, 0, 6, 0)
    assert call["system_prompt"] == "You are a helpful assistant."
    assert call["prompt"] is None


# --- bad records -----------------------------------------------------------------------------


def broken(record: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    record = copy.deepcopy(record)
    target = record
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("fmt", "record", "reason"),
    [
        (OpenAIChat(), broken(CHAT[0], ("response", "model"), KeyError), "missing model"),
        (OpenAIChat(), broken(CHAT[0], ("response", "usage"), KeyError), "missing usage"),
        (
            OpenAIChat(),
            broken(CHAT[0], ("response", "usage", "prompt_tokens"), -3),
            "negative",
        ),
        (
            OpenAIChat(),
            broken(CHAT[0], ("response", "usage", "completion_tokens"), "five"),
            "not a number",
        ),
        (OpenAIChat(), broken(CHAT[0], ("timestamp",), "yesterday"), "not a time"),
        (
            OpenAIResponses(),
            broken(RESPONSES[0], ("response", "usage", "input_tokens"), KeyError),
            "missing token count",
        ),
        (
            OpenAIBatchOutput(),
            broken(BATCH_OUT[0], ("response", "body", "object"), "thing"),
            "unknown OpenAI response object",
        ),
        (
            OpenAIBatchOutput(),
            broken(BATCH_OUT[0], ("response", "body", "usage"), KeyError),
            "missing usage",
        ),
        (OpenAIBatchInput(), broken(BATCH_IN[0], ("body", "model"), KeyError), "missing model"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(fmt: Any, record: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        fmt.parse(record)


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [(r, "openai_chat") for r in CHAT]
    + [(CHAT[0]["response"], "openai_chat")]
    + [(r, "openai_responses") for r in RESPONSES]
    + [(RESPONSES[0]["response"], "openai_responses")]
    + [(r, "openai_batch_output") for r in BATCH_OUT]
    + [(r, "openai_batch_input") for r in BATCH_IN],
)
def test_each_sample_is_detected_as_its_own_format(record: Any, expected: str) -> None:
    name, call = Detector().parse(record)
    assert name == expected
    assert call["provider"] == "openai"


FLAT = {
    "request_id": "r1",
    "timestamp": "2025-01-01T00:00:00Z",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 5,
    "response": "hi",
    "messages": [{"role": "user", "content": "hello"}],
}
LITELLM = {
    "id": "chatcmpl-2299b6a2",
    "call_type": "acompletion",
    "startTime": 1766000068.28,
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Hello, world!"}],
    "response": CHAT[0]["response"],
    "prompt_tokens": 10,
    "completion_tokens": 20,
}
ANTHROPIC = {
    "request": {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]},
    "response": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
}
ANTHROPIC_BATCH = {"custom_id": "x", "result": {"type": "canceled"}}


@pytest.mark.parametrize("record", [FLAT, LITELLM, ANTHROPIC, ANTHROPIC_BATCH])
@pytest.mark.parametrize(
    "fmt", [OpenAIChat, OpenAIResponses, OpenAIBatchOutput, OpenAIBatchInput], ids=str
)
def test_other_formats_shapes_are_not_claimed(fmt: Any, record: dict[str, Any]) -> None:
    assert not fmt.detect(record)


def test_chat_and_responses_do_not_claim_each_other() -> None:
    assert not OpenAIChat.detect(RESPONSES[0])
    assert not OpenAIChat.detect(RESPONSES[3])
    assert not OpenAIResponses.detect(CHAT[0])
    assert not OpenAIResponses.detect(CHAT[4])
    assert not OpenAIBatchInput.detect(BATCH_OUT[0])
    assert not OpenAIBatchOutput.detect(BATCH_IN[0])
