"""Reading a spend-log table: psycopg 3, one read-only transaction, `COPY ... TO STDOUT`.

The rows stream in chunks, two ways. For the per-record path, each row is the JSON object
PostgreSQL makes of it (`row_to_json`: every column by name, `jsonb` columns as JSON, timestamps
as ISO text), so the file format `litellm_spend_log` parses it exactly as it parses an exported
row. For DuckDB's SQL mapping, each row is a CSV line of its columns (`fields`: text columns as
text, the others as the JSON text `row_to_json` holds for them), which DuckDB turns into the same
JSON values: half the server's work of `row_to_json` (measured: 0.9-1.1 s against 1.8-2.8 s for
200,000 rows), and no Python pass over the bytes. psycopg is imported here only, when a database
is read.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from costlab.errors import BadInput
from costlab.postgres.target import Target
from costlab.postgres.watermark import Window

# The columns the mapping needs, present in every LiteLLM version with this table; the later
# ones (custom_llm_provider, status, messages, response, ...) are read when they are there.
REQUIRED_COLUMNS = (
    "request_id",
    "call_type",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "model",
    "user",
    "metadata",
)
# PostgreSQL writes a float8 with no fraction as an integer (`"spend":0`), an export made by
# Python as `0.0`: the logged cost's text feeds the content hash that tells a duplicate from a
# conflict, so the DB's row is given the export's text. (Top level only: JSONB writes ": ".)
_INTEGRAL_SPEND = re.compile(rb'"spend":(-?\d+)([,}])')
# Rows handed over at once: a chunk is ~130 MB of CSV for LiteLLM's rows, whatever the table's
# size. Two DuckDB row groups (122,880 rows) or more: the mapping of a chunk runs on every core
# (at 50,000 rows it ran on one: 1M rows 33 s against 23 s, peak RSS 1.25 against 1.6 GB).
CHUNK_ROWS = 250_000
CONNECT_TIMEOUT_S = 10
# Column types whose CSV text needs no conversion in the database: text is quoted as JSON by
# DuckDB, JSON is JSON, and a whole number's text is its JSON. Any other type (timestamps,
# floats, booleans, arrays, ...) is sent as `to_json(column)`, the text `row_to_json` holds.
TEXT_TYPES = frozenset({"text", "character varying", "character"})
AS_IS_TYPES = frozenset({"json", "jsonb", "smallint", "integer", "bigint"})
# Column types whose JSON text is already compact (no string with escapes, no space): DuckDB
# need not write it back (`json()`), ~0.04 s a column per 200,000 rows.
COMPACT_TYPES = frozenset(
    {"smallint", "integer", "bigint", "boolean", "date"}
    | {f"timestamp{p} with{z} time zone" for p in ("", "(3)", "(6)") for z in ("", "out")}
)
_AUTH_STATES = ("28P01", "28000")  # invalid password, invalid authorization
_NO_DRIVER_HINT = "pip install 'costlab[postgres]' (psycopg 3), then run this again"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise BadInput(
            "reading a PostgreSQL database needs the 'postgres' extra (psycopg 3)", _NO_DRIVER_HINT
        ) from None
    return psycopg


@contextmanager
def session(target: Target) -> Iterator[Table]:
    """A read-only, repeatable-read transaction on the target's table, checked for its shape."""
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(
            target.url, connect_timeout=CONNECT_TIMEOUT_S, application_name="costlab"
        )
    except psycopg.Error as err:
        raise _connect_error(target, err) from None
    try:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            table = Table(target, conn)
            table.check()
            yield table
    except psycopg.Error as err:
        raise _query_error(target, err) from None
    finally:
        conn.close()


