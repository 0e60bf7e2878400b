"""simulate-cache's thresholds and TTL as given (`--threshold`, `--sweep FROM:TO:STEP`,
`--ttl 24h`), read the same way for the CLI and the Python API."""

from __future__ import annotations

from collections.abc import Sequence

from costlab.errors import BadInput
from costlab.timestamps import duration_s


def given(values: Sequence[float], sweep: str | None) -> list[float]:
    """The thresholds asked for, sorted and distinct; BadInput when none or a bad sweep."""
    found = list(values)
    if sweep:
        try:
            start, stop, step = (float(p) for p in sweep.split(":"))
        except ValueError:
            raise BadInput(
                f"--sweep {sweep}: write FROM:TO:STEP", "e.g. --sweep 0.80:0.99:0.01"
            ) from None
        if step <= 0 or stop < start:
            raise BadInput(
                f"--sweep {sweep}: STEP must be positive and TO at least FROM",
                "e.g. --sweep 0.80:0.99:0.01",
            )
        count = int(round((stop - start) / step)) + 1
        found += [round(start + i * step, 6) for i in range(count)]
    if not found:
        raise BadInput(
            "give --threshold or --sweep", "e.g. --threshold 0.92 or --sweep 0.80:0.99:0.01"
        )
    return sorted(set(found))


def ttl_s(text: str | None) -> float | None:
    """`--ttl 24h` in seconds (None stays None); BadInput when it is not a duration."""
    if text is None:
        return None
    try:
        seconds = duration_s(text)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise BadInput(f"--ttl {text}: not a duration", "e.g. --ttl 24h, 30m, 90s or 7d")
    return seconds
