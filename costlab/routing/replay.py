"""Replay the logged requests through routing policies: two queries in DuckDB, no per-row Python.

1. Every rule of every policy is checked (a filter over requests + derived columns that binds).
2. One streaming query computes, per request, a bit mask per policy (bit i: rule i's condition
   holds), the recorded outcome of each candidate model and (from `repricing`) its exact cost on
   each candidate, and sums them into *cells*: requests alike in every mask, logged model, task
   type, bootstrap group and which values are unknown. A million requests make ~10^5 cells.
3. One query routes the cells by every policy (first matching rule, else the default) and sums
   cost and quality per (policy, rule, target model) and per (policy, bootstrap group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab.calibration import Ratios
from costlab.prices import Catalogue
from costlab.routing import derived, kinds, outcomes, repricing, routes
from costlab.routing.policy import Candidate, Policy
from costlab.scope import Scope, checked_predicate
from costlab.store import Store

# Requests are dealt into this many groups (by a hash of their id) for the bootstrap.
BOOT_GROUPS = 1000
TABLE = "_replay_cells"
NO_MODEL = "(no model)"
_HINT = (
    "a rule's `when` is a SQL condition over the columns of requests and the derived columns "
    f"{', '.join(derived.DERIVED_COLUMNS)}, e.g. when = \"feature = 'support' AND "
    'input_tokens < 500"'
)


@dataclass(frozen=True)
class RuleTotals:
    """One rule's (or the default's) share of a policy's replay, for one target model."""

    rule: int  # index into the policy's rules; len(rules) is the default
    model: str  # the model the requests went to
    requests: int
    unpriced: int  # requests whose logged or replayed cost is unknown
    before_usd: Decimal  # logged cost of the priced requests
    after_usd: Decimal  # their replayed cost
    quality_sum: float  # over requests whose replayed quality is known
    quality_known: int
    quality_exact: int  # known from outcomes
    quality_estimated: int  # from the declared profile
    before_quality_sum: float
    before_quality_known: int
    delta_sum: float  # replayed minus logged quality, where both are known
    delta_known: int
    input_estimated: int  # requests whose input tokens under the target are an estimate
    bucket: int = 0  # the `bucket` of materialise (a sweep's threshold bucket)


@dataclass(frozen=True)
class Replayed:
    """A policy's replay: totals per rule and model, matches per rule, bootstrap groups."""

    policy: Policy
    totals: list[RuleTotals]
    matched: list[int]  # per rule: requests whose condition holds (before first-match-wins)
    groups: Any  # numpy array (groups × 4): before $, after $, Δ quality sum, Δ quality count


def prepare(store: Store, policies: Sequence[Policy]) -> None:
    """Create the derived view and check every rule against it (BadInput naming file and line)."""
    derived.create_view(store)
    outcomes.create_view(store)
    for policy in policies:
        for rule in policy.rules:
            label = f"{rule.where}: rules[{rule.index}].when ({rule.name})"
            checked_predicate(store, rule.when, derived.VIEW, label, _HINT)
            derived.require_intents(store, rule.when, label)


def candidates(policies: Sequence[Policy]) -> list[Candidate]:
    """Every model some policy routes to, once (a model priced two ways is an error upstream)."""
    seen: dict[str, Candidate] = {}
    for policy in policies:
        for name, candidate in policy.models.items():
            seen.setdefault(name, candidate)
    return list(seen.values())


