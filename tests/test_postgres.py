"""`costlab ingest postgresql://...` against a real PostgreSQL server (tests/postgres_server.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab import ingest as file_ingest
from costlab import postgres, prices, timestamps
from costlab.cli import app
from costlab.ingest import sources
from costlab.postgres import watermark
from costlab.store import Store
from tests.postgres_fixtures import (
    READER,
    READER_PASSWORD,
    TIME_COLUMNS,
    at_ms,
    insert,
    jsonl,
    spend_rows,
)
from tests.postgres_server import Server

# What differs between two reads of the same record: where and when it was read.
_WHERE = {"source_file", "source_line", "run_id"}
_JSON_COLUMNS = ("messages", "metadata")


def _url(server: Server, db: str, password: str | None = READER_PASSWORD) -> str:
    return server.url(READER, password, db)


def _load(store: Store, url: str, **how: Any) -> file_ingest.FileResult:
    source = postgres.DatabaseSource(url, **how)
    options = file_ingest.IngestOptions()
    return postgres.ingest(store, source, options, prices.Catalogue.load(), "run-" + str(id(how)))


def _stored(store: Store) -> list[dict[str, Any]]:
    table = store.arrow("SELECT * FROM requests ORDER BY request_id").to_pylist()
    for row in table:
        for column in _JSON_COLUMNS:  # JSONB keeps the keys of an object in its own order
            row[column] = None if row[column] is None else json.loads(row[column])
        for column in _WHERE:
            del row[column]
        for name in TIME_COLUMNS:  # kept as text: PostgreSQL writes a time without its "Z"
            if row["metadata"].get(name):
                row["metadata"][name] = timestamps.parse(row["metadata"][name])
    return table


def test_the_rows_become_the_records_the_file_format_makes(
    server: Server, database: str, tmp_path: Path
) -> None:
    rows = spend_rows()
    rows[3]["prompt_tokens"] = -5  # a bad row: rejected on both paths, for the same reason
    insert(server.url(db=database), rows)
    with Store.open(":memory:") as from_file, Store.open(":memory:") as from_db:
        path = jsonl(tmp_path / "spend.jsonl", rows)
        file_ingest.ingest(
            from_file,
            sources.expand([str(path)]),
            file_ingest.IngestOptions(format="litellm_spend_log"),
            prices.Catalogue.load(),
        )
        out = _load(from_db, _url(server, database))
        assert (out.records_read, out.added, out.rejected) == (len(rows), len(rows) - 1, 1)
        stored, expected = _stored(from_db), _stored(from_file)
        assert len(stored) == len(expected) == len(rows) - 1
        assert _differences(stored, expected) == []
        reasons = "SELECT reason FROM rejects"
        assert from_db.rows(reasons) == from_file.rows(reasons)
        assert "negative" in from_db.rows(reasons)[0][0] or from_db.rows(reasons)[0][0]


def test_a_second_run_reads_only_newer_rows_and_keeps_its_watermark(
    server: Server, database: str
) -> None:
    rows = spend_rows()
    insert(server.url(db=database), rows)
    url = _url(server, database)
    with Store.open(":memory:") as store:
        first = _load(store, url, overlap=timedelta(0))
        assert first.added == len(rows)
        newer = [_row(rows[0], f"new-{i}", f"2027-01-01T00:00:0{i}.000Z") for i in range(3)]
        insert(server.url(db=database), newer)
        second = _load(store, url, overlap=timedelta(0))
        assert (second.records_read, second.added, second.duplicate) == (3, 3, 0)
        label = postgres.target.parse(url).label
        mark = watermark.last(store, label)
        assert mark is not None
        assert mark.start.isoformat() == "2027-01-01T00:00:02"
        assert mark.request_ids == ("new-2",)
        third = _load(store, url, overlap=timedelta(0))
        assert (third.records_read, third.added) == (0, 0)
        assert watermark.last(store, label) == mark  # carried over by a run that found nothing


def test_a_row_written_later_at_the_watermark_is_read_once(server: Server, database: str) -> None:
    base = spend_rows()[0]
    at = "2027-02-01T08:00:00.000Z"
    insert(server.url(db=database), [_row(base, "a", at)])
    url = _url(server, database)
    with Store.open(":memory:") as store:
        assert _load(store, url, overlap=timedelta(0)).added == 1
        insert(server.url(db=database), [_row(base, "b", at)])
        again = _load(store, url, overlap=timedelta(0))
        assert (again.records_read, again.added) == (1, 1)  # "a" is not read again
        assert watermark.last(store, postgres.target.parse(url).label).request_ids == ("a", "b")


def test_late_rows_inside_the_overlap_are_caught_older_ones_by_full(
    server: Server, database: str
) -> None:
    base = spend_rows()[0]
    insert(server.url(db=database), [_row(base, "on-time", "2027-03-01T12:00:00.000Z")])
    url = _url(server, database)
    with Store.open(":memory:") as store:
        _load(store, url)
        late = [
            _row(base, "late-10min", "2027-03-01T11:50:00.000Z"),
            _row(base, "late-3h", "2027-03-01T09:00:00.000Z"),
        ]
        insert(server.url(db=database), late)
        run = _load(store, url)  # overlap: one hour
        assert (run.records_read, run.added, run.duplicate) == (1, 1, 0)
        assert _ids(store) == ["late-10min", "on-time"]
        full = _load(store, url, full=True)
        assert (full.records_read, full.added, full.duplicate) == (3, 1, 2)
        assert _ids(store) == ["late-10min", "late-3h", "on-time"]


def test_strict_rolls_back_and_keeps_the_watermark(server: Server, database: str) -> None:
    rows = spend_rows()[:2]
    insert(server.url(db=database), rows[:1])
    url = _url(server, database)
    with Store.open(":memory:") as store:
        _load(store, url)
        label = postgres.target.parse(url).label
        before = watermark.last(store, label)
        bad = _row(rows[1], "bad", "2027-04-01T00:00:00.000Z", prompt_tokens=-1)
        insert(server.url(db=database), [bad])
        source = postgres.DatabaseSource(url)
        strict = file_ingest.IngestOptions(strict=True)
        out = postgres.ingest(store, source, strict, prices.Catalogue.load(), "strict-run")
        assert (out.status, out.rejected) == ("rolled_back", 1)
        assert watermark.last(store, label) == before


def test_progress_counts_rows_against_the_window(server: Server, database: str) -> None:
    rows = spend_rows()
    insert(server.url(db=database), rows)
    seen: list[tuple[str, int, int | None]] = []
    with Store.open(":memory:") as store:
        source = postgres.DatabaseSource(_url(server, database))
        options = file_ingest.IngestOptions()
        postgres.ingest(
            store, source, options, prices.Catalogue.load(), "p", lambda *a: seen.append(a)
        )
    assert seen[-1] == (postgres.target.parse(source.url).label, len(rows), len(rows))


def test_the_transaction_is_read_only(server: Server, database: str) -> None:
    import psycopg

    target = postgres.target.parse(server.url(db=database))  # the admin: it could write
    with postgres.reader.session(target) as table:
        conn = table._conn  # the session's own connection: is it read-only?
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute('DELETE FROM "LiteLLM_SpendLogs"')


def test_cli_ingests_a_database_and_stores_no_password(
    server: Server, database: str, tmp_path: Path
) -> None:
    insert(server.url(db=database), spend_rows())
    db = tmp_path / "store.duckdb"
    url = _url(server, database)
    result = run_cli("--db", str(db), "ingest", url, "--json")
    assert result.exit_code == 0, result.output
    assert READER_PASSWORD not in result.output
    summary = json.loads(result.stdout)
    assert summary["files"][0]["source"] == postgres.target.parse(url).label
    assert summary["totals"]["added"] == len(spend_rows())
    plain = run_cli("--db", str(db), "ingest", url)
    assert plain.exit_code == 0 and READER_PASSWORD not in plain.output
    with Store.open(db) as store:
        for (table,) in store.rows("SELECT table_name FROM duckdb_tables()"):
            dump = str(store.rows(f"SELECT * FROM {table}"))
            assert READER_PASSWORD not in dump, table
        assert store.rows("SELECT DISTINCT source_file FROM ingest_runs") == [
            (f"postgresql://{READER}@/{database}?host={server.socket_dir}#LiteLLM_SpendLogs",)
        ]


def test_credentials_from_the_environment_and_pgpass(
    server: Server, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert(server.url(db=database), spend_rows()[:2])
    url = _url(server, database, password=None)
    monkeypatch.setenv("PGPASSWORD", READER_PASSWORD)
    result = run_cli("--db", str(tmp_path / "a.duckdb"), "ingest", url)
    assert result.exit_code == 0, result.output
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:{READER}:{READER_PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    result = run_cli("--db", str(tmp_path / "b.duckdb"), "ingest", url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["added"] == 2


def _differences(
    stored: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> list[tuple[Any, str, Any, Any]]:
    """(request id, column, stored, expected) wherever two reads disagree."""
    return [
        (a["request_id"], column, a[column], b[column])
        for a, b in zip(stored, expected, strict=True)
        for column in a
        if a[column] != b[column]
    ]


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _row(base: dict[str, Any], request_id: str, start: str, **changes: Any) -> dict[str, Any]:
    return base | {"request_id": request_id, "startTime": start, "endTime": at_ms(start)} | changes


def _ids(store: Store) -> list[str]:
    return [r[0] for r in store.rows("SELECT request_id FROM requests ORDER BY 1")]
