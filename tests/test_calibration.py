"""Token counts checked against bills: the documented OpenAI framing gives 0 error on real
records, other families' tokens per cl100k token are measured, and route-replay uses them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from costlab import calibration, encodings, ingest, prices
from costlab.calibration import framing
from costlab.ingest import IngestOptions, sources
from costlab.routing import compare, policy
from costlab.store import Store
from tests.conftest import DATA, Cli, flat, load, write_jsonl

CASSETTES = Path(__file__).resolve().parents[2] / "shared/data/log_samples/otel_openai_cassettes"


def test_the_documented_chat_framing() -> None:
    framed = framing.frame('[{"role": "user", "content": "hi"}]', None, None, "openai_chat")
    assert framed == framing.Framed(("user", "hi"), 3 + 3)
    named = framing.frame('[{"role": "user", "name": "ada", "content": "hi"}]', None, None, None)
    assert named == framing.Framed(("user", "hi", "ada"), 3 + 1 + 3)


def test_a_system_prompt_logged_beside_the_messages_is_the_first_message() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    messages = json.dumps([{"role": "user", "content": parts}])
    framed = framing.frame(messages, "be brief", None, "anthropic_message")
    assert framed == framing.Framed(("system", "be brief", "user", "ab"), 3 + 3 + 3)
    with_system = '[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]'
    assert framing.frame(with_system, "s", None, None) == framing.Framed(
        ("system", "s", "user", "u"), 9
    )


@pytest.mark.parametrize(
    ("messages", "tools", "log_format", "reason"),
    [
        ('[{"role": "user", "content": "x"}]', '[{"type": "function"}]', None, "tools declared"),
        ('[{"role": "assistant", "tool_calls": [{}]}]', None, None, "tool calls or results"),
        ('[{"role": "tool", "content": "22C"}]', None, None, "tool calls or results"),
        ('[{"role": "user", "content": [{"type": "image_url"}]}]', None, None, "images"),
        ('[{"role": "user", "content": [{"type": "input_audio"}]}]', None, None, "audio or files"),
        ('[{"role": "user", "content": "x"}]', None, "openai_responses", "Responses API"),
        (None, None, None, "no messages logged"),
        ("{not json", None, None, "unreadable messages"),
    ],
)  # fmt: skip
def test_what_the_framing_cannot_count_is_excluded_by_reason(
    messages: str | None, tools: str | None, log_format: str | None, reason: str
) -> None:
    assert framing.frame(messages, None, tools, log_format) == reason


def test_openai_text_only_chat_requests_show_zero_error_on_real_records(
    store: Store, catalogue: prices.Catalogue
) -> None:
    # Real request/response bodies (OpenTelemetry's cassettes, LiteLLM's Batch API fixture).
    ingest.ingest(store, sources.expand([str(DATA / "openai")]), IngestOptions(), catalogue)
    result = calibration.calibrate(store)
    [mini] = [m for m in result.models if m.model == "gpt-4o-mini-2024-07-18"]
    assert (mini.encoding, mini.exact, mini.compared) == ("o200k_base", True, 4)
    assert mini.median_error == 0.0 and mini.p95_abs_error == 0.0
    assert mini.excluded == {"Responses API": 2, "tools declared": 1, "tool calls or results": 1}
    assert mini.ratio is not None and mini.ratio.requests == 4


@pytest.mark.skipif(not CASSETTES.is_dir(), reason="../shared/data is not beside the project")
def test_every_text_only_chat_call_recorded_from_openai_counts_exactly() -> None:
    compared: dict[str, int] = {}
    for path in sorted(CASSETTES.glob("*chat_completion*.yaml")):
        for body, usage in _chat_calls(path):
            framed = framing.frame(json.dumps(body["messages"]), None, _tools(body), "openai_chat")
            if isinstance(framed, str):
                assert framed in ("tools declared", "tool calls or results"), path.name
                continue
            counter = encodings.counter(body["model"])
            counted = sum(counter.count(t) for t in framed.texts) + framed.overhead
            assert counted == usage["prompt_tokens"], path.name
            compared[counter.encoding] = compared.get(counter.encoding, 0) + 1
    assert compared["o200k_base"] >= 20 and compared["cl100k_base"] >= 2  # gpt-4o-mini, gpt-4


def _chat_calls(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = []
    for interaction in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
        if "chat/completions" not in interaction["request"]["uri"]:
            continue
        text = interaction["response"]["body"]["string"]
        chunks = [line[6:] for line in text.splitlines() if line.startswith("data: {")]
        bodies = [json.loads(c) for c in chunks] if chunks else [json.loads(text)]
        usage = next((b["usage"] for b in bodies if b.get("usage")), None)
        if usage is not None:
            found.append((json.loads(interaction["request"]["body"]), usage))
    return found


def _tools(body: dict[str, Any]) -> str | None:
    return json.dumps(body["tools"]) if body.get("tools") else None


def claude(n: int, billed: int = 50) -> dict[str, Any]:
    """A Claude call whose prompt is 40 cl100k tokens framed: 3 + 1 (user) + 33 + 3."""
    return {
        "timestamp": f"2026-11-02T10:{n % 60:02d}:00Z",
        "request": {
            "model": "claude-haiku-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": " hello" * 33}],
        },
        "response": {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "hi"}],
            "model": "claude-haiku-4-5",
            "usage": {"input_tokens": billed, "output_tokens": 5},
        },
    }


def test_claudes_tokens_per_cl100k_token_are_measured_with_an_interval(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [claude(n, 50 if n % 2 else 48) for n in range(40)]
    load(store, catalogue, tmp_path, records)
    result = calibration.calibrate(store)
    [check] = result.models
    assert (check.encoding, check.exact, check.compared) == ("cl100k_base × 1.15", False, 40)
    assert check.median_error == pytest.approx((46 - 49) / 49, abs=0.002)  # 40 x 1.15 vs billed
    [family] = result.families
    assert (family.name, family.requests, family.measured) == ("claude", 40, True)
    assert family.median == pytest.approx(49 / 40)
    assert family.low == pytest.approx(48 / 40) and family.high == pytest.approx(50 / 40)
    assert calibration.Ratios({"claude": family}).of("claude-sonnet-4-5") == ("claude", 1.225)


def test_route_replay_uses_the_measured_ratio_from_30_requests_and_says_so(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, [claude(n) for n in range(30)] + [flat(1)])
    path = tmp_path / "p.toml"
    path.write_text('default = "claude-haiku-4-5"\n', encoding="utf-8")
    policies = [policy.load(path, catalogue)]
    measured = compare.run(store, catalogue, policies, compare.CompareOptions(resamples=0))
    note = next(n for n in measured.notes if "tokenizer families" in n)
    assert "claude: 1.250 tokens per cl100k token, measured on 30 logged requests" in note
    assert "o200k: 0.95 tokens per cl100k token from the fixed table (0 requests" in note
    table = compare.run(
        store, catalogue, policies, compare.CompareOptions(resamples=0, ratios=calibration.Ratios())
    )
    # the gpt-4o-mini request repriced on Claude: 1000 x 1.25/0.95 input tokens, not 1.15/0.95
    assert measured.policies[0].after_usd > table.policies[0].after_usd


def test_under_30_requests_the_table_ratio_is_used_and_said(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, [claude(n) for n in range(29)])
    ratios = calibration.ratios(store)
    assert ratios.of("claude-haiku-4-5") == ("claude", 1.15)
    assert ratios.notes(["claude-haiku-4-5"]) == [
        "claude: 1.15 tokens per cl100k token from the fixed table "
        "(29 requests compared; 30 needed to measure it)"
    ]


def test_calibrate_prints_the_errors_per_model(cli: Cli) -> None:
    assert cli("ingest", str(DATA / "openai")).exit_code == 0
    result = cli("tokens", "calibrate")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "gpt-4o-mini-2024-07-18 │ o200k_base │ 4 │ 8 │ +0.0% │ 0.0%" in text
    assert "Responses API 2" in text
    data = json.loads(cli("tokens", "calibrate", "--json").stdout)
    assert data["min_requests"] == 30 and data["models"][0]["model"] == "gpt-4o-mini-2024-07-18"


def test_calibrate_with_no_comparable_requests_says_so_and_exits_0(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("ingest", str(write_jsonl(tmp_path / "f.jsonl", [flat(1)]))).exit_code == 0
    result = cli("tokens", "calibrate")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "no comparable requests" in text and "no messages logged 1" in text


def test_the_report_has_a_calibration_section(cli: Cli, tmp_path: Path) -> None:
    assert cli("ingest", str(DATA / "openai")).exit_code == 0
    data = json.loads(cli("report", "calibration", "--format", "json").stdout)
    assert data["calibration"]["models"][0]["median_error"] == 0.0
    page = tmp_path / "r.html"
    assert cli("report", "--html", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "Token counts against bills" in html and "+0.0%" in html
