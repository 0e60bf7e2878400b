"""The one door to the DuckDB store: connect, migrate, run SQL with bound values.

Only this module imports duckdb. Migrations are named, append-only, applied in order at open.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import duckdb.func

from costlab.errors import StoreError, StoreLocked
from costlab.migrations import MIGRATIONS
from costlab.processes import alive

DEFAULT_PATH = "costlab.duckdb"

MEMORY_LIMIT = "1GB"
# What DuckDB may hold while a large table is read into this process (costlab.cache's vectors
# and neighbour lists): blocks already read are dropped as it goes, not kept beside the copy.
LEAN_LIMIT = "512MB"
TRIM_LIMIT = "64MB"  # what `trim` leaves DuckDB of its cache


def _spill_folder() -> Path:
    """This process's folder for DuckDB's spilled data; those of dead processes are removed."""
    root = Path(tempfile.gettempdir()) / f"costlab-spill-{os.getuid()}"
    for folder in root.glob("*") if root.is_dir() else ():
        if folder.name.isdigit() and not alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(parents=True, exist_ok=True)  # DuckDB makes only the last level, when it spills
    return mine / uuid.uuid4().hex[:12]


def _remove_old_spill(path: str) -> None:
    """DuckDB's own spill folder beside the store, left by a command killed before this fix."""
    folder = Path(path + ".tmp")
    if folder.is_dir() and all(p.name.startswith("duckdb_temp") for p in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


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

    @contextmanager
    def lean(self) -> Iterator[None]:
        """DuckDB held to `LEAN_LIMIT` meanwhile; afterwards what it still caches is handed back.

        For reading a large table into this process: DuckDB would otherwise keep the blocks it
        read (up to `MEMORY_LIMIT`) beside the copy the caller made of them.
        """
        self._set_limit(LEAN_LIMIT)
        try:
            yield
        finally:
            self._set_limit(MEMORY_LIMIT)

    def trim(self) -> None:
        """Hand back the memory DuckDB caches (blocks read or written, freed buffers): written
        data is checkpointed first, and whatever is read again later is read from the file."""
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error:
            pass  # read only, or inside a transaction: nothing of ours to write
        self._set_limit(TRIM_LIMIT)
        self._set_limit(MEMORY_LIMIT)

    def _set_limit(self, limit: str) -> None:
        try:
            self._con.execute(f"SET memory_limit = '{limit}'")
        except duckdb.Error:
            pass  # more is pinned than the lower limit allows: it stays where it was

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

    @contextmanager
    def function(
        self, name: str, function: Any, parameters: list[str], returns: str
    ) -> Iterator[None]:
        """A Python function of one row's values (NULLs passed in), callable from SQL as `name`
        while inside."""
        types: list[Any] = list(parameters)  # SQL type names
        self._con.create_function(name, function, types, returns, null_handling=duckdb.func.SPECIAL)
        try:
            yield
        finally:
            self._con.remove_function(name)

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
