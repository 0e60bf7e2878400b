"""Bedrock format: model invocation logs of the four operations, and CloudWatch Logs exports."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab import ingest
from costlab.errors import RecordError
from costlab.formats import FORMATS, Detector
from costlab.formats.bedrock import BedrockInvocationLog
from costlab.ingest import IngestOptions, sources
from costlab.prices import Catalogue, PriceOverride
from costlab.store import Store
from tests.conftest import OTHER_FORMATS, write_jsonl

DATA = Path(__file__).parent / "data" / "bedrock"
M = Decimal("1e-6")  # prices below are USD per 1M tokens, from LiteLLM 1.110.2's list
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


LOGS = lines("invocation_logs.jsonl")
EXPORTS = lines("cloudwatch_export.jsonl")


def parse(record: dict[str, Any]) -> Any:
    return BedrockInvocationLog().parse(record)


def buckets(call: Any) -> tuple[int, int, int, int, int, int]:
    return (
        call["uncached_input_tokens"],
        call["cached_input_tokens"],
        call["cache_write_5m_tokens"],
        call["cache_write_1h_tokens"],
        call["output_tokens"],
        call["reasoning_tokens"],
    )


def test_converse_cache_counts_come_on_top_of_input() -> None:
    call = parse(LOGS[0])
    assert call["model"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert call["provider"] == "bedrock"
    assert call["request_id"] == "0f7a2c9e-1b7d-4c1e-9a61-5d0e8f3b2a11"
    assert call["ts"] == datetime(2026, 11, 18, 8, 30, 12)
    assert buckets(call) == (120, 3000, 500, 0, 80, 0)
    assert (call["total_tokens_logged"], call["flags"]) == (3700, [])
    assert call["prompt"] == "Summarise ticket #4411."
    assert call["system_prompt"] == "You triage support tickets."
    assert call["response"] == "Customer reports a failed refund."
    assert call["latency_ms"] == 1840.0
    assert call["user_id"] == "alice@example.com"  # the role session
    assert call["metadata"]["role"] == "support-bot"
    assert (call["feature"], call["team"]) == ("ticket-triage", "support")
    assert call["metadata"]["requestMetadata"]["tenant"] == "acme"
    assert call["metadata"]["inferenceRegion"] == "us-west-2"
    assert call["metadata"]["operation"] == "Converse"


def test_converse_stream_and_iam_user() -> None:
    call = parse(LOGS[1])
    assert (call["model"], buckets(call)) == ("amazon.nova-lite-v1:0", (4, 0, 0, 0, 38, 0))
    assert call["user_id"] == "bob"
    assert call["response"] == "Hello! I'm doing well."
    assert call["metadata"]["response"]["stopReason"] == "end_turn"


def test_invoke_model_body_shapes() -> None:
    anthropic, titan, llama, cohere = (parse(r) for r in LOGS[2:6])
    assert (anthropic["prompt"], anthropic["system_prompt"]) == (
        "Capital of France?",
        "Reply in one word.",
    )
    assert anthropic["response"] == "Paris"
    assert anthropic["model"] == "apac.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert (titan["prompt"], titan["response"]) == (
        "Write a haiku about logs.",
        "Lines of quiet time",
    )
    assert titan["model"] == "amazon.titan-text-express-v1"  # from the foundation-model ARN
    assert titan["metadata"]["model_arn"].endswith("foundation-model/amazon.titan-text-express-v1")
    assert (llama["response"], llama["latency_ms"]) == ("Blue.", 211.0)  # stream chunks joined
    assert llama["metadata"]["stream_chunks"] == 2
    assert llama["user_id"] == "carol"  # a requestMetadata tag
    assert (cohere["prompt"], cohere["response"]) == ("Say hi.", " Hi!")
    assert [buckets(c)[0::4] for c in (anthropic, titan, llama, cohere)] == [
        (15, 4),
        (7, 17),
        (18, 2),
        (3, 3),
    ]


def test_body_in_s3_is_counted_not_guessed() -> None:
    call = parse(LOGS[6])
    assert call["model"] == APP_PROFILE  # an application inference profile is kept
    assert buckets(call) == (41000, 0, 0, 0, 6, 0)
    assert call["prompt"] is None and call["messages"] is None
    assert call["metadata"]["input"]["inputBodyS3Path"].endswith("_input.json.gz")
    assert call["user_id"] == "task-42"


def test_failed_invocation_is_an_error_call() -> None:
    call = parse(LOGS[7])
    assert (call["status"], call["metadata"]["error"]) == ("error", "ValidationException")
    assert buckets(call) == (0, 0, 0, 0, 0, 0)


def test_cloudwatch_event_and_subscription_payload() -> None:
    event, payload = (parse(r) for r in EXPORTS)
    assert event["request_id"] == "c0ffee00-0000-4000-8000-000000000009"
    assert event["metadata"]["cloudwatch"]["logStreamName"] == "aws/bedrock/modelinvocations"
    assert payload["request_id"] == "c0ffee00-0000-4000-8000-000000000010"
    assert payload["metadata"]["cloudwatch"]["logGroup"] == "/aws/bedrock/invocations"
    assert buckets(payload) == (10, 0, 0, 0, 2, 0)
    assert (payload["prompt"], payload["response"]) == ("ping", "pong")


def test_each_record_is_claimed_by_this_format_only() -> None:
    claims = [[f.name for f in FORMATS.values() if f.detect(r)] for r in LOGS + EXPORTS]
    assert claims == [["bedrock_invocation_log"]] * 10


@pytest.mark.parametrize("record", OTHER_FORMATS)
def test_other_shapes_are_not_bedrock(record: dict[str, Any]) -> None:
    assert not BedrockInvocationLog.detect(record)


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        (0, r"logEvents\[1\]: CloudWatch event .message. is not JSON"),
        (1, "missing modelId"),
        (2, "token count 'input.inputTokenCount' is negative: -3"),
        (3, "CloudWatch event 'message' is not JSON"),
        (4, "missing token count 'input.inputTokenCount'"),
    ],
)
def test_malformed_records_say_why(index: int, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        Detector().parse(lines("malformed.jsonl")[index])


def _ingest(store: Store, catalogue: Catalogue, *names: str, **options: Any) -> Any:
    paths = [str(DATA / n) for n in names]
    return ingest.ingest(store, sources.expand(paths), IngestOptions(**options), catalogue)


def _cost(store: Store, request_id: str) -> Any:
    return store.row("SELECT cost_usd FROM requests WHERE request_id = ?", [request_id])[0]


def test_ingest_prices_each_model_id(store: Store, catalogue: Catalogue) -> None:
    result = _ingest(store, catalogue, "invocation_logs.jsonl", "cloudwatch_export.jsonl")
    assert (result.total("added"), result.total("rejected")) == (10, 0)
    assert result.unknown_models() == {APP_PROFILE: 1}
    ids = [r["requestId"] for r in LOGS]
    # us. Claude Sonnet 4.5 (a regional profile, +10%): input $3.30, cache read $0.33,
    # 5-minute write $4.125, output $16.50.
    assert (
        _cost(store, ids[0])
        == (
            120 * Decimal("3.30")
            + 3000 * Decimal("0.33")
            + 500 * Decimal("4.125")
            + 80 * Decimal("16.5")
        )
        * M
    )
    assert _cost(store, ids[1]) == (4 * Decimal("0.06") + 38 * Decimal("0.24")) * M  # Nova Lite
    # apac. Claude 3.5 Haiku is not in the catalogue: priced as its model id, $0.80 / $4.
    assert _cost(store, ids[2]) == (15 * Decimal("0.80") + 4 * Decimal(4)) * M
    note = store.row("SELECT price_note FROM requests WHERE request_id = ?", [ids[2]])[0]
    assert "priced as 'anthropic.claude-3-5-haiku-20241022-v1:0'" in note
    assert _cost(store, ids[3]) == (7 * Decimal("0.20") + 17 * Decimal("0.60")) * M  # Titan
    assert _cost(store, ids[4]) == 20 * Decimal("0.22") * M  # Llama 3.1 8B, us. profile
    assert _cost(store, ids[5]) == (3 * Decimal(1) + 3 * Decimal(2)) * M  # Cohere Command
    assert _cost(store, ids[6]) is None  # application inference profile
    assert _cost(store, ids[7]) == Decimal(0)  # failed call
    # global. Claude Sonnet 4.5: $3 / $15.
    for request_id in (
        "c0ffee00-0000-4000-8000-000000000009",
        "c0ffee00-0000-4000-8000-000000000010",
    ):
        assert _cost(store, request_id) == (10 * Decimal(3) + 2 * Decimal(15)) * M


def test_application_profile_priced_once_a_config_price_names_it(store: Store) -> None:
    override = PriceOverride(APP_PROFILE, date(1970, 1, 1), Decimal(3) * M, Decimal(15) * M)
    catalogue = Catalogue.load(overrides=[override])
    result = _ingest(store, catalogue, "invocation_logs.jsonl")
    assert result.unknown_models() == {}
    assert _cost(store, LOGS[6]["requestId"]) == (41000 * Decimal(3) + 6 * Decimal(15)) * M


def test_reingest_adds_nothing(store: Store, catalogue: Catalogue) -> None:
    names = ("invocation_logs.jsonl", "cloudwatch_export.jsonl")
    assert _ingest(store, catalogue, *names).total("added") == 10
    again = _ingest(store, catalogue, *names, force=True)
    assert (again.total("added"), again.total("duplicate")) == (0, 10)


def test_malformed_records_are_rejected_with_reasons(store: Store, catalogue: Catalogue) -> None:
    result = _ingest(store, catalogue, "malformed.jsonl")
    assert (result.total("added"), result.total("rejected")) == (0, 5)
    reasons = [r[0] for r in store.rows("SELECT reason FROM rejects ORDER BY source_line")]
    assert reasons[1] == "missing modelId"
    assert reasons[0] == "logEvents[1]: CloudWatch event 'message' is not JSON"


def test_application_profile_mapped_to_a_model_with_map(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    record = copy.deepcopy(LOGS[6])
    record["requestMetadata"] = {"base_model": "anthropic.claude-sonnet-4-5-20250929-v1:0"}
    path = write_jsonl(tmp_path / "profile.jsonl", [record])
    options = IngestOptions(field_map={"model": "requestMetadata.base_model"})
    result = ingest.ingest(store, sources.expand([str(path)]), options, catalogue)
    assert result.unknown_models() == {}
    # Claude Sonnet 4.5 on Bedrock: $3 / $15.
    assert _cost(store, record["requestId"]) == (41000 * Decimal(3) + 6 * Decimal(15)) * M


def test_a_cloudwatch_payload_is_one_call_per_event(store: Store, catalogue: Catalogue) -> None:
    (payload,) = lines("cloudwatch_events.jsonl")
    name, calls = Detector().parse_all(payload)
    assert name == "bedrock_invocation_log"
    assert [c["request_id"] for c in calls] == [log["requestId"] for log in LOGS[:3]]
    assert [c["metadata"]["cloudwatch"]["id"][-1] for c in calls] == ["0", "1", "2"]
    assert {c["metadata"]["cloudwatch"]["logGroup"] for c in calls} == {payload["logGroup"]}
    result = _ingest(store, catalogue, "cloudwatch_events.jsonl", "invocation_logs.jsonl")
    (events, logs) = result.files
    assert (events.records_read, events.added, events.rejected) == (1, 3, 0)
    assert (logs.added, logs.duplicate) == (len(LOGS) - 3, 3)  # the same three, logged bare
    stored = store.rows(
        "SELECT request_id, source_line FROM requests WHERE source_file LIKE '%events%' "
        "ORDER BY request_id"
    )
    assert stored == sorted((log["requestId"], 1) for log in LOGS[:3])
