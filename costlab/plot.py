"""An x–y chart as data, and its drawing in characters; `page.scatter` draws the same one in SVG.

A feature builds one `Chart` from its result, and both the terminal and the `--html` page show
it. The text drawing is plain characters (braille dots for lines, one character per mark), so
it reads in CI logs and narrow terminals; nothing here imports rich.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Unit = Literal["usd", "share", "number"]
Line = Literal["none", "solid", "dotted"]
Dot = Literal["dot", "ring", "none"]

# A braille cell is 2 dots wide and 4 high: the bit of the dot at (row, column).
_BRAILLE = 0x2800
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_LEGEND_LINE = {"none": "", "solid": "\u2812\u2812", "dotted": "\u2802\u2802"}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str = ""  # what the page shows on hover
    data: tuple[tuple[str, str], ...] = ()  # the page writes each as a data-KEY attribute


@dataclass(frozen=True)
class Series:
    name: str  # the legend text
    points: tuple[Point, ...]
    mark: str = ""  # the character drawn at each point in text ("": none)
    line: Line = "none"  # through the points, in their order
    dot: Dot = "dot"  # how the page draws each point
    colour: str = "#5b6472"


@dataclass(frozen=True)
class Axis:
    label: str
    unit: Unit


@dataclass(frozen=True)
class Chart:
    name: str  # the page's data-chart
    title: str
    x: Axis
    y: Axis
    series: tuple[Series, ...]  # the first drawn on top
    note: str = ""


def span(values: Sequence[float]) -> tuple[float, float]:
    """The range of the values, widened when they are all equal so a chart has some width."""
    low, high = min(values), max(values)
    if high > low:
        return low, high
    pad = abs(low) * 0.05
    return (low - pad, high + pad) if pad else (low - 1.0, high + 1.0)


def ticks(low: float, high: float, steps: int = 4) -> list[float]:
    """Round steps (1, 2, 2.5, 5 × 10^k), at most about `steps`, from `low` or below to `high`."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [i * step for i in range(first, last + 1)]


def label(value: float, unit: Unit, step: float) -> str:
    """A tick label with as many decimals as the step needs: $0.50, 25%, 8.5."""
    scaled = step * 100 if unit == "share" else step
    places = next((p for p in range(4) if abs(scaled * 10**p - round(scaled * 10**p)) < 1e-6), 4)
    if unit == "usd":
        return f"${value:,.{max(places, 2) if places else 0}f}"
    if unit == "share":
        return f"{value:.{places}%}"
    return f"{value:,.{places}f}"


def text(chart: Chart, width: int = 80, height: int = 14) -> str:
    """The chart in characters: a title, a grid with labelled axes, then one legend line a series.

    The axes run exactly from the smallest to the largest value drawn, so the point with the
    smallest x is in the first column. Where marks meet, the earlier series' mark shows.
    """
    drawn = [s for s in chart.series if s.points]
    if not drawn:
        note = [f"  {chart.note}"] if chart.note else []
        return "\n".join([chart.title, "  (nothing to draw)", *note])
    x_span = span([p.x for s in drawn for p in s.points])
    y_span = span([p.y for s in drawn for p in s.points])
    rows = max(3, height)
    y_labels = _y_labels(chart.y.unit, y_span, rows)
    gutter = max(map(len, y_labels.values())) + 1
    grid = _Grid(max(10, width - gutter - 1), rows, x_span, y_span)
    for s in drawn:
        if s.line != "none":
            grid.line([(p.x, p.y) for p in s.points], dotted=s.line == "dotted")
    hidden = [grid.marks(k, s) if s.mark else "" for k, s in enumerate(drawn)]
    lines = [chart.title, chart.y.label]
    for r, row in enumerate(grid.render()):
        tick = y_labels.get(r)
        lines.append(f"{tick or '':>{gutter}}{'┤' if tick else '│'}{row}")
    lines.append(" " * gutter + "└" + "─" * grid.cols)
    lines.append(" " * (gutter + 1) + _x_labels(chart.x.unit, x_span, grid.cols))
    lines.append(" " * (gutter + 1) + chart.x.label.center(grid.cols).rstrip())
    for s, under_marks in zip(drawn, hidden, strict=True):
        key = s.mark or _LEGEND_LINE[s.line]
        if key:
            under = f" (hidden under {under_marks})" if under_marks else ""
            lines.append(f"  {key:>2} {s.name}{under}")
    if chart.note:
        lines.append(f"  {chart.note}")
    return "\n".join(lines)


