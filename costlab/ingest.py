"""`costlab ingest`: read log files into the `requests` table, one transaction per file.

Each file is read record by record; records are staged in batches in a temporary table, then
priced and inserted in one SQL statement that skips request ids already stored. Bad records go
to `rejects` with the reason; nothing of a file is visible until its transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costlab import bulk, prices, settings
from costlab.errors import BadInput
from costlab.sources import Line, Reader, Source, sha256
from costlab.staging import MAPPABLE, STAGE_SCHEMA, RejectBatch, StageBatch
from costlab.store import Store

# Rows held in Python before they are handed to DuckDB: bounds memory whatever the file size.
BATCH_ROWS = 50_000
REJECT_EXAMPLES = 5

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class IngestOptions:
    """How to read the inputs."""

    format: str | None = None
    force: bool = False
    strict: bool = False
    redact: bool = False
    no_text: bool = False
    field_map: Mapping[str, str] = field(default_factory=dict)


@dataclass
class FileResult:
    """What happened to one input file."""

    source: str
    sha256: str | None = None
    status: str = "loaded"  # loaded | skipped | rolled_back
    records_read: int = 0
    added: int = 0
    duplicate: int = 0
    rejected: int = 0
    flagged: int = 0
    no_timestamp: int = 0
    mismatched_cost: int = 0
    batch_inputs: int = 0
    spend_usd: Decimal = Decimal(0)
    unknown_models: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    reject_examples: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class IngestResult:
    """The whole run: one entry per file, in the order read."""

    run_id: str
    db: str
    files: list[FileResult] = field(default_factory=list)

    def total(self, name: str) -> int:
        """A count summed over files."""
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def spend_usd(self) -> Decimal:
        return sum((f.spend_usd for f in self.files), Decimal(0))

    def unknown_models(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for f in self.files:
            for model, n in f.unknown_models.items():
                merged[model] = merged.get(model, 0) + n
        return merged


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
    result = IngestResult(run_id=uuid.uuid4().hex[:12], db=store.path)
    for source in sources:
        result.files.append(
            _ingest_file(store, source, options, catalogue, result.run_id, progress)
        )
    return result


def _check_map(field_map: Mapping[str, str]) -> None:
    for target in field_map:
        if target not in MAPPABLE:
            raise BadInput(
                f"--map {target}=...: '{target}' cannot be mapped",
                f"mappable fields: {', '.join(sorted(MAPPABLE))}",
            )


def _ingest_file(
    store: Store,
    source: Source,
    options: IngestOptions,
    catalogue: prices.Catalogue,
    run_id: str,
    progress: Progress | None,
) -> FileResult:
    file_result = FileResult(source=source.label, sha256=sha256(source))
    if file_result.sha256 and not options.force and _already_loaded(store, file_result.sha256):
        file_result.status = "skipped"
        return file_result
    started = _now()
    bulk_read = None
    if bulk.eligible(source, options.format, options.redact, bool(options.field_map)):
        bulk_read = bulk.read(store, source)
    try:
        with store.transaction():
            _load(store, source, options, catalogue, run_id, file_result, progress, bulk_read)
            if options.strict and file_result.rejected:
                raise _StrictRollback
            _record_run(store, run_id, file_result, started)
    except _StrictRollback:
        file_result.status = "rolled_back"
        file_result.added = file_result.duplicate = 0
        file_result.spend_usd = Decimal(0)
    return file_result


def _already_loaded(store: Store, digest: str) -> bool:
    return (
        store.row("SELECT 1 FROM ingest_runs WHERE sha256 = ? AND status = 'loaded'", [digest])
        is not None
    )


def _load(
    store: Store,
    source: Source,
    options: IngestOptions,
    catalogue: prices.Catalogue,
    run_id: str,
    out: FileResult,
    progress: Progress | None,
    bulk_read: bulk.BulkRead | None,
) -> None:
    reader = Reader(source)
    total_bytes = source.path.stat().st_size if source.path else None
    stage = StageBatch(options, source.label, run_id)
    rejects = RejectBatch(source.label, run_id)
    store.register("_empty", STAGE_SCHEMA.empty_table())
    store.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM _empty")
    store.unregister("_empty")
    lines = None if bulk_read is None else _bulk_stage(store, source, bulk_read, run_id, stage, out)
    for line in reader.lines() if lines is None else lines:
        out.records_read += 1
        reason = stage.add(line)
        if reason is not None:
            rejects.add(line, reason)
            if len(out.reject_examples) < REJECT_EXAMPLES:
                out.reject_examples.append((line.number, reason))
        if stage.rows >= BATCH_ROWS:
            _flush(store, stage)
            if progress:
                progress(source.label, reader.bytes_read, total_bytes)
    _flush(store, stage)
    if progress:
        progress(source.label, total_bytes or reader.bytes_read, total_bytes)
    if out.sha256 is None:
        out.sha256 = reader.digest.hexdigest()
    out.rejected = rejects.count
    out.formats = dict(stage.formats)
    _insert(store, catalogue, options, run_id, source.label)
    _store_rejects(store, rejects)
    _store_batch_inputs(store, stage)
    _join_batch_inputs(store, options)
    _summarise(store, run_id, out, stage.calls)
    store.execute("DROP TABLE _stage")


def _bulk_stage(
    store: Store,
    source: Source,
    bulk_read: bulk.BulkRead,
    run_id: str,
    stage: StageBatch,
    out: FileResult,
) -> Iterator[Line]:
    """Let DuckDB stage the flat records it has read; the lines left for the per-record path."""
    leftovers = bulk.stage(store, bulk_read, source.label, run_id)
    row = store.row("SELECT count(*) FROM _stage")
    staged = int(row[0]) if row else 0
    out.records_read += staged
    stage.calls += staged
    if staged:
        stage.formats["flat"] += staged
    return leftovers


def _flush(store: Store, stage: StageBatch) -> None:
    table = stage.take()
    if table is None:
        return
    store.register("_batch", table)
    try:
        store.execute("INSERT INTO _stage SELECT * FROM _batch")
    finally:
        store.unregister("_batch")


def _insert(
    store: Store, catalogue: prices.Catalogue, options: IngestOptions, run_id: str, label: str
) -> None:
    logged = [r[0] for r in store.rows("SELECT DISTINCT model_logged FROM _stage")]
    resolutions = {name: catalogue.resolve(name) for name in logged if name}
    store.register("_models", _models_table(resolutions))
    known = sorted({r.model for r in resolutions.values() if r.model})
    store.register("_points", prices.points_arrow(catalogue.points(known)))
    text = "NULL" if options.no_text else None
    try:
        store.execute(_CALLS_SQL)
        store.execute(
            _INSERT_SQL.format(
                cost=prices.cost_sql("_calls", "_points"),
                system_prompt=text or "system_prompt",
                prompt=text or "prompt",
                messages=text or "messages",
                response=text or "response",
            ),
            [settings.MISMATCH_RELATIVE, settings.MISMATCH_ABSOLUTE_USD],
        )
        store.execute("DROP VIEW _calls")
    finally:
        store.unregister("_models")
        store.unregister("_points")


def _models_table(resolutions: Mapping[str, prices.Resolution]) -> Any:
    import pyarrow as pa

    names = list(resolutions)
    return pa.table(
        {
            "logged": pa.array(names, pa.string()),
            "model": pa.array([resolutions[n].model for n in names], pa.string()),
            "provider": pa.array([resolutions[n].provider for n in names], pa.string()),
            "note": pa.array([resolutions[n].note for n in names], pa.string()),
        }
    )


# The one statement that turns staged records into stored requests: normalised model, exact
# cost (logged kept beside computed), prompt hashes, and no request id stored twice.
_CALLS_SQL = """
CREATE OR REPLACE TEMP VIEW _calls AS
SELECT s.row_key, coalesce(m.model, s.model_logged) AS model, s.ts, s.batch,
       s.uncached_input_tokens, s.cached_input_tokens, s.cache_write_5m_tokens,
       s.cache_write_1h_tokens, s.output_tokens, s.reasoning_tokens
