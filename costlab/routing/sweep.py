"""A rule with a parameter swept into a cost–quality curve, RouteLLM's measures, calibration.

A policy whose rule reads `SCORE >= {t}` (or `>`) is replayed once for every value of `t` in
one pass: two variants of the policy are replayed, one where that rule takes every request
that reaches it and one where it takes none, and the requests are bucketed by how many of
the thresholds their score reaches. The result at threshold k is the first variant over the
buckets above k plus the second over the rest: cumulative sums over ~50 buckets, not 50 replays.

- strong share: the share of requests routed to the swept rule's model (the "strong" model).
- PGR (performance gap recovered) of a point: (quality − quality of the `none` end) ÷
  (quality of the `all` end − quality of the `none` end).
- APGR: the area under PGR against the strong share (trapezoids through the swept points and
  both ends), divided by the width of the share range, so 0.5 is a random router's.
- calls for 50 / 80 / 95 % of the gap: the smallest strong share among the points whose PGR
  reaches it, with its dollars.
- calibration: the threshold whose strong share on this traffic is closest to a target; the
  thresholds tried are the sweep's plus 199 quantiles of the score.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from costlab import calibration
from costlab.calibration import Ratios
from costlab.errors import BadInput
from costlab.prices import Catalogue
from costlab.routing import compare, derived, frontier, replay
from costlab.routing.policy import LOGGED, Policy, Swept
from costlab.scope import Scope, checked_predicate
from costlab.store import Store

GAP_LEVELS = (0.5, 0.8, 0.95)
_QUANTILES = 199


@dataclass(frozen=True)
class SweepOptions:
    scope: Scope = field(default_factory=Scope)
    values: tuple[float, ...] | None = None  # overrides the policy's [sweep]
    target_share: float | None = None  # calibrate to this share of strong calls
    ratios: Ratios | None = None  # tokens per cl100k token (None: measured on the store now)


@dataclass(frozen=True)
class SweepPoint:
    threshold: float | None  # None for the two ends
    strong_share: float
    cost_usd: Decimal
    savings: float | None  # against the logged cost of the requests priced both ways
    quality: float | None
    pgr: float | None
    pareto: bool = False  # no other point is as cheap and as good, and better in one


@dataclass(frozen=True)
class GapCalls:
    level: float  # share of the quality gap recovered
    strong_share: float | None  # the fewest strong calls that recover it (None: never)
    cost_usd: Decimal | None


@dataclass(frozen=True)
class SweepResult:
    policy: str
    parameter: str
    score: str
    strong_model: str
    requests: int
    logged_usd: Decimal
    none: SweepPoint  # the rule takes nothing
    all: SweepPoint  # the rule takes every request it sees
    points: list[SweepPoint]  # the sweep's thresholds, ascending
    apgr: float | None
    gap_calls: list[GapCalls]
    target_share: float | None
    calibrated: SweepPoint | None
    notes: list[str] = field(default_factory=list)


def run(store: Store, catalogue: Catalogue, policy: Policy, options: SweepOptions) -> SweepResult:
    """Sweep the policy's parameter over its values (and calibrate) in one replay."""
    swept = policy.swept
    if swept is None:
        raise BadInput(f"{policy.path}: no rule has a parameter to sweep", "e.g. `x >= {t}`")
    values = options.values or swept.values
    if not values:
        raise BadInput(
            f"{policy.path}: no values for {{{swept.parameter}}}",
            f"add [sweep] {swept.parameter} = {{ from = 0, to = 1, steps = 50 }}, "
            f"or give --sweep {swept.parameter}=0:1:50",
        )
    take, skip = _variant(policy, swept, "true"), _variant(policy, swept, "false")
    replay.prepare(store, [take, skip])
    rule = policy.rules[swept.rule]
    label = f"{rule.where}: rules[{swept.rule}].when ({rule.name})"
    checked_predicate(store, f"({swept.score}) IS NOT NULL", derived.VIEW, label, "")
    derived.require_intents(store, swept.score, label)
    thresholds = sorted(set(values) | set(_quantiles(store, swept, options)))
    op = "<" if swept.strict else "<="
    listed = ", ".join(repr(float(t)) for t in thresholds)
    bucket = f"len(list_filter([{listed}]::DOUBLE[], lambda x: x {op} ({swept.score})))"
    ratios = options.ratios or calibration.ratios(store)
    models = replay.materialise(store, catalogue, [take, skip], options.scope, bucket, ratios)
    requests, logged_usd, _ = replay.logged_totals(store)
    if requests == 0:
        raise BadInput("no requests to replay in this scope", "widen --since/--until/--where")
    taken, passed = replay.replay_all(store, [take, skip], models)
    strong = rule.route_to

    def point(k: int | None, threshold: float | None) -> SweepPoint:
        # threshold index k: the rule takes the buckets above k; None: all (-1) or none
        rows = [t for t in taken.totals if k is None or t.bucket > k] if k != -2 else []
        rows += [t for t in passed.totals if k is not None and (k == -2 or t.bucket <= k)]
        before = sum((t.before_usd for t in rows), Decimal(0))
        after = sum((t.after_usd for t in rows), Decimal(0))
        known = sum(t.quality_known for t in rows)
        hits = sum(t.requests for t in rows if _is_strong(t, strong, swept))
        return SweepPoint(
            threshold,
            hits / requests,
            after,
            float(1 - after / before) if before else None,
            sum(t.quality_sum for t in rows) / known if known else None,
            None,
        )

    everything, nothing = point(None, None), point(-2, None)
    lo, hi = nothing.quality, everything.quality
    gap = None if lo is None or hi is None or hi == lo else (lo, hi - lo)

    def with_pgr(p: SweepPoint) -> SweepPoint:
        if gap is None or p.quality is None:
            return p
        return dataclasses.replace(p, pgr=(p.quality - gap[0]) / gap[1])

    tried = [with_pgr(point(k, t)) for k, t in enumerate(thresholds)]
    marked = _pareto([p for p in tried if p.threshold in set(values)] + [nothing, everything])
    chosen, ends = marked[:-2], [with_pgr(p) for p in marked[-2:]]
    calibrated = None
    if options.target_share is not None:
        target = options.target_share
        calibrated = min(
            reversed(tried), key=lambda p: abs(p.strong_share - target)
        )  # ties: the higher threshold (fewer strong calls)
    curve = sorted([*ends, *chosen], key=lambda p: (p.strong_share, -(p.threshold or 0)))
    return SweepResult(
        policy.name, swept.parameter, swept.score, strong, requests, logged_usd, ends[0],
        ends[1], chosen, _apgr(curve), [_gap_calls(curve, x) for x in GAP_LEVELS],
        options.target_share, calibrated,
        compare.ratio_notes(store, [m.price_as for m in models], ratios),
    )  # fmt: skip


