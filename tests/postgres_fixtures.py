"""Fixtures of the PostgreSQL ingest tests: a real server, a fresh spend-log database per test.

The rows are the repository's LiteLLM spend-log samples, with every column of the real table
(absent ones NULL) and times at the table's millisecond precision, so a JSONL file of the same
rows holds exactly what the database holds.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import postgres_server
from tests.postgres_server import Server

ROOT = Path(__file__).parents[1]
TABLE_SQL = ROOT / "tests/data/litellm/spend_logs_table.sql"
SAMPLES = (
    ROOT / "sample_logs/litellm_spend_logs.json",
    ROOT / "tests/data/litellm/spend_logs_synthetic.jsonl",
)
READER, READER_PASSWORD = "costlab_reader", "reader-Pw-7731"
NO_GRANT, NO_GRANT_PASSWORD = "costlab_nogrant", "nogrant-Pw-1187"
TEMPLATE = "litellm_template"
_COLUMN = re.compile(r'^\s+"(\w+)" ([A-Z]+)', re.MULTILINE)
COLUMNS = dict(_COLUMN.findall(TABLE_SQL.read_text()))  # name -> type
TIME_COLUMNS = ("startTime", "endTime", "completionStartTime")
_names = itertools.count()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    pytest.importorskip("psycopg", reason="the 'postgres' extra (psycopg 3) is not installed")
    bin_dir = postgres_server.binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian: postgresql)")
    for running in postgres_server.start(bin_dir):
        _make_template(running)
        yield running


def _make_template(server: Server) -> None:
    with _connect(server.url(db="postgres")) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
        for role, password in ((READER, READER_PASSWORD), (NO_GRANT, NO_GRANT_PASSWORD)):
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    with _connect(server.url(db=TEMPLATE)) as conn:
        conn.execute(TABLE_SQL.read_text())
        conn.execute(f'GRANT SELECT ON "LiteLLM_SpendLogs" TO {READER}')
        conn.execute('CREATE TABLE "OldSpendLogs" (request_id TEXT, call_type TEXT, spend FLOAT)')
        conn.execute(f'GRANT SELECT ON "OldSpendLogs" TO {READER}')


@pytest.fixture
def database(server: Server) -> str:
    """A fresh database holding the empty spend-log table; its name."""
    name = f"litellm_{next(_names)}"
    with _connect(server.url(db="postgres")) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return name


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def insert(url: str, rows: list[dict[str, Any]], table: str = "LiteLLM_SpendLogs") -> None:
    """Insert rows as LiteLLM does: every column given, JSON values into JSONB columns."""
    from psycopg.types.json import Jsonb

    names = ", ".join(f'"{c}"' for c in COLUMNS)
    holes = ", ".join("%s" for _ in COLUMNS)
    with _connect(url) as conn:
        for row in rows:
            values = [
                Jsonb(row[c]) if COLUMNS[c] == "JSONB" and row[c] is not None else row[c]
                for c in COLUMNS
            ]
            conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({holes})', values)


def spend_rows() -> list[dict[str, Any]]:
    """The sample spend-log rows as the table holds them: every column, times in ms."""
    records: list[dict[str, Any]] = json.loads(SAMPLES[0].read_text())
    records += [json.loads(line) for line in SAMPLES[1].read_text().splitlines() if line.strip()]
    return [_as_stored(r) for r in records]


def _as_stored(record: dict[str, Any]) -> dict[str, Any]:
    row = {column: record.get(column) for column in COLUMNS}
    for column, kind in COLUMNS.items():
        value = row[column]
        if kind == "JSONB" and isinstance(value, str) and value[:1] in "{[":
            row[column] = json.loads(value)  # an export's JSON text: the table holds the JSON
    for column in TIME_COLUMNS:
        if row[column] is not None:
            row[column] = at_ms(row[column])
    return row


def at_ms(value: str) -> str:
    """An ISO time at TIMESTAMP(3)'s precision (PostgreSQL rounds to the millisecond)."""
    parsed = datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)
    rounded = round(parsed.timestamp() * 1000) / 1000
    exact = datetime.fromtimestamp(rounded, UTC)
    return exact.strftime("%Y-%m-%dT%H:%M:%S.") + f"{exact.microsecond // 1000:03d}Z"


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