FROM _stage s LEFT JOIN _models m ON m.logged = s.model_logged
"""

_INSERT_SQL = """
INSERT INTO requests
SELECT request_id, ts, provider, model, model_logged, feature, user_id,
       uncached_input_tokens + cached_input_tokens + cache_write_5m_tokens
           + cache_write_1h_tokens,
       uncached_input_tokens, cached_input_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, output_tokens, reasoning_tokens, total_tokens_logged, batch,
       coalesce(logged, computed),
       CASE WHEN logged IS NOT NULL THEN 'logged' WHEN computed IS NOT NULL THEN 'computed' END,
       logged, computed,
       CASE WHEN no_tokens AND model_logged IS NULL THEN 'no model logged: no tokens billed'
            WHEN known IS NULL THEN 'unknown model: not in the price catalogue'
            ELSE nullif(concat_ws('; ', resolve_note, price_note,
                 CASE WHEN abs(logged - computed) > greatest(computed * ?, ?)
                      THEN 'logged cost disagrees with computed cost' END), '') END,
       latency_ms, status,
       {system_prompt}, {prompt}, {messages}, {response},
       CASE WHEN prompt IS NOT NULL OR system_prompt IS NOT NULL
            THEN md5(coalesce(system_prompt, '') || chr(0) || coalesce(prompt, '')) END,
       CASE WHEN system_prompt IS NOT NULL THEN md5(system_prompt) END,
       flags, format, metadata, source_file, source_line, run_id
