"""`costlab ingest`: read log files into the `requests` table, one transaction per file.

Each file is read record by record; records are staged in batches in a temporary table, then
priced and inserted in one SQL statement that skips request ids already stored. Bad records go
to `rejects` with the reason; nothing of a file is visible until its transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costlab import prices
from costlab.errors import BadInput, NotALog
from costlab.ingest import appended, bulk, conflicts, landing, parse_pool, rejects
from costlab.ingest.options import MAPPABLE, IngestOptions
from costlab.ingest.results import RUN_COLUMNS, FileResult, IngestResult
from costlab.ingest.sources import Line, Reader, Source, Stream, sha256
from costlab.ingest.staging import RejectBatch, RejectRow, StageBatch, empty_stage
from costlab.store import Store

# Rows held in Python before they are handed to DuckDB: bounds memory whatever the file size.
BATCH_ROWS = 50_000
REJECT_EXAMPLES = 5

Progress = Callable[[str, int, int | None], None]


def ingest_stream(
    store: Store,
    stream: Stream,
    options: IngestOptions,
    catalogue: prices.Catalogue,
    run_id: str,
    progress: Progress | None = None,
) -> FileResult:
    """Load a stream of records in one transaction, as one more input of the run `run_id`."""
    return _Run(store, options, catalogue, run_id, progress).stream(stream)


class _StrictRollback(Exception):
    """Raised inside a file's transaction to undo it under --strict."""


def ingest(
    store: Store,
    sources: list[Source],
    options: IngestOptions,
    catalogue: prices.Catalogue,
    progress: Progress | None = None,
) -> IngestResult:
    """Load every source; each file is one transaction, skipped when already loaded."""
    _check_map(options.field_map)
    run = _Run(store, options, catalogue, uuid.uuid4().hex[:12], progress)
    return IngestResult(run.run_id, store.path, [run.file(source) for source in sources])


def _check_map(field_map: Mapping[str, str]) -> None:
    for target in field_map:
        if target not in MAPPABLE:
            raise BadInput(
                f"--map {target}=...: '{target}' cannot be mapped",
                f"mappable fields: {', '.join(sorted(MAPPABLE))}",
            )


