"""Each lever's risk in its own terms, one score to rank by, and the one-line "do this first".

The score is the share of answers the lever may change for the worse: 1 − hit precision for the
cache (a wrong hit serves another question's answer), the worst relative quality drop in the
95 % interval for routing (1 when quality is unknown: nothing vouches for it), the share of the
templates' tokens removed for compression, and 0 for the provider prefix cache and batch pricing
(the same model answers the same prompt). Levers are ranked by stacked saving ÷ (score +
`FLOOR`), so among risk-free levers the larger saving comes first.
"""

from __future__ import annotations

from decimal import Decimal

from costlab.page import money
from costlab.plan.result import Risk, Step

FLOOR = 0.01


def cache(precision: float | None, estimated: bool) -> Risk:
    how = "estimated from the logged responses" if estimated else "from labels"
    if precision is None:
        return Risk("hit precision", "no hits to judge", 0.0, 1.0 if estimated else 0.0)
    return Risk("hit precision", f"{precision:.1%} ({how})", 1 - precision, float(estimated))


def routing(
    delta: float | None,
    ci: tuple[float, float] | None,
    before: float | None,
    estimated_share: float,
) -> Risk:
    if delta is None:
        return Risk("Δ quality", "unknown: no outcomes or profiles", 1.0, estimated_share)
    interval = "" if ci is None else f" (95 % CI {ci[0]:+.3f} … {ci[1]:+.3f})"
    worst = ci[0] if ci is not None else delta
    scale = abs(before) if before else 1.0
    value = f"{delta:+.3f}{interval}" + (f" on a mean of {before:.3f}" if before else "")
    return Risk("Δ quality", value, max(0.0, -worst) / scale, estimated_share)


def compression(before: int, after: int, encoding: str, exact: bool) -> Risk:
    removed = 1 - after / before if before else 0.0
    value = f"{removed:.1%} of the templates' tokens removed ({before:,} → {after:,} {encoding})"
    return Risk("compression", value, max(0.0, removed), 0.0 if exact else 1.0)


def prefix(replayed: int, estimated: int) -> Risk:
    share = estimated / replayed if replayed else 0.0
    return Risk("answers", "unchanged (the provider caches the same prompt)", 0.0, share)


def batch() -> Risk:
    return Risk("answers", "unchanged, delivered within 24 h instead of at once", 0.0, 0.0)


def ranking(steps: list[Step]) -> list[str]:
    """Applied levers that save, by saving per unit of risk; then the rest in plan order."""

    def weight(s: Step) -> float:
        score = s.risk.score if s.risk else 0.0
        return float(s.saved_usd) / (score + FLOOR)

    saving = [s for s in steps if s.status == "applied" and s.saved_usd > 0]
    ordered = sorted(saving, key=weight, reverse=True)
    return [s.lever for s in ordered] + [s.lever for s in steps if s not in ordered]


def first(steps: list[Step], order: list[str]) -> str | None:
    """The one-line "do this first", or None when no lever saves anything."""
    by_lever = {s.lever: s for s in steps}
    top = by_lever[order[0]] if order else None
    if top is None or top.status != "applied" or top.saved_usd <= 0:
        return None
    risk = f"; {top.risk.measure}: {top.risk.value}" if top.risk else ""
    return (
        f"Do this first: {top.action} — saves {money(top.saved_usd, 2)} "
        f"({top.share_of_spend:.1%} of spend, {money(top.monthly_saved_usd, 2)} a month){risk}"
    )


def share(part: Decimal, whole: Decimal) -> float:
    return float(part / whole) if whole else 0.0