def materialise(
    store: Store,
    catalogue: Catalogue,
    policies: Sequence[Policy],
    scope: Scope,
    bucket: str = "0",
    ratios: Ratios | None = None,
) -> list[Candidate]:
    """Build the cells table: requests summed by masks, logged model, task type, group, nulls.

    `bucket` is a SQL expression (an integer) that also keys the cells, e.g. a sweep's
    threshold bucket; totals are then kept per bucket. `ratios`: tokens per cl100k token per
    tokenizer family (None: the fixed table's).
    """
    models = candidates(policies)
    index = {m.name: k for k, m in enumerate(models)}
    checks = kinds.validations(policies, index)
    masks = [_mask_sql(policy, j) for j, policy in enumerate(policies)]
    # the built-in kinds route on the repriced costs: their masks are set after pricing
    routes = [(j, kinds.route_sql(p, index)) for j, p in enumerate(policies)]
    late = ", ".join(f"{sql} AS m_{j}" for j, sql in routes if sql is not None)
    where, params = scope.sql()
    params = list(params)
    scope_sql = where
    for n in range(len(params)):  # the scope's own `?` (its dates) come before its --where text
        scope_sql = scope_sql.replace("?", f"${n + 1}", 1)
    names = []
    for m in models:
        params.append(m.name)
        names.append(f"${len(params)}")
    picks = "".join(
        f", max(score) FILTER (WHERE model = {n}) AS q_{k}"
        f", max(output_tokens) FILTER (WHERE model = {n}) AS out_{k}"
        for k, n in enumerate(names)
    )
    per_model = (
        f"SELECT request_id{picks} FROM {outcomes.VIEW} "
        f"WHERE model IN ({', '.join(names)}) GROUP BY request_id"
        if models
        else f"SELECT NULL::VARCHAR AS request_id FROM {outcomes.VIEW} LIMIT 0"
    )
    # task_type is a few regular expressions per prompt: only computed when a profile needs it
    profiles = any(c.quality for p in policies for c in p.models.values())
    task = "task_type" if profiles else "NULL::VARCHAR AS task_type"
    answers = "".join(f", o.q_{k}, o.out_{k}" for k in range(len(models)))
    relation = f"""
        SELECT r.*, ol.score AS q_logged{answers}
        FROM (
            SELECT request_id, model AS logged_model, ts, batch, cost_usd, {task},
                input_tokens, uncached_input_tokens, cached_input_tokens,
                cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens,
                hash(request_id) % {BOOT_GROUPS} AS boot_group, ({bucket})::INTEGER AS bucket
                {"".join(", " + m for m in masks)}
            FROM {derived.VIEW}{scope_sql}
        ) r
        LEFT JOIN {outcomes.VIEW} ol ON ol.request_id = r.request_id
            AND ol.model = r.logged_model
        LEFT JOIN ({per_model}) o ON o.request_id = r.request_id
    """
    # which values are unknown, packed as bits: a cell's values are all known, or none is
    unknown = ["cost_usd", "q_logged"] + [f"{v}_{k}" for k in range(len(models)) for v in "cq"]
    unknown += [f"c_{len(models) + v}" for v in range(len(checks))]
    flags = [
        " | ".join(f"(({v} IS NULL)::BIGINT << {b})" for b, v in enumerate(unknown[n : n + 62]))
        + f" AS unknown_{n // 62}"
        for n in range(0, len(unknown), 62)
    ]
    keys = [f"m_{j}" for j in range(len(policies))] + [
        "logged_model",
        "task_type",
        "boot_group",
        "bucket",
        *(f.rsplit(" AS ", 1)[1] for f in flags),
    ]
    sums = ["count(*) AS requests", "sum(cost_usd) AS cost_usd", "sum(q_logged) AS q_logged"]
    for k in range(len(models)):  # e_K depends on the logged model only
        sums += [f"sum(c_{k}) AS c_{k}", f"sum(q_{k}) AS q_{k}", f"bool_and(e_{k}) AS e_{k}"]
    for k in range(len(models), len(models) + len(checks)):
        sums += [f"sum(c_{k}) AS c_{k}", f"bool_and(e_{k}) AS e_{k}"]
    ratios = ratios or Ratios()
    repricing.register(store, catalogue, [*models, *(v.validator for v in checks)], ratios)
    try:
        priced = repricing.priced(catalogue, models, relation, params, checks, ratios)
        routed = f"SELECT * REPLACE ({late}) FROM ({priced.sql})" if late else priced.sql
        store.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {TABLE} AS
            SELECT {", ".join(keys)}, {", ".join(sums)}
            FROM (SELECT *, {", ".join(flags)} FROM ({routed}))
            GROUP BY {", ".join(keys)}
            """,
            priced.params,
        )
    finally:
        repricing.unregister(store)
    return models


def _mask_sql(policy: Policy, j: int) -> str:
    if not policy.rules:  # no rules, or a built-in kind (its mask comes after pricing)
        return f"0::BIGINT AS m_{j}"
    bits = " | ".join(
        f"(coalesce(({rule.when}), false)::BIGINT << {i})" for i, rule in enumerate(policy.rules)
    )
    return f"({bits}) AS m_{j}"


def replay_all(
    store: Store, policies: Sequence[Policy], models: Sequence[Candidate]
) -> list[Replayed]:
    """Route the cells by every policy in one query; totals per rule and model, and groups.

    Each cell yields one row per policy (an unnested list): its rule, routed model, the sums of
    cost and quality there; one aggregation adds them per (policy, rule, model) and per
    (policy, bootstrap group). Within a cell every value is known, or none is.
    """
    import numpy as np

    if not policies:
        return []
    ctes, params = routes.routed(store, policies, models, TABLE)
    sql = f"""
    {ctes}
    SELECT grouping(rule, routed_model) > 0 AS is_group, policy, rule, routed_model, boot_group,
        sum(before_usd) FILTER (WHERE priced), sum(after_usd) FILTER (WHERE priced),
        sum(q_after - q_before), sum(n) FILTER (WHERE q_after - q_before IS NOT NULL),
        sum(n), coalesce(sum(n) FILTER (WHERE NOT priced), 0),
        sum(q_after), sum(n) FILTER (WHERE q_after IS NOT NULL),
        sum(n) FILTER (WHERE q_exact IS NOT NULL),
        sum(n) FILTER (WHERE q_exact IS NULL AND q_profile IS NOT NULL),
        sum(q_before), sum(n) FILTER (WHERE q_before IS NOT NULL),
        sum(n) FILTER (WHERE input_estimated), bucket
    FROM v
    GROUP BY GROUPING SETS ((policy, rule, routed_model, bucket), (policy, boot_group))
    """
    totals: list[list[RuleTotals]] = [[] for _ in policies]
    groups: list[list[list[float]]] = [[] for _ in policies]
    for row in store.rows(sql, params):
        j = int(row[1])
        if row[0]:  # a bootstrap group row (grouping sets)
            groups[j].append(
                [row[4], float(row[5] or 0), float(row[6] or 0), row[7] or 0.0, row[8] or 0]
            )
            continue
        totals[j].append(
            RuleTotals(
                rule=int(row[2]),
                model=row[3] or NO_MODEL,
                requests=int(row[9]),
                unpriced=int(row[10] or 0),
                before_usd=row[5] or Decimal(0),
                after_usd=row[6] or Decimal(0),
                quality_sum=float(row[11] or 0),
                quality_known=int(row[12] or 0),
                quality_exact=int(row[13] or 0),
                quality_estimated=int(row[14] or 0),
                before_quality_sum=float(row[15] or 0),
                before_quality_known=int(row[16] or 0),
                delta_sum=float(row[7] or 0),
                delta_known=int(row[8] or 0),
                input_estimated=int(row[17] or 0),
                bucket=int(row[18] or 0),
            )
        )
    matched = _matched(store, policies)
    return [
        Replayed(p, totals[j], matched[j], _by_group(np, groups[j])) for j, p in enumerate(policies)
    ]


def _by_group(np: Any, rows: list[list[float]]) -> Any:
    """The group sums in the order of the group numbers (the same for every policy)."""
    table = np.array(sorted(rows), dtype=np.float64).reshape(-1, 5)
    return table[:, 1:]


def _matched(store: Store, policies: Sequence[Policy]) -> list[list[int]]:
    """Per policy, per rule: the requests its condition holds for (before first match wins)."""
    sums = [
        f"sum(((m_{j} >> {i}) & 1) * requests)"
        for j, p in enumerate(policies)
        for i in range(len(p.rules))
    ]
    row = store.row(f"SELECT {', '.join(sums)} FROM {TABLE}") if sums else ()
    values = iter([int(v or 0) for v in row or ()])
    return [[next(values) for _ in p.rules] for p in policies]


def logged_totals(store: Store) -> tuple[int, Decimal, int]:
    """Requests replayed, their logged cost, and how many have no logged cost."""
    row = store.row(
        f"SELECT sum(requests), sum(cost_usd), sum(requests) FILTER (WHERE cost_usd IS NULL) "
        f"FROM {TABLE}"
    )
    if row is None:
        return 0, Decimal(0), 0
    return int(row[0] or 0), row[1] or Decimal(0), int(row[2] or 0)
