"""Reading only what is new in a file that grew since it was last read.

Each read of a plain JSON-lines file records in `ingest_runs` where its last complete line
ended (`bytes_read`) and the sha256 of the bytes before that point (`head_sha256`). The next
read of the same file (same name) hashes its first `bytes_read` bytes: when they are unchanged,
only the complete lines after them are read, numbered on from the lines before; when they are
not (a rewritten, truncated or rotated file), or the file is compressed or one JSON document,
the file is read whole, and request ids keep what was stored from being stored twice. A line
not yet ended by a newline is left for the next read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costlab.ingest import sources
from costlab.ingest.sources import Source
from costlab.store import Store

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Fingerprint:
    """What a read records: the file's sha256, and where its complete lines end (and their hash)."""

    sha256: str
    bytes_read: int
    head_sha256: str


@dataclass(frozen=True)
class Resume:
    """Where an appended file's new lines start: after `offset` bytes and `lines` lines."""

    offset: int
    lines: int
    head: Any  # the sha256 of the bytes before `offset`, to go on hashing what follows

    def extended(self, path: Path, end: int) -> str:
        """The sha256 of the bytes before `end`: the part read before, and what follows it."""
        head = self.head.copy()
        with path.open("rb") as f:
            f.seek(self.offset)
            left = end - self.offset
            while left:
                block = f.read(min(_BLOCK, left))
                head.update(block)
                left -= len(block)
        return str(head.hexdigest())

    def new_lines(self, path: Path) -> bool:
        """Whether a complete line follows the part already read."""
        with path.open("rb") as f:
            f.seek(self.offset)
            return any(b"\n" in block for block in iter(lambda: f.read(_BLOCK), b""))


def resumable(source: Source, forced: bool) -> bool:
    """Whether the source may be read from where it was left: a plain JSON-lines file on disk."""
    if forced or source.path is None or sources.compressed(source):
        return False
    return not source.path.name.endswith(".json")


def fingerprint(path: Path) -> Fingerprint:
    """The file's sha256 and the end of its last complete line, in one pass over it."""
    digest = hashlib.sha256()
    size = end = 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
            newline = block.rfind(b"\n")
            if newline >= 0:
                end = size + newline + 1
            size += len(block)
    whole = digest.hexdigest()
    return Fingerprint(whole, end, whole if end == size else _head(path, end).hexdigest())


def resume(store: Store, source: Source) -> Resume | None:
    """Where to go on reading the source, when its earlier part is unchanged (else None)."""
    assert source.path is not None
    row = store.row(
        "SELECT bytes_read, head_sha256 FROM ingest_runs WHERE source_file = ? "
        "AND status = 'loaded' AND bytes_read > 0 ORDER BY finished_at DESC LIMIT 1",
        [source.label],
    )
    if row is None or source.path.stat().st_size < row[0]:
        return None
    offset, expected = int(row[0]), str(row[1])
    head = hashlib.sha256()
    lines = 0
    with source.path.open("rb") as f:
        left = offset
        while left:
            block = f.read(min(_BLOCK, left))
            if not block:
                return None
            head.update(block)
            lines += block.count(b"\n")
            left -= len(block)
    return Resume(offset, lines, head) if head.hexdigest() == expected else None


def _head(path: Path, offset: int) -> Any:
    head = hashlib.sha256()
    with path.open("rb") as f:
        left = offset
        while left:
            block = f.read(min(_BLOCK, left))
            head.update(block)
            left -= len(block)
    return head
