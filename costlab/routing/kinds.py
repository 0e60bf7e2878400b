"""The built-in router kinds as SQL over each request's candidate costs (no per-row Python).

- `cost_aware`: among the policy's models, those whose declared quality for the request's task
  type is at least `min_quality` and whose `latency_ms` is at most `max_latency_ms` (a model with
  no declared latency passes) qualify; the cheapest qualified one, by its repriced cost for
  that request, takes it (ties: the lower declared latency, then the order of `[models]`). When
  none qualifies for a task type, the model with the highest quality for it does (ties: the
  same order).
- `quality_aware`: cost = cheap + validator + (escalated ? strong : 0). With
  `escalation = "outcomes"`, a request with an outcome for the cheap model is escalated exactly
  when that outcome is below `pass_score` (the validator is taken to be as good as the
  outcomes); a request without one is escalated at the rate the outcomes show over the
  replayed requests, as is every request with `escalation_rate`: expected cost
  cheap + validator + rate × strong, quality (1 − rate) × cheap's + rate × strong's. A rate
  from the outcomes is rounded to 18 decimals, and rate × strong to 1e-18 USD per cell of
  requests (`replay`): exact when the rate is a short decimal such as 0.25 or 0.3.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from costlab.errors import BadInput
from costlab.routing import derived
from costlab.routing.policy import Candidate, CostAware, Policy, QualityAware
from costlab.routing.repricing import Validation
from costlab.store import Store

# Routes of a quality_aware policy (the bits of its mask).
PASSED, ESCALATED, EXPECTED = 0, 1, 2
# A rate from the outcomes is rounded to this, as is money (DECIMAL(38, 18)).
_RATE_UNIT = Decimal("1e-18")


def validations(policies: Sequence[Policy], index: dict[str, int]) -> list[Validation]:
    """One validator call per quality_aware policy, in the order of the policies."""
    return [
        Validation(p.models[p.router.validator], index[p.router.cheap])
        for p in policies
        if isinstance(p.router, QualityAware)
    ]


def validator_column(policies: Sequence[Policy], j: int, candidates: int) -> str:
    """The cost column of policy j's validator call (see `repricing.priced`)."""
    before = sum(isinstance(p.router, QualityAware) for p in policies[:j])
    return f"c_{candidates + before}"


def route_sql(policy: Policy, index: dict[str, int]) -> str | None:
    """Per request, after pricing: the route taken, as a one-bit mask (None: a rules policy)."""
    router = policy.router
    if isinstance(router, QualityAware):
        q = f"q_{index[router.cheap]}"
        if router.escalation_rate is not None:
            return f"{1 << EXPECTED}::BIGINT"
        # a validated finite float, written as a literal: the pricing query numbers its values
        passing = repr(float(router.pass_score or 0))
        return (
            f"CASE WHEN {q} IS NULL THEN {1 << EXPECTED} WHEN {q} >= {passing}"
            f" THEN {1 << PASSED} ELSE {1 << ESCALATED} END::BIGINT"
        )
    if isinstance(router, CostAware):
        models = [policy.models[m] for m in router.order]
        tasks = " ".join(
            f"WHEN '{task}' THEN {_cheapest(router, models, task, index)}"
            for task in derived.TASK_TYPES
        )
        return f"(1::BIGINT << (CASE task_type {tasks} END))"
    return None


def _cheapest(router: CostAware, models: list[Candidate], task: str, index: dict[str, int]) -> str:
    """The route (position in `order`) of the cheapest qualified model for one task type."""
    rank = sorted(
        range(len(models)),
        key=lambda i: (models[i].latency_ms if models[i].latency_ms is not None else 1e300, i),
    )
    qualified = [
        i
        for i in rank
        if (models[i].profile(task) or 0) >= router.min_quality
        and (router.max_latency_ms is None or (models[i].latency_ms or 0) <= router.max_latency_ms)
    ]
    if not qualified:
        return str(max(range(len(models)), key=lambda i: (models[i].profile(task) or 0, -i)))
    branches = []
    for a in qualified[:-1]:
        beats = [
            # cheaper, or as cheap and earlier in rank; an unknown cost falls back to the rank
            f"coalesce(c_{index[models[a].name]} < c_{index[models[b].name]}, "
            f"{str(rank.index(a) < rank.index(b)).lower()}) "
            f"OR (c_{index[models[a].name]} = c_{index[models[b].name]} "
            f"AND {str(rank.index(a) < rank.index(b)).lower()})"
            for b in qualified
            if b != a
        ]
        branches.append(f"WHEN ({') AND ('.join(beats)}) THEN {a}")
    if not branches:
        return str(qualified[0])
    return f"CASE {' '.join(branches)} ELSE {qualified[-1]} END"


def escalation_rates(store: Store, table: str, policies: Sequence[Policy]) -> dict[int, Decimal]:
    """Per quality_aware policy: its escalation rate, given or from the outcomes in `table`."""
    rates = {}
    for j, p in enumerate(policies):
        if not isinstance(p.router, QualityAware):
            continue
        if p.router.escalation_rate is not None:
            rates[j] = p.router.escalation_rate
            continue
        row = store.row(
            f"SELECT sum(requests) FILTER (WHERE m_{j} = {1 << ESCALATED}), "
            f"sum(requests) FILTER (WHERE m_{j} IN ({1 << PASSED}, {1 << ESCALATED})) FROM {table}"
        )
        failed, covered = (int(v or 0) for v in row or (0, 0))
        if not covered:
            raise BadInput(
                f'{p.path}: escalation = "outcomes": no replayed request has an outcome for '
                f"the cheap model {p.router.cheap}",
                "load them with costlab ingest-outcomes, or give escalation_rate = 0.3",
            )
        rates[j] = (Decimal(failed) / Decimal(covered)).quantize(_RATE_UNIT)
    return rates
