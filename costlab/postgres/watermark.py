"""How far a table was read: the latest `startTime` of a run and the request ids at it.

A run reads the rows whose `startTime` is at or after the last watermark less the overlap
window, except the rows at the watermark already read (their ids are kept). Rows a proxy writes
late, with a `startTime` inside the window, are read by the next run; rows re-read in the window
were stored before and count as duplicates (`requests` keeps one row per request id). A late row
older than the window is missed until a `--full` run, which reads everything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from costlab.store import Store

# LiteLLM writes spend logs in batches after the call ends (a long streamed call: minutes
# after its startTime; several proxies: each on its own flush): an hour covers both with room.
DEFAULT_OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class Watermark:
    """The latest `startTime` read and the request ids of the rows read at it."""

    start: datetime
    request_ids: tuple[str, ...]


@dataclass(frozen=True)
class Window:
    """Which rows a run reads: all of them, or those after a watermark less an overlap."""

    after: Watermark | None
    overlap: timedelta = DEFAULT_OVERLAP

    @property
    def since(self) -> datetime | None:
        return None if self.after is None else self.after.start - self.overlap

    def where(self) -> tuple[str, dict[str, Any]]:
        """The SQL condition (psycopg placeholders) and its values."""
        if self.after is None:
            return "TRUE", {}
        condition = (
            '"startTime" >= %(since)s AND NOT ("startTime" = %(mark)s '
            "AND request_id = ANY(%(ids)s))"
        )
        values = {
            "since": self.since,
            "mark": self.after.start,
            "ids": list(self.after.request_ids),
        }
        return condition, values


def last(store: Store, label: str) -> Watermark | None:
    """The watermark of the latest loaded run of this table, or None when it was never read."""
    row = store.row(
        "SELECT watermark_ts, watermark_ids FROM ingest_runs WHERE source_file = ? "
        "AND status = 'loaded' AND watermark_ts IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
        [label],
    )
    return None if row is None else Watermark(row[0], tuple(row[1] or ()))


def record(store: Store, run_id: str, label: str, mark: Watermark | None) -> None:
    """Keep the watermark with the run's row of `ingest_runs` (in the run's transaction)."""
    if mark is not None:
        store.execute(
            "UPDATE ingest_runs SET watermark_ts = ?, watermark_ids = ? "
            "WHERE run_id = ? AND source_file = ?",
            [mark.start, list(mark.request_ids), run_id, label],
        )


class Tracker:
    """The watermark of the rows read so far, fed in (`startTime`, request id) order."""

    def __init__(self, previous: Watermark | None) -> None:
        self._start = None if previous is None else previous.start
        self._ids = [] if previous is None else list(previous.request_ids)

    def see(self, start: datetime | None, request_id: str | None) -> None:
        if start is None or request_id is None:
            return
        if self._start is None or start > self._start:
            self._start, self._ids = start, [request_id]
        elif start == self._start:
            self._ids.append(request_id)

    def watermark(self) -> Watermark | None:
        return None if self._start is None else Watermark(self._start, tuple(self._ids))
