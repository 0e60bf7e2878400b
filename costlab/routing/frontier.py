"""The cost–quality frontier of the candidates: the policies compared and every swept threshold.

A candidate is on the (Pareto) frontier when no other is as cheap and as good, and cheaper or
better: for each level of quality, the cheapest way to reach it. Candidates alike in cost and
quality are on it together, and a candidate whose quality is unknown is never on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only read, never built, here: keeps sweep (which uses on_frontier) acyclic
    from costlab.routing.compare import Comparison
    from costlab.routing.sweep import SweepResult


@dataclass(frozen=True)
class PolicyPoint:
    """One candidate: a compared policy, or a swept policy at one threshold (or an end)."""

    name: str  # the policy's name, or e.g. "complexity t=0.35", "complexity (all)"
    policy: str
    threshold: float | None  # the swept parameter's value (None: a compared policy, or an end)
    cost_usd: Decimal
    quality: float | None
    swept: bool  # a point of a sweep's curve (a threshold or an end)
    on_frontier: bool = False


def on_frontier(points: Sequence[tuple[Decimal, float | None]]) -> list[bool]:
    """For each (cost, quality): whether no other point is as cheap and as good, and better in one.

    Cheapest first: a point is on the frontier when its quality is the best at its cost and
    beats every cheaper point's.
    """
    known = sorted(
        ((cost, quality, k) for k, (cost, quality) in enumerate(points) if quality is not None),
        key=lambda t: (t[0], -t[1]),
    )
    flags = [False] * len(points)
    best = float("-inf")
    for _, same_cost in groupby(known, key=lambda t: t[0]):
        alike = list(same_cost)
        top = alike[0][1]
        if top > best:
            for _, quality, k in alike:
                flags[k] = quality == top
            best = top
    return flags


def candidates(comparison: Comparison | None, sweeps: Sequence[SweepResult]) -> list[PolicyPoint]:
    """Every candidate, cheapest first (the better first at one cost), marked when on the frontier.

    A comparison and sweeps replayed over the same scope price the same requests, so their
    costs compare.
    """
    found = [
        PolicyPoint(p.name, p.name, None, p.after_usd, p.quality, swept=False)
        for p in (comparison.policies if comparison else [])
    ]
    for s in sweeps:
        ends = [(f"{s.policy} ({k})", None, e) for k, e in (("all", s.all), ("none", s.none))]
        steps = [(f"{s.policy} {s.parameter}={p.threshold:g}", p.threshold, p) for p in s.points]
        found += [
            PolicyPoint(name, s.policy, threshold, p.cost_usd, p.quality, swept=True)
            for name, threshold, p in ends + steps
        ]
    flags = on_frontier([(p.cost_usd, p.quality) for p in found])
    points = [dataclasses.replace(p, on_frontier=f) for p, f in zip(found, flags, strict=True)]
    return sorted(
        points, key=lambda p: (p.cost_usd, float("inf") if p.quality is None else -p.quality)
    )
