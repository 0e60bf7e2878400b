"""BENCHMARKS.md is shared: each benchmark script owns a section between HTML comment markers.

`scripts/bench/benchmark.py` rewrites the unmarked part; `scripts/bench/bench_cache.py` (and any
later script) replaces only its own marked section. Neither loses the other's figures.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"

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


class _Tee(io.StringIO):
    """Keeps what is printed and passes it on."""

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        return super().write(text)


def run_section(name: str, title: str, main: Callable[[], object]) -> int:
    """Run a benchmark's `main`; with `--write` in argv, also put what it printed in BENCHMARKS.md.

    The section gets a heading, the machine and the exact command, so the figures stay traceable.
    """
    write = "--write" in sys.argv
    if write:
        sys.argv.remove("--write")
    command = "python " + " ".join(shlex.quote(a) for a in [_script(sys.argv[0]), *sys.argv[1:]])
    printed = _Tee()
    with contextlib.redirect_stdout(printed):
        code = main()
    if write:
        from benchmark import machine  # the same machine lines as every other section

        body = "\n".join(
            [f"## {title}", "", *machine(), f"- command: `{command}`", "", printed.getvalue()]
        )
        write_section(BENCHMARKS, name, body)
        print(f"wrote section {name} of {BENCHMARKS}", file=sys.stderr)
    return int(code or 0)


def _script(argv0: str) -> str:
    """The script's path as typed from the repository root (scripts/bench/NAME.py)."""
    path = Path(argv0).resolve()
    return (
        path.relative_to(BENCHMARKS.parent).as_posix()
        if path.is_relative_to(BENCHMARKS.parent)
        else argv0
    )
