"""Templates matched to logged calls (metadata, hash, prefix), and monthly calls and Δ$/month."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab import prices
from costlab.cli import app
from costlab.store import Store
from costlab.tokens import traffic
from costlab.tokens.templates import Template
from tests.conftest import flat, load

SUPPORT = "You are the support agent of ACME. Be brief and polite."
SUMMARY = "Summarise the following document for an executive reader:\n{document}"
TEMPLATES = [
    Template("prompts/support.txt", Path("prompts/support.txt"), SUPPORT),
    Template("prompts/summary.txt", Path("prompts/summary.txt"), SUMMARY),
    Template("prompts/triage.txt", Path("prompts/triage.txt"), "Triage: {ticket}"),
]
KEYS = ("template_id", "template")


def _call(n: int, day: int, **fields: Any) -> dict[str, Any]:
    return flat(n, timestamp=f"2026-10-{day:02d}T12:00:00Z", **fields)


def _records() -> list[dict[str, Any]]:
    """Ten days of calls: 4 support (hash), 3 summary (prefix), 2 triage (metadata), 1 other."""
    return [
        *(_call(n, 1 + n, system_prompt=SUPPORT, prompt="where is my order?") for n in range(4)),
        *(_call(n, 5 + n - 4, prompt=SUMMARY.replace("{document}", f"doc {n}")) for n in (4, 5, 6)),
        _call(7, 8, template_id="triage", prompt="my screen is broken"),
        _call(8, 9, template="prompts/triage.txt", prompt="refund please"),
        _call(9, 11, prompt="something else entirely"),
    ]


def test_calls_are_matched_by_metadata_hash_and_prefix_and_scaled_to_a_month(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, _records())
    basis, calls = traffic.monthly_calls(store, TEMPLATES, KEYS)
    assert basis is not None and basis.scaled  # 10 logged days, scaled by 3
    assert calls == {
        "prompts/support.txt": {"gpt-4o-mini": Decimal(12)},
        "prompts/summary.txt": {"gpt-4o-mini": Decimal(9)},
        "prompts/triage.txt": {"gpt-4o-mini": Decimal(6)},
    }
    assert basis.describe() == "calls of 2026-10-01 to 2026-10-11 (10.0 days) scaled to 30 days"


def test_metadata_wins_over_hash_and_the_longest_prefix_wins(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    longer = Template("prompts/long.txt", Path("prompts/long.txt"), SUMMARY.replace("{", "x {"))
    records = [
        _call(0, 1, system_prompt=SUPPORT, template_id="summary"),
        _call(1, 2, prompt=SUMMARY.replace("{document}", "x doc")),
    ]
    load(store, catalogue, tmp_path, records)
    _, calls = traffic.monthly_calls(store, [*TEMPLATES, longer], KEYS)
    assert set(calls) == {"prompts/summary.txt", "prompts/long.txt"}


def test_a_log_longer_than_a_month_counts_its_last_30_days(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [
        flat(0, timestamp="2026-08-01T00:00:00Z", system_prompt=SUPPORT),
        flat(1, timestamp="2026-10-05T00:00:00Z", system_prompt=SUPPORT),
        flat(2, timestamp="2026-10-30T00:00:00Z", system_prompt=SUPPORT),
    ]
    load(store, catalogue, tmp_path, records)
    basis, calls = traffic.monthly_calls(store, TEMPLATES, KEYS)
    assert basis is not None and not basis.scaled
    assert calls == {"prompts/support.txt": {"gpt-4o-mini": Decimal(2)}}
    assert basis.describe() == "calls in the 30 days to 2026-10-30"


def test_an_empty_store_has_no_traffic(store: Store) -> None:
    assert traffic.monthly_calls(store, TEMPLATES, KEYS) == (None, {})


@pytest.fixture
def logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with the support template, its baseline, and a store of its traffic."""
    from tests.conftest import write_jsonl

    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support.txt").write_text(SUPPORT)
    log = write_jsonl(tmp_path / "log.jsonl", _records())
    runner = CliRunner()
    assert runner.invoke(app, ["--db", "costlab.duckdb", "ingest", str(log)]).exit_code == 0
    assert runner.invoke(app, ["tokens", "update", "prompts"]).exit_code == 0
    return tmp_path


def test_check_with_db_shows_growth_in_dollars_per_month(logged: Path) -> None:
    (logged / "prompts" / "support.txt").write_text(SUPPORT + " Always answer in French.")
    args = ["tokens", "check", "prompts", "--max-increase", "100%", "--db", "costlab.duckdb"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    row = report["templates"][0]
    assert row["delta_tokens"] == 5 and Decimal(row["monthly_calls"]) == 12
    # 5 tokens × 12 calls × gpt-4o-mini's $0.15 per 1M input tokens
    assert Decimal(row["delta_usd_per_month"]) == Decimal("5") * 12 * Decimal("0.15") / 10**6
    assert "scaled to 30 days" in report["traffic_basis"]
    table = CliRunner().invoke(app, ["--db", "costlab.duckdb", *args[:-2]])
    assert "Δ $/month" in table.stdout and "calls/month" in table.stdout


def test_check_with_a_missing_store_is_exit_2(logged: Path) -> None:
    result = CliRunner().invoke(app, ["tokens", "check", "prompts", "--db", "nowhere.duckdb"])
    assert result.exit_code == 2
    assert "no costlab store at nowhere.duckdb" in result.stderr
