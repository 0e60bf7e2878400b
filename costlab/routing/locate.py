"""Where a field of a TOML policy file stands: its line, for error messages (best effort)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path


def dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def at(path: Path, lines: Sequence[str], loc: tuple[str | int, ...]) -> str:
    line = line_of(lines, loc)
    return f"{path}, line {line}" if line else str(path)


def line_of(lines: Sequence[str], loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of a field in TOML text, following its path (best effort)."""
    start, end, found, previous = 0, len(lines), None, ""
    for part in loc:
        if isinstance(part, int):  # the part-th [[previous]] block
            headers = [n for n in range(len(lines)) if _header(lines[n]) == ["[", previous]]
            if part < len(headers):
                start = found = headers[part]
                end = _block_end(lines, start)
            continue
        key = re.compile(rf"^\s*[\"']?{re.escape(part)}[\"']?\s*=")
        hit = next((n for n in range(start, end) if key.match(lines[n])), None)
        if hit is None:
            hit = next((n for n in range(start, len(lines)) if part in _header(lines[n])), None)
            if hit is not None:
                end = _block_end(lines, hit)
        if hit is not None:
            start = found = hit
        previous = part
    return None if found is None else found + 1


def _header(line: str) -> list[str]:
    """The dotted names of a [table] or [[array]] header line ('[' first for an array)."""
    text = line.strip()
    if not text.startswith("["):
        return []
    array = text.startswith("[[")
    inner = text.strip("[]").split("]")[0]
    names = [n.strip().strip("\"'") for n in re.split(r"\.(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", inner)]
    return ["[", *names] if array else names


def _block_end(lines: Sequence[str], header: int) -> int:
    return next((n for n in range(header + 1, len(lines)) if _header(lines[n])), len(lines))
