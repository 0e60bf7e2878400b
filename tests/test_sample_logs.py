"""The committed sample logs are readable JSON and cover enough days, features and models."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
LOG_FILES = sorted(
    p for p in SAMPLES.iterdir() if p.name != "README.md" and p.name != "bad_lines.jsonl"
)
DAY = re.compile(r"^(2026-11-\d\d)T")


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return data.decode("utf-8")


def records(path: Path) -> list[Any]:
    text = read_text(path)
    if path.name.endswith(".json"):
        loaded = json.loads(text)
        assert isinstance(loaded, list), f"{path.name} is not a JSON array"
        return loaded
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, scalar) pair in a nested JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)
    else:
        yield key, value


@pytest.fixture(scope="module")
def all_records() -> list[Any]:
    return [record for path in LOG_FILES for record in records(path)]


@pytest.mark.parametrize("path", LOG_FILES, ids=lambda p: p.name)
def test_every_line_is_a_json_object(path: Path) -> None:
    loaded = records(path)
    assert loaded, f"{path.name} is empty"
    assert all(isinstance(record, dict) for record in loaded)


def test_bad_lines_are_bad_in_the_documented_ways() -> None:
    lines = read_text(SAMPLES / "bad_lines.jsonl").splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            parsed.append(None)
    assert parsed.count(None) == 1  # exactly one malformed line
    assert any(isinstance(p, list) for p in parsed)
    assert any(isinstance(p, dict) and "model" in p and p["model"] is None for p in parsed)
    assert any(isinstance(p, dict) and p.get("output_tokens", 0) < 0 for p in parsed if p)


def test_the_set_is_big_and_varied_enough(all_records: list[Any]) -> None:
    days, features, models = set(), set(), set()
    for record in all_records:
        for key, value in walk(record):
            if isinstance(value, str) and (match := DAY.match(value)):
                days.add(match.group(1))
            if key.endswith("feature") and isinstance(value, str):
                features.add(value)
            if key in ("model", "gen_ai.request.model") and isinstance(value, str):
                models.add(value)
    assert len(all_records) >= 300
    assert len(days) >= 5, days
    assert len(features) >= 4, features
    assert len(models) >= 4, models


def test_the_readme_describes_every_file() -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for path in [*LOG_FILES, SAMPLES / "bad_lines.jsonl"]:
        assert f"`{path.name}`" in readme, path.name
