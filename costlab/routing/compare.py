"""`route-replay`: policies side by side — cost, savings, quality, with bootstrap intervals.

Savings are 1 − replayed ÷ logged cost, over the requests both costs are known for. Quality is
the mean over requests whose quality is known: exact where outcomes cover the routed model,
else the policy's declared profile (an estimate, counted). The 95 % intervals come from a
seeded bootstrap over groups of requests (a hash of the request id deals them into up to
`replay.BOOT_GROUPS` groups), so resampling costs the same at 1,000 or 10,000,000 requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from costlab import calibration
from costlab.calibration import Ratios
from costlab.errors import BadInput
from costlab.prices import Catalogue
from costlab.routing import derived, replay
from costlab.routing.policy import Policy
from costlab.scope import Scope
from costlab.store import Store

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class CompareOptions:
    scope: Scope = field(default_factory=Scope)
    min_quality: float | None = None
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    ratios: Ratios | None = None  # tokens per cl100k token (None: measured on the store now)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class RuleResult:
    """What one rule (or the default) did: requests it matched and took, $ and quality."""

    name: str
    when: str | None  # None for the default
    route_to: str
    matched: int | None  # requests its condition holds for (None for the default)
    took: int  # requests it routed: first match wins
    before_usd: Decimal
    after_usd: Decimal
    quality_before: float | None
    quality_after: float | None
    quality_delta: float | None  # mean of (replayed − logged) where both are known


@dataclass(frozen=True)
class PolicyResult:
    name: str
    path: str
    requests: int
    unpriced: int
    before_usd: Decimal  # logged cost of the requests priced both ways
    after_usd: Decimal
    savings: float | None  # share of before_usd saved
    savings_ci: Interval | None
    quality: float | None
    quality_before: float | None
    quality_delta: float | None
    quality_delta_ci: Interval | None
    quality_exact_share: float
    quality_estimated_share: float
    quality_unknown_share: float
    input_estimated_share: float
    models: dict[str, float]  # model -> share of requests
    rules: list[RuleResult]
    notes: list[str]


@dataclass(frozen=True)
class Comparison:
    requests: int
    logged_usd: Decimal
    policies: list[PolicyResult]
    min_quality: float | None
    recommended: str | None
    resamples: int
    seed: int
    notes: list[str]


def run(
    store: Store, catalogue: Catalogue, policies: Sequence[Policy], options: CompareOptions
) -> Comparison:
    """Replay every policy over the scoped requests and compare them."""
    if not policies:
        raise BadInput("no policy to replay", "give --policy FILE (repeatable)")
    check_names(policies)
    replay.prepare(store, policies)
    ratios = options.ratios or calibration.ratios(store)
    models = replay.materialise(store, catalogue, policies, options.scope, ratios=ratios)
    requests, logged_usd, _ = replay.logged_totals(store)
    if requests == 0:
        raise BadInput(
            "no requests to replay in this scope",
            "load logs first (costlab ingest PATH), or widen --since/--until/--where",
        )
    replayed = replay.replay_all(store, policies, models)
    weights = resample_weights(len(replayed[0].groups), options.resamples, options.seed)
    results = [summarise(r, options, weights) for r in replayed]
    recommended = None
    whens = [rule.when for p in policies for rule in p.rules]
    notes = derived.intent_notes(store, whens, options.scope)
    if options.min_quality is not None:
        meeting = [r for r in results if r.quality is not None and r.quality >= options.min_quality]
        if meeting:
            recommended = min(meeting, key=lambda r: r.after_usd).name
        else:
            notes.append(f"no policy reaches a mean quality of {options.min_quality:g}")
    notes += ratio_notes(store, [m.price_as for m in models], ratios)
    return Comparison(
        requests, logged_usd, results, options.min_quality, recommended, options.resamples,
        options.seed, notes,
    )  # fmt: skip


def check_names(policies: Sequence[Policy]) -> None:
    """Refuse two policies of one name, or one model priced two ways (BadInput)."""
    seen: dict[str, str] = {}
    prices: dict[str, tuple[str, Any]] = {}
    for p in policies:
        if p.name in seen:
            raise BadInput(
                f"two policies are named '{p.name}': {seen[p.name]} and {p.path}",
                "give each a distinct `name = ...`",
            )
        seen[p.name] = str(p.path)
        for c in p.models.values():
            price = (c.price_as, c.override)
            if prices.setdefault(c.name, (str(p.path), price))[1] != price:
                raise BadInput(
                    f"model '{c.name}' is priced differently in {prices[c.name][0]} and {p.path}",
                    "declare one price per model across the policies compared",
                )


def summarise(
    replayed: replay.Replayed, options: CompareOptions, weights: Any = None
) -> PolicyResult:
    """Totals, shares, per-rule results and intervals of one replayed policy.

    `weights` (from `resample_weights`) lets several policies share one set of resamples.
    """
    if weights is None:
        weights = resample_weights(len(replayed.groups), options.resamples, options.seed)
    policy, totals = replayed.policy, replayed.totals
    requests = sum(t.requests for t in totals)
    before = sum((t.before_usd for t in totals), Decimal(0))
    after = sum((t.after_usd for t in totals), Decimal(0))
    known = sum(t.quality_known for t in totals)
    exact = sum(t.quality_exact for t in totals)
    estimated = sum(t.quality_estimated for t in totals)
    delta_known = sum(t.delta_known for t in totals)
    before_known = sum(t.before_quality_known for t in totals)
    models: dict[str, int] = defaultdict(int)
    for t in totals:
        models[t.model] += t.requests
    savings_ci, delta_ci = _intervals(replayed.groups, weights)
    notes = _notes(policy, replayed, requests)
    return PolicyResult(
        name=policy.name,
        path=str(policy.path),
        requests=requests,
        unpriced=sum(t.unpriced for t in totals),
        before_usd=before,
        after_usd=after,
        savings=float(1 - after / before) if before else None,
        savings_ci=savings_ci,
        quality=_mean(sum(t.quality_sum for t in totals), known),
        quality_before=_mean(sum(t.before_quality_sum for t in totals), before_known),
        quality_delta=_mean(sum(t.delta_sum for t in totals), delta_known),
        quality_delta_ci=delta_ci,
        quality_exact_share=exact / requests if requests else 0.0,
        quality_estimated_share=estimated / requests if requests else 0.0,
        quality_unknown_share=(requests - known) / requests if requests else 0.0,
        input_estimated_share=sum(t.input_estimated for t in totals) / requests
        if requests
        else 0.0,
        models={m: n / requests for m, n in sorted(models.items(), key=lambda kv: -kv[1])},
        rules=_rules(policy, replayed),
        notes=notes,
    )


def _rules(policy: Policy, replayed: replay.Replayed) -> list[RuleResult]:
    results = []
    names = policy.route_names()
    for i, target in enumerate(policy.targets()):
        mine = [t for t in replayed.totals if t.rule == i]
        rule = policy.rules[i] if i < len(policy.rules) else None
        results.append(
            RuleResult(
                name=names[i],
                when=rule.when if rule else None,
                route_to=target,
                matched=replayed.matched[i] if rule else None,
                took=sum(t.requests for t in mine),
                before_usd=sum((t.before_usd for t in mine), Decimal(0)),
                after_usd=sum((t.after_usd for t in mine), Decimal(0)),
                quality_before=_mean(
                    sum(t.before_quality_sum for t in mine),
                    sum(t.before_quality_known for t in mine),
                ),
                quality_after=_mean(
                    sum(t.quality_sum for t in mine), sum(t.quality_known for t in mine)
                ),
                quality_delta=_mean(
                    sum(t.delta_sum for t in mine), sum(t.delta_known for t in mine)
                ),
            )
        )
    return results


def _notes(policy: Policy, replayed: replay.Replayed, requests: int) -> list[str]:
    notes = []
    for rule in policy.rules:
        matched = replayed.matched[rule.index]
        took = sum(t.requests for t in replayed.totals if t.rule == rule.index)
        if matched == 0:
            notes.append(f"{rule.name} ({rule.where}) matches no request")
        elif took < matched:
            notes.append(
                f"{rule.name} matches {matched:,} requests but takes {took:,}: "
                f"{matched - took:,} were taken by an earlier rule (first match wins)"
            )
    unpriced = sum(t.unpriced for t in replayed.totals)
    if unpriced:
        notes.append(f"{unpriced:,} of {requests:,} requests have no logged or replayed cost")
    return notes


def resample_weights(groups: int, resamples: int, seed: int) -> Any:
    """A seeded bootstrap as a matrix: row r counts how often resample r drew each group."""
    import numpy as np

    if groups < 2 or resamples < 1:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, groups, size=(resamples, groups))
    picks += groups * np.arange(resamples)[:, None]
    counts = np.bincount(picks.ravel(), minlength=resamples * groups)
    return counts.reshape(resamples, groups).astype(np.float64)


def _intervals(groups: Any, weights: Any) -> tuple[Interval | None, Interval | None]:
    """95 % percentile intervals of savings and of the mean quality difference."""
    import numpy as np

    if weights is None or len(groups) != weights.shape[1]:
        return None, None
    sums = weights @ groups  # resamples × (before $, after $, Δ quality sum, Δ count)
    savings_ci = None
    if groups[:, 0].sum() > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            savings = 1.0 - sums[:, 1] / sums[:, 0]
        savings_ci = _percentiles(savings[np.isfinite(savings)])
    delta_ci = None
    if groups[:, 3].sum() > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = sums[:, 2] / sums[:, 3]
        delta_ci = _percentiles(delta[np.isfinite(delta)])
    return savings_ci, delta_ci


def _percentiles(values: Any) -> Interval | None:
    import numpy as np

    if not len(values):
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(low), float(high))


def _mean(total: float, n: int) -> float | None:
    return total / n if n else None


def ratio_notes(store: Store, candidates: Sequence[str], ratios: Ratios) -> list[str]:
    """Where the tokens per cl100k token of each family in play come from (measured or table)."""
    logged = [r[0] for r in store.rows("SELECT DISTINCT model FROM requests") if r[0]]
    families = {ratios.of(m)[0] for m in [*candidates, *logged]}
    if len(families) < 2:
        return []  # one family: token counts carry over exactly, no ratio is used
    return [
        "input tokens across tokenizer families: " + "; ".join(ratios.notes([*candidates, *logged]))
    ]
