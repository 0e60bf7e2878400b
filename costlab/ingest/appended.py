"""Reading only what is new in a file that grew since it was last read.

Each read of a plain JSON-lines file records in `ingest_runs` where its last complete line
ended (`bytes_read`) and the sha256 of the bytes before that point (`head_sha256`). The next
read of the same file (same name) hashes its first `bytes_read` bytes: when they are unchanged,
only the complete lines after them are read, numbered on from the lines before; when they are
not (a rewritten, truncated or rotated file), or the file is compressed or one JSON document,
the file is read whole, and request ids keep what was stored from being stored twice. A line
not yet ended by a newline is left for the next read.

The check is the sha256 of every byte already read, not a sample: a change anywhere in it (one
byte of an old line) makes the file be read whole. On an 870 MB file it took 0.75 s (sha256 with
the CPU's SHA extensions, the line count beside it on a second thread).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costlab.ingest import sources
from costlab.ingest.sources import Source
from costlab.store import Store

_BLOCK = 8 << 20
_BOM = b"\xef\xbb\xbf"


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
        _hash_and_count(path, self.offset, end - self.offset, head)
        return str(head.hexdigest())

    def new_lines(self, path: Path) -> bool:
        """Whether a complete line follows the part already read."""
        return any(b"\n" in block for block in _blocks(path, self.offset, None))


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
    lines = _hash_and_count(source.path, 0, offset, head)
    return Resume(offset, lines, head) if head.hexdigest() == expected else None


@dataclass(frozen=True)
class Tail:
    """The complete lines an appended file gained, copied to a file of their own for DuckDB to
    read (it cannot start at an offset): `end` is where they end in the file, `sha256` the hash
    of the file up to there."""

    source: Source  # the copy, labelled as the file
    end: int
    sha256: str


@contextmanager
def tail(source: Source, resume: Resume) -> Iterator[Tail | None]:
    """The complete lines of `source` after `resume`, copied to a temporary file (removed
    afterwards). None when they start with a byte order mark: the per-record path drops one
    only on line 1, and tells of it elsewhere."""
    assert source.path is not None
    with tempfile.TemporaryDirectory(prefix="costlab-tail-") as folder:
        copy = Path(folder) / source.path.name
        with copy.open("wb") as out:
            for block in _blocks(source.path, resume.offset, None):
                out.write(block)
        data_end = _last_line_end(copy)
        with copy.open("r+b") as out:
            out.truncate(data_end)
            starts_with_bom = out.read(len(_BOM)) == _BOM
        head = resume.head.copy()
        _hash_and_count(copy, 0, None, head)
        end = resume.offset + data_end
        yield None if starts_with_bom else Tail(Source(copy, source.label), end, head.hexdigest())


def _last_line_end(path: Path) -> int:
    """Where the file's last complete line ends (0: it holds none)."""
    end = size = 0
    for block in _blocks(path, 0, None):
        newline = block.rfind(b"\n")
        if newline >= 0:
            end = size + newline + 1
        size += len(block)
    return end


def _head(path: Path, offset: int) -> Any:
    head = hashlib.sha256()
    _hash_and_count(path, 0, offset, head)
    return head


def _hash_and_count(path: Path, start: int, length: int | None, digest: Any) -> int:
    """Feed the file's bytes from `start` (`length` of them, or to its end) to `digest`; the
    newlines among them. The hash runs on a second thread (hashlib lets go of the GIL), beside
    the reading and counting."""
    lines = 0
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="costlab-hash") as hasher:
        for block in _blocks(path, start, length):
            if pending is not None:
                pending.result()
            pending = hasher.submit(digest.update, block)
            lines += block.count(b"\n")
        if pending is not None:
            pending.result()
    return lines


def _blocks(path: Path, start: int, length: int | None) -> Iterator[bytes]:
    """The file's bytes from `start`, `length` of them (or to its end), in large blocks; fewer
    where the file ends first."""
    with path.open("rb", buffering=0) as f:
        f.seek(start)
        left = length
        while left is None or left > 0:
            block = f.read(_BLOCK if left is None else min(_BLOCK, left))
            if not block:
                return
            yield block
            if left is not None:
                left -= len(block)
