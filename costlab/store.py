"""The one door to the DuckDB store: connect, migrate, run SQL with bound values.

Only this module imports duckdb. Migrations are named, append-only, applied in order at open.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from costlab.errors import StoreError, StoreLocked

DEFAULT_PATH = "costlab.duckdb"

MEMORY_LIMIT = "1GB"
# Money is exact: DECIMAL(38, 18) holds any per-token price and any realistic total.
MONEY = "DECIMAL(38, 18)"


def _m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        CREATE TABLE requests (
            request_id VARCHAR NOT NULL,
            ts TIMESTAMP,
            provider VARCHAR,
            model VARCHAR,
            model_logged VARCHAR,
            feature VARCHAR,
            user_id VARCHAR,
            input_tokens BIGINT,
            uncached_input_tokens BIGINT,
            cached_input_tokens BIGINT,
            cache_write_5m_tokens BIGINT,
            cache_write_1h_tokens BIGINT,
            output_tokens BIGINT,
            reasoning_tokens BIGINT,
            total_tokens_logged BIGINT,
            batch BOOLEAN,
            cost_usd {MONEY},
            cost_source VARCHAR,
            logged_cost_usd {MONEY},
            computed_cost_usd {MONEY},
            price_note VARCHAR,
            latency_ms DOUBLE,
            status VARCHAR,
            system_prompt VARCHAR,
            prompt VARCHAR,
            messages JSON,
            response VARCHAR,
            prompt_hash VARCHAR,
            system_prompt_hash VARCHAR,
            flags VARCHAR[],
            format VARCHAR,
            metadata JSON,
            source_file VARCHAR,
            source_line BIGINT,
            run_id VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE rejects (
            run_id VARCHAR, source_file VARCHAR, source_line BIGINT,
            reason VARCHAR, raw VARCHAR, raw_bytes BIGINT
        )
        """
    )
    con.execute(
        """
        CREATE TABLE ingest_runs (
            run_id VARCHAR, source_file VARCHAR, sha256 VARCHAR,
            started_at TIMESTAMP, finished_at TIMESTAMP,
            records_read BIGINT, added BIGINT, duplicate BIGINT, rejected BIGINT,
            flagged BIGINT, no_timestamp BIGINT, status VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE batch_inputs (
            custom_id VARCHAR, model VARCHAR, system_prompt VARCHAR, prompt VARCHAR,
            messages JSON, source_file VARCHAR, run_id VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE embeddings (
            text_hash VARCHAR NOT NULL, embedder VARCHAR NOT NULL, dim INTEGER,
            vector FLOAT[], PRIMARY KEY (text_hash, embedder)
        )
        """
    )


def _m002_bucket_costs(con: duckdb.DuckDBPyConnection) -> None:
    # The computed cost of each token bucket, so reports can split spend without re-pricing.
    for column in (
        "uncached_input_cost_usd",
        "cached_input_cost_usd",
        "cache_write_cost_usd",
        "output_cost_usd",
        "reasoning_cost_usd",
    ):
        con.execute(f"ALTER TABLE requests ADD COLUMN {column} {MONEY}")


def _m003_team(con: duckdb.DuckDBPyConnection) -> None:
    # The team a call is billed to (LiteLLM team, or --map team=...), for team budgets.
    con.execute("ALTER TABLE requests ADD COLUMN team VARCHAR")


def _m004_neighbour_lists(con: duckdb.DuckDBPyConnection) -> None:
    # simulate-cache's similarity index: per embedder, one set of distinct texts (its keys are
    # their positions in text_hash order) and each key's neighbour keys, most similar first.
    con.execute(
        """
        CREATE TABLE neighbour_sets (
            embedder VARCHAR NOT NULL, min_threshold DOUBLE NOT NULL, keys BIGINT NOT NULL,
            pairs BIGINT NOT NULL, built_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE neighbour_lists (
            embedder VARCHAR NOT NULL, key INTEGER NOT NULL, text_hash VARCHAR NOT NULL,
            neighbours INTEGER[] NOT NULL, similarities FLOAT[] NOT NULL
        )
        """
    )


def _m005_outcomes(con: duckdb.DuckDBPyConnection) -> None:
    # Recorded quality of one model's answer to one request (route-replay's evidence). A row
    # names its request by id, or by the md5 of its prompt text when the file had no id.
    con.execute(
        """
        CREATE TABLE outcomes (
            request_id VARCHAR, prompt_md5 VARCHAR, model VARCHAR NOT NULL,
            score DOUBLE NOT NULL, output_tokens BIGINT,
            source_file VARCHAR, source_line BIGINT, loaded_at TIMESTAMP
        )
        """
    )