def _text_step(bounds: tuple[float, float]) -> float:
    """A power of ten near a tenth of the range: the decimals the text axes show."""
    return float(10 ** math.floor(math.log10((bounds[1] - bounds[0]) / 10)))


def _middle(bounds: tuple[float, float]) -> tuple[float, float, float]:
    """The round value nearest the middle of the range, its tick step, and where it is (0 to 1)."""
    found = ticks(*bounds)
    value = min(found, key=lambda t: abs(t - sum(bounds) / 2))
    return value, found[1] - found[0], (value - bounds[0]) / (bounds[1] - bounds[0])


def _y_labels(unit: Unit, bounds: tuple[float, float], rows: int) -> dict[int, str]:
    """Row -> label: the largest value, the smallest, and a round one in the row it falls in."""
    step = _text_step(bounds)
    labels = {0: label(bounds[1], unit, step), rows - 1: label(bounds[0], unit, step)}
    value, tick_step, at = _middle(bounds)
    row = round((1 - at) * (4 * rows - 1)) // 4
    if 0 < row < rows - 1:
        labels[row] = label(value, unit, tick_step)
    return labels


def _x_labels(unit: Unit, bounds: tuple[float, float], cols: int) -> str:
    """The smallest value at the first column, the largest at the last, a round one between."""
    step = _text_step(bounds)
    left, right = label(bounds[0], unit, step), label(bounds[1], unit, step)
    value, tick_step, at = _middle(bounds)
    mid = label(value, unit, tick_step)
    start = round(at * (2 * cols - 1)) // 2 - len(mid) // 2
    row = left.ljust(cols)
    if start > len(left) and start + len(mid) < cols - len(right):
        row = row[:start] + mid + row[start + len(mid) :]
    return (row[: cols - len(right)] + right).rstrip()


class _Grid:
    """Character cells over braille dots: x from the left column, y from the bottom row."""

    def __init__(
        self, cols: int, rows: int, x: tuple[float, float], y: tuple[float, float]
    ) -> None:
        self.cols, self.rows, self._x, self._y = cols, rows, x, y
        self._bits = [[0] * cols for _ in range(rows)]
        self._marks: list[list[tuple[int, str] | None]] = [[None] * cols for _ in range(rows)]

    def _dot(self, x: float, y: float) -> tuple[int, int]:
        """The dot (column, row) of a value, counted in braille dots from the top left."""
        dx = (x - self._x[0]) / (self._x[1] - self._x[0])
        dy = (self._y[1] - y) / (self._y[1] - self._y[0])
        return round(dx * (2 * self.cols - 1)), round(dy * (4 * self.rows - 1))

    def line(self, points: Sequence[tuple[float, float]], dotted: bool) -> None:
        dots = [self._dot(x, y) for x, y in points]
        for (x0, y0), (x1, y1) in zip(dots, dots[1:], strict=False):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for i in range(0, steps + 1, 3 if dotted else 1):
                px = round(x0 + (x1 - x0) * i / steps)
                py = round(y0 + (y1 - y0) * i / steps)
                self._bits[py // 4][px // 2] |= _DOTS[py % 4][px % 2]

    def marks(self, k: int, series: Series) -> str:
        """Put the series' mark where no earlier mark is; the marks hiding it, if all of it is."""
        under = []
        for p in series.points:
            px, py = self._dot(p.x, p.y)
            cell = self._marks[py // 4][px // 2]
            if cell is None:
                self._marks[py // 4][px // 2] = (k, series.mark)
            elif cell[0] != k:
                under.append(cell[1])
        return ", ".join(sorted(set(under))) if len(under) == len(series.points) else ""

    def render(self) -> list[str]:
        return [
            "".join(
                mark[1] if mark else (chr(_BRAILLE + bits) if bits else " ")
                for mark, bits in zip(marks, bit_row, strict=True)
            ).rstrip()
            for marks, bit_row in zip(self._marks, self._bits, strict=True)
        ]
