from __future__ import annotations

from pathlib import Path

import pytest

from costlab.errors import BadInput
from costlab.ingest import sources


def _touch(path: Path, text: str = "{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_directories_are_searched_recursively_for_log_files(tmp_path: Path) -> None:
    _touch(tmp_path / "a.jsonl")
    _touch(tmp_path / "deep" / "b.json.gz")
    _touch(tmp_path / "deep" / "notes.txt")
    found = [s.path.name for s in sources.expand([str(tmp_path)]) if s.path]
    assert found == ["a.jsonl", "b.json.gz"]


def test_globs_and_repeats(tmp_path: Path) -> None:
    a = _touch(tmp_path / "x1.jsonl")
    _touch(tmp_path / "x2.jsonl")
    found = sources.expand([str(tmp_path / "x*.jsonl"), str(a)])
    assert [s.path.name for s in found if s.path] == ["x1.jsonl", "x2.jsonl"]


def test_stdin_is_a_source() -> None:
    assert sources.expand(["-"]) == [sources.Source(None, "<stdin>")]


def test_a_missing_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        sources.expand([str(tmp_path / "nope.jsonl")])


def test_a_single_json_object_file_is_one_record(tmp_path: Path) -> None:
    path = _touch(tmp_path / "one.json", '{\n  "a": 1,\n  "b": [1, 2]\n}\n')
    lines = list(sources.Reader(sources.Source(path, str(path))).lines())
    assert len(lines) == 1 and lines[0].value == {"a": 1, "b": [1, 2]}


def test_reader_hashes_what_it_reads(tmp_path: Path) -> None:
    path = _touch(tmp_path / "a.jsonl", '{"a": 1}\n\n{"a": 2}\n')
    reader = sources.Reader(sources.Source(path, str(path)))
    lines = list(reader.lines())
    assert [line.number for line in lines] == [1, 3]  # blank lines are skipped, numbering kept
    assert reader.digest.hexdigest() == sources.sha256(sources.Source(path, str(path)))
