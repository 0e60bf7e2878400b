"""Timestamps from logs (ISO 8601 text or epoch numbers) as naive UTC datetimes, and durations
written as 90s, 30m, 24h or 7d."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from costlab.errors import RecordError

# Epoch values above these are in ms / µs / ns rather than seconds.
_MS, _US, _NS = 1e11, 1e14, 1e17


def parse(value: Any, field: str = "timestamp") -> datetime | None:
    """A naive UTC datetime, None when the value is absent, RecordError when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"'{field}' is a boolean, not a time")
    if isinstance(value, int | float):
        return _from_epoch(float(value), field)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _from_epoch(float(text), field)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise RecordError(f"'{field}' is not a time: {value[:40]!r}") from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    raise RecordError(f"'{field}' is a {type(value).__name__}, not a time")


def _from_epoch(value: float, field: str) -> datetime:
    seconds = value
    if seconds > _NS:
        seconds /= 1e9
    elif seconds > _US:
        seconds /= 1e6
    elif seconds > _MS:
        seconds /= 1e3
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise RecordError(f"'{field}' is out of range: {value:g}") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_s(text: str) -> float:
    """Seconds in a duration such as 90s, 30m, 24h or 7d; ValueError naming the format."""
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f'"{text}": write a duration such as "30m", "24h" or "7d"')
    return float(found.group(1)) * _SECONDS[found.group(2)]
