"""Where records come from: files, directories, globs or stdin; plain, gzip or zstd."""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import orjson
import zstandard

from costlab.errors import BadInput, NotALog
from costlab.redact import credentials

if TYPE_CHECKING:
    from costlab.store import Store

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".gz", ".zst", ".log")
# A record longer than this is rejected, not parsed: no LLM log record is this large.
MAX_RECORD_BYTES = 16_000_000
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# The start of a file this size tells text from binary: a log has no NUL byte in it.
_SNIFF_BYTES = 8192
_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive",
    b"\x7fELF": "an executable",
    b"SQLite format 3": "an SQLite database",
    b"DUCK": "a DuckDB file",
}


@dataclass(frozen=True)
class Source:
    """One input: a file, or stdin when `path` is None."""

    path: Path | None
    label: str


@dataclass(frozen=True)
class Line:
    """One raw record and where it came from; `error` says why it could not even be read."""

    number: int
    raw: bytes
    error: str | None = None
    value: object = None  # already decoded (JSON array elements)


class Stream(Protocol):
    """Records from elsewhere than a file (a database table), framed as lines of JSON.

    They are read like a file's lines (the same parsing, pricing, rejects, one transaction);
    `commit` runs inside that transaction, after the run's row of `ingest_runs` is written.
    """

    label: str
    records: int | None  # how many are coming (progress, and whether worker processes pay)

    def lines(self) -> Iterator[Line]: ...

    def read(self) -> int: ...  # records read so far

    def commit(self, store: Store, run_id: str) -> None: ...


def expand(args: list[str]) -> list[Source]:
    """The inputs named by paths, directories (recursive), globs and '-'; sorted, no repeats."""
    sources: list[Source] = []
    seen: set[Path] = set()
    for arg in args:
        if arg == "-":
            sources.append(Source(None, "<stdin>"))
            continue
        for path in _paths(arg):
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                sources.append(Source(path, str(path)))
    return sources


def _paths(arg: str) -> list[Path]:
    path = Path(arg)
    shown = credentials(arg)  # a database URL given by mistake: its password is never echoed
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*")) if p.is_file() and _is_log(p)]
        if not found:
            raise BadInput(f"{shown}: no log files in this directory", f"looked for {LOG_SUFFIXES}")
        return found
    if path.is_file():
        return [path]
    if path.is_symlink():
        raise BadInput(f"{shown}: a symbolic link that loops or points nowhere")
    matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
    if matches:
        return matches
    raise BadInput(f"{shown}: no such file, directory or glob match")


def _is_log(path: Path) -> bool:
    return path.name.endswith(LOG_SUFFIXES) and not path.name.startswith(".")


def sha256(source: Source) -> str | None:
    """The file's sha256 (None for stdin, which is hashed while it is read)."""
    if source.path is None:
        return None
    digest = hashlib.sha256()
    with source.path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    head = raw.peek(4)[:4] if isinstance(raw, io.BufferedReader) else b""
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if head.startswith(_ZSTD_MAGIC):
        return io.BufferedReader(_Zstd(raw), 1 << 20)
    return raw


