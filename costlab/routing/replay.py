"""Replay the logged requests through routing policies: one pass in DuckDB, no per-row Python.

1. Every rule of every policy is checked (a filter over requests + derived columns that binds).
2. One table holds, per request, a bit mask per policy (bit i: rule i's condition holds), the
   recorded outcome of each candidate model, and (from `repricing`) its cost on each candidate.
3. Per policy, one query routes each request to its first matching rule (else the default) and
   sums cost and quality per rule and target model, and per bootstrap group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab.prices import Catalogue
from costlab.routing import derived, outcomes, repricing
from costlab.routing.policy import LOGGED, Candidate, Policy
from costlab.scope import Scope, checked_predicate
from costlab.store import Store

# Requests are dealt into this many groups (by a hash of their id) for the bootstrap.
BOOT_GROUPS = 1000
TABLE = "_replay"
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


def candidates(policies: Sequence[Policy]) -> list[Candidate]:
    """Every model some policy routes to, once (a model priced two ways is an error upstream)."""
    seen: dict[str, Candidate] = {}
    for policy in policies:
        for name, candidate in policy.models.items():
            seen.setdefault(name, candidate)
    return list(seen.values())


def materialise(
    store: Store, catalogue: Catalogue, policies: Sequence[Policy], scope: Scope
) -> list[Candidate]:
    """Build the per-request table: rule masks, outcomes and costs per candidate."""
    models = candidates(policies)
    masks = [_mask_sql(policy, j) for j, policy in enumerate(policies)]
    joins = "".join(
        f" LEFT JOIN {outcomes.VIEW} o{k} ON o{k}.request_id = r.request_id AND o{k}.model = ?"
        for k in range(len(models))
    )
    picks = "".join(
        f", o{k}.score AS q_{k}, o{k}.output_tokens AS out_{k}" for k in range(len(models))
    )
    where, params = scope.sql()
    store.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {TABLE} AS
        SELECT r.*, ol.score AS q_logged{picks}
        FROM (
            SELECT row_number() OVER () - 1 AS row_key, request_id, model AS logged_model, ts,
                batch, cost_usd, task_type, input_tokens, uncached_input_tokens,
                cached_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                output_tokens, reasoning_tokens,
                hash(request_id) % {BOOT_GROUPS} AS boot_group
                {"".join(", " + m for m in masks)}
            FROM {derived.VIEW}{where}
        ) r
        LEFT JOIN {outcomes.VIEW} ol ON ol.request_id = r.request_id
            AND ol.model = r.logged_model{joins}
        """,
        [*params, *(m.name for m in models)],
    )
    repricing.price(store, catalogue, models, TABLE)
    return models


def _mask_sql(policy: Policy, j: int) -> str:
    if not policy.rules:
        return f"0::BIGINT AS m_{j}"
    bits = " | ".join(
        f"(coalesce(({rule.when}), false)::BIGINT << {i})" for i, rule in enumerate(policy.rules)
    )
    return f"({bits}) AS m_{j}"


def replay_policy(store: Store, policy: Policy, j: int, models: Sequence[Candidate]) -> Replayed:
    """Route the materialised requests by policy `j`; totals per rule and model, and groups."""
    import numpy as np

    index = {m.name: k for k, m in enumerate(models)}
    sql, params = _policy_sql(policy, j, index, models)
    rows = store.rows(sql, params)
    totals, groups = [], []
    for row in rows:
        if row[0]:  # a bootstrap group row (grouping sets)
            groups.append([float(row[3] or 0), float(row[4] or 0), row[5] or 0.0, row[6] or 0])
            continue
        totals.append(
            RuleTotals(
                rule=int(row[1]),
                model=row[2] or NO_MODEL,
                requests=int(row[7]),
                unpriced=int(row[8]),
                before_usd=row[9] or Decimal(0),
                after_usd=row[10] or Decimal(0),
                quality_sum=float(row[11] or 0),
                quality_known=int(row[12]),
                quality_exact=int(row[13]),
                quality_estimated=int(row[14]),
                before_quality_sum=float(row[15] or 0),
                before_quality_known=int(row[16]),
                delta_sum=float(row[5] or 0),
                delta_known=int(row[6]),
                input_estimated=int(row[17]),
            )
        )
    count = len(policy.rules)
    matched_row = store.row(
        "SELECT " + ", ".join(f"sum((m_{j} >> {i}) & 1)" for i in range(count)) + f" FROM {TABLE}"
        if count
        else "SELECT 1"
    )
    matched = [int(v or 0) for v in matched_row or ()] if count else []
    return Replayed(policy, totals, matched, np.array(groups, dtype=np.float64).reshape(-1, 4))


