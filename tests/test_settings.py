from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import settings
from costlab.errors import ConfigError


def test_defaults_when_there_is_no_config(tmp_path: Path) -> None:
    loaded = settings.load(cwd=tmp_path)
    assert loaded == settings.Settings()
    assert settings.db_path(None, loaded) in (
        settings.DEFAULT_DB,
        __import__("os").environ.get("COSTLAB_DB"),
    )


def test_pyproject_section_is_read_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.costlab]\ndb = "team.duckdb"\n'
        '[tool.costlab.ingest]\nmap = { feature = "metadata.app" }\n'
    )
    monkeypatch.delenv("COSTLAB_DB", raising=False)
    loaded = settings.load(cwd=tmp_path)
    assert loaded.ingest.map == {"feature": "metadata.app"}
    assert settings.db_path(None, loaded) == "team.duckdb"
    monkeypatch.setenv("COSTLAB_DB", "env.duckdb")
    assert settings.db_path(None, loaded) == "env.duckdb"
    assert settings.db_path("flag.duckdb", loaded) == "flag.duckdb"


def test_a_misspelt_key_names_the_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "costlab.toml"
    config.write_text('db = "x.duckdb"\n\n[ingest]\nredcat = true\n')
    with pytest.raises(ConfigError) as err:
        settings.load(cwd=tmp_path)
    assert str(config) in err.value.message
    assert "line 4" in err.value.message and "ingest.redcat" in err.value.message


def test_price_overrides_are_per_million_tokens_converted_exactly(tmp_path: Path) -> None:
    (tmp_path / "costlab.toml").write_text(
        '[[prices]]\nmodel = "gpt-4o"\nsince = 2026-06-01\ninput = "2.00"\noutput = "8.00"\n'
    )
    override = settings.load(cwd=tmp_path).price_overrides()[0]
    assert override.since == date(2026, 6, 1)
    assert override.input == Decimal("0.000002") and override.output == Decimal("0.000008")


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "costlab.toml").write_text("db = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings.load(cwd=tmp_path)
