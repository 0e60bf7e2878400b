"""Static SVG charts of a threshold sweep: hit rate and precision, and dollars saved.

Every data mark carries its numbers (`data-threshold` with `data-share` or `data-usd`) so the
browser test can count and check what was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from costlab import page
from costlab.cache.savings import ThresholdResult

_H = 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 20, 40
HIT_COLOUR, PRECISION_COLOUR, SAVED_COLOUR = page.PALETTE[0], page.PALETTE[1], page.PALETTE[2]
RECOMMENDED_COLOUR = "#5b6472"


def rates(rows: Sequence[ThresholdResult], recommended: float | None) -> str:
    """Hit rate and hit precision against threshold, 0 to 100 %."""
    if not rows:
        return page.empty("No thresholds.")
    parts = [_share_axis(), _x_axis(rows), _recommended(rows, recommended)]
    parts.append(_line("hit rate", [r.hit_rate for r in rows], HIT_COLOUR))
    precision = [r.precision for r in rows]
    parts.append(_line("precision", precision, PRECISION_COLOUR))
    estimated = any(r.precision_estimated for r in rows)
    legend = [
        ("hit", HIT_COLOUR, "hit rate"),
        ("precision", PRECISION_COLOUR, "hit precision" + (" (estimated)" if estimated else "")),
    ]
    return page.figure(
        "rates",
        page.svg("Hit rate and precision by threshold", _H, "".join(parts)),
        legend,
        note=_note(recommended),
    )


def saved(rows: Sequence[ThresholdResult], recommended: float | None) -> str:
    """Dollars saved against threshold, one bar each."""
    if not rows:
        return page.empty("No thresholds.")
    top = max((r.saved_usd for r in rows), default=Decimal(0))
    scale = float(top) or 1.0
    parts = [_money_axis(scale), _x_axis(rows), _recommended(rows, recommended)]
    band = _band(rows)
    for k, r in enumerate(rows):
        height = float(r.saved_usd) / scale * (_H - _TOP - _BOTTOM)
        x = _x(k, rows) - band * 0.35
        parts.append(
            f'<rect x="{x:.2f}" y="{_H - _BOTTOM - height:.2f}" width="{band * 0.7:.2f}" '
            f'height="{height:.2f}" fill="{SAVED_COLOUR}" data-threshold="{r.threshold}" '
            f'data-usd="{r.saved_usd}"><title>{r.threshold:.2f}: '
            f"{escape(page.money(r.saved_usd))} saved</title></rect>"
        )
    return page.figure(
        "saved",
        page.svg("Dollars saved by threshold", _H, "".join(parts)),
        [("saved", SAVED_COLOUR, "logged cost of the requests served from the cache")],
        note=_note(recommended),
    )


def _note(recommended: float | None) -> str:
    if recommended is None:
        return "No threshold reaches the minimum precision."
    return f"Dashed: the recommended threshold, {recommended:.2f}."


def _band(rows: Sequence[ThresholdResult]) -> float:
    return (page.WIDTH - _LEFT - _RIGHT) / len(rows)


def _x(k: int, rows: Sequence[ThresholdResult]) -> float:
    return _LEFT + (k + 0.5) * _band(rows)


def _y(share: float) -> float:
    return _H - _BOTTOM - share * (_H - _TOP - _BOTTOM)


def _line(name: str, values: Sequence[float | None], colour: str) -> str:
    """A polyline through the points that have a value, with a dot at each."""
    rows = len(values)
    width = (page.WIDTH - _LEFT - _RIGHT) / rows
    points = [(_LEFT + (k + 0.5) * width, _y(v), v) for k, v in enumerate(values) if v is not None]
    if not points:
        return ""
    path = " ".join(f"{x:.2f},{y:.2f}" for x, y, _ in points)
    dots = "".join(
        f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3.5" fill="{colour}" data-series="{name}" '
        f'data-share="{v:.6f}"><title>{escape(name)} {v:.1%}</title></circle>'
        for x, y, v in points
    )
    return f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>{dots}'


def _share_axis() -> str:
    parts = []
    for share in (0, 0.25, 0.5, 0.75, 1.0):
        y = _y(share)
        parts.append(
            f'<line x1="{_LEFT}" x2="{page.WIDTH - _RIGHT}" y1="{y:.2f}" y2="{y:.2f}" '
            f'class="grid"/><text x="{_LEFT - 8}" y="{y + 4:.2f}" text-anchor="end" '
            f'class="tick">{share:.0%}</text>'
        )
    return "".join(parts)


def _money_axis(top: float) -> str:
    parts = []
    for share in (0, 0.5, 1.0):
        y = _y(share)
        parts.append(
            f'<line x1="{_LEFT}" x2="{page.WIDTH - _RIGHT}" y1="{y:.2f}" y2="{y:.2f}" '
            f'class="grid"/><text x="{_LEFT - 8}" y="{y + 4:.2f}" text-anchor="end" '
            f'class="tick">${top * share:,.2f}</text>'
        )
    return "".join(parts)


def _x_axis(rows: Sequence[ThresholdResult]) -> str:
    step = max(1, round(len(rows) / 20))
    return "".join(
        f'<text x="{_x(k, rows):.2f}" y="{_H - _BOTTOM + 18}" text-anchor="middle" '
        f'class="tick">{r.threshold:.2f}</text>'
        for k, r in enumerate(rows)
        if k % step == 0
    ) + (
        f'<text x="{(page.WIDTH + _LEFT) / 2:.0f}" y="{_H - 4}" text-anchor="middle" '
        'class="tick">similarity threshold</text>'
    )


def _recommended(rows: Sequence[ThresholdResult], recommended: float | None) -> str:
    for k, r in enumerate(rows):
        if r.threshold == recommended:
            x = _x(k, rows)
            return (
                f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{_TOP}" y2="{_H - _BOTTOM}" '
                f'stroke="{RECOMMENDED_COLOUR}" stroke-dasharray="4 4"/>'
            )
    return ""
