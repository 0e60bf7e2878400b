"""One run over a spend-log table: the rows of its window, read like a file's lines."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from costlab import prices
from costlab.ingest import FileResult, IngestOptions
from costlab.ingest.run import Progress, ingest_stream
from costlab.ingest.sources import Line
from costlab.postgres import reader, watermark
from costlab.postgres.target import DEFAULT_TABLE, parse
from costlab.store import Store

FORMAT = "litellm_spend_log"


@dataclass(frozen=True)
class DatabaseSource:
    """A table to read, and how much of it."""

    url: str
    table: str = DEFAULT_TABLE
    full: bool = False  # read every row again (still no duplicates)
    overlap: timedelta = watermark.DEFAULT_OVERLAP


def ingest(
    store: Store,
    source: DatabaseSource,
    options: IngestOptions,
    catalogue: prices.Catalogue,
    run_id: str,
    progress: Progress | None = None,
) -> FileResult:
    """Read the new rows of the table into the store, as one input of the run `run_id`."""
    target = parse(source.url, source.table)
    after = None if source.full else watermark.last(store, target.label)
    window = watermark.Window(after, source.overlap)
    with reader.session(target) as table:
        stream = _TableStream(target.label, table, window)
        forced = dataclasses.replace(options, format=FORMAT)
        return ingest_stream(store, stream, forced, catalogue, run_id, progress)


class _TableStream:
    """The window's rows as chunks of CSV lines (the SQL fast path) or as lines of JSON; the
    watermark is that of the rows at the window's latest startTime, once all are read."""

    def __init__(self, label: str, table: reader.Table, window: watermark.Window) -> None:
        self.label = label
        self.records: int | None = table.count(window)
        self.fields = table.fields()  # the CSV lines' columns: every row's keys
        self._table = table
        self._window = window
        self._tracker = watermark.Tracker(window.after)
        self._read = 0

    def chunks(self) -> Iterator[tuple[bytes, int]]:
        """(CSV lines of `fields`, how many), in (startTime, request_id) order."""
        return self._counted(self._table.csv_chunks(self._window))

    def _counted(self, chunks: Iterator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
        for data, rows in chunks:
            yield data, rows
            self._read += rows
        for start, request_id in self._table.last(self._window):
            self._tracker.see(start, request_id)

    def lines(self) -> Iterator[Line]:
        number = 0
        for data, _ in self._counted(self._table.chunks(self._window)):
            for raw in data.splitlines():
                number += 1
                yield Line(number, raw)

    def read(self) -> int:
        return self._read

    def commit(self, store: Store, run_id: str) -> None:
        watermark.record(store, run_id, self.label, self._tracker.watermark())
