from __future__ import annotations

from pathlib import Path

import pytest

from costlab import store as store_module
from costlab.errors import StoreError
from costlab.store import Store

EXPECTED_TABLES = {
    "requests",
    "rejects",
    "ingest_runs",
    "embeddings",
    "batch_inputs",
    "schema_migrations",
}


def test_open_creates_every_table_by_migration(store: Store) -> None:
    tables = {r[0] for r in store.rows("SELECT table_name FROM information_schema.tables")}
    assert EXPECTED_TABLES <= tables
    assert store.migrations() == [name for name, _ in store_module.MIGRATIONS]


def test_an_older_store_gets_newer_migrations_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "old.duckdb"
    with Store.open(db) as s:
        s.execute("INSERT INTO rejects VALUES ('r', 'f', 1, 'why', 'raw', 3)")
    calls = []

    def _m999(con: object) -> None:
        calls.append(1)
        con.execute("ALTER TABLE requests ADD COLUMN squad VARCHAR")  # type: ignore[attr-defined]

    monkeypatch.setattr(
        store_module, "MIGRATIONS", [*store_module.MIGRATIONS, ("999_squad", _m999)]
    )
    with Store.open(db) as s:
        assert s.migrations()[-1] == "999_squad"
        assert s.row("SELECT count(*) FROM rejects")[0] == 1
    with Store.open(db):
        pass
    assert calls == [1]


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.execute("INSERT INTO rejects VALUES ('r', 'f', 1, 'why', 'raw', 3)")
        raise RuntimeError("boom")
    assert store.row("SELECT count(*) FROM rejects")[0] == 0


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open(bogus)


def test_values_are_bound_not_formatted(store: Store) -> None:
    tricky = "x'); DROP TABLE requests; --"
    store.execute("INSERT INTO rejects VALUES (?, 'f', 1, 'why', 'raw', 3)", [tricky])
    assert store.row("SELECT run_id FROM rejects")[0] == tricky
    assert store.row("SELECT count(*) FROM requests")[0] == 0


def test_row_reads_its_result_to_the_end(store: Store) -> None:
    import pyarrow as pa

    assert store.row("SELECT * FROM range(3)") == (0,)
    # A half-read result would make DuckDB refuse the next registration.
    store.register("_after", pa.table({"x": [1]}))
    assert store.rows("SELECT x FROM _after") == [(1,)]
    store.unregister("_after")
    assert store.row("SELECT 1 WHERE false") is None


def test_a_lean_read_holds_duckdb_low_and_gives_back_what_it_cached(tmp_path: Path) -> None:
    def limit(s: Store) -> str:
        return str(s.rows("SELECT current_setting('memory_limit')")[0][0])

    with Store.open(tmp_path / "lean.duckdb") as s:
        normal = limit(s)
        s.execute("CREATE TABLE t AS SELECT range AS x, repeat('v', 200) AS y FROM range(200000)")
        with s.lean():
            assert limit(s) != normal  # held at LEAN_LIMIT while the table is read
            assert s.rows("SELECT count(*), sum(length(y)) FROM t") == [(200_000, 40_000_000)]
        assert limit(s) == normal
        s.trim()  # written data checkpointed, the cache handed back: the data is all there
        assert limit(s) == normal and s.rows("SELECT count(*) FROM t") == [(200_000,)]
        cached = s.rows("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")[0][0]
        assert cached <= 64 * 2**20


def test_a_python_function_is_callable_from_sql_only_while_inside(store: Store) -> None:
    def shout(text: str | None) -> str:
        return "NULL!" if text is None else text.upper()

    with store.function("shout", shout, ["VARCHAR"], "VARCHAR"):
        assert store.rows("SELECT shout(t) FROM (VALUES ('a'), (NULL)) v(t)") == [
            ("A",),
            ("NULL!",),
        ]
    with pytest.raises(StoreError, match="shout"):
        store.rows("SELECT shout('a')")
