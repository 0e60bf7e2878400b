"""The one module that draws for people: consoles, tables, money and counts."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from costlab.errors import CostlabError

# Piped output (CI logs, files) gets room for a table instead of the 80-column default.
_PIPED_WIDTH = 120
out = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPED_WIDTH)


def print_error(error: CostlabError) -> None:
    """An expected failure: the message, and the hint when there is one."""
    err.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)
    if error.hint:
        err.print(f"[dim]hint:[/] {error.hint}", markup=True, soft_wrap=True)


def money(amount: Decimal | None, places: int = 4) -> str:
    """Dollars for people: exact value rounded for display, '—' for unknown."""
    if amount is None:
        return "—"
    return f"${amount:,.{places}f}"


def count(n: int) -> str:
    return f"{n:,}"


def table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str | Text]], *, right: int = 1
) -> Table:
    """A table whose `right`-th column onward are right-aligned numbers.

    Plain strings are shown literally (log text may hold [brackets]); pass `Text` to style.
    """
    t = Table(title=escape(title), title_justify="left", show_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        number = i >= right
        t.add_column(name, justify="right" if number else "left", overflow="fold", no_wrap=number)
    for row in rows:
        t.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return t


@dataclass(frozen=True)
class Sheet:
    """A table as data, drawn as a rich table, markdown or CSV."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    right: int = 1


def show(sheets: list[Sheet], fmt: str) -> None:
    """Print the sheets in a format: table (rich), markdown or csv."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        for i, sheet in enumerate(sheets):
            if i:
                sys.stdout.write("\n")
            writer.writerow(sheet.columns)
            writer.writerows(sheet.rows)
        return
    for sheet in sheets:
        if fmt == "markdown":
            sys.stdout.write(_markdown(sheet) + "\n")
        else:
            out.print(table(sheet.title, sheet.columns, sheet.rows, right=sheet.right))
            out.print()


def _markdown(sheet: Sheet) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    align = ["---" if i < sheet.right else "---:" for i in range(len(sheet.columns))]
    lines = [f"### {sheet.title}", "", "| " + " | ".join(map(cell, sheet.columns)) + " |"]
    lines.append("| " + " | ".join(align) + " |")
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in sheet.rows]
    return "\n".join(lines) + "\n"


_BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """A one-line chart of a series, scaled to its own maximum."""
    top = max(values, default=0) or 1
    return "".join(_BLOCKS[min(8, round(8 * v / top))] if v > 0 else " " for v in values)


def bar(share: float, width: int = 20) -> str:
    """A horizontal bar for a share from 0 to 1."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, decimals as strings so no cent is lost."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
