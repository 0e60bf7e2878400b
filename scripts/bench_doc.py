"""BENCHMARKS.md is shared: each benchmark script owns a section between HTML comment markers.

`scripts/benchmark.py` rewrites the unmarked part; `scripts/bench_cache.py` (and any later script)
replaces only its own marked section. Neither loses the other's figures.
"""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"<!-- (?P<name>[\w-]+):start -->.*?<!-- (?P=name):end -->\n?", re.DOTALL)


def marked(name: str, markdown: str) -> str:
    """`markdown` between the start and end markers of section `name`."""
    return f"<!-- {name}:start -->\n{markdown.strip()}\n<!-- {name}:end -->\n"


def write_section(path: Path, name: str, markdown: str) -> None:
    """Replace section `name` of the file at `path`, or append it when the file has none."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = marked(name, markdown)
    found = [m for m in _SECTION.finditer(text) if m.group("name") == name]
    if found:
        text = text[: found[0].start()] + block + text[found[0].end() :]
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    path.write_text(text, encoding="utf-8")


def write_document(path: Path, markdown: str) -> None:
    """Write `markdown` to `path`, keeping every marked section the file already holds."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    sections = [m.group(0).rstrip("\n") + "\n" for m in _SECTION.finditer(old)]
    text = markdown.rstrip("\n") + "\n"
    if sections:
        text += "\n" + "\n".join(sections)
    path.write_text(text, encoding="utf-8")
