"""What an ingest run reports: one result per file, and the run's totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# The columns of `ingest_runs` every run fills (later migrations add some only some inputs fill).
RUN_COLUMNS = (
    "run_id, source_file, sha256, started_at, finished_at, records_read, added, duplicate, "
    "rejected, flagged, no_timestamp, status"
)


@dataclass
class FileResult:
    """What happened to one input file."""

    source: str
    sha256: str | None = None
    status: str = "loaded"  # loaded | skipped | rolled_back | refused (not a log)
    error: str | None = None  # why a refused file is not a log
    records_read: int = 0
    added: int = 0
    duplicate: int = 0  # the same request, already stored or earlier in the file
    conflicting: int = 0  # the same request id with other content: kept in `conflicts`
    rejected: int = 0
    flagged: int = 0
    no_timestamp: int = 0
    mismatched_cost: int = 0
    batch_inputs: int = 0
    spend_usd: Decimal = Decimal(0)
    resumed_at: int | None = None  # an appended file: the bytes read before, not read again
    bytes_read: int | None = None  # the end of the last complete line read
    head_sha256: str | None = None  # the sha256 of the bytes before `bytes_read`
    unknown_models: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    reject_examples: list[tuple[int, str]] = field(default_factory=list)
    conflict_examples: list[tuple[int, str, str]] = field(default_factory=list)  # line, id, kept


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

    @property
    def all_bad(self) -> bool:
        """Nothing was added because every record (or file) read was bad.

        Files skipped as already loaded, duplicates and Batch API input lines are not bad.
        """
        good = sum(self.total(n) for n in ("added", "duplicate", "conflicting", "batch_inputs"))
        skipped = any(f.status == "skipped" for f in self.files)
        return self.total("rejected") > 0 and not good and not skipped

    def unknown_models(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for f in self.files:
            for model, n in f.unknown_models.items():
                merged[model] = merged.get(model, 0) + n
        return merged