@dataclass(frozen=True)
class _Run:
    """One `costlab ingest` invocation: what every file of it shares."""

    store: Store
    options: IngestOptions
    catalogue: prices.Catalogue
    run_id: str
    progress: Progress | None

    def file(self, source: Source) -> FileResult:
        """Load one file in one transaction (skipped when its sha256 is already loaded; only
        its new lines when it grew since it was last read)."""
        out = FileResult(source=source.label)
        resume = self._start(source, out)
        if out.status == "skipped":
            return out
        started = _now()
        rejected = RejectBatch(self.options, source.label, self.run_id)
        try:
            bulk_read = self._bulk_read(source, out, resume)  # it may fail: before
            with self.store.transaction():
                self._load(source, out, bulk_read, rejected, resume)
                _check_is_log(out, rejected)
                if self.options.strict and out.rejected:
                    raise _StrictRollback
                self._finish(out, rejected, started)
        except _StrictRollback:
            self._roll_back(out, rejected, started)
        except NotALog as err:
            self._refuse(out, err, started)
        self._done(source, out)
        return out

    def _start(self, source: Source, out: FileResult) -> appended.Resume | None:
        """Where to read from: after the part already read of an appended file, else the start
        (None); `out` is marked skipped when nothing is new."""
        resume = None
        if appended.resumable(source, self.options.force):
            assert source.path is not None
            resume = appended.resume(self.store, source)
            if resume is not None:
                out.resumed_at = resume.offset
                if not resume.new_lines(source.path):
                    out.status = "skipped"
                return resume
            mark = appended.fingerprint(source.path)
            out.sha256, out.bytes_read, out.head_sha256 = (
                mark.sha256,
                mark.bytes_read,
                mark.head_sha256,
            )
        else:
            out.sha256 = sha256(source)
        if out.sha256 and not self.options.force and _already_loaded(self.store, out.sha256):
            out.status = "skipped"
        return None

    def stream(self, stream: Stream) -> FileResult:
        """Load a stream in one transaction; an empty one is a run that found nothing new."""
        out = FileResult(source=stream.label)
        started = _now()
        rejected = RejectBatch(self.options, stream.label, self.run_id)
        try:
            with self.store.transaction():
                self._begin_stage()
                stage = StageBatch(self.options, stream.label, self.run_id)
                position = lambda: (stream.read(), stream.records)  # noqa: E731
                load = _FileLoad(self, stream.label, position, stage, rejected, out)
                fast = bulk.chunked(stream, self.options)
                if fast is None:
                    load.records(stream.lines(), parse_pool.workers_for_records(stream.records))
                else:  # DuckDB maps the well-formed rows; Python parses the others
                    target = bulk.Target(stream.label, self.run_id, self.options.max_tokens)
                    left = bulk.stage_stream(self.store, fast, target)
                    load.records(self._counted(left, stage, out, load), workers=0)
                self._land(out, stage, rejected)
                if self.options.strict and out.rejected:
                    raise _StrictRollback
                self._finish(out, rejected, started)
                stream.commit(self.store, self.run_id)
        except _StrictRollback:
            self._roll_back(out, rejected, started)
        if self.progress:
            self.progress(stream.label, out.records_read, out.records_read)
        return out

    def _bulk_read(
        self, source: Source, out: FileResult, resume: appended.Resume | None
    ) -> bulk.BulkRead | None:
        """DuckDB reads the file (of an appended one, only a copy of its new lines: where they
        end and the file's hash up to there go into `out`); None: Python reads it."""
        options = self.options
        if not bulk.eligible(source, options.format, options.redact, bool(options.field_map)):
            return None
        self.working(source.label)  # DuckDB reads the file: no byte count to show
        if resume is None:
            return bulk.read(self.store, source)
        with appended.tail(source, resume) as tail:
            found = tail and bulk.read(self.store, tail.source, resume.lines, hold=True)
            if tail and found:
                out.bytes_read, out.sha256, out.head_sha256 = tail.end, tail.sha256, tail.sha256
            return found or None

    def working(self, label: str) -> None:
        """Progress of a phase with no count (DuckDB reading, landing): a pulsing bar."""
        if self.progress:
            self.progress(label, 0, None)

    def _done(self, source: Source, out: FileResult) -> None:
        """The bar is full only once the file is stored (or refused, or rolled back)."""
        if self.progress and out.status != "skipped":
            size = source.path.stat().st_size if source.path else 0
            self.progress(source.label, size, size)

    def _roll_back(self, out: FileResult, rejected: RejectBatch, started: datetime) -> None:
        out.status = "rolled_back"
        out.added = out.duplicate = out.conflicting = 0
        out.spend_usd = Decimal(0)
        with self.store.transaction():  # the reasons are kept, so they can be listed
            self._finish(out, rejected, started)

    def _finish(self, out: FileResult, rejected: RejectBatch, started: datetime) -> None:
        """Keep the file's rejects (replacing those of an earlier read) and record the run."""
        rejects.replace(self.store, out.source, out.sha256, self.run_id, rejected.take())
        _record_run(self.store, self.run_id, out, started)

    def _refuse(self, out: FileResult, err: NotALog, started: datetime) -> None:
        """A file that is not a log: one error for the file, kept as one reject (line 0)."""
        self.store.execute("DROP TABLE IF EXISTS _stage")
        kept = FileResult(out.source, out.sha256, "refused", error=err.message, rejected=1)
        kept.reject_examples.append((0, err.message))
        vars(out).update(vars(kept))  # the result starts over: nothing of the file was read
        rejected = RejectBatch(self.options, out.source, self.run_id)
        rejected.add(Line(0, b""), err.message)
        with self.store.transaction():
            self._finish(out, rejected, started)

    def _load(
        self,
        source: Source,
        out: FileResult,
        bulk_read: bulk.BulkRead | None,
        rejects: RejectBatch,
        resume: appended.Resume | None,
    ) -> None:
        stage = StageBatch(self.options, source.label, self.run_id)
        self._begin_stage()
        reader = Reader(source, *((resume.offset, resume.lines) if resume else (0, 0)))
        position = lambda: (reader.bytes_read, _size(source))  # noqa: E731
        load = _FileLoad(self, source.label, position, stage, rejects, out)
        if bulk_read is None:
            # An appended file: only what follows the part already read is to be parsed.
            size = _size(source)
            to_read = None if size is None else size - (resume.offset if resume else 0)
            load.records(reader.lines(), parse_pool.workers_for(to_read))
        else:
            # What no fast path took is parsed on every core when there is much of it.
            left = self._bulk(bulk_read, stage, out)
            left_bytes = sum(len(line.raw) for line in left)
            load.records(iter(left), parse_pool.workers_for(left_bytes))
        if resume is not None and bulk_read is None:
            assert source.path is not None
            out.bytes_read = reader.line_end
            out.sha256 = out.head_sha256 = resume.extended(source.path, reader.line_end)
        if out.sha256 is None:
            out.sha256 = reader.digest.hexdigest()
        self._land(out, stage, rejects)

    def _begin_stage(self) -> None:
        self.store.register("_empty", empty_stage())
        self.store.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM _empty")
        self.store.unregister("_empty")

    def _land(self, out: FileResult, stage: StageBatch, rejects: RejectBatch) -> None:
        """The staged rows, priced, into `requests`; the counts of what happened to them."""
        store = self.store
        out.rejected = rejects.count
        out.formats = dict(stage.formats)
        conflicts.record(store, self.options.no_text)  # before landing: against earlier rows
        landing.land(store, self.catalogue, self.options.no_text)
        landing.store_batch_inputs(store, self.options.no_text)
        landing.join_batch_inputs(store, self.options.no_text)
        _summarise(store, self.run_id, out, stage.calls)
        store.execute("DROP TABLE _stage")

    def _bulk(self, bulk_read: bulk.BulkRead, stage: StageBatch, out: FileResult) -> list[Line]:
        """Let DuckDB stage the flat records it has read; the lines left for Python."""
        target = bulk.Target(out.source, self.run_id, self.options.max_tokens)
        leftovers = bulk.stage(self.store, bulk_read, target)
        for name, staged in self.store.rows("SELECT format, count(*) FROM _stage GROUP BY 1"):
            out.records_read += staged
            stage.calls += staged
            stage.formats[name] += staged
        return leftovers

    def _counted(
        self, left: Iterator[Line | int], stage: StageBatch, out: FileResult, load: _FileLoad
    ) -> Iterator[Line]:
        """The lines a fast path left for Python; the counts of the rows it staged (the ints
        among `left`) are added to the stage's and the file's, with progress."""
        for item in left:
            if isinstance(item, int):
                out.records_read += item
                stage.calls += item
                stage.formats[bulk.litellm_spend.NAME] += item
                load.progress()
            else:
                yield item

    def _append(self, table_name: str, rows: Any) -> None:
        if rows is not None:
            self.store.append(table_name, rows)


