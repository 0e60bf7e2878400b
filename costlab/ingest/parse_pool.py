"""Parsing records on every core: chunks of lines go to worker processes, Arrow rows come back.

Per-record parsing is pure Python (~80 µs a chat record), so a large file is cut into chunks
that worker processes parse with the same `StageBatch` as the single-process path; results come
back in file order, with a bounded number of chunks in flight so memory stays flat.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import pyarrow as pa

from costlab.ingest.options import IngestOptions
from costlab.ingest.sources import Line
from costlab.ingest.staging import RejectRow, StageBatch, reject_row
from costlab.processes import alive

CHUNK_LINES = 4_000
# Below this a pool costs more (worker start-up) than it saves.
MIN_FILE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Chunk:
    """What a worker made of one chunk of lines."""

    rows: bytes | None  # the staged rows as an Arrow IPC stream
    rejects: list[RejectRow]
    formats: dict[str, int] = field(default_factory=dict)
    calls: int = 0


# Records of a stream (a database table) below which a pool costs more than it saves.
MIN_RECORDS = 20_000


def workers_for_records(records: int | None) -> int:
    """How many worker processes a stream of this many records deserves (0: in-process)."""
    return workers_for(MIN_FILE_BYTES) if records is not None and records >= MIN_RECORDS else 0


def workers_for(size_bytes: int | None) -> int:
    """How many worker processes a file of this size deserves (0: parse in-process)."""
    cores = os.cpu_count() or 1
    if cores < 2 or size_bytes is None or size_bytes < MIN_FILE_BYTES:
        return 0
    return cores


def parse(
    lines: Iterator[Line], options: IngestOptions, source_file: str, run_id: str, workers: int
) -> Iterator[Chunk]:
    """The parsed chunks of `lines`, in order, with at most two chunks per worker in flight."""
    context = get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=watch, initargs=(os.getpid(),)
    ) as pool:
        pending: deque[Future[Chunk]] = deque()
        for chunk in _chunks(lines):
            pending.append(pool.submit(parse_chunk, options, source_file, run_id, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# How often a worker looks whether the ingest that started it is still there.
WATCH_INTERVAL_S = 0.5


def watch(ingest_pid: int) -> None:
    """In each worker: exit when the ingest process is gone (killed with -9, say).

    A killed ingest cannot stop its pool, and idle workers would wait on their queue forever
    (~200 MB each). The worker's parent is the forkserver, which exits with the ingest, so a
    new parent also means the ingest is gone.
    """
    parent = os.getppid()

    def check() -> None:
        while True:
            time.sleep(WATCH_INTERVAL_S)
            if os.getppid() != parent or not alive(ingest_pid):
                os._exit(1)

    threading.Thread(target=check, name="costlab-watch", daemon=True).start()


def _chunks(lines: Iterator[Line]) -> Iterator[list[tuple[int, bytes, str | None]]]:
    chunk: list[tuple[int, bytes, str | None]] = []
    for line in lines:
        chunk.append((line.number, line.raw, line.error))
        if len(chunk) >= CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parse_chunk(
    options: IngestOptions,
    source_file: str,
    run_id: str,
    chunk: list[tuple[int, bytes, str | None]],
) -> Chunk:
    """Parse one chunk in a worker: the same code as the in-process path."""
    stage = StageBatch(options, source_file, run_id)
    rejects: list[RejectRow] = []
    for number, raw, error in chunk:
        line = Line(number, raw, error)
        reason = stage.add(line)
        if reason is not None:
            rejects.append(reject_row(line, reason, options))
    table = stage.take()
    return Chunk(_ipc(table), rejects, dict(stage.formats), stage.calls)


def _ipc(table: pa.Table | None) -> bytes | None:
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def rows(chunk: Chunk) -> pa.Table | None:
    """The chunk's staged rows as an Arrow table."""
    if chunk.rows is None:
        return None
    return pa.ipc.open_stream(chunk.rows).read_all()
