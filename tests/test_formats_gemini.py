"""Gemini formats: generateContent responses (AI Studio, Vertex AI), streams, batch prediction."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab import ingest
from costlab.errors import RecordError
from costlab.formats import FORMATS, Detector
from costlab.formats.gemini import GeminiBatchPrediction, GeminiResponse
from costlab.ingest import IngestOptions, sources
from costlab.prices import Catalogue
from costlab.store import Store
from costlab.usage import TOTAL_MISMATCH
from tests.conftest import OTHER_FORMATS

DATA = Path(__file__).parent / "data" / "gemini"
M = Decimal("1e-6")  # prices below are USD per 1M tokens, from LiteLLM 1.110.2's list


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


VERTEX = lines("vertex_recorded.jsonl")
AISTUDIO = lines("aistudio_schema.jsonl")
BATCH = lines("batch_prediction.jsonl")


def buckets(call: Any) -> tuple[int, int, int, int, int, int]:
    return (
        call["uncached_input_tokens"],
        call["cached_input_tokens"],
        call["cache_write_5m_tokens"],
        call["cache_write_1h_tokens"],
        call["output_tokens"],
        call["reasoning_tokens"],
    )


def test_bare_vertex_response_thoughts_are_output_and_reasoning() -> None:
    call = GeminiResponse().parse(VERTEX[0])
    assert call["model"] == "vertex_ai/gemini-2.5-flash"
    assert call["provider"] == "vertex_ai"
    assert call["request_id"] == "MOXjaJHJIPP02PgP1dnn0Qo"
    assert call["ts"] == datetime(2025, 10, 6, 15, 50, 8, 533649)
    # 340 candidates + 1927 thoughts are billed as output; the total is 8 + 340 + 1927.
    assert buckets(call) == (8, 0, 0, 0, 2267, 1927)
    assert (call["total_tokens_logged"], call["flags"]) == (2275, [])
    assert call["response"].startswith("In lands of code")
    assert call["metadata"]["finish_reason"] == "STOP"
    assert call["metadata"]["usage"]["trafficType"] == "ON_DEMAND"
    assert call["metadata"]["usage"]["candidatesTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 340}
    ]


def test_enum_numbers_read_as_names_and_request_fills_prompt() -> None:
    call = GeminiResponse().parse(VERTEX[1])
    assert call["model"] == "vertex_ai/gemini-1.5-flash-002"
    assert buckets(call) == (126, 0, 0, 0, 24, 0)
    assert call["metadata"]["response"]["finish_reason"] == "STOP"  # logged as 1
    details = call["metadata"]["response"]["usage"]["promptTokensDetails"]
    assert details == [{"modality": "TEXT", "tokenCount": 126}]  # logged as modality 1
    assert call["prompt"] == "Get weather details in New Delhi and San Francisco?"
    assert len(call["messages"]) == 3
    assert call["metadata"]["request"]["tools"][0]["functionDeclarations"][0]["name"] == (
        "get_current_weather"
    )
    assert (call["user_id"], call["feature"], call["latency_ms"]) == ("u-17", "weather", 812.0)
    assert call["ts"] == datetime(2025, 2, 6, 4, 26, 33)


def test_stream_chunks_are_one_call_with_the_last_usage() -> None:
    call = GeminiResponse().parse(VERTEX[2])
    assert buckets(call) == (8, 0, 0, 0, 370 + 1526, 1526)
    assert call["total_tokens_logged"] == 1904
    assert call["response"].startswith("In labyrinthine code, where shadows creep,\nThe promises")
    assert call["response"].endswith("Revealing insights, shining ever new.")
    assert call["metadata"]["stream_chunks"] == 6
    assert call["metadata"]["response_id"] == "auXjaInRJPP02PgP1dnn0Qo"
    assert call["request_id"] == "stream-1"
    assert call["prompt"] == "Create a poem about Open Telemetry."


def test_snake_case_sdk_dump_cached_content_is_part_of_the_prompt() -> None:
    call = GeminiResponse().parse(AISTUDIO[0])
    assert call["model"] == "gemini/gemini-2.5-flash"
    # 52,310 prompt tokens of which 51,200 from the cache; 9 candidates + 311 thoughts.
    assert buckets(call) == (1110, 51200, 0, 0, 320, 311)
    assert call["flags"] == []
    assert call["response"] == "Clause 14 (Termination)."  # the thought summary part is not text
    assert call["system_prompt"] == "You answer questions about the attached contract."
    assert call["prompt"] == "Which clause covers termination?"
    assert (call["user_id"], call["feature"]) == ("alice", "contract-qa")
    usage = call["metadata"]["response"]["usage"]
    assert usage["cache_tokens_details"] == [{"modality": "DOCUMENT", "token_count": 51200}]


def test_tool_use_prompt_tokens_are_input() -> None:
    call = GeminiResponse().parse(AISTUDIO[1])
    assert buckets(call) == (12 + 431, 0, 0, 0, 6 + 120, 120)
    assert (call["total_tokens_logged"], call["flags"]) == (569, [])
    assert call["metadata"]["usage"]["toolUsePromptTokensDetails"][0]["tokenCount"] == 431
    assert call["ts"] is None


def test_total_that_does_not_add_up_is_flagged() -> None:
    record = copy.deepcopy(AISTUDIO[1])
    record["usageMetadata"]["totalTokenCount"] = 18  # forgets tool-use and thoughts
    assert GeminiResponse().parse(record)["flags"] == [TOTAL_MISMATCH]


def test_request_model_path_and_error_response() -> None:
    long_context = GeminiResponse().parse(AISTUDIO[2])
    assert long_context["model"] == "gemini/gemini-2.5-pro"
    assert long_context["system_prompt"] == "Summarise the repository."
    error = GeminiResponse().parse(AISTUDIO[3])
    assert error["status"] == "error"
    assert error["model"] == "gemini/gemini-2.5-flash"  # from the request
    assert error["metadata"]["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert buckets(error) == (0, 0, 0, 0, 0, 0)


def test_batch_prediction_lines() -> None:
    ok = GeminiBatchPrediction().parse(BATCH[0])
    assert (ok["batch"], ok["model"], ok["status"]) == (True, "vertex_ai/gemini-2.5-flash", "ok")
    assert buckets(ok) == (2000, 0, 0, 0, 100, 98)
    assert ok["ts"] == datetime(2026, 11, 21, 3, 14, 7, 118000)  # processed_time
    assert ok["metadata"]["request"] == {"generationConfig": {"temperature": 0}}
    failed = GeminiBatchPrediction().parse(BATCH[1])
    assert (failed["batch"], failed["status"]) == (True, "error")
    assert failed["metadata"]["error"].startswith("Bad Request")
    studio = GeminiBatchPrediction().parse(BATCH[2])
    assert (studio["batch"], studio["model"], studio["provider"]) == (
        True,
        "gemini/gemini-2.5-flash",
        "gemini",
    )
    assert buckets(studio) == (2000, 1000, 0, 0, 50, 0)
    assert studio["metadata"]["key"] == "ticket-0001"


def test_each_record_is_claimed_by_exactly_one_format() -> None:
    claims = [[f.name for f in FORMATS.values() if f.detect(r)] for r in VERTEX + AISTUDIO + BATCH]
    assert claims == [["gemini_response"]] * 7 + [["gemini_batch_prediction"]] * 3
    detector = Detector()  # the last format matched is tried first: a batch line still is one
    assert [detector.parse(r)[0] for r in VERTEX[:1] + BATCH[:1]] == [
        "gemini_response",
        "gemini_batch_prediction",
    ]


@pytest.mark.parametrize("record", OTHER_FORMATS)
def test_other_shapes_are_not_gemini(record: dict[str, Any]) -> None:
    assert not GeminiResponse.detect(record)
    assert not GeminiBatchPrediction.detect(record)


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        (0, "token count 'promptTokenCount' is negative: -3"),
        (1, "missing token count 'promptTokenCount'"),
        (2, "missing model: no modelVersion"),
        (3, "failed batch prediction line (Internal error) names no model"),
        (4, "failed batch prediction line ({'code': 400, "),
    ],
)
def test_malformed_records_say_why(index: int, reason: str) -> None:
    record = lines("malformed.jsonl")[index]
    with pytest.raises(RecordError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        Detector().parse(record)


def _ingest(store: Store, catalogue: Catalogue, *names: str, **options: Any) -> Any:
    paths = [str(DATA / n) for n in names]
    return ingest.ingest(store, sources.expand(paths), IngestOptions(**options), catalogue)


def _cost(store: Store, request_id: str) -> Any:
    return store.row("SELECT cost_usd FROM requests WHERE request_id = ?", [request_id])[0]


def test_ingest_prices_each_record_from_the_catalogue(store: Store, catalogue: Catalogue) -> None:
    result = _ingest(store, catalogue, "vertex_recorded.jsonl", "aistudio_schema.jsonl")
    assert (result.total("added"), result.total("rejected")) == (7, 0)
    assert result.unknown_models() == {"vertex_ai/gemini-1.5-flash-002": 1}
    # gemini-2.5-flash (Vertex): input $0.30, output and reasoning $2.50.
    assert _cost(store, "MOXjaJHJIPP02PgP1dnn0Qo") == 8 * Decimal("0.30") * M + 2267 * (
        Decimal("2.50") * M
    )
    assert _cost(store, "stream-1") == 8 * Decimal("0.30") * M + 1896 * Decimal("2.50") * M
    assert _cost(store, "-DmkZ779FrGM2PgPtOGmmA8") is None
    # gemini/gemini-2.5-flash (AI Studio): cached input $0.03.
    assert (
        _cost(store, "zq9Eab2sJ4m6nsEPqL2x8Qc")
        == (1110 * Decimal("0.30") + 51200 * Decimal("0.03") + 320 * Decimal("2.50")) * M
    )
    assert (
        _cost(store, "Gk9Eaf2mB5nVnsEP0cS8kAo")
        == (443 * Decimal("0.30") + 126 * Decimal("2.50")) * M
    )


def test_long_context_tier_above_200k_prompt_tokens(store: Store, catalogue: Catalogue) -> None:
    _ingest(store, catalogue, "aistudio_schema.jsonl")
    # gemini-2.5-pro over 200k prompt tokens: input $2.50 (not $1.25), output $15 (not $10).
    assert _cost(store, "lc-1") == 250_000 * Decimal("2.50") * M + 3000 * Decimal(15) * M


def test_batch_prediction_is_priced_at_batch_rates(store: Store, catalogue: Catalogue) -> None:
    result = _ingest(store, catalogue, "batch_prediction.jsonl")
    assert result.total("added") == 3
    # gemini-2.5-flash batch (Vertex AI): input $0.15, output $1.25 (thoughts included).
    assert _cost(store, "b-1") == 2000 * Decimal("0.15") * M + 100 * Decimal("1.25") * M
    # gemini/gemini-2.5-flash batch (Gemini API): cached input $0.03.
    expected = 2000 * Decimal("0.15") + 1000 * Decimal("0.03") + 50 * Decimal("1.25")
    assert _cost(store, "sb-1") == expected * M
    failed = store.rows("SELECT status, batch, cost_usd FROM requests WHERE status = 'error'")
    assert failed == [("error", True, Decimal(0))]


def test_reingest_adds_nothing(store: Store, catalogue: Catalogue) -> None:
    names = ("vertex_recorded.jsonl", "aistudio_schema.jsonl", "batch_prediction.jsonl")
    first = _ingest(store, catalogue, *names)
    assert first.total("added") == 10
    again = _ingest(store, catalogue, *names, force=True)
    assert (again.total("added"), again.total("duplicate")) == (0, 10)
    assert store.row("SELECT count(*) FROM requests")[0] == 10


def test_malformed_records_are_rejected_with_reasons(store: Store, catalogue: Catalogue) -> None:
    result = _ingest(store, catalogue, "malformed.jsonl")
    assert (result.total("added"), result.total("rejected")) == (0, 5)
    reasons = [r[0] for r in store.rows("SELECT reason FROM rejects ORDER BY source_line")]
    assert reasons[0] == "token count 'promptTokenCount' is negative: -3"
    assert reasons[3] == "failed batch prediction line (Internal error) names no model"


def test_blocked_prompt_keeps_its_reason_by_name() -> None:
    record = {
        "promptFeedback": {"blockReason": 1},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-2.5-flash",
    }
    call = GeminiResponse().parse(record)
    assert buckets(call) == (9, 0, 0, 0, 0, 0)
    assert call["response"] is None
    assert call["metadata"]["promptFeedback"] == {"blockReason": "SAFETY"}
