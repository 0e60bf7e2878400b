"""`costlab route-replay --html`: the comparison, the sweeps and their charts as one page.

The charts are `costlab.routing.charts`, the same the terminal draws, as SVG (`page.scatter`).
Policy names and rule text come from files and logs: `page` escapes every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from costlab import page
from costlab.page import money
from costlab.routing import charts, tables
from costlab.routing.compare import Comparison, PolicyResult
from costlab.routing.frontier import PolicyPoint
from costlab.routing.sweep import SweepResult


@dataclass(frozen=True)
class Replay:
    """What one route-replay found: the comparison (if any policy was plain), sweeps, frontier."""

    comparison: Comparison | None
    sweeps: list[SweepResult]
    points: list[PolicyPoint]  # every candidate, from frontier.candidates
    recommend: bool = False


def render(replay: Replay, generated_at: datetime | None = None) -> str:
    """The whole result as one HTML document (a string), ready to write to a file."""
    when = generated_at or datetime.now(UTC)
    c, sweeps = replay.comparison, replay.sweeps
    requests = c.requests if c else sweeps[0].requests if sweeps else 0
    header = (
        "<header><h1>Routing what-if</h1>"
        f"<p>{requests:,} logged requests replayed through {_count(c, sweeps)}.</p>"
        f'<p class="generated">Generated {when:%Y-%m-%d %H:%M:%S %Z} by costlab.</p></header>'
    )
    sections = [
        _cards(replay, requests),
        page.section(
            "Cost and quality of every candidate",
            page.scatter(charts.candidates(c, sweeps, replay.points)),
            "Each policy is a point; each sweep a curve through its thresholds. The line joins "
            "the Pareto frontier: the cheapest candidate for each level of quality.",
        ),
        page.section("On the frontier", _frontier(replay.points)),
    ]
    if c is not None:
        sections += [_policies(c, replay), _shares(c), *(_rules(p) for p in c.policies)]
    sections += [_sweep(s, k + 1) for k, s in enumerate(sweeps)]
    if c is not None:
        notes = [f"{p.name}: {n}" for p in c.policies for n in p.notes] + c.notes
        sections.append("".join(page.empty(n) for n in notes))
    return page.document("costlab route-replay", header, "".join(sections))


def _count(c: Comparison | None, sweeps: list[SweepResult]) -> str:
    parts = [f"{len(c.policies)} {_policies_word(len(c.policies))}"] if c else []
    if sweeps:
        parts.append(f"{len(sweeps)} swept {_policies_word(len(sweeps))}")
    return " and ".join(parts) or "no policy"


def _policies_word(n: int) -> str:
    return "policy" if n == 1 else "policies"


def _cards(replay: Replay, requests: int) -> str:
    c = replay.comparison
    on = [p for p in replay.points if p.on_frontier]
    logged = c.logged_usd if c else replay.sweeps[0].logged_usd if replay.sweeps else None
    items = [
        ("requests", f"{requests:,}"),
        ("cost as logged", tables.DASH if logged is None else money(logged)),
        ("candidates", f"{len(replay.points):,}"),
        ("on the frontier", f"{len(on):,}"),
        ("cheapest on it", on[0].name if on else tables.DASH),
    ]
    if replay.recommend and c is not None:
        items.append((f"recommended (quality ≥ {c.min_quality:g})", c.recommended or "none"))
    return page.cards(items)


def _frontier(points: list[PolicyPoint]) -> str:
    """One row per point of the frontier: the candidates alike in cost and quality together."""
    alike: dict[tuple[Decimal, float | None], list[str]] = {}
    for p in points:
        if p.on_frontier:
            alike.setdefault((p.cost_usd, p.quality), []).append(p.name)
    rows = [[", ".join(names), money(cost), tables.num(q)] for (cost, q), names in alike.items()]
    return page.table(
        ["candidates", "cost", "quality"], rows, "lrr", empty_text="No candidate has a quality."
    )


def _policies(c: Comparison, replay: Replay) -> str:
    on = {p.name for p in replay.points if p.on_frontier and not p.swept}
    rows = tables.policy_rows(c, on, replay.recommend)
    note = (
        f"As logged: {money(c.logged_usd)}. ~ quality partly estimated from declared profiles. "
        f"Intervals: {c.resamples:,} bootstrap resamples, seed {c.seed}. "
        f"{tables.ON_FRONTIER} on the frontier; {tables.RECOMMENDED.strip()} recommended."
    )
    return page.section(
        "Routing policies", page.table(tables.POLICY_COLUMNS, rows, "lrrrrrrrl"), note
    )


def _shares(c: Comparison) -> str:
    rows = [[name, model, f"{share:.1%}"] for name, model, share in tables.share_rows(c)]
    return page.section(
        "Share of traffic per model", page.table(["policy", "model", "share"], rows, "llr")
    )


def _rules(p: PolicyResult) -> str:
    note = (
        f"First match wins; input tokens estimated for {p.input_estimated_share:.0%} of requests."
    )
    table = page.table(tables.RULE_COLUMNS, tables.rule_rows(p), "lplrrrrr")
    return page.section(f"{p.name}: per rule", table, note)


def _sweep(s: SweepResult, number: int) -> str:
    apgr = tables.DASH if s.apgr is None else f"{s.apgr:.3f}"
    measures = [("APGR", apgr)] + [
        (
            f"calls for {g.level:.0%} of the gap",
            "never"
            if g.strong_share is None or g.cost_usd is None
            else f"{g.strong_share:.1%} \u00b7 {money(g.cost_usd)}",
        )
        for g in s.gap_calls
    ]
    if s.calibrated is not None and s.target_share is not None:
        c = s.calibrated
        measures.append(
            (
                f"calibrated to {s.target_share:.1%} strong calls",
                f"{s.parameter}={c.threshold:g} \u00b7 {c.strong_share:.1%} \u00b7 "
                f"{money(c.cost_usd)}",
            )
        )
    rows = tables.sweep_rows(s)
    headers = [s.parameter, *tables.SWEEP_COLUMNS]
    title = f"Sweep: {s.policy}"
    rule = (
        f"Rule {s.score} >= {{{s.parameter}}} routes to {s.strong_model}; {s.requests:,} "
        "requests. PGR: share of the quality gap between the ends recovered; APGR: its mean "
        "over the share of strong calls (0.5: calls picked at random)."
    )
    body = (
        page.cards(measures, f"sweep {number} measures")
        + page.scatter(charts.sweep_curve(s, number))
        + page.table(headers, rows, "rrrrrrl")
    )
    return page.section(title, body, rule)
