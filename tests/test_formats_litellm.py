"""LiteLLM StandardLoggingPayload and LiteLLM_SpendLogs rows."""

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
from costlab.formats.litellm import LiteLLMPayload, LiteLLMSpendLog
from tests.conftest import OTHER_FORMATS

DATA = Path(__file__).parent / "data" / "litellm"


def payload() -> dict[str, Any]:
    record: dict[str, Any] = json.loads(
        (DATA / "example_standard_logging_payload.json").read_text()
    )
    return record


def spend_rows() -> list[dict[str, Any]]:
    lines = (DATA / "spend_logs_synthetic.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_real_payload() -> None:
    call = LiteLLMPayload().parse(payload())
    assert call["request_id"] == "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f"
    assert call["ts"] == datetime(2025, 12, 17, 19, 34, 28, 284660)
    assert call["latency_ms"] == pytest.approx(1794.69, abs=0.01)
    assert call["provider"] == "openai"
    assert call["model"] == "gpt-4o"
    assert call["uncached_input_tokens"] == 10
    assert call["cached_input_tokens"] == 0
    assert call["cache_write_5m_tokens"] == call["cache_write_1h_tokens"] == 0
    assert call["output_tokens"] == 20
    assert call["reasoning_tokens"] == 0
    assert call["total_tokens_logged"] == 30
    assert call["flags"] == []
    assert call["logged_cost_usd"] == "0.00022500000000000002"
    assert call["status"] == "ok"
    assert call["user_id"] is None  # end_user is "" and no key user
    assert call["feature"] is None
    assert call["prompt"] == "Hello, world!"
    assert call["system_prompt"] is None
    assert call["response"] == "hi"
    assert call["messages"] == [{"role": "user", "content": "Hello, world!"}]


def test_payload_keeps_unmapped_fields() -> None:
    call = LiteLLMPayload().parse(payload())
    meta = call["metadata"]
    assert meta["trace_id"] == "97311c60-9a61-4f48-a814-70139ee57868"
    assert meta["call_type"] == "acompletion"
    assert meta["model_map_information"]["model_map_key"] == "gpt-4o"
    assert meta["hidden_params"]["api_base"] == "https://api.openai.com"
    assert meta["response"]["usage"]["total_tokens"] == 30  # raw response kept, only text mapped
    assert "prompt_tokens" not in meta and "id" not in meta


def test_payload_detected_as_its_own_format() -> None:
    name, call = Detector().parse(payload())
    assert name == "litellm_payload"
    assert call["output_tokens"] == 20


def anthropic_payload() -> dict[str, Any]:
    record = payload()
    record["model"] = "claude-3-5-sonnet-20241022"
    record["custom_llm_provider"] = "anthropic"
    record["prompt_tokens"], record["completion_tokens"], record["total_tokens"] = 3520, 80, 3600
    record["end_user"] = "customer-9"
    record["metadata"]["requester_metadata"] = {"feature": "ticket-summary"}
    record["response"]["usage"] = {
        "prompt_tokens": 3520,
        "completion_tokens": 80,
        "total_tokens": 3600,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 400,
        "prompt_tokens_details": {
            "cached_tokens": 3000,
            "cache_creation_tokens": 400,
            "cache_creation_token_details": {
                "ephemeral_5m_input_tokens": 300,
                "ephemeral_1h_input_tokens": 100,
            },
        },
        "completion_tokens_details": {"reasoning_tokens": 12},
    }
    return record


def test_anthropic_prompt_tokens_include_cache_reads_and_writes() -> None:
    call = LiteLLMPayload().parse(anthropic_payload())
    assert call["uncached_input_tokens"] == 120  # 3520 - 3000 read - 400 written
    assert call["cached_input_tokens"] == 3000
    assert call["cache_write_5m_tokens"] == 300
    assert call["cache_write_1h_tokens"] == 100
    assert call["output_tokens"] == 80
    assert call["reasoning_tokens"] == 12
    assert call["flags"] == []
    assert call["user_id"] == "customer-9"
    assert call["feature"] == "ticket-summary"


def test_usage_object_in_metadata_wins() -> None:
    record = payload()
    record["metadata"]["usage_object"] = {"prompt_tokens_details": {"cached_tokens": 4}}
    call = LiteLLMPayload().parse(record)
    assert (call["uncached_input_tokens"], call["cached_input_tokens"]) == (6, 4)


def test_cache_larger_than_prompt_is_flagged() -> None:
    record = anthropic_payload()
    record["prompt_tokens"] = 3100  # an old LiteLLM that did not add cache writes
    call = LiteLLMPayload().parse(record)
    assert call["uncached_input_tokens"] == 0
    assert usage.CACHED_GT_INPUT in call["flags"]


def test_failure_status_and_key_user() -> None:
    record = payload()
    record["status"] = "failure"
    record["metadata"]["user_api_key_user_id"] = "internal-user-7"
    call = LiteLLMPayload().parse(record)
    assert call["status"] == "error"
    assert call["user_id"] == "internal-user-7"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("model", None, "missing model"),
        ("model", "", "missing model"),
        ("prompt_tokens", -1, "negative"),
        ("completion_tokens", "20", "not a number"),
        ("prompt_tokens", None, "missing token count"),
        ("response_cost", "lots", "not a number"),
        ("startTime", True, "boolean"),
    ],
)
def test_bad_payload(field: str, value: Any, reason: str) -> None:
    record = payload()
    record[field] = value
    with pytest.raises(RecordError, match=reason):
        LiteLLMPayload().parse(record)


