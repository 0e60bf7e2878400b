"""Outcomes: JSON lines or CSV, by request id or prompt text; mistakes name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import flat, load, write_jsonl

from costlab import prices
from costlab.errors import BadInput
from costlab.routing import outcomes
from costlab.store import Store


def test_jsonl_by_id_and_by_prompt_with_scores_and_correct(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, [flat(1), flat(2)])
    path = write_jsonl(
        tmp_path / "outcomes.jsonl",
        [
            {"request_id": "req-1", "model": "openai/gpt-4o", "score": 8, "output_tokens": 90},
            {"request_id": "req-1", "model": "gpt-4o", "score": 6},  # two judges: the mean
            {"prompt": "question number 2", "model": "gpt-4o-mini", "correct": True},
            {"prompt": "question number 2", "model": "gpt-4o", "correct": "no"},
        ],
    )
    loaded = outcomes.ingest(store, path, catalogue)
    assert loaded.rows == 4 and loaded.replaced == 0
    assert loaded.models == {"gpt-4o": 3, "gpt-4o-mini": 1}
    assert loaded.matched_requests == 2
    rows = store.rows(f"SELECT * FROM {outcomes.VIEW} ORDER BY request_id, model")
    assert rows == [
        ("req-1", "gpt-4o", 7.0, 90),
        ("req-2", "gpt-4o", 0.0, None),
        ("req-2", "gpt-4o-mini", 1.0, None),
    ]
    again = outcomes.ingest(store, path, catalogue)  # a second load replaces the first
    assert again.replaced == 4
    assert store.row("SELECT count(*) FROM outcomes") == (4,)


def test_csv(store: Store, catalogue: prices.Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("request_id,model,correct\nreq-1,gpt-4o,true\nreq-2,gpt-4o,0\n")
    assert outcomes.ingest(store, path, catalogue).rows == 2
    assert store.rows("SELECT score FROM outcomes ORDER BY request_id") == [(1.0,), (0.0,)]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("o.csv", "request_id,score\nr,1\n", "o.csv, line 1: missing model"),
        ("o.csv", "model,score\ngpt-4o,1\n", "o.csv, line 1: missing request_id or prompt"),
        ("o.csv", "request_id,model,score\nr,gpt-4o,\n", "o.csv, line 2: missing score or correct"),
        ("o.jsonl", '{"request_id": "r", "model": "m", "score": 1}\n{"request_id": "r"}\n',
         "o.jsonl, line 2: missing model, score or correct"),
        ("o.jsonl", '{"request_id": "r", "model": "m", "score": "high"}\n',
         "o.jsonl, line 1: score 'high' is not a number"),
        ("o.jsonl", '{"request_id": "r", "model": "m", "correct": "maybe"}\n',
         "o.jsonl, line 1: correct 'maybe' is not true or false"),
        ("o.jsonl", '{"request_id": "r", "model": "m", "score": 1, "output_tokens": -3}\n',
         "o.jsonl, line 1: output_tokens -3 is negative"),
        ("o.jsonl", "{not json\n", "o.jsonl, line 1: not JSON"),
        ("o.jsonl", "\n", "o.jsonl: no outcomes in the file"),
    ],
)  # fmt: skip
def test_bad_files_name_the_line(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadInput) as err:
        outcomes.ingest(store, path, catalogue)
    assert expected in err.value.message
    assert store.row("SELECT count(*) FROM outcomes") == (0,)  # nothing half-loaded


def test_a_missing_file(store: Store, catalogue: prices.Catalogue, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such outcomes file"):
        outcomes.ingest(store, tmp_path / "nope.jsonl", catalogue)
