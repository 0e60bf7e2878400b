"""SQL text shared by the fast paths: how a value is tested and written as a JSON text."""

from __future__ import annotations

import json

# A timestamp DuckDB reads exactly as Python's datetime.fromisoformat does: UTC or naive.
ISO_UTC = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)?"
EPOCH_MS = 100_000_000_000  # above this an epoch number is in ms (timestamps.py agrees)


def json_text(text: str) -> str:
    """A JSON string as orjson writes it (non-ASCII kept): also how a JSON path names a key."""
    return json.dumps(text, ensure_ascii=False)


def sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