def _variant(policy: Policy, swept: Swept, when: str) -> Policy:
    rules = tuple(
        dataclasses.replace(r, when=when) if r.index == swept.rule else r for r in policy.rules
    )
    name = f"{policy.name} ({'all' if when == 'true' else 'none'})"
    return dataclasses.replace(policy, name=name, rules=rules, swept=None)


def _is_strong(totals: replay.RuleTotals, strong: str, swept: Swept) -> bool:
    return totals.rule == swept.rule if strong == LOGGED else totals.model == strong


def _quantiles(store: Store, swept: Swept, options: SweepOptions) -> list[float]:
    """Thresholds at which the strong share moves in small steps, for calibration."""
    if options.target_share is None:
        return []
    where, params = options.scope.sql()
    levels = ", ".join(str((n + 1) / (_QUANTILES + 1)) for n in range(_QUANTILES))
    row = store.row(
        f"SELECT quantile_disc(({swept.score})::DOUBLE, [{levels}]) FROM {derived.VIEW}{where}",
        params,
    )
    found = [float(v) for v in (row[0] if row and row[0] else []) if v is not None]
    return sorted(set(found) | {max(found, default=0.0) + 1.0})


def _pareto(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """The same points, each marked when no other is as cheap and as good, and better in one."""
    flags = frontier.on_frontier([(p.cost_usd, p.quality) for p in points])
    return [dataclasses.replace(p, pareto=flag) for p, flag in zip(points, flags, strict=True)]


def _apgr(curve: Sequence[SweepPoint]) -> float | None:
    known = [p for p in curve if p.pgr is not None]
    if len(known) < 2:
        return None
    width = known[-1].strong_share - known[0].strong_share
    if width <= 0:
        return None
    area = sum(
        (b.strong_share - a.strong_share) * ((a.pgr or 0) + (b.pgr or 0)) / 2
        for a, b in zip(known, known[1:], strict=False)
    )
    return area / width


def _gap_calls(curve: Sequence[SweepPoint], level: float) -> GapCalls:
    for p in curve:  # by strong share, ascending
        if p.pgr is not None and p.pgr >= level - 1e-12:
            return GapCalls(level, p.strong_share, p.cost_usd)
    return GapCalls(level, None, None)
