"""The rows of route-replay's tables, as text: one source for the terminal and the `--html` page.

Both draw the same cells; only the frame differs (rich tables and bars, or HTML tables).
"""

from __future__ import annotations

from costlab.page import money
from costlab.routing.compare import Comparison, Interval, PolicyResult
from costlab.routing.sweep import SweepPoint, SweepResult

DASH = "—"
ON_FRONTIER = "◆"
RECOMMENDED = " ◀"

POLICY_COLUMNS = [
    "policy", "cost", "savings", "95% CI", "quality", "Δ quality", "95% CI", "exact", "frontier",
]  # fmt: skip
RULE_COLUMNS = ["rule", "when", "route to", "matched", "took", "$ before", "$ after", "Δ quality"]
SWEEP_COLUMNS = ["strong calls", "cost", "savings", "quality", "PGR", "pareto"]  # after the t


def policy_rows(c: Comparison, on_frontier: set[str], recommend: bool) -> list[list[str]]:
    """One row per policy (`POLICY_COLUMNS`); `~` marks a quality partly from profiles."""
    return [
        [
            p.name + (RECOMMENDED if recommend and p.name == c.recommended else ""),
            money(p.after_usd),
            pct(p.savings),
            interval(p.savings_ci, True),
            num(p.quality) + ("~" if p.quality_estimated_share else ""),
            num(p.quality_delta, True),
            interval(p.quality_delta_ci, False),
            pct(p.quality_exact_share),
            ON_FRONTIER if p.name in on_frontier else "",
        ]
        for p in c.policies
    ]


def share_rows(c: Comparison) -> list[tuple[str, str, float]]:
    """(policy, model, share of its traffic) for every model a policy routes to."""
    return [(p.name, model, share) for p in c.policies for model, share in p.models.items()]


def rule_rows(p: PolicyResult) -> list[list[str]]:
    """One row per rule of a policy (`RULE_COLUMNS`), its default last."""
    return [
        [
            r.name,
            r.when or "(no rule matched)",
            r.route_to,
            DASH if r.matched is None else f"{r.matched:,}",
            f"{r.took:,}",
            money(r.before_usd),
            money(r.after_usd),
            num(r.quality_delta, True),
        ]
        for r in p.rules
    ]


def sweep_rows(s: SweepResult) -> list[list[str]]:
    """One row per point of a sweep, from all strong to none: the threshold, `SWEEP_COLUMNS`."""
    return [_step(s, p) for p in [s.all, *s.points, s.none]]


def _step(s: SweepResult, p: SweepPoint) -> list[str]:
    where = "all" if p is s.all else "none" if p is s.none else f"{p.threshold:g}"
    return [
        where, pct(p.strong_share), money(p.cost_usd), pct(p.savings), num(p.quality),
        num(p.pgr), ON_FRONTIER if p.pareto else "",
    ]  # fmt: skip


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"


def num(value: float | None, signed: bool = False) -> str:
    return DASH if value is None else (f"{value:+.3f}" if signed else f"{value:.3f}")


def interval(ci: Interval | None, as_pct: bool) -> str:
    if ci is None:
        return DASH
    if as_pct:
        return f"{ci.low:+.1%} … {ci.high:+.1%}"
    return f"{ci.low:+.3f} … {ci.high:+.3f}"