def _policy_sql(
    policy: Policy, j: int, index: dict[str, int], models: Sequence[Candidate]
) -> tuple[str, list[Any]]:
    """The query that routes by policy `j`, with its bound values (profiles, model names)."""
    targets = policy.targets()
    params: list[Any] = []

    def per_rule(pick: Any) -> str:
        branches = []
        for i, target in enumerate(targets):
            branches.append(f"WHEN {i} THEN {pick(target)}")
        return "CASE rule " + " ".join(branches) + " END"

    def profile(candidate: Candidate | None) -> str:
        if candidate is None or not candidate.quality:
            return "NULL::DOUBLE"
        parts = []
        for task in derived.TASK_TYPES:
            value = candidate.profile(task)
            parts.append(f"WHEN '{task}' THEN ?::DOUBLE")
            params.append(value)
        return "CASE task_type " + " ".join(parts) + " END"

    def logged_profile() -> str:
        declared = [c for c in policy.models.values() if c.quality]
        if not declared:
            return "NULL::DOUBLE"
        parts = []
        for c in declared:
            params.append(c.name)
            parts.append(f"WHEN ? THEN {profile(c)}")
        return "CASE logged_model " + " ".join(parts) + " END"

    rule_sql = " ".join(f"WHEN m_{j} & {1 << i} <> 0 THEN {i}" for i in range(len(policy.rules)))
    rule_expr = f"CASE {rule_sql} ELSE {len(policy.rules)} END" if rule_sql else "0"

    def model_of(target: str) -> str:
        if target == LOGGED:
            return "logged_model"
        params.append(target)
        return "?"

    routed = per_rule(model_of)
    after = per_rule(lambda t: "cost_usd" if t == LOGGED else f"c_{index[t]}")
    exact = per_rule(lambda t: "q_logged" if t == LOGGED else f"q_{index[t]}")
    estimated = per_rule(lambda t: "false" if t == LOGGED else f"e_{index[t]}")
    by_name = {m.name: m for m in models} | dict(policy.models)
    prof = per_rule(lambda t: logged_profile() if t == LOGGED else profile(by_name.get(t)))
    before_q = f"coalesce(q_logged, {logged_profile()})"
    sql = f"""
    WITH t AS (SELECT *, {rule_expr} AS rule FROM {TABLE}),
    u AS (
        SELECT rule, boot_group, cost_usd AS before_usd, {routed} AS routed_model,
            {after} AS after_usd, {exact} AS q_exact, {prof} AS q_profile,
            {estimated} AS input_estimated, {before_q} AS q_before
        FROM t
    ),
    v AS (
        SELECT *, coalesce(q_exact, q_profile) AS q_after,
            before_usd IS NOT NULL AND after_usd IS NOT NULL AS priced
        FROM u
    )
    SELECT grouping(rule, routed_model) > 0 AS is_group, rule, routed_model,
        sum(before_usd) FILTER (WHERE priced), sum(after_usd) FILTER (WHERE priced),
        sum(q_after - q_before), count(q_after - q_before),
        count(*), count(*) FILTER (WHERE NOT priced),
        sum(before_usd) FILTER (WHERE priced), sum(after_usd) FILTER (WHERE priced),
        sum(q_after), count(q_after), count(q_exact),
        count(*) FILTER (WHERE q_exact IS NULL AND q_profile IS NOT NULL),
        sum(q_before), count(q_before), count(*) FILTER (WHERE input_estimated)
    FROM v
    GROUP BY GROUPING SETS ((rule, routed_model), (boot_group))
    """
    return sql, params


def logged_totals(store: Store) -> tuple[int, Decimal, int]:
    """Requests replayed, their logged cost, and how many have no logged cost."""
    row = store.row(f"SELECT count(*), sum(cost_usd), count(*) - count(cost_usd) FROM {TABLE}")
    if row is None:
        return 0, Decimal(0), 0
    return int(row[0]), row[1] or Decimal(0), int(row[2])
