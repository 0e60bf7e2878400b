"""The fast paths of ingest: DuckDB reads a JSONL file and maps well-formed records itself.

Per-record Python parsing costs ~80 µs a record; DuckDB reads and maps a record in a few µs.
Only records that are certainly well-formed for a format are mapped in SQL (one module per
format); every other line goes back to the per-record path, which stays the reference (and
gives bad lines their precise reject reason). `tests/test_bulk.py` proves both paths store the
same rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from costlab.errors import StoreError
from costlab.formats.flat import FlatRecord
from costlab.ingest import sources
from costlab.ingest.bulk import anthropic_message, flat, litellm_spend, openai_chat
from costlab.ingest.bulk.flat import KeySet
from costlab.ingest.bulk.sql import sql_text
from costlab.ingest.options import IngestOptions
from costlab.ingest.sources import Line, Source, Stream
from costlab.ingest.staging import MAX_CALLS_PER_RECORD
from costlab.store import Store

# Left-over lines worth a second look for key sets the sample did not show.
RESAMPLE_MIN_LINES = 1000
# Lines a fast path's INSERT maps at once: the parsed values of a chunk are held in memory, and
# each statement is planned once (a statement of 250 lines spent most of its time planning).
CHUNK_LINES = 16_384


# SQL mappings of other formats, exact (tests/test_bulk_formats.py runs them all, on every
# fixture, against the per-record path). Each parses a record in a few calls that read many
# paths at once, in a MATERIALIZED CTE (a filter pushed down into the projection would repeat
# the parse once per test). Not used yet: at 100,000 records on 2 cores they are no faster
# than the per-record path on its workers (CPU s, workers counted: Anthropic 16.6 vs 15.0,
# chat 19.0 vs 18.2; wall about 7 % slower), though their peak RSS is lower (1.2 GB vs
# 1.6-1.9 GB). The checks that make a record "certainly well-formed" (types, key sets,
# messages written back) cost ~65 µs a record in DuckDB, as much as orjson and Python do.
MAPPINGS: dict[str, Callable[[int], str]] = {
    openai_chat.NAME: openai_chat.insert_sql,
    anthropic_message.NAME: anthropic_message.insert_sql,
}
# The formats whose fast path is used, besides flat.
FAST: dict[str, Callable[[int], str]] = {}


@dataclass(frozen=True)
class BulkRead:
    """A file DuckDB has read into `_bulk`: the flat key sets and the other formats its sample
    showed that have a fast path."""

    key_sets: list[KeySet]
    formats: tuple[str, ...] = ()
    lines: str = "_bulk_file"  # the file's lines as a view of it, or held in a table (`_bulk`)
    count: int = 0  # how many of them are not empty


def eligible(source: Source, forced_format: str | None, redact: bool, mapped: bool) -> bool:
    """Whether a file may take the fast path: on disk, JSON lines, no per-record rewrites."""
    if source.path is None or redact or mapped:
        return False
    if forced_format not in (None, FlatRecord.name, *FAST):
        return False
    name = source.path.name.removesuffix(".gz").removesuffix(".zst")
    return not name.endswith(".json")


def read(
    store: Store, source: Source, lines_before: int = 0, hold: bool = False
) -> BulkRead | None:
    """Read the file's lines (outside any transaction: a failure must not abort one), numbered on
    from `lines_before`; `hold` copies them into a table (a temporary file, gone before they are
    staged: the new lines of an appended file).

    None when the file does not start with flat records, or DuckDB cannot read it (bad UTF-8, a
    huge line, a corrupt stream): the per-record path then reads it and explains each problem.
    """
    _drop_lines(store)
    key_sets, others = flat.sample(source)
    formats = tuple(name for name in FAST if name in others)
    if not (key_sets or formats) or (sources.compressed(source) and not sources.intact(source)):
        return None
    try:
        path = sql_text(str(source.path))
        store.execute(_READ_SQL.format(lines_before=int(lines_before), path=path))
        if hold:
            store.execute("CREATE TEMP TABLE _bulk AS SELECT * FROM _bulk_file")
            store.execute("DROP VIEW _bulk_file")
        lines = "_bulk" if hold else "_bulk_file"
        row = store.row(f"SELECT count(raw) FROM {lines}")  # a file DuckDB cannot read fails here
    except StoreError:
        _drop_lines(store)
        return None
    return BulkRead(key_sets, formats, lines, int(row[0]) if row else 0)


def _drop_lines(store: Store) -> None:
    store.execute("DROP VIEW IF EXISTS _bulk_file")
    store.execute("DROP TABLE IF EXISTS _bulk")


@dataclass(frozen=True)
class Target:
    """Where staged rows are labelled from, and the plausibility limit they must keep."""

    source_file: str
    run_id: str
    max_tokens: int


def stage(store: Store, bulk_read: BulkRead, target: Target) -> list[Line]:
    """Stage the records of `_bulk` a fast path maps into `_stage`; the lines left for
    Python.

    The flat records are staged straight from the file (`_bulk_file`); only the lines left
    after that are held in a table (`_bulk`): copying the whole file into one first cost 0.7 s
    of a 435 MB file, and pushed the stage past the memory limit, onto disk."""
    lines = bulk_read.lines
    if bulk_read.formats and lines != "_bulk":  # their INSERTs each read a chunk: in a table
        _keep_left_over(store, lines)
        lines = "_bulk"
    for name in bulk_read.formats:
        _stage_chunks(store, FAST[name](target.max_tokens), target)
    if bulk_read.key_sets:
        keys = _union(bulk_read.key_sets)
        count = _left_over(store) if bulk_read.formats else bulk_read.count
        _stage_sql(store, flat.insert_sql(keys, target.max_tokens, lines), target, lines, count)
        if _left_over(store) >= RESAMPLE_MIN_LINES:
            more = flat.left_over_key_sets(store, set(keys))
            if more:
                _stage_sql(store, flat.insert_sql(_union([keys, *more]), target.max_tokens), target)
    return _leftovers(store)


def _union(key_sets: list[KeySet]) -> KeySet:
    return tuple(sorted(set().union(*key_sets)))


def _stage_chunks(store: Store, insert: str, target: Target) -> None:
    """Stage what an INSERT takes, `CHUNK_LINES` lines at a time: its JSON work stays in memory."""
    row = store.row("SELECT max(line_no) FROM _bulk")
    last = int(row[0]) if row and row[0] is not None else 0
    for start in range(0, last, CHUNK_LINES):
        store.execute(insert, [start, start + CHUNK_LINES, target.source_file, target.run_id])
    _keep_left_over(store, "_bulk")


def _stage_sql(
    store: Store, insert: str, target: Target, lines: str = "_bulk", count: int | None = None
) -> None:
    """Stage the records an INSERT takes; `_bulk` keeps the lines still left.

    When it took as many lines as there are (`count`, not empty), none is left: the lines are
    not read again to find them (~0.5 s of CPU for a 435 MB file)."""
    before = _staged(store)
    store.execute(insert, [target.source_file, target.run_id])
    if count is not None and _staged(store) - before == count:
        _drop_lines(store)
        store.execute("CREATE TEMP TABLE _bulk (line_no BIGINT, raw VARCHAR)")
    else:
        _keep_left_over(store, lines)


def _keep_left_over(store: Store, lines: str) -> None:
    """`_bulk` keeps the lines of `lines` (the file's, or a table of them) no fast path
    staged."""
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE _bulk_left AS SELECT b.line_no, b.raw FROM {lines} b "
        f"ANTI JOIN _stage s ON s.row_key = b.line_no * {MAX_CALLS_PER_RECORD} "
        "WHERE b.raw IS NOT NULL"
    )
    _drop_lines(store)
    store.execute("ALTER TABLE _bulk_left RENAME TO _bulk")


def _left_over(store: Store) -> int:
    row = store.row("SELECT count(raw) FROM _bulk")
    return int(row[0]) if row else 0


def _leftovers(store: Store) -> list[Line]:
    rows = []
    if _left_over(store):
        rows = store.rows(
            "SELECT line_no, raw FROM _bulk WHERE raw IS NOT NULL AND trim(raw) <> '' "
            "ORDER BY line_no"
        )
    store.execute("DROP TABLE _bulk")
    return [Line(number, raw.encode("utf-8")) for number, raw in rows]


class ChunkedStream(Stream, Protocol):
    """A stream of LiteLLM spend-log rows (a database table) that also comes in chunks of CSV
    lines, every row with the same columns (`fields`: name, and what the field is:
    `litellm_spend.Columns`)."""

    fields: litellm_spend.Columns

    def chunks(self) -> Iterator[tuple[bytes, int]]: ...  # (CSV lines, how many)


def chunked(stream: Stream, options: IngestOptions) -> ChunkedStream | None:
    """The stream, when its rows may take the spend-log fast path (None: they may not)."""
    fields = getattr(stream, "fields", None)
    if fields is None or not hasattr(stream, "chunks"):
        return None
    if options.redact or options.field_map or options.format != litellm_spend.NAME:
        return None
    keys = tuple(name for name, _ in fields)
    return stream if litellm_spend.eligible(keys) else None  # type: ignore[return-value]


def stage_stream(store: Store, stream: ChunkedStream, target: Target) -> Iterator[Line | int]:
    """Stage each chunk's well-formed rows into `_stage` in SQL; yield how many it staged (an
    int), then the chunk's other rows as JSON lines, for the per-record path (in order, numbered
    from 1).

    The mapping reads the chunk's CSV file itself (a view): copying its rows into a table first
    cost more than the reading (0.8 against 0.3 CPU s for 250,000 spend-log rows). Only a chunk
    some of whose rows were not staged is read a second time, for those rows."""
    columns = tuple(stream.fields)
    insert = litellm_spend.insert_sql(columns, target.max_tokens)
    left_sql = (
        f"SELECT line_no, {litellm_spend.line_sql(columns)} FROM {litellm_spend.CHUNK} "
        f"WHERE line_no NOT IN (SELECT source_line FROM _stage "
        f"WHERE row_key >= ?::BIGINT * {MAX_CALLS_PER_RECORD}) ORDER BY line_no"
    )
    first = 1
    with tempfile.TemporaryDirectory(prefix="costlab-chunk-") as folder:
        # A file DuckDB reads, not an Arrow table: a registered table's memory stays held by
        # the connection after it is unregistered (measured: ~50 MB a chunk, never freed).
        path = Path(folder) / "chunk.csv"
        for data, rows in stream.chunks():
            path.write_bytes(data)
            del data
            store.execute(litellm_spend.chunk_sql(columns, str(path), first))
            before = _staged(store)
            store.execute(insert, [target.source_file, target.run_id])
            staged = _staged(store) - before
            yield staged
            left = store.rows(left_sql, [first]) if staged < rows else []
            store.execute(f"DROP VIEW {litellm_spend.CHUNK}")
            for number, raw in left:
                yield Line(number, raw.encode("utf-8"))
            first += rows


def _staged(store: Store) -> int:
    row = store.row("SELECT count(*) FROM _stage")
    return int(row[0]) if row else 0


# Lines as DuckDB reads them: one VARCHAR column (the delimiter cannot occur in valid JSON).
# A view: each statement reading it reads the file again (~0.2 s for 435 MB), in file order.
_READ_SQL = """
CREATE OR REPLACE TEMP VIEW _bulk_file AS
SELECT {lines_before}::BIGINT + row_number() OVER () AS line_no, raw
FROM read_csv({path}, columns = {{'raw': 'VARCHAR'}}, delim = '\x1f', quote = '', escape = '',
              header = false, auto_detect = false)
"""
