"""Recorded outcomes: how good one model's answer to one request was (a score, or correct).

`costlab ingest-outcomes FILE` reads JSON lines or CSV with the fields `request_id` (or `prompt`,
the prompt text), `model`, and `score` (any scale, higher is better) or `correct` (true/false,
stored as 1/0), optionally `output_tokens` (the length of that model's answer). Model names are
normalised like those of `requests`. Loading a file again replaces its rows.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from costlab.errors import BadInput
from costlab.prices import Catalogue
from costlab.store import Store

VIEW = "routing_outcomes"
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_HINT = (
    "each line needs request_id (or prompt), model, and score (or correct); optional output_tokens"
)


@dataclass(frozen=True)
class OutcomesLoaded:
    """What one outcomes file added to the store."""

    path: str
    rows: int
    replaced: int  # rows of an earlier load of the same file, dropped
    models: dict[str, int]  # model -> rows
    matched_requests: int  # distinct requests in the store that these rows describe


def ingest(store: Store, path: Path, catalogue: Catalogue) -> OutcomesLoaded:
    """Load one outcomes file (JSON lines, or CSV by its .csv suffix) into `outcomes`."""
    if not path.is_file():
        raise BadInput(f"{path}: no such outcomes file")
    source = str(path.resolve())
    rows = [_row(path, line, record, catalogue) for line, record in _records(path)]
    if not rows:
        raise BadInput(f"{path}: no outcomes in the file", _HINT)
    import pyarrow as pa

    now = datetime.now(UTC).replace(tzinfo=None)
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "request_id": pa.array(columns[0], pa.string()),
            "prompt_md5": pa.array(columns[1], pa.string()),
            "model": pa.array(columns[2], pa.string()),
            "score": pa.array(columns[3], pa.float64()),
            "output_tokens": pa.array(columns[4], pa.int64()),
            "source_file": pa.array([source] * len(rows), pa.string()),
            "source_line": pa.array(columns[5], pa.int64()),
            "loaded_at": pa.array([now] * len(rows), pa.timestamp("us")),
        }
    )
    with store.transaction():
        old = store.row("SELECT count(*) FROM outcomes WHERE source_file = ?", [source])
        store.execute("DELETE FROM outcomes WHERE source_file = ?", [source])
        store.append("outcomes", table)
    models: dict[str, int] = {}
    for model in columns[2]:
        models[model] = models.get(model, 0) + 1
    create_view(store)
    matched = store.row(
        f"SELECT count(DISTINCT o.request_id) FROM {VIEW} o "
        "JOIN requests r ON r.request_id = o.request_id"
    )
    return OutcomesLoaded(
        str(path), len(rows), int(old[0]) if old else 0, models, int(matched[0]) if matched else 0
    )


def create_view(store: Store) -> str:
    """The outcomes per (request_id, model): mean score and answer length; prompt rows joined."""
    store.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {VIEW} AS
        SELECT request_id, model, avg(score) AS score,
               CAST(round(avg(output_tokens)) AS BIGINT) AS output_tokens
        FROM (
            SELECT request_id, model, score, output_tokens FROM outcomes
            WHERE request_id IS NOT NULL
            UNION ALL
            SELECT r.request_id, o.model, o.score, o.output_tokens
            FROM outcomes o JOIN requests r ON md5(r.prompt) = o.prompt_md5
            WHERE o.request_id IS NULL
        )
        GROUP BY request_id, model
        """
    )
    return VIEW


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                header = set(reader.fieldnames or [])
                _check_columns(path, 1, header)
                for number, record in enumerate(reader, start=2):
                    yield number, {k: v for k, v in record.items() if v not in ("", None)}
            return
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as err:
                    raise BadInput(f"{path}, line {number}: not JSON: {err}", _HINT) from None
                if not isinstance(record, dict):
                    raise BadInput(f"{path}, line {number}: not a JSON object", _HINT)
                yield number, record
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None


def _check_columns(path: Path, line: int, fields: set[str]) -> None:
    missing = [
        name
        for name, options in (
            ("request_id or prompt", ("request_id", "prompt")),
            ("model", ("model",)),
            ("score or correct", ("score", "correct")),
        )
        if not fields & set(options)
    ]
    if missing:
        raise BadInput(f"{path}, line {line}: missing {', '.join(missing)}", _HINT)


def _row(
    path: Path, line: int, record: dict[str, Any], catalogue: Catalogue
) -> tuple[str | None, str | None, str, float, int | None, int]:
    present = {k for k, v in record.items() if v is not None}
    _check_columns(path, line, present)
    where = f"{path}, line {line}"
    model = str(record["model"])
    request_id = record.get("request_id")
    prompt = record.get("prompt")
    prompt_md5 = None
    if request_id is None and prompt is not None:
        prompt_md5 = hashlib.md5(str(prompt).encode("utf-8")).hexdigest()
    score = _score(where, record)
    tokens = record.get("output_tokens")
    if tokens is not None:
        try:
            tokens = int(tokens)
        except (TypeError, ValueError):
            raise BadInput(f"{where}: output_tokens {tokens!r} is not a whole number") from None
        if tokens < 0:
            raise BadInput(f"{where}: output_tokens {tokens} is negative")
    normalised = catalogue.resolve(model).model or model
    rid = None if request_id is None else str(request_id)
    return rid, prompt_md5, normalised, score, tokens, line


def _score(where: str, record: dict[str, Any]) -> float:
    if record.get("score") is not None:
        value = record["score"]
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise BadInput(f"{where}: score {value!r} is not a number", _HINT) from None
    value = record["correct"]
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    raise BadInput(f"{where}: correct {value!r} is not true or false", _HINT)