def _size(source: Source) -> int | None:
    return source.path.stat().st_size if source.path else None


@dataclass
class _FileLoad:
    """The records of one file (or stream) on their way to `_stage` (or `rejects`)."""

    run: _Run
    label: str
    position: Callable[[], tuple[int, int | None]]  # done and total: bytes, or records
    stage: StageBatch
    rejects: RejectBatch
    out: FileResult

    def records(self, lines: Iterator[Line], workers: int) -> None:
        """Stage every line, in this process or on `workers` worker processes."""
        if workers:
            options, run_id = self.run.options, self.run.run_id
            for chunk in parse_pool.parse(lines, options, self.label, run_id, workers):
                self._chunk(chunk)
        else:
            for line in lines:
                self._line(line)
        self.run._append("_stage", self.stage.take())
        self.run.working(self.label)  # read; landing comes next

    def _line(self, line: Line) -> None:
        self.out.records_read += 1
        reason = self.stage.add(line)
        if reason is not None:
            self._reject(self.rejects.add(line, reason))
        if self.stage.rows >= BATCH_ROWS:
            self.run._append("_stage", self.stage.take())
            self.progress()

    def _chunk(self, chunk: parse_pool.Chunk) -> None:
        self.out.records_read += chunk.calls + len(chunk.rejects)
        self.stage.calls += chunk.calls
        self.stage.formats.update(chunk.formats)
        for row in chunk.rejects:
            self._reject(self.rejects.add_row(row))
        self.run._append("_stage", parse_pool.rows(chunk))
        self.progress()

    def _reject(self, row: RejectRow) -> None:
        if len(self.out.reject_examples) < REJECT_EXAMPLES:
            self.out.reject_examples.append((row[0], row[1]))

    def progress(self) -> None:
        if self.run.progress:
            self.run.progress(self.label, *self.position())


