"""Reading back the records that ingest rejected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from costlab.errors import BadInput
from costlab.ingest import conflicts
from costlab.store import Store


@dataclass(frozen=True)
class Reject:
    run_id: str
    source_file: str
    source_line: int  # 0: the whole file (not a log)
    reason: str
    raw: str | None  # None under --no-text

    @property
    def where(self) -> str:
        return f"{self.source_file}:{self.source_line}" if self.source_line else self.source_file


@dataclass(frozen=True)
class Listing:
    """The first `limit` rejects of a run (or of every run), and how many there are in all;
    and the same of the conflicting duplicates, which were not stored either."""

    total: int
    rejects: list[Reject]
    conflicts_total: int = 0
    conflicts: list[conflicts.Conflict] = field(default_factory=list)


def recent(store: Store, run_id: str | None = None, limit: int = 50) -> Listing:
    """Rejects of one run, or of every run, in file and line order; an unknown run is an error."""
    if run_id is not None and not _known_run(store, run_id):
        raise BadInput(
            f"--run {run_id}: no ingest run with this id",
            "the ingest summary prints the run id; leave out --run to list every run's rejects",
        )
    where = "WHERE ? IS NULL OR run_id = ?"
    row = store.row(f"SELECT count(*) FROM rejects {where}", [run_id, run_id])
    rows = store.rows(
        f"SELECT run_id, source_file, source_line, reason, raw FROM rejects {where} "
        "ORDER BY source_file, source_line LIMIT ?",
        [run_id, run_id, limit],
    )
    n_conflicts, found = conflicts.recent(store, run_id, limit)
    return Listing(int(row[0]) if row else 0, [Reject(*r) for r in rows], n_conflicts, found)


def _known_run(store: Store, run_id: str) -> bool:
    found = store.row(
        "SELECT 1 FROM ingest_runs WHERE run_id = ? UNION ALL "
        "SELECT 1 FROM rejects WHERE run_id = ? LIMIT 1",
        [run_id, run_id],
    )
    return found is not None


def replace(store: Store, source_file: str, sha256: str | None, run_id: str, rows: Any) -> None:
    """Keep a file's rejects (an Arrow table, or None), dropping those of its earlier reads.

    A file read again (--force, or after --strict rolled it back) has the same bad records and
    conflicts: they are listed once, under the latest run.
    """
    if sha256 is not None:
        for table in ("rejects", "conflicts"):
            store.execute(
                f"DELETE FROM {table} t WHERE t.source_file = ? AND t.run_id <> ? AND EXISTS "
                "(SELECT 1 FROM ingest_runs i WHERE i.sha256 = ? AND i.run_id = t.run_id "
                "AND i.source_file = t.source_file)",
                [source_file, run_id, sha256],
            )
    if rows is not None:
        store.append("rejects", rows)
