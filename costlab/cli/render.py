"""The one module that draws for people: consoles, tables, money and counts."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich import filesize
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
)
from rich.table import Table
from rich.text import Text

from costlab import page
from costlab.errors import BadInput, CostlabError

# Piped output (CI logs, files) gets room for a table instead of the 80-column default.
_PIPED_WIDTH = 120
out = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPED_WIDTH)


# What would act on a terminal, or reorder the text around it, rather than show: C0 and C1
# controls (ESC starts every escape sequence), DEL, bidirectional marks, overrides and isolates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BLANK = {"\t": " ", "\n": " ", "\r": " "}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _BLANK:
        return _BLANK[char]
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures symbol: ESC shows as ␛
    return "\u2421" if code == 0x7F else "\ufffd"


def printable(text: str, *, lines: bool = False) -> str:
    """Text from a log made safe to show: each control or bidi character becomes one visible
    symbol (so widths and styles stay in place); tabs and newlines become spaces unless `lines`.

    Every string that reaches the terminal, a markdown table or a CSV cell goes through it.
    """
    if lines:
        return "\n".join(printable(line) for line in text.split("\n"))
    return _UNPRINTABLE.sub(_visible, text)


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: no control character, no formula."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    if text[:1] in ("=", "+", "-", "@") and not _NUMBER.match(text):
        return "'" + text
    return text


def error_json(error: CostlabError | None) -> dict[str, Any]:
    """An error as JSON output shows it: {"error": {"message", "hint", "exit_code"}}."""
    if error is None:
        return {}
    return {"error": {"message": error.message, "hint": error.hint, "exit_code": error.exit_code}}


def print_error(error: CostlabError) -> None:
    """An expected failure: the message, and the hint when there is one."""
    # escaped: messages quote files and fields such as [models.NAME] that are not markup
    message = escape(printable(error.message, lines=True))
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if error.hint:
        hint = escape(printable(error.hint, lines=True))
        err.print(f"[dim]hint:[/] {hint}", markup=True, soft_wrap=True)


def money(amount: Decimal | None, places: int = 4) -> str:
    """Dollars for people: exact value rounded for display, '—' for unknown."""
    return page.money(amount, places)


def count(n: int) -> str:
    return f"{n:,}"


_NUMBER = re.compile(r"^[-+]?\$?[\d,]*\.?\d+(?:[%×~]|e[-+]?\d+)?$|^[—∞]$|^$")


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    *,
    right: int | None = None,
) -> Table:
    """A table; number columns (from index `right`, or detected) are right-aligned.

    Plain strings are shown literally (log text may hold [brackets]); pass `Text` to style.
    Long text is cut with an ellipsis so the numbers stay readable.
    """
    t = Table(
        title=escape(printable(title)), title_justify="left", show_edge=False, header_style="bold"
    )
    numbers = [_is_number_column(i, rows, right) for i in range(len(columns))]
    widths = [
        max([len(name), *(len(str(row[i])) for row in rows if i < len(row))])
        for i, name in enumerate(columns)
    ]
    widths = [w if numbers[i] else min(w, 40) for i, w in enumerate(widths)]
    flexible = max((i for i, n in enumerate(numbers) if not n and i), default=None)
    if flexible is not None:  # the last text column (a prompt, say) takes what is left
        rest = sum(w for i, w in enumerate(widths) if i != flexible) + 3 * len(columns) + 2
        widths[flexible] = max(8, min(widths[flexible], out.width - rest))
    narrowest = [w if numbers[i] else min(w, _MIN_TEXT) for i, w in enumerate(widths)]
    if sum(narrowest) + 3 * len(columns) + 2 > out.width:
        return _folded(title, columns, rows)
    for i, name in enumerate(columns):
        if numbers[i]:
            t.add_column(name, justify="right", no_wrap=True, min_width=widths[i])
        elif i == flexible and flexible == len(columns) - 1:
            # The last column of long text (a prompt) is cut, so that each row stays one line.
            t.add_column(name, overflow="ellipsis", no_wrap=True, max_width=widths[i])
        else:
            # Names wrap at word boundaries on a narrow terminal rather than lose their ends.
            t.add_column(name, overflow="fold", min_width=narrowest[i], max_width=widths[i])
    for row in rows:
        t.add_row(*(_cell(cell) for cell in row))
    return t


# Text narrower than this would wrap into a column of fragments: the table is folded instead.
_MIN_TEXT = 10


def _folded(title: str, columns: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> Table:
    """A table too wide for the terminal, one row after another as 'column  value' lines."""
    t = Table(
        title=escape(printable(title)),
        title_justify="left",
        show_edge=False,
        show_header=False,
    )
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for row in rows:
        for i, (name, cell) in enumerate(zip(columns, row, strict=False)):
            t.add_row(Text(printable(name)), _cell(cell), end_section=i == len(row) - 1)
    return t


def _cell(cell: str | Text) -> Text:
    if not isinstance(cell, Text):
        return Text(printable(cell))
    shown = cell.copy()
    shown.plain = printable(cell.plain)  # one symbol for one character: the spans still fit
    return shown


def _is_number_column(i: int, rows: Sequence[Sequence[str | Text]], right: int | None) -> bool:
    if right is not None:
        return i >= right
    cells = [str(row[i]) for row in rows if i < len(row)]
    return bool(cells) and all(_NUMBER.match(c) for c in cells)


@dataclass(frozen=True)
class Sheet:
    """A table as data, drawn as a rich table, markdown or CSV."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    right: int | None = None  # columns from this index on are numbers (None: detect them)