class Table:
    """The spend-log table inside an open transaction."""

    def __init__(self, target: Target, conn: Any) -> None:
        self.target = target
        self._conn = conn
        sql = _psycopg().sql
        parts = [target.schema, target.table] if target.schema else [target.table]
        self._name = sql.Identifier(*parts)
        self.columns: frozenset[str] = frozenset()  # known once checked
        self.types: dict[str, str] = {}  # each column's type, in the table's order

    def check(self) -> None:
        """BadInput when the table is missing, not readable, or of another shape."""
        shown = self.target.label
        name = self._name.as_string(self._conn)
        found = self._conn.execute("SELECT to_regclass(%s)::oid", [name]).fetchone()
        if found is None or found[0] is None:
            raise BadInput(
                f"{shown}: no table {name} in this database",
                "name the spend-log table with --table (LiteLLM's is LiteLLM_SpendLogs)",
            )
        self.types = {
            _text(row[0]) or "": _text(row[1]) or ""
            for row in self._conn.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                [found[0]],
            )
        }
        columns = set(self.types)
        self.columns = frozenset(columns)
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise BadInput(
                f"{shown}: table {name} is not a LiteLLM spend-log table: no column "
                + ", ".join(missing),
                f"it needs {', '.join(REQUIRED_COLUMNS)}",
            )
        readable = self._conn.execute("SELECT has_table_privilege(%s, 'SELECT')", [found[0]])
        if not readable.fetchone()[0]:
            raise BadInput(f"{shown}: permission denied to read table {name}", _grant_hint(name))

    def count(self, window: Window) -> int:
        """How many rows the window holds (for progress)."""
        condition, values = window.where()
        query = self._sql("SELECT count(*) FROM {table} WHERE " + condition)
        row = self._conn.execute(query, values).fetchone()
        return int(row[0])

    def chunks(self, window: Window, rows: int | None = None) -> Iterator[tuple[bytes, int]]:
        """The window's rows in (startTime, request_id) order, as lines of JSON (`row_to_json`),
        `rows` at a time: (the lines, how many). Streamed with `COPY ... TO STDOUT`, the next
        chunk read on a thread while the caller works on this one."""
        select = _psycopg().sql.SQL("row_to_json(t)::text")
        return self._copied(select, window, rows, csv=False)

    def fields(self) -> tuple[tuple[str, str], ...]:
        """The columns of `csv_chunks`, in order: (name, what the field is: "text" to quote as
        JSON, "compact" JSON text as DuckDB writes it, else "json" text to write back)."""
        return tuple((name, _field_kind(kind)) for name, kind in self.types.items())

    def csv_chunks(self, window: Window, rows: int | None = None) -> Iterator[tuple[bytes, int]]:
        """The window's rows as `chunks` gives them, as CSV lines of their `fields`."""
        sql = _psycopg().sql
        columns = []
        for name, kind in self.types.items():
            column = sql.SQL("t.{}").format(sql.Identifier(name))
            if kind not in TEXT_TYPES and kind not in AS_IS_TYPES:
                column = sql.SQL("to_json({})::text").format(column)
            columns.append(column)
        return self._copied(sql.SQL(", ").join(columns), window, rows, csv=True)

    def _copied(
        self, select: Any, window: Window, rows: int | None, csv: bool
    ) -> Iterator[tuple[bytes, int]]:
        """`COPY (SELECT <select> ...) TO STDOUT` of the window's rows in (startTime, request_id)
        order, in chunks, the next read on a thread."""
        sql = _psycopg().sql
        condition, values = window.where()
        query = sql.SQL(
            "COPY (SELECT {select} FROM {table} t WHERE "
            + condition
            + ' ORDER BY t."startTime", t.request_id) TO STDOUT'
            + (" (FORMAT csv)" if csv else "")
        ).format(select=select, table=self._name)
        return _prefetched(self._copy(query, values, rows or CHUNK_ROWS, csv))

    def _copy(
        self, query: Any, values: dict[str, Any], rows: int, csv: bool
    ) -> Generator[tuple[bytes, int]]:
        """Chunks of `rows` rows: COPY sends one row a message (a CSV row may hold newlines).

        Each row is copied onto the end of the chunk's buffer, not made a bytes object of its
        own to be joined (reading 1,000,000 spend-log rows: ~2.1 against ~2.3 CPU s; reading
        the COPY alone, each row looked at and dropped, costs ~1.6)."""
        finish = _as_is if csv else _clean
        data = bytearray()
        taken = 0
        with self._conn.cursor() as cursor, cursor.copy(query, values or None) as copy:
            for block in copy:
                data += block
                taken += 1
                if taken >= rows:
                    yield finish(data), taken
                    data, taken = bytearray(), 0
        if taken:
            yield finish(data), taken

    def last(self, window: Window) -> Iterator[tuple[datetime | None, str | None]]:
        """(startTime, request_id) of the window's rows at its latest startTime, in order: the
        same snapshot as `chunks` (one repeatable-read transaction)."""
        condition, values = window.where()
        query = self._sql(
            'SELECT t."startTime", t.request_id FROM {table} t WHERE '
            + condition
            + ' AND t.request_id IS NOT NULL AND t."startTime" = (SELECT max("startTime") '
            "FROM {table} WHERE " + condition + " AND request_id IS NOT NULL) ORDER BY t.request_id"
        )
        for start, request_id in self._conn.execute(query, values):
            yield _utc(start), _text(request_id)

    def _sql(self, text: str) -> Any:
        sql = _psycopg().sql
        return sql.SQL(text).format(table=self._name)