def _m006_intents(con: duckdb.DuckDBPyConnection) -> None:
    # simulate-cache's recurring intents at its focus threshold, one per replayed request, for
    # route-replay's rules (`intent`, `intent_size`). Only the last run's set is kept, with the
    # embedder, threshold, cache settings and request scope it came from. `intent` ids rank the
    # intents as the cache report lists them: 1 is the largest.
    con.execute(
        """
        CREATE TABLE intent_sets (
            embedder VARCHAR NOT NULL, threshold DOUBLE NOT NULL, cache_key VARCHAR NOT NULL,
            normalized BOOLEAN NOT NULL, cache_scope VARCHAR[] NOT NULL, ttl_s DOUBLE,
            max_entries BIGINT, since DATE, until DATE, where_sql VARCHAR,
            requests BIGINT NOT NULL, intents BIGINT NOT NULL, recurring BIGINT NOT NULL,
            built_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        f"""
        CREATE TABLE intents (
            intent INTEGER NOT NULL, requests BIGINT NOT NULL, hits BIGINT NOT NULL,
            spend_usd {MONEY}, first_request_id VARCHAR NOT NULL, prompt VARCHAR NOT NULL
        )
        """
    )
    con.execute(
        "CREATE TABLE request_intents (request_id VARCHAR NOT NULL, intent INTEGER NOT NULL)"
    )


def _m007_conflicts(con: duckdb.DuckDBPyConnection) -> None:
    # Records that share a request id with a kept one but differ in content: kept here (as the
    # staged row in JSON) so that dropping the duplicate loses nothing. `content_md5` is what
    # ingest compares; rows stored before this migration have none (and are never a conflict).
    con.execute("ALTER TABLE requests ADD COLUMN content_md5 VARCHAR")
    con.execute(
        """
        CREATE TABLE conflicts (
            run_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_line BIGINT NOT NULL,
            request_id VARCHAR NOT NULL, kept_run_id VARCHAR, kept_source_file VARCHAR,
            kept_source_line BIGINT, record JSON
        )
        """
    )


def _m008_entry_lists(con: duckdb.DuckDBPyConnection) -> None:
    # simulate-cache's index becomes entry lists (costlab.cache.entries): per key the keys that
    # may serve it and how far down that list is complete; bounded by the entries, not by the
    # square of the texts. The old complete lists were a cache of vectors still stored: dropped.
    con.execute("DROP TABLE IF EXISTS neighbour_lists")
    con.execute("DROP TABLE IF EXISTS neighbour_sets")
    con.execute(
        """
        CREATE TABLE entry_sets (
            embedder VARCHAR NOT NULL, search VARCHAR NOT NULL, probes INTEGER,
            keys BIGINT NOT NULL, pairs BIGINT NOT NULL, built_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE entry_lists (
            embedder VARCHAR NOT NULL, key INTEGER NOT NULL, text_hash VARCHAR NOT NULL,
            complete_from FLOAT NOT NULL, seeded_from FLOAT NOT NULL,
            neighbours INTEGER[] NOT NULL, similarities FLOAT[] NOT NULL
        )
        """
    )


def _m009_embedding_imports(con: duckdb.DuckDBPyConnection) -> None:
    # Vectors brought from the user's own embedding model (`costlab embeddings import`): one row
    # per import, saying how its keys were mapped to simulate-cache's and what was counted.
    con.execute(
        """
        CREATE TABLE embedding_imports (
            embedder VARCHAR NOT NULL, source_file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            keyed_by VARCHAR NOT NULL, cache_key VARCHAR NOT NULL, normalized BOOLEAN NOT NULL,
            dim INTEGER NOT NULL, vectors BIGINT NOT NULL, vectors_stored BIGINT NOT NULL,
            renormalized BIGINT NOT NULL, conflicting_keys BIGINT NOT NULL,
            unmatched BIGINT NOT NULL, imported_at TIMESTAMP NOT NULL
        )
        """
    )


Migration = tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]

# Append only: never edit or reorder a migration that has shipped.
MIGRATIONS: list[Migration] = [
    ("001_initial", _m001_initial),
    ("002_bucket_costs", _m002_bucket_costs),
    ("003_team", _m003_team),
    ("004_neighbour_lists", _m004_neighbour_lists),
    ("005_outcomes", _m005_outcomes),
    ("006_intents", _m006_intents),
    ("007_conflicts", _m007_conflicts),
    ("008_entry_lists", _m008_entry_lists),
    ("009_embedding_imports", _m009_embedding_imports),
]


def _spill_folder() -> Path:
    """This process's folder for DuckDB's spilled data; those of dead processes are removed."""
    root = Path(tempfile.gettempdir()) / f"costlab-spill-{os.getuid()}"
    for folder in root.glob("*") if root.is_dir() else ():
        if folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(parents=True, exist_ok=True)  # DuckDB makes only the last level, when it spills
    return mine / uuid.uuid4().hex[:12]


def _remove_old_spill(path: str) -> None:
    """DuckDB's own spill folder beside the store, left by a command killed before this fix."""
    folder = Path(path + ".tmp")
    if folder.is_dir() and all(p.name.startswith("duckdb_temp") for p in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """An open costlab store. Use `Store.open(path)`; ':memory:' gives a throwaway store."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self._con = con
        self.path = path

    @classmethod
    def open(
        cls, path: str | Path = DEFAULT_PATH, *, read_only: bool = False, create: bool = True
    ) -> Store:
        """Open and migrate the store at `path`; made when missing unless `create` is False.

        Commands that only read pass `create=False`: a misspelt --db is an error, not a new
        empty store.
        """
        path = str(path)
        if not create and path != ":memory:" and not Path(path).exists():
            raise StoreError(
                f"no store at {path}",
                "check --db (or $COSTLAB_DB); costlab ingest PATH creates a store",
            )
        try:
            con = duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as err:
            if "lock" in str(err).lower():
                raise StoreLocked(
                    f"the store {path} is in use by another process",
                    "wait for the other costlab command to finish, or use another --db",
                ) from None
            raise StoreError(f"cannot open the store {path}: {err}") from None
        except duckdb.Error as err:
            raise StoreError(
                f"cannot open the store {path}: {err}",
                "is it a costlab DuckDB file? Use --db to point at another file",
            ) from None
        store = cls(con, path)
        store._configure()
        if not read_only:
            _remove_old_spill(path)  # we hold the store: no other process spills there now
            store._migrate()
        return store

    def _configure(self) -> None:
        # Bounded memory whatever the input size: DuckDB spills to disk beyond this.
        self._con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        # Spilled data goes to a folder of this process in the system temp dir, not beside the
        # store: a killed command leaves nothing next to the user's files, and the next command
        # removes the folders of processes that are gone.
        self._spill = _spill_folder()
        self._con.execute("SET temp_directory = ?", [str(self._spill)])
        try:
            self._con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:
            pass  # no ICU extension: timestamps are naive UTC anyway

    def _migrate(self) -> None:
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, "
            "applied_at TIMESTAMP)"
        )
        applied = {
            row[0] for row in self._con.execute("SELECT name FROM schema_migrations").fetchall()
        }
        for name, migrate in MIGRATIONS:
            if name in applied:
                continue
            with self.transaction():
                migrate(self._con)
                self._con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    [name, datetime.now(UTC).replace(tzinfo=None)],
                )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a failure (or a kill) inside leaves the store as it was."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            try:
                self._con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the transaction is already gone; the original error matters
            raise
        self.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement with values bound by `?`."""
        try:
            self._con.execute(sql, list(params))
        except duckdb.Error as err:
            raise StoreError(f"store query failed: {err}") from None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All result rows of a query."""
        try:
            return self._con.execute(sql, list(params)).fetchall()
        except duckdb.Error as err:
            raise StoreError(f"store query failed: {err}") from None

    def row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first result row of a query, or None (the result is read to its end)."""
        try:
            found = self._con.execute(sql, list(params)).fetchall()
            return found[0] if found else None
        except duckdb.Error as err:
            raise StoreError(f"store query failed: {err}") from None

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A query's result as a pyarrow Table."""
        try:
            return self._con.sql(sql, params=list(params)).to_arrow_table()
        except duckdb.Error as err:
            raise StoreError(f"store query failed: {err}") from None

    def batches(self, sql: str, params: Sequence[Any] = (), rows: int = 100_000) -> Any:
        """A query's result as a pyarrow RecordBatchReader: read in batches, never all at once."""
        try:
            return self._con.sql(sql, params=list(params)).to_arrow_reader(rows)
        except duckdb.Error as err:
            raise StoreError(f"store query failed: {err}") from None

    def append(self, table_name: str, rows: Any) -> None:
        """Append a pyarrow Table whose columns match `table_name`'s, in order."""
        if not table_name.isidentifier():
            raise ValueError(f"not a table name: {table_name!r}")
        self.register("_append", rows)
        try:
            self.execute(f"INSERT INTO {table_name} SELECT * FROM _append")
        finally:
            self.unregister("_append")

    def register(self, name: str, table: Any) -> None:
        """Expose a pyarrow Table to SQL under `name` until `unregister`."""
        self._con.register(name, table)

    def unregister(self, name: str) -> None:
        self._con.unregister(name)

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        return [r[0] for r in self.rows("SELECT name FROM schema_migrations ORDER BY name")]

    def close(self) -> None:
        self._con.close()
        shutil.rmtree(self._spill, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