def test_spend_log_row_of_the_real_payload() -> None:
    call = LiteLLMSpendLog().parse(spend_rows()[0])
    assert call["request_id"] == "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f"
    assert call["ts"] == datetime(2025, 12, 17, 19, 34, 28, 284660)
    assert call["latency_ms"] == 1795.0  # request_duration_ms wins over end - start
    assert (call["uncached_input_tokens"], call["output_tokens"]) == (10, 20)
    assert call["total_tokens_logged"] == 30
    assert call["logged_cost_usd"] == "0.00022500000000000002"
    assert call["status"] == "ok"
    assert call["user_id"] is None
    assert call["messages"] is None
    meta = call["metadata"]
    assert meta["metadata"]["status"] == "success"  # JSON text column decoded
    assert meta["api_key"].startswith("88dc28d0")
    assert meta["cache_key"] == "Cache OFF"
    assert meta["messages"] == {} and meta["response"] == {}


def test_spend_log_anthropic_row() -> None:
    call = LiteLLMSpendLog().parse(spend_rows()[1])
    assert call["uncached_input_tokens"] == 100  # 3500 - 3000 - 400
    assert call["cached_input_tokens"] == 3000
    assert call["cache_write_5m_tokens"] == 400
    assert call["output_tokens"] == 80
    assert call["flags"] == []
    assert call["latency_ms"] == 2500.0
    assert call["logged_cost_usd"] == "0.0123"
    assert call["user_id"] == "customer-9"
    assert call["feature"] == "ticket-summary"
    assert call["provider"] == "anthropic"
    assert call["system_prompt"] == "You summarise support tickets."
    assert call["prompt"] == "Ticket 4411: printer on fire"
    assert call["response"] == "A printer is burning."
    assert call["metadata"]["session_id"] == "sess-1"
    assert call["metadata"]["request_tags"] == ["prod"]


def test_spend_logs_detected_as_their_own_format() -> None:
    detector = Detector()
    names = [detector.parse(row)[0] for row in spend_rows()]
    assert names == ["litellm_spend_log", "litellm_spend_log"]


def test_spend_log_failure_status_from_metadata() -> None:
    row = copy.deepcopy(spend_rows()[1])
    row["status"] = None
    row["metadata"]["status"] = "failure"
    assert LiteLLMSpendLog().parse(row)["status"] == "error"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("model", None, "missing model"),
        ("prompt_tokens", -5, "negative"),
        ("completion_tokens", 1.5, "whole number"),
        ("spend", -0.1, "'spend'"),
        ("startTime", "yesterday", "not a time"),
    ],
)
def test_bad_spend_log(field: str, value: Any, reason: str) -> None:
    row = spend_rows()[1]
    row[field] = value
    with pytest.raises(RecordError, match=reason):
        LiteLLMSpendLog().parse(row)


@pytest.mark.parametrize(
    "record",
    OTHER_FORMATS,
)
def test_other_shapes_are_not_litellm(record: dict[str, Any]) -> None:
    assert not LiteLLMPayload.detect(record)
    assert not LiteLLMSpendLog.detect(record)


def test_the_litellm_team_alias_is_the_team() -> None:
    payload = json.loads((DATA / "example_standard_logging_payload.json").read_text())
    payload["metadata"]["user_api_key_team_id"] = "team-9f2"
    assert LiteLLMPayload().parse(payload)["team"] == "team-9f2"
    payload["metadata"]["user_api_key_team_alias"] = "platform"
    assert LiteLLMPayload().parse(payload)["team"] == "platform"