class _Zstd(io.RawIOBase):
    """zstd frames, one after another, decoded; a stream that ends inside a frame is an error.

    (`stream_reader` ends quietly where a cut file ends, so a truncated file would look whole.)
    """

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._offset >= len(self._pending):
            data = self._inner.read(1 << 16)
            if not data:
                if self._in_frame:
                    raise EOFError("the zstd stream ends inside a frame")
                return 0
            self._pending, self._offset = self._decode(data), 0
        n = min(len(buffer), len(self._pending) - self._offset)
        buffer[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n

    def _decode(self, data: bytes) -> bytes:
        decoded = []
        while data:
            self._in_frame = True
            decoded.append(self._frame.decompress(data))
            if not self._frame.eof:
                break
            data = self._frame.unused_data
            self._frame = self._dctx.decompressobj()
            self._in_frame = False
        return b"".join(decoded)


def compressed(source: Source) -> bool:
    """Whether the file is gzip or zstd (by its first bytes, not its name)."""
    if source.path is None:
        return False
    with source.path.open("rb") as f:
        head = f.read(4)
    return head.startswith((_GZIP_MAGIC, _ZSTD_MAGIC))


def intact(source: Source) -> bool:
    """Whether a file's compressed stream decodes to its end (DuckDB reads a cut one quietly)."""
    assert source.path is not None
    try:
        with io.BufferedReader(source.path.open("rb"), 1 << 20) as raw:
            stream = _decompressed(raw)
            while stream.read(1 << 20):
                pass
    except (EOFError, OSError, zlib.error, zstandard.ZstdError):
        return False
    return True


@dataclass
class Reader:
    """Reads one source's records, hashing the bytes as they are read.

    From an `offset` (an appended file), it reads only complete lines, numbered on from
    `lines_before`; `line_end` is where the last complete line read ends.
    """

    source: Source
    offset: int = 0
    lines_before: int = 0

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256()
        self.bytes_read = 0
        self.line_end = self.offset

    def lines(self) -> Iterator[Line]:
        """Each record; a JSON array or single-object `.json` file gives its elements."""
        with self._open() as raw:
            stream = _decompressed(raw)
            _refuse_binary(stream, self.source.label)
            if self.source.path is not None and self._is_whole_json(self.source.path):
                yield from self._json_document(stream)
            else:
                yield from self._json_lines(stream)

    def _open(self) -> IO[bytes]:
        if self.source.path is None:
            return io.BufferedReader(_Hashing(sys.stdin.buffer, self), 1 << 20)
        file = self.source.path.open("rb")
        file.seek(self.offset)
        return io.BufferedReader(_Hashing(file, self), 1 << 20)

    @staticmethod
    def _is_whole_json(path: Path) -> bool:
        name = path.name
        for suffix in (".gz", ".zst"):
            name = name.removesuffix(suffix)
        return name.endswith(".json")

    def _json_lines(self, stream: IO[bytes]) -> Iterator[Line]:
        number = self.lines_before
        try:
            for raw in stream:
                if raw.endswith(b"\n"):
                    self.line_end += len(raw)
                elif self.offset:
                    return  # a line still being written: the next read takes it
                number += 1
                raw = raw.rstrip(b"\r\n")
                if raw.strip():
                    yield _checked(number, raw)
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as err:
            yield Line(number + 1, b"", f"compressed stream is truncated or corrupt: {err}")

    def _json_document(self, stream: IO[bytes]) -> Iterator[Line]:
        try:
            data = stream.read()
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as err:
            yield Line(1, b"", f"compressed stream is truncated or corrupt: {err}")
            return
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as err:
            if _first_line_is_json(data):  # JSON lines in a .json file
                yield from self._json_lines(io.BytesIO(data))
            else:  # one document, cut or broken: one error, not a reject per fragment
                yield Line(1, data[:_SNIFF_BYTES], _document_error(data, err))
            return
        items = document if isinstance(document, list) else [document]
        for index, item in enumerate(items, start=1):
            yield Line(index, orjson.dumps(item), None, item)


def _refuse_binary(stream: IO[bytes], label: str) -> None:
    """Raise NotALog when the stream starts like a binary file (an image, an archive...)."""
    try:
        head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if hasattr(stream, "peek") else b""
    except (EOFError, OSError, zlib.error, zstandard.ZstdError):
        return  # a broken stream: reading its lines reports it
    kind = next((k for magic, k in _BINARY_MAGIC.items() if head.startswith(magic)), None)
    if kind is None and b"\x00" in head:
        kind = "binary data (NUL bytes)"
    if kind is not None:
        raise NotALog(f"not a log: {kind}", f"{label} holds no JSON records")


def _first_line_is_json(data: bytes) -> bool:
    first = data.lstrip().split(b"\n", 1)[0]
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


def _document_error(data: bytes, err: orjson.JSONDecodeError) -> str:
    if err.pos >= len(data.rstrip()) - 1:
        return f"truncated JSON document: it ends inside a value after {len(data):,} bytes"
    return f"malformed JSON document: {err}"


def _checked(number: int, raw: bytes) -> Line:
    if len(raw) > MAX_RECORD_BYTES:
        mb = len(raw) / 1e6
        limit = MAX_RECORD_BYTES / 1e6
        return Line(number, raw, f"record is {mb:.1f} MB, over the {limit:.0f} MB limit")
    return Line(number, raw)


class _Hashing(io.RawIOBase):
    """A raw stream that feeds every byte it reads to the reader's sha256."""

    def __init__(self, inner: IO[bytes], reader: Reader) -> None:
        self._inner = inner
        self._reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._reader.digest.update(data)
        self._reader.bytes_read += n
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()
