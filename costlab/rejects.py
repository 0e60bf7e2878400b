"""Reading back the records that ingest rejected."""

from __future__ import annotations

from dataclasses import dataclass

from costlab.store import Store


@dataclass(frozen=True)
class Reject:
    run_id: str
    source_file: str
    source_line: int
    reason: str
    raw: str


def recent(store: Store, run_id: str | None = None, limit: int = 50) -> list[Reject]:
    """Rejects of one run, or of every run, in file and line order."""
    rows = store.rows(
        "SELECT run_id, source_file, source_line, reason, raw FROM rejects "
        "WHERE ? IS NULL OR run_id = ? ORDER BY source_file, source_line LIMIT ?",
        [run_id, run_id, limit],
    )
    return [Reject(*row) for row in rows]