def show(sheets: list[Sheet], fmt: str) -> None:
    """Print the sheets in a format: table (rich), markdown or csv."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        for i, sheet in enumerate(sheets):
            if i:
                sys.stdout.write("\n")
            writer.writerow([csv_cell(c) for c in sheet.columns])
            writer.writerows([csv_cell(c) for c in row] for row in sheet.rows)
        return
    for sheet in sheets:
        if fmt == "markdown":
            sys.stdout.write(_markdown(sheet) + "\n")
        else:
            out.print(table(sheet.title, sheet.columns, sheet.rows, right=sheet.right))
            out.print()


def markdown(sheet: Sheet) -> str:
    """A sheet as a markdown table under a heading (for files and pull-request comments)."""
    return _markdown(sheet)


def _markdown(sheet: Sheet) -> str:
    def cell(text: str) -> str:
        return printable(text).replace("|", "\\|")

    align = [
        "---:" if _is_number_column(i, sheet.rows, sheet.right) else "---"
        for i in range(len(sheet.columns))
    ]
    lines = [
        f"### {printable(sheet.title)}",
        "",
        "| " + " | ".join(map(cell, sheet.columns)) + " |",
    ]
    lines.append("| " + " | ".join(align) + " |")
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in sheet.rows]
    return "\n".join(lines) + "\n"


def _per_second(task: Task) -> float | None:
    """Items a second: rich's estimate, else the average since the bar began.

    rich needs two updates with progress to estimate a speed; a stage that reports in a few
    large batches (256 texts embedded at a time) would show no rate and no time left.
    """
    if task.finished_speed or task.speed:
        return task.finished_speed or task.speed
    elapsed = task.elapsed
    return task.completed / elapsed if elapsed and task.completed else None


class _Rate(ProgressColumn):
    """Items (or bytes) per second."""

    def __init__(self, units: str) -> None:
        super().__init__()
        self.units = units

    def render(self, task: Task) -> Text:
        speed = _per_second(task)
        if not speed:
            return Text("", style="progress.data.speed")
        if self.units == "bytes":
            return Text(f"{filesize.decimal(int(speed))}/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} {self.units}/s", style="progress.data.speed")


class _TimeLeft(ProgressColumn):
    """The time left at the current rate (blank while the amount of work is unknown)."""

    def render(self, task: Task) -> Text:
        speed = _per_second(task)
        if task.total is None or not speed or task.finished:
            return Text("", style="progress.remaining")
        left = max(0.0, (task.total - task.completed) / speed)
        minutes, seconds = divmod(int(left + 0.5), 60)
        return Text(f"{minutes}:{seconds:02d} left", style="progress.remaining")


class ProgressBars:
    """Transient progress bars on stderr, one per label, with rate and ETA; only in a terminal.

    A total of None shows a pulsing bar: work going on whose amount is unknown.
    """

    def __init__(self, quiet: bool, *, units: str = "bytes") -> None:
        counter = DownloadColumn() if units == "bytes" else MofNCompleteColumn()
        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            counter,
            _Rate(units),
            _TimeLeft(),
            console=err,
            transient=True,
            disable=quiet or not err.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}
        self._totals: dict[str, int | None] = {}

    def __enter__(self) -> ProgressBars:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def update(self, label: str, done: int, total: int | None) -> None:
        """Show `done` of `total` for the bar named `label` (made on first use)."""
        if label in self._tasks and total is None and self._totals[label] is not None:
            self._bar.remove_task(self._tasks.pop(label))  # rich cannot unset a total
        if label not in self._tasks:
            self._tasks[label] = self._bar.add_task(escape(printable(label)), total=total)
        self._totals[label] = total
        self._bar.update(self._tasks[label], completed=done, total=total)


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


def write_page(path: Path, page: str) -> None:
    """Write an --html page, saying where and how big; an unwritable path is bad input."""
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise BadInput(f"--html {path}: cannot write: {error.strerror}") from None
    err.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KB)", highlight=False)


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, decimals as strings so no cent is lost."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")
    _json_written.append(True)


# Whether this command has written its JSON document: an error after it goes to stderr, so
# that stdout holds one JSON document.
_json_written: list[bool] = []


def new_command() -> None:
    """A command starts (tests run many in one process): nothing written yet."""
    _json_written.clear()


def report_error(error: CostlabError, wants_json: bool) -> None:
    """An error as JSON on stdout when the command line asked for JSON, else on stderr."""
    if wants_json and not _json_written:
        print_json(error_json(error))
    else:
        print_error(error)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
