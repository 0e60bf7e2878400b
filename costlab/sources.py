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
from typing import IO

import orjson
import zstandard

from costlab.errors import BadInput

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".gz", ".zst", ".log")
# A record longer than this is rejected, not parsed: no LLM log record is this large.
MAX_RECORD_BYTES = 16_000_000
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


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
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*")) if p.is_file() and _is_log(p)]
        if not found:
            raise BadInput(f"{arg}: no log files in this directory", f"looked for {LOG_SUFFIXES}")
        return found
    if path.is_file():
        return [path]
    matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
    if matches:
        return matches
    raise BadInput(f"{arg}: no such file, directory or glob match")


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
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader, 1 << 20)
    return raw


@dataclass
class Reader:
    """Reads one source's records, hashing the bytes as they are read."""

    source: Source

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def lines(self) -> Iterator[Line]:
        """Each record; a JSON array or single-object `.json` file gives its elements."""
        with self._open() as raw:
            stream = _decompressed(raw)
            if self.source.path is not None and self._is_whole_json(self.source.path):
                yield from self._json_document(stream)
            else:
                yield from self._json_lines(stream)

    def _open(self) -> IO[bytes]:
        if self.source.path is None:
            return io.BufferedReader(_Hashing(sys.stdin.buffer, self), 1 << 20)
        return io.BufferedReader(_Hashing(self.source.path.open("rb"), self), 1 << 20)

    @staticmethod
    def _is_whole_json(path: Path) -> bool:
        name = path.name
        for suffix in (".gz", ".zst"):
            name = name.removesuffix(suffix)
        return name.endswith(".json")

    def _json_lines(self, stream: IO[bytes]) -> Iterator[Line]:
        number = 0
        try:
            for raw in stream:
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
        except orjson.JSONDecodeError:
            # Not one JSON document: read it as JSON lines after all.
            yield from self._json_lines(io.BytesIO(data))
            return
        items = document if isinstance(document, list) else [document]
        for index, item in enumerate(items, start=1):
            yield Line(index, orjson.dumps(item), None, item)


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
