"""`costlab prices list | show | import` through the real command module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from costlab.cli import prices
from costlab.errors import BadInput
from costlab.prices import Catalogue

LITELLM_SAMPLE = {
    "sample_spec": {"mode": "chat", "input_cost_per_token": 0.0},
    "new-model": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 4e-06,
        "input_cost_per_token_batches": 5e-07,
        "output_cost_per_token_batches": 2e-06,
    },
    "an-image-model": {"mode": "image_generation", "output_cost_per_image": 0.04},
}


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "costlab" / "prices.json"


def run(*args: str) -> Result:
    app = typer.Typer()
    app.add_typer(prices.app, name="prices")
    return CliRunner().invoke(app, ["prices", *args], env={"COLUMNS": "240"})


def test_list_table() -> None:
    result = run("list", "--provider", "openai", "--search", "gpt-4o-mini")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if " gpt-4o-mini " in line)
    for text in ("openai", "0.15", "0.6", "0.075", "0.075 / 0.3"):
        assert text in row
    assert "LiteLLM" in result.output


def test_list_json() -> None:
    result = run("list", "--search", "gemini-2.5-pro", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert "litellm 1.110.2" in document["source"]
    model = next(m for m in document["models"] if m["model"] == "gemini-2.5-pro")
    assert model["per_1m_tokens"]["input"] == "1.25"
    assert model["batch_per_1m_tokens"]["output"] == "5"
    assert model["tiers_above_tokens"] == [200000]


def test_show_table_has_tiers_batch_and_note() -> None:
    result = run("show", "gemini-2.5-pro-2099-01-01")
    assert result.exit_code == 0, result.output
    assert "priced as 'gemini-2.5-pro'" in result.output
    for text in ("prompt > 200,000", "batch", "2.5", "0.0000025", "= input", "cache read"):
        assert text in result.output


def test_show_json() -> None:
    result = run("show", "openai/gpt-4o", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert (document["model"], document["provider"], document["note"]) == ("gpt-4o", "openai", None)
    standard, batch = document["points"]
    assert standard["per_1m_tokens"] == {"input": "2.5", "output": "10", "cache_read": "1.25"}
    assert standard["per_token"]["input"] == "0.0000025"
    assert (batch["batch"], batch["per_1m_tokens"]["input"]) == (True, "1.25")


def test_show_unknown_model_is_bad_input() -> None:
    result = run("show", "no-such-model")
    assert isinstance(result.exception, BadInput)
    assert "costlab prices list --search" in result.exception.hint


def test_import_to_user_catalogue(tmp_path: Path, isolated_config: Path) -> None:
    source = tmp_path / "model_prices.json"
    source.write_text(json.dumps(LITELLM_SAMPLE))
    result = run("import", str(source))
    assert result.exit_code == 0, result.output
    assert "Wrote 1 models" in result.output and "instead of the shipped" in result.output
    catalogue = Catalogue.load()
    assert catalogue.path == isolated_config
    assert catalogue.models() == ["new-model"]
    shown = json.loads(run("show", "new-model", "--json").output)
    assert [p["per_1m_tokens"]["input"] for p in shown["points"]] == ["1", "0.5"]


def test_import_with_out_and_json(tmp_path: Path, isolated_config: Path) -> None:
    source = tmp_path / "model_prices.json"
    source.write_text(json.dumps(LITELLM_SAMPLE))
    out = tmp_path / "elsewhere" / "prices.json"
    result = run("import", str(source), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"] == 1
    assert Catalogue.load(out).models() == ["new-model"]
    assert not isolated_config.exists()


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"only": {"mode": "image"}}'])
def test_import_bad_file_is_bad_input(tmp_path: Path, content: str) -> None:
    source = tmp_path / "bad.json"
    source.write_text(content)
    result = run("import", str(source), "--out", str(tmp_path / "out.json"))
    assert isinstance(result.exception, BadInput)


def test_import_missing_file_is_bad_input(tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "missing.json"))
    assert isinstance(result.exception, BadInput)


@pytest.mark.parametrize("command", [[], ["list"], ["show"], ["import"]])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example: costlab prices" in result.output
