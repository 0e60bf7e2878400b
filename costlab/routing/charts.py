"""The cost–quality charts of route-replay, as `plot.Chart`s drawn in the terminal and on the page.

- `candidates`: every candidate at (cost, quality): each compared policy a lettered point, each
  sweep its curve, and the Pareto frontier joined through them.
- `sweep_curve`: one sweep at (share of strong calls, quality), from the `none` end to the `all`
  end, its own frontier marked, and the straight line between the ends: a router that picks
  requests at random (APGR 0.5).

Every point drawn on the page carries its figures (`data-usd`, `data-share`, `data-quality`) so
a test can check where it went.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from costlab import page, plot
from costlab.routing.compare import Comparison
from costlab.routing.frontier import PolicyPoint
from costlab.routing.sweep import SweepPoint, SweepResult

FRONTIER_COLOUR = "#1d2430"
RANDOM_COLOUR = "#9aa1ab"
QUALITY = plot.Axis("mean quality (outcome scale)", "number")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def candidates(
    comparison: Comparison | None, sweeps: Sequence[SweepResult], points: Sequence[PolicyPoint]
) -> plot.Chart:
    """Every candidate with a known quality at its cost; the frontier joined, cheapest first."""
    series: list[plot.Series] = []
    for p in comparison.policies if comparison else []:
        if p.quality is None:
            continue
        k = len(series)
        on = any(c.on_frontier and c.name == p.name and not c.swept for c in points)
        text = f"{p.name}: {page.money(p.after_usd)}, quality {p.quality:.3f}"
        series.append(
            plot.Series(
                text + (", on the frontier" if on else ""),
                (_point(p.name, p.after_usd, p.quality, on),),
                mark=_letter(k),
                colour=_colour(k),
            )
        )
    known = [c for c in points if c.quality is not None]
    for s in sweeps:
        k = len(series)
        curve = [c for c in known if c.swept and c.policy == s.policy]
        swept = tuple(_point(c.name, c.cost_usd, c.quality or 0.0, c.on_frontier) for c in curve)
        name = f"{s.policy}: {s.score} >= {{{s.parameter}}} → {s.strong_model}, swept"
        series.append(plot.Series(name, swept, _letter(k), "dotted", colour=_colour(k)))
    edge = tuple(
        plot.Point(float(c.cost_usd), c.quality or 0.0, c.name, (("on-frontier", c.name),))
        for c in _edge(known)
    )
    count = sum(c.on_frontier for c in points)
    series.append(
        plot.Series(
            f"Pareto frontier: {count} of {len(points)} candidates; no other is cheaper and better",
            edge,
            line="solid",
            dot="ring",
            colour=FRONTIER_COLOUR,
        )
    )
    unknown = sorted({c.name for c in points if c.quality is None})
    note = f"Quality unknown, not drawn: {', '.join(unknown)}." if unknown else ""
    return plot.Chart(
        "candidates",
        "Cost and quality of every candidate",
        plot.Axis("cost of the replayed traffic ($)", "usd"),
        QUALITY,
        tuple(series),
        note,
    )


def sweep_curve(s: SweepResult, number: int = 1) -> plot.Chart:
    """The sweep's curve from no strong calls to all, its frontier, and a random router's line."""
    ends = [p for p in (s.none, s.all) if p.quality is not None]
    curve = sorted(
        [p for p in [s.none, *s.points, s.all] if p.quality is not None],
        key=lambda p: (p.strong_share, p.quality or 0.0),
    )
    series = [
        plot.Series(
            "on the sweep's Pareto frontier",
            tuple(_swept(s, p, ring=True) for p in curve if p.pareto),
            mark="◆",
            dot="ring",
            colour=FRONTIER_COLOUR,
        )
    ]
    if s.calibrated is not None and s.calibrated.quality is not None:
        series.append(
            plot.Series(
                f"calibrated to {s.target_share:.1%} strong calls: {s.parameter}="
                f"{s.calibrated.threshold:g}",
                (_swept(s, s.calibrated),),
                mark="C",
                colour=page.PALETTE[1],
            )
        )
    series.append(
        plot.Series(
            f"{s.policy}: {s.score} >= {{{s.parameter}}} → {s.strong_model}",
            tuple(_swept(s, p) for p in curve),
            mark="•",
            line="solid",
            colour=page.PALETTE[0],
        )
    )
    series.append(
        plot.Series(
            "calls picked at random (APGR 0.5)",
            tuple(plot.Point(p.strong_share, p.quality or 0.0) for p in ends),
            line="dotted",
            dot="none",
            colour=RANDOM_COLOUR,
        )
    )
    apgr = "—" if s.apgr is None else f"{s.apgr:.3f}"
    return plot.Chart(
        f"sweep-{number}",
        f"{s.policy}: quality against strong calls over {s.requests:,} requests; APGR {apgr}",
        plot.Axis(f"share of calls routed to {s.strong_model}", "share"),
        QUALITY,
        tuple(series),
    )


def _edge(points: Sequence[PolicyPoint]) -> list[PolicyPoint]:
    """The frontier's points, cheapest first, one per (cost, quality)."""
    seen: dict[tuple[Decimal, float | None], PolicyPoint] = {}
    for c in points:
        if c.on_frontier:
            seen.setdefault((c.cost_usd, c.quality), c)
    return list(seen.values())


def _point(name: str, cost: Decimal, quality: float, on_frontier: bool) -> plot.Point:
    title = f"{name}: {page.money(cost)}, quality {quality:.3f}"
    data = (("policy", name), ("usd", str(cost)), ("quality", repr(quality)))
    return plot.Point(float(cost), quality, title, (*data, ("frontier", str(on_frontier).lower())))


def _swept(s: SweepResult, p: SweepPoint, ring: bool = False) -> plot.Point:
    where = "all" if p is s.all else "none" if p is s.none else f"{p.threshold:g}"
    quality = p.quality or 0.0
    title = (
        f"{s.parameter}={where}: {p.strong_share:.1%} strong calls, {page.money(p.cost_usd)}, "
        f"quality {quality:.3f}"
    )
    if ring:  # not a data mark of its own: the curve's dot under it is
        return plot.Point(p.strong_share, quality, title, (("on-frontier", where),))
    data = (("threshold", where), ("share", repr(p.strong_share)), ("usd", str(p.cost_usd)))
    return plot.Point(p.strong_share, quality, title, (*data, ("quality", repr(quality))))


def _letter(k: int) -> str:
    return _LETTERS[k] if k < len(_LETTERS) else "#"


def _colour(k: int) -> str:
    return page.PALETTE[k % len(page.PALETTE)]
