"""`costlab simulate-prefix-cache` end to end: tables, --json, --html, [batch], bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.prefix import html as prefix_html
from costlab.prefix import report
from costlab.settings import BatchSettings
from costlab.store import Store
from tests.conftest import Cli, write_jsonl
from tests.pages import parse
from tests.prefix_fixtures import static_first, variable_first


@pytest.fixture
def loaded(cli: Cli, tmp_path: Path) -> Cli:
    records = static_first("gpt-4o", count=20) + variable_first("gpt-4o-mini", count=20)
    result = cli("ingest", str(write_jsonl(tmp_path / "log.jsonl", records)))
    assert result.exit_code == 0, result.output
    return cli


def test_tables_name_the_saving_the_reorder_and_the_warning(loaded: Cli) -> None:
    result = loaded("simulate-prefix-cache")
    assert result.exit_code == 0, result.output
    assert "Prefix caching over 40 requests" in result.output
    assert "Reorder opportunities" in result.output
    assert "compress after token 1,920" in " ".join(result.output.split())


def test_json_has_exact_money_as_strings(loaded: Cli) -> None:
    result = loaded("simulate-prefix-cache", "--json", "--batch-feature", "triage")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"]["saved_usd"] == "0.045600000000000000"  # 19 * 1,920 * $1.25/M
    assert data["reorders"][0]["static_tokens"] == 2000
    [batch] = data["batch"]
    assert (batch["feature"], batch["reason"]) == ("triage", "--batch-feature")
    assert Decimal(batch["cost_usd"]) == 2 * Decimal(batch["saved_usd"])  # batch is half price


def test_batch_features_come_from_the_config(loaded: Cli, tmp_path: Path) -> None:
    config = tmp_path / "costlab.toml"
    config.write_text(
        '[batch]\nnon_interactive = ["triage"]\nlatency_budget = { support = "2h" }\n'
    )
    result = loaded("--config", str(config), "simulate-prefix-cache", "--json")
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)["batch"]
    assert [(b["feature"], b["reason"]) for b in batch] == [("triage", "non-interactive")]
    assert Decimal(batch[0]["cost_usd"]) == 2 * Decimal(batch[0]["saved_usd"])


def test_latency_budget_that_covers_the_window_makes_a_feature_eligible() -> None:
    settings = BatchSettings(latency_budget={"report": "24h", "chat": "2s"}, window="24h")
    assert settings.eligible() == {"report": "latency budget 24h"}


def test_a_bad_batch_duration_names_the_field(loaded: Cli, tmp_path: Path) -> None:
    config = tmp_path / "costlab.toml"
    config.write_text('[batch]\nlatency_budget = { report = "soon" }\n')
    result = loaded("--config", str(config), "simulate-prefix-cache")
    assert result.exit_code == 2
    assert "batch.latency_budget" in result.output and "report" in result.output


def test_html_page_draws_a_bar_per_series(loaded: Cli, tmp_path: Path) -> None:
    page = tmp_path / "prefix.html"
    result = loaded("simulate-prefix-cache", "--batch-feature", "triage", "--html", str(page))
    assert result.exit_code == 0, result.output
    marks = parse(page.read_text()).marks["spend"]
    assert len(marks) == 2 + 3  # support: logged, cached; triage: logged, cached, batch
    assert "http" not in page.read_text().replace("https://help", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "openai.idle_minutes=5"], "has no field 'idle_minutes'"),
        (["--rule", "gemini.min_tokens=5"], "unknown rule 'gemini'"),
        (["--rule", "openai.min_tokens=lots"], "not a number"),
        (["--rules", "google"], "--rules google"),
        (["--encoding", "p50k_base"], "unknown encoding"),
    ],
)
def test_bad_flags_exit_2(loaded: Cli, args: list[str], message: str) -> None:
    result = loaded("simulate-prefix-cache", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_each_model_is_tokenized_with_its_own_encoding_by_default(loaded: Cli) -> None:
    result = loaded("simulate-prefix-cache", "--json")
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)["encoding"]
    assert "o200k_base for " in described and "gpt-4o" in described
    forced = json.loads(
        loaded("simulate-prefix-cache", "--json", "--encoding", "cl100k_base").stdout
    )
    assert forced["encoding"].startswith("cl100k_base for ")
    assert "gpt-4o (estimate)" in forced["encoding"]


def test_an_empty_store_is_bad_input(cli: Cli) -> None:
    Store.open(cli.db).close()
    result = cli("simulate-prefix-cache")
    assert result.exit_code == 2
    assert "no requests to replay" in result.output


def test_an_empty_report_page_renders() -> None:
    empty = report.PrefixReport(
        requests=0, replayed=0, encoding="cl100k_base", rules=[], total=report.Spend(),
        features=[], templates=[], reorders=[], warnings=[], batch=[], notes=[],
        template_count=0,
    )  # fmt: skip
    page = prefix_html.render(empty)
    assert "No features." in page and parse(page).figures == {}
