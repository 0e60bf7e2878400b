"""One self-contained HTML page, shared by every `--html` output: CSS, tables, sections, figures.

No network and no external asset: a page opens offline. Charts are static SVG drawn in Python, so
they show without JavaScript; the one inline script only records, per chart, how many data marks
the browser laid out (`data-drawn`), for the headless-browser tests. Every text from the logs
goes through `html.escape`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from costlab import plot

# Tableau 10 without its grey: distinct hues that read on white and in print.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#e15759",
)  # fmt: skip
ANOMALY_COLOUR = "#b3001b"
WIDTH = 1100


def document(title: str, header: str, body: str) -> str:
    """A whole page: `header` and `body` are HTML already escaped."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"{header}{body}</main><script>{SCRIPT}</script></body></html>\n"
    )


def money(amount: Decimal | None, places: int = 4) -> str:
    """Dollars for people: the exact value rounded for display, with thousands separators;
    '—' for unknown. The terminal and every page show money this way."""
    return "—" if amount is None else f"${amount:,.{places}f}"


def empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def table(
    headers: Sequence[str], rows: list[list[str]], align: str, *, empty_text: str = ""
) -> str:
    """A table; `align` has one letter per column: l(eft), r(ight, numbers), p(rompt text).

    Without rows, and with an `empty_text`, that text stands in for the table.
    """
    if not rows and empty_text:
        return empty(empty_text)
    classes = {"l": "", "r": ' class="num"', "p": ' class="prompt"'}
    head = "".join(f"<th{classes[a]}>{escape(h)}</th>" for h, a in zip(headers, align, strict=True))
    body = "".join(
        "<tr>"
        + "".join(f"<td{classes[a]}>{escape(c)}</td>" for c, a in zip(row, align, strict=True))
        + "</tr>"
        for row in rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def cards(items: Sequence[tuple[str, str]], label: str = "totals") -> str:
    """A row of headline figures: (name, value) each, values already formatted."""
    body = "".join(
        f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div></div>'
        for k, v in items
    )
    return f'<section class="totals" aria-label="{escape(label)}">{body}</section>'


def section(title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section><h2>{escape(title)}</h2>{note_html}{body}</section>"


def svg(name: str, height: int, body: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(name)}" '
        f'overflow="visible">{body}</svg>'
    )


def figure(
    name: str, svg: str, legend: list[tuple[str, str, str]], anomalies: bool = False, note: str = ""
) -> str:
    items = [
        f'<li><span class="swatch" style="background:{colour}"></span>{escape(text)}</li>'
        for _, colour, text in legend
    ]
    if anomalies:
        items.append(
            f'<li><span class="tri" style="color:{ANOMALY_COLOUR}">\u25bc</span>anomaly</li>'
        )
    legend_html = f'<ul class="legend">{"".join(items)}</ul>' if items else ""
    caption = f"<figcaption>{escape(note)}</figcaption>" if note else ""
    return f'<figure class="chart" data-chart="{escape(name)}">{svg}{legend_html}{caption}</figure>'


_SCATTER_H = 380
_S_LEFT, _S_RIGHT, _S_TOP, _S_BOTTOM = 84, 24, 34, 48
_DATA_KEY = re.compile(r"^[a-z][a-z0-9-]*$")


def scatter(chart: plot.Chart) -> str:
    """A `plot.Chart` as SVG: round ticks on both axes, lines, then dots, then rings on top."""
    drawn = [s for s in chart.series if s.points]
    if not drawn:
        return empty(f"{chart.title}: nothing to draw.")
    xs = plot.ticks(*plot.span([p.x for s in drawn for p in s.points]), steps=6)
    ys = plot.ticks(*plot.span([p.y for s in drawn for p in s.points]), steps=5)

    def at(p: plot.Point) -> tuple[float, float]:
        dx = (p.x - xs[0]) / (xs[-1] - xs[0])
        dy = (p.y - ys[0]) / (ys[-1] - ys[0])
        return (
            _S_LEFT + dx * (WIDTH - _S_LEFT - _S_RIGHT),
            _SCATTER_H - _S_BOTTOM - dy * (_SCATTER_H - _S_TOP - _S_BOTTOM),
        )

    parts = [_scatter_axes(chart, xs, ys)]
    for s in reversed(drawn):
        if s.line != "none":
            path = " ".join(f"{x:.2f},{y:.2f}" for x, y in map(at, s.points))
            dash = ' stroke-dasharray="5 4"' if s.line == "dotted" else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{s.colour}" '
                f'stroke-width="2"{dash}/>'
            )
    for dot in ("dot", "ring"):
        for s in reversed(drawn):
            if s.dot == dot:
                parts += [_scatter_dot(s, p, *at(p)) for p in s.points]
    legend = [(s.name, s.colour, (f"{s.mark} " if s.mark else "") + s.name) for s in drawn]
    return figure(chart.name, svg(chart.title, _SCATTER_H, "".join(parts)), legend, note=chart.note)