FROM (
    SELECT s.* EXCLUDE (provider, logged_cost_usd),
           coalesce(s.provider, m.provider) AS provider,
           coalesce(m.model, s.model_logged) AS model, m.model AS known, m.note AS resolve_note,
           s.logged_cost_usd::DECIMAL(38, 18) AS logged,
           s.uncached_input_tokens + s.cached_input_tokens + s.cache_write_5m_tokens
               + s.cache_write_1h_tokens + s.output_tokens = 0 AS no_tokens,
           CASE WHEN s.model_logged IS NULL AND no_tokens THEN 0::DECIMAL(38, 18)
                ELSE c.computed_cost_usd END AS computed,
           c.price_note
    FROM _stage s
    LEFT JOIN _models m ON m.logged = s.model_logged
    LEFT JOIN ({cost}) c ON c.row_key = s.row_key
    WHERE s.format <> 'openai_batch_input'
      AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = s.request_id)
      AND s.row_key IN (SELECT min(row_key) FROM _stage GROUP BY request_id)
)
"""


def _store_rejects(store: Store, rejects: RejectBatch) -> None:
    table = rejects.take()
    if table is None:
        return
    store.register("_rejects", table)
    try:
        store.execute("INSERT INTO rejects SELECT * FROM _rejects")
    finally:
        store.unregister("_rejects")


def _store_batch_inputs(store: Store, stage: StageBatch) -> None:
    store.execute(
        "INSERT INTO batch_inputs SELECT json_extract_string(metadata, '$.custom_id'), "
        "model_logged, system_prompt, prompt, messages, source_file, run_id "
        "FROM _stage WHERE format = 'openai_batch_input'"
    )


def _join_batch_inputs(store: Store, options: IngestOptions) -> None:
    """Fill the prompt of Batch API outputs from their input lines, joined on custom_id."""
    if options.no_text:
        return
    # A custom_id seen in more than one input line is ambiguous: such outputs stay unjoined.
    store.execute(
        """
        UPDATE requests SET system_prompt = b.system_prompt, prompt = b.prompt,
            messages = b.messages,
            prompt_hash = md5(coalesce(b.system_prompt, '') || chr(0) || coalesce(b.prompt, '')),
            system_prompt_hash = CASE WHEN b.system_prompt IS NOT NULL
                                      THEN md5(b.system_prompt) END
        FROM (SELECT custom_id, any_value(system_prompt) AS system_prompt,
                     any_value(prompt) AS prompt, any_value(messages) AS messages
              FROM batch_inputs GROUP BY custom_id HAVING count(*) = 1) b
        WHERE requests.format = 'openai_batch_output' AND requests.prompt IS NULL
          AND json_extract_string(requests.metadata, '$.custom_id') = b.custom_id
        """
    )


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
    out.duplicate = staged - out.batch_inputs - out.added
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
        "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded')",
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
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
