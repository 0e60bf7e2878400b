"""Each way a database cannot be read is one message, exit 2, and never shows a password."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.store import Store
from tests.postgres_fixtures import (
    NO_GRANT,
    NO_GRANT_PASSWORD,
    READER,
    READER_PASSWORD,
    insert,
    spend_rows,
)
from tests.postgres_server import Server

SECRET = "Hunter2-never-shown"


def _ingest(tmp_path: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "s.duckdb"), "ingest", *args])
    for secret in (SECRET, READER_PASSWORD, NO_GRANT_PASSWORD):
        assert secret not in result.output
    return result


def _one_error(result: Any, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output
    return str(result.output)


def test_unreachable_server_over_tcp(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    result = _ingest(tmp_path, f"postgresql://reader:{SECRET}@127.0.0.1:1/litellm")
    _one_error(result, "cannot reach the database server", "postgresql://reader@127.0.0.1:1")


def test_unreachable_server_on_a_socket(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    result = _ingest(tmp_path, f"postgres://reader:{SECRET}@/litellm?host={tmp_path}")
    _one_error(result, "cannot reach the database server")


def test_authentication_failed(server: Server, database: str, tmp_path: Path) -> None:
    result = _ingest(tmp_path, server.url(READER, SECRET, database))
    _one_error(result, "authentication failed", f"{READER}@")


def test_authentication_failed_with_the_password_from_the_environment(
    server: Server, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", SECRET)
    result = _ingest(tmp_path, server.url(READER, None, database), "--json")
    _one_error(result, "authentication failed")


def test_table_missing(server: Server, database: str, tmp_path: Path) -> None:
    url = server.url(READER, READER_PASSWORD, database)
    result = _ingest(tmp_path, url, "--table", "NoSuchTable")
    _one_error(result, "no table", "NoSuchTable", "--table")


def test_columns_of_another_shape_are_named(server: Server, database: str, tmp_path: Path) -> None:
    url = server.url(READER, READER_PASSWORD, database)
    result = _ingest(tmp_path, url, "--table", "OldSpendLogs")
    text = _one_error(result, "not a LiteLLM spend-log table")
    for column in ("total_tokens", "startTime", "model", "metadata"):
        assert column in text
    assert "request_id," not in text.split("no column", 1)[1].split("\n")[0]  # present: not named


def test_permission_denied(server: Server, database: str, tmp_path: Path) -> None:
    result = _ingest(tmp_path, server.url(NO_GRANT, NO_GRANT_PASSWORD, database))
    _one_error(result, "permission denied", "GRANT SELECT")


def test_a_failed_read_leaves_the_store_as_it_was(
    server: Server, database: str, tmp_path: Path
) -> None:
    insert(server.url(db=database), spend_rows()[:3])
    good = _ingest(tmp_path, server.url(READER, READER_PASSWORD, database))
    assert good.exit_code == 0, good.output
    _ingest(tmp_path, server.url(NO_GRANT, NO_GRANT_PASSWORD, database))
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.rows("SELECT count(*) FROM requests") == [(3,)]
        assert store.rows("SELECT count(*) FROM ingest_runs") == [(1,)]


def test_no_driver_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    result = _ingest(tmp_path, f"postgresql://reader:{SECRET}@db.internal/litellm")
    _one_error(result, "'postgres' extra", "costlab[postgres]")


def test_a_url_that_is_not_a_database_does_not_echo_its_password(tmp_path: Path) -> None:
    result = _ingest(tmp_path, f"mysql://reader:{SECRET}@db.internal/litellm")
    _one_error(result, "no such file", "mysql://reader:***@db.internal/litellm")