def _scatter_dot(s: plot.Series, p: plot.Point, x: float, y: float) -> str:
    data = "".join(
        f' data-{key}="{escape(value)}"' for key, value in p.data if _DATA_KEY.match(key)
    )
    paint = (
        f'r="8" fill="none" stroke="{s.colour}" stroke-width="2"'
        if s.dot == "ring"
        else f'r="5" fill="{s.colour}" stroke="#fff" stroke-width="1"'
    )
    title = f"<title>{escape(p.title)}</title>" if p.title else ""
    return f'<circle cx="{x:.2f}" cy="{y:.2f}" {paint}{data}>{title}</circle>'


def _scatter_axes(chart: plot.Chart, xs: list[float], ys: list[float]) -> str:
    left, right, top, bottom = _S_LEFT, WIDTH - _S_RIGHT, _S_TOP, _SCATTER_H - _S_BOTTOM
    parts = []
    for k, value in enumerate(ys):
        y = bottom - k / (len(ys) - 1) * (bottom - top)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.2f}" y2="{y:.2f}" class="grid"/>'
            f'<text x="{left - 8}" y="{y + 4:.2f}" text-anchor="end" class="tick">'
            f"{plot.label(value, chart.y.unit, ys[1] - ys[0])}</text>"
        )
    for k, value in enumerate(xs):
        x = left + k / (len(xs) - 1) * (right - left)
        parts.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{top}" y2="{bottom}" class="grid"/>'
            f'<text x="{x:.2f}" y="{bottom + 18}" text-anchor="middle" class="tick">'
            f"{plot.label(value, chart.x.unit, xs[1] - xs[0])}</text>"
        )
    parts.append(
        f'<text x="{(left + right) / 2:.0f}" y="{_SCATTER_H - 6}" text-anchor="middle" '
        f'class="label">{escape(chart.x.label)}</text>'
        f'<text x="8" y="{top - 14}" class="label">'
        f"{escape(chart.y.label)}</text>"
    )
    return "".join(parts)


CSS = """
:root{color-scheme:light;--ink:#1d2430;--muted:#5b6472;--line:#e3e6eb}
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:var(--ink);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:0 0 10px}
h3{font-size:15px;margin:16px 0 6px}
header p{margin:2px 0;color:var(--muted)}
code{background:#eef0f3;padding:1px 4px;border-radius:3px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;
padding:16px 18px;margin:16px 0}
.totals{display:flex;flex-wrap:wrap;gap:10px;background:none;border:0;padding:0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;
padding:10px 14px;min-width:150px}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
figure{margin:0}svg{display:block;width:100%;height:auto}
svg text{font-family:inherit}svg .tick{font-size:12px;fill:var(--muted)}
svg .label{font-size:13px;fill:var(--ink)}svg .value{font-size:12px;fill:var(--ink)}
svg .grid{stroke:var(--line);stroke-width:1}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:6px 16px;padding:0;
margin:8px 0 0 84px;font-size:13px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;
margin-right:6px;vertical-align:-1px}
.tri{margin-right:6px;font-size:11px}
.note,figcaption,.empty{color:var(--muted);font-size:13px;margin:4px 0 8px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.prompt{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;color:#374151;
max-width:38ch;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
tbody tr:hover{background:#f3f6fa}
"""

# Records how many data marks each chart laid out, so a headless browser can check the drawing.
SCRIPT = """
document.querySelectorAll("[data-chart]").forEach(function (figure) {
  var drawn = 0;
  figure.querySelectorAll("[data-usd],[data-anomaly],[data-share]").forEach(function (mark) {
    var box = mark.getBBox();
    if (box.width > 0 || box.height > 0) { drawn += 1; }
  });
  figure.setAttribute("data-drawn", String(drawn));
});
"""
