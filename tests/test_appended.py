"""An appended file is read from where the last read ended; a rewritten one is read whole."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from costlab import ingest
from costlab.ingest import FileResult, IngestOptions, parse_pool, sources
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import flat


def _lines(numbers: range) -> bytes:
    return b"".join(orjson.dumps(flat(i)) + b"\n" for i in numbers)


def _ingest(store: Store, path: Path, catalogue: Catalogue, **options: bool) -> FileResult:
    result = ingest.ingest(store, sources.expand([str(path)]), IngestOptions(**options), catalogue)
    return result.files[0]


def _stored_lines(store: Store) -> list[tuple[str, int]]:
    return store.rows("SELECT request_id, source_line FROM requests ORDER BY source_line")


def test_only_the_appended_lines_are_read_and_numbered_on(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(_lines(range(0, 30)) + b"\n" + _lines(range(30, 40)))  # a blank line
    first = _ingest(store, path, catalogue)
    assert (first.resumed_at, first.records_read, first.added) == (None, 40, 40)
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(_lines(range(40, 45)))
    second = _ingest(store, path, catalogue)
    assert (second.resumed_at, second.records_read, second.added) == (size, 5, 5)
    assert _stored_lines(store)[-5:] == [(f"req-{i}", i + 2) for i in range(40, 45)]
    data = path.read_bytes()
    run = store.row(
        "SELECT bytes_read, head_sha256, sha256 FROM ingest_runs ORDER BY finished_at DESC LIMIT 1"
    )
    assert run == (len(data), hashlib.sha256(data).hexdigest(), hashlib.sha256(data).hexdigest())
    assert _ingest(store, path, catalogue).status == "skipped"  # nothing new


def test_a_line_still_being_written_waits_for_its_newline(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes(_lines(range(10)))
    _ingest(store, path, catalogue)
    whole = orjson.dumps(flat(10))
    with path.open("ab") as f:
        f.write(whole[:20])
    assert _ingest(store, path, catalogue).status == "skipped"
    with path.open("ab") as f:
        f.write(whole[20:] + b"\n" + _lines(range(11, 13)) + whole[:5])
    later = _ingest(store, path, catalogue)
    assert (later.records_read, later.added, later.rejected) == (3, 3, 0)
    assert later.bytes_read == path.stat().st_size - 5
    assert _stored_lines(store)[-3:] == [("req-10", 11), ("req-11", 12), ("req-12", 13)]


def test_a_rewritten_or_rotated_file_is_read_whole(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = tmp_path / "rot.jsonl"
    path.write_bytes(_lines(range(20)))
    _ingest(store, path, catalogue)
    path.write_bytes(_lines(range(100, 105)))  # rotated: a new, shorter file
    rotated = _ingest(store, path, catalogue)
    assert (rotated.resumed_at, rotated.records_read, rotated.added) == (None, 5, 5)
    path.write_bytes(_lines(range(100, 104)) + _lines(range(200, 210)))  # an earlier line changed
    rewritten = _ingest(store, path, catalogue)
    assert rewritten.resumed_at is None
    assert (rewritten.records_read, rewritten.added, rewritten.duplicate) == (14, 10, 4)
    assert store.row("SELECT count(*) FROM requests")[0] == 35


def test_compressed_files_and_force_read_the_whole_file(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(_lines(range(10)))
    _ingest(store, path, catalogue)
    with path.open("ab") as f:
        f.write(_lines(range(10, 12)))
    forced = _ingest(store, path, catalogue, force=True)
    assert (forced.resumed_at, forced.records_read, forced.added) == (None, 12, 2)
    zipped = tmp_path / "app.jsonl.gz"
    import gzip

    zipped.write_bytes(gzip.compress(_lines(range(50, 55))))
    assert _ingest(store, zipped, catalogue).resumed_at is None
    zipped.write_bytes(gzip.compress(_lines(range(50, 57))))
    again = _ingest(store, zipped, catalogue)
    assert (again.resumed_at, again.records_read, again.added) == (None, 7, 2)


def test_a_few_appended_lines_of_a_large_file_are_parsed_in_process(
    tmp_path: Path, store: Store, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(_lines(range(200)))
    _ingest(store, path, catalogue)
    with path.open("ab") as f:
        f.write(_lines(range(200, 202)))
    monkeypatch.setattr(parse_pool, "MIN_FILE_BYTES", path.stat().st_size // 2)

    def no_pool(*args: object) -> None:
        raise AssertionError("a worker pool for two appended lines")

    monkeypatch.setattr(parse_pool, "parse", no_pool)
    assert _ingest(store, path, catalogue).added == 2


def _appended_twice(
    tmp_path: Path, catalogue: Catalogue, tail: bytes, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> tuple[Store, list[bool]]:
    """A file read, then read again after `tail` was appended; whether DuckDB read each time."""
    from costlab.ingest import bulk

    path = tmp_path / ("fast" if fast else "slow") / "app.jsonl"
    path.parent.mkdir()
    path.write_bytes(_lines(range(0, 60)) + b"\n")
    store = Store.open(":memory:")
    reads: list[bool] = []
    read = bulk.read
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(bulk, "eligible", lambda *args: False)
        patch.setattr(bulk, "read", lambda *a, **k: reads.append(bool(r := read(*a, **k))) or r)
        _ingest(store, path, catalogue)
        with path.open("ab") as f:
            f.write(tail)
        assert _ingest(store, path, catalogue).resumed_at is not None
    return store, reads


def _varied_tail() -> bytes:
    from tests.test_bulk import _varied_records

    lines = [r.encode() if isinstance(r, str) else orjson.dumps(r) for r in _varied_records(400)]
    return b"\n".join(lines) + b"\n" + orjson.dumps(flat(999))[:30]  # a line still being written


@pytest.mark.parametrize("bom", [False, True])
def test_appended_lines_read_by_duckdb_store_what_the_per_record_path_stores(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, bom: bool
) -> None:
    from tests.test_bulk import COLUMNS

    tail = (b"\xef\xbb\xbf" if bom else b"") + _varied_tail()
    fast, fast_reads = _appended_twice(tmp_path, catalogue, tail, monkeypatch, fast=True)
    slow, slow_reads = _appended_twice(tmp_path, catalogue, tail, monkeypatch, fast=False)
    # DuckDB reads the new lines, unless they start with a byte order mark (Python tells of it).
    assert (fast_reads, slow_reads) == ([True] if bom else [True, True], [])
    columns = COLUMNS.replace("source_file, ", "")  # each file in its own folder
    query = f"SELECT {columns} FROM requests ORDER BY source_line"
    assert fast.rows(query) == slow.rows(query)
    assert len(fast.rows(query)) > 300
    rejects = "SELECT source_line, reason FROM rejects ORDER BY source_line"
    assert fast.rows(rejects) == slow.rows(rejects)
    assert min(line for line, _ in fast.rows(rejects)) > 61  # numbered on, past the first read
    runs = "SELECT records_read, added, bytes_read, head_sha256, sha256 FROM ingest_runs ORDER BY 1"
    assert fast.rows(runs) == slow.rows(runs)


def test_an_appended_file_is_read_again_without_importing_pandas(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "app.jsonl"
    path.write_bytes(_lines(range(30)))
    db = tmp_path / "store.duckdb"
    script = (
        "import runpy, sys; sys.argv = ['costlab', '--db', sys.argv[1], 'ingest', sys.argv[2]]\n"
        "try: runpy.run_module('costlab', run_name='__main__')\n"
        "except SystemExit as done: assert not done.code, done\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'"
    )
    root = Path(__file__).resolve().parents[1]
    run = [sys.executable, "-c", script, str(db), str(path)]
    subprocess.run(run, check=True, cwd=root, capture_output=True)
    with path.open("ab") as f:
        f.write(_lines(range(30, 35)))
    subprocess.run(run, check=True, cwd=root, capture_output=True)
    store = Store.open(db)
    assert store.row("SELECT count(*) FROM ingest_runs WHERE bytes_read = ?", [path.stat().st_size])
    assert store.row("SELECT count(*) FROM requests")[0] == 35
