"""The baseline file: written sorted and stable, read strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from costlab.errors import BadInput
from costlab.tokens import baseline
from costlab.tokens.baseline import Entry


def test_round_trip_is_sorted_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "costlab-tokens.json"
    entries = {"b.txt": Entry("cl100k_base", 2, "ff"), "a.txt": Entry("o200k_base", 1)}
    baseline.write(path, entries)
    first = path.read_text()
    assert first.index('"a.txt"') < first.index('"b.txt"') and first.endswith("}\n")
    assert baseline.read(path) == entries
    baseline.write(path, dict(reversed(list(entries.items()))))
    assert path.read_text() == first


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("{", "not valid JSON"),
        ("[]", '"costlab_tokens_baseline": 1'),
        ('{"costlab_tokens_baseline": 1}', 'no "templates" object'),
        ('{"costlab_tokens_baseline": 1, "templates": {"a": 3}}', "templates.a is not an object"),
        (
            '{"costlab_tokens_baseline": 1, "templates": {"a": {"tokens": -1, "encoding": "x"}}}',
            "templates.a.tokens is not a whole number",
        ),
        (
            '{"costlab_tokens_baseline": 1, "templates": {"a": {"tokens": 1}}}',
            "templates.a.encoding is not a string",
        ),
    ],
)
def test_a_corrupt_baseline_names_what_is_wrong(tmp_path: Path, text: str, detail: str) -> None:
    path = tmp_path / "costlab-tokens.json"
    path.write_text(text)
    with pytest.raises(BadInput) as err:
        baseline.read(path)
    assert "is not a costlab token baseline" in err.value.message
    assert detail in err.value.message
    assert "costlab tokens update" in err.value.hint


def test_a_missing_baseline_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as err:
        baseline.read(tmp_path / "none.json")
    assert "no token baseline" in err.value.message and "tokens update" in err.value.hint