def _check_is_log(out: FileResult, rejected: RejectBatch) -> None:
    """Raise NotALog for a file with no record, or whose every line failed to decode as JSON
    (a text log, say): one error for the file rather than a reject per line."""
    if not out.records_read:
        raise NotALog("no record in it: the file is empty", "pass a file with records")
    first = rejected.first_reason()
    if rejected.count == out.records_read and rejected.all_undecodable() and first:
        raise NotALog(
            f"not a log: no line of it is JSON ({first})", "pass JSON lines or JSON files"
        )


def _already_loaded(store: Store, digest: str) -> bool:
    found = store.row("SELECT 1 FROM ingest_runs WHERE sha256 = ? AND status = 'loaded'", [digest])
    return found is not None


def _summarise(store: Store, run_id: str, out: FileResult, staged: int) -> None:
    row = store.row(
        """
        SELECT count(*), coalesce(sum(cost_usd), 0),
               count(*) FILTER (WHERE len(flags) > 0),
               count(*) FILTER (WHERE ts IS NULL),
               count(*) FILTER (WHERE price_note LIKE '%logged cost disagrees%')
        FROM requests WHERE run_id = ? AND source_file = ?
        """,
        [run_id, out.source],
    )
    assert row is not None
    out.added, out.spend_usd, out.flagged, out.no_timestamp, out.mismatched_cost = row
    out.batch_inputs = out.formats.get("openai_batch_input", 0)
    found = conflicts.of_file(store, run_id, out.source)
    out.conflicting = len(found)
    out.conflict_examples = [(c.source_line, c.request_id, c.kept_where) for c in found[:5]]
    out.duplicate = staged - out.batch_inputs - out.added - out.conflicting
    out.unknown_models = dict(
        store.rows(
            "SELECT model_logged, count(*) FROM requests WHERE run_id = ? AND source_file = ? "
            "AND price_note LIKE 'unknown model%' GROUP BY 1 ORDER BY 2 DESC",
            [run_id, out.source],
        )
    )
    out.flags = dict(
        store.rows(
            "SELECT flag, count(*) FROM (SELECT unnest(flags) AS flag FROM requests "
            "WHERE run_id = ? AND source_file = ?) GROUP BY 1 ORDER BY 1",
            [run_id, out.source],
        )
    )


def _record_run(store: Store, run_id: str, out: FileResult, started: datetime) -> None:
    store.execute(
        f"INSERT INTO ingest_runs ({RUN_COLUMNS}, bytes_read, head_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            out.source,
            out.sha256,
            started,
            _now(),
            out.records_read,
            out.added,
            out.duplicate,
            out.rejected,
            out.flagged,
            out.no_timestamp,
            out.status,
            out.bytes_read,
            out.head_sha256,
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
