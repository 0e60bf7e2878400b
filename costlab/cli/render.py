"""The one module that draws for people: consoles, tables, money and counts."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

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


def table(title: str, columns: list[str], rows: list[list[str]], *, right: int = 1) -> Table:
    """A table whose first `right`-th onward columns are right-aligned numbers."""
    t = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        number = i >= right
        t.add_column(name, justify="right" if number else "left", overflow="fold", no_wrap=number)
    for row in rows:
        t.add_row(*row)
    return t


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, decimals as strings so no cent is lost."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