def _prefetched(chunks: Generator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """The chunks, each read on a thread while the one before is in use (one chunk ahead).

    The thread waits on the server (psycopg lets go of the GIL), the caller on DuckDB: the two
    overlap. An error of the thread is raised here; a caller that stops early stops the thread.
    """
    ahead: queue.Queue[tuple[bytes, int] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[bytes, int] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    chunks.close()  # `with` blocks of the COPY exit, in this thread
                    return
        except BaseException as err:  # noqa: BLE001 - handed over to the caller's thread
            put(err)
        else:
            put(None)

    thread = threading.Thread(target=read, name="costlab-copy", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _field_kind(kind: str) -> str:
    if kind in TEXT_TYPES:
        return "text"
    return "compact" if kind in COMPACT_TYPES else "json"


def _as_is(data: bytearray) -> bytes:
    return bytes(data)


def _clean(data: bytearray) -> bytes:
    """COPY's text lines as the JSON they hold: COPY doubles each backslash (JSON text has no
    tab, newline or other character COPY escapes), and an integral float8 `spend` is given the
    text an export written by Python has."""
    return _INTEGRAL_SPEND.sub(rb'"spend":\1.0\2', data.replace(b"\\\\", b"\\"))


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return bytes(value).decode() if isinstance(value, bytes | memoryview) else str(value)


def _grant_hint(name: str) -> str:
    return f"GRANT SELECT ON {name} TO <the role of the URL> (docs/postgres.md shows a role)"


def _connect_error(target: Target, err: Exception) -> BadInput:
    """A failed connection, said in one line that names the label, never the password."""
    detail = target.scrub(_first_line(err))
    if getattr(err, "sqlstate", None) in _AUTH_STATES or "authentication failed" in detail:
        return BadInput(
            f"{target.label}: authentication failed ({detail})",
            "check the user and password (URL, PGPASSWORD or ~/.pgpass)",
        )
    if "password" in detail and ("no password" in detail or "supplied" in detail):
        return BadInput(
            f"{target.label}: authentication failed: the server asks for a password ({detail})",
            "give it in the URL, PGPASSWORD or ~/.pgpass",
        )
    return BadInput(
        f"{target.label}: cannot reach the database server ({detail})",
        "check the host, port (or ?host=/socket/dir) and that the server is running",
    )


def _query_error(target: Target, err: Exception) -> BadInput:
    detail = target.scrub(_first_line(err))
    if getattr(err, "sqlstate", None) == "42501":
        return BadInput(f"{target.label}: permission denied ({detail})", _grant_hint(target.table))
    return BadInput(f"{target.label}: reading the table failed ({detail})")


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
