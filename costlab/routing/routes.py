"""The cells of a replay routed by every policy, in SQL: per cell and policy, its rule, routed
model, cost before and after, and quality (exact from outcomes, else the declared profile).

`replay.replay_all` sums these rows per rule and per bootstrap group; `costlab plan` reads them
per request (each request its own cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from costlab.routing import derived, kinds
from costlab.routing.policy import LOGGED, Candidate, Policy, QualityAware
from costlab.store import Store


def routed(
    store: Store, policies: Sequence[Policy], models: Sequence[Candidate], table: str
) -> tuple[str, list[Any]]:
    """The cells routed by every policy, as CTEs ending in `v`: one row per cell and policy
    (policy, rule, routed_model, n, boot_group, bucket, before_usd, after_usd, q_exact,
    q_profile, input_estimated, q_before, q_after, priced), and their bound values."""
    index = {m.name: k for k, m in enumerate(models)}
    rates = kinds.escalation_rates(store, table, policies)
    rules, fields, params = [], [], []
    for j, policy in enumerate(policies):
        last = len(policy.targets()) - 1
        rule_sql = " ".join(f"WHEN m_{j} & {1 << i} <> 0 THEN {i}" for i in range(last))
        rules.append(f"CASE {rule_sql} ELSE {last} END" if rule_sql else "0")
        if isinstance(policy.router, QualityAware):
            validator = kinds.validator_column(policies, j, len(models))
            text, values = _escalating_struct(policy, j, index, validator, rates[j])
        else:
            text, values = _policy_struct(policy, j, index, models)
        fields.append(text)
        params += values
    ctes = f"""
    WITH t AS (SELECT *{"".join(f", {r} AS rule_{j}" for j, r in enumerate(rules))} FROM {table}),
    u AS (SELECT unnest([{", ".join(fields)}], recursive := true) FROM t),
    v AS (
        SELECT *, coalesce(q_exact, q_profile * n) AS q_after,
            before_usd IS NOT NULL AND after_usd IS NOT NULL AS priced
        FROM u
    )"""
    return ctes, params


def _policy_struct(
    policy: Policy, j: int, index: dict[str, int], models: Sequence[Candidate]
) -> tuple[str, list[Any]]:
    """Policy `j`'s row of a cell as a struct literal over `rule_j`, with its bound values.

    Money and exact quality are the cell's sums; `q_profile` is a mean (the declared profile).
    """
    targets = policy.targets()
    params: list[Any] = []

    def per_rule(pick: Any) -> str:
        branches = [f"WHEN {i} THEN {pick(target)}" for i, target in enumerate(targets)]
        return f"CASE rule_{j} " + " ".join(branches) + " END"

    def profile(candidate: Candidate | None) -> str:
        return _profile(candidate, params)

    def logged_profile() -> str:
        return _logged_profile(policy, params)

    def model_of(target: str) -> str:
        if target == LOGGED:
            return "logged_model"
        params.append(target)
        return "?::VARCHAR"

    by_name = {m.name: m for m in models} | dict(policy.models)
    routed = per_rule(model_of)
    after = per_rule(lambda t: "cost_usd" if t == LOGGED else f"c_{index[t]}")
    exact = per_rule(lambda t: "q_logged" if t == LOGGED else f"q_{index[t]}")
    prof = per_rule(lambda t: logged_profile() if t == LOGGED else profile(by_name.get(t)))
    estimated = per_rule(lambda t: "false" if t == LOGGED else f"e_{index[t]}")
    before_q = f"coalesce(q_logged, {logged_profile()} * requests)"
    struct = (
        f"{{'policy': {j}, 'rule': rule_{j}, 'routed_model': {routed}, 'n': requests, "
        "'boot_group': boot_group, 'bucket': bucket, 'before_usd': cost_usd::DECIMAL(38, 18), "
        f"'after_usd': ({after})::DECIMAL(38, 18), 'q_exact': ({exact})::DOUBLE, "
        f"'q_profile': ({prof})::DOUBLE, 'input_estimated': ({estimated})::BOOLEAN, "
        f"'q_before': ({before_q})::DOUBLE}}"
    )
    return struct, params


def _profile(candidate: Candidate | None, params: list[Any]) -> str:
    """A candidate's declared quality for the cell's task type (a mean: × requests)."""
    if candidate is None or not candidate.quality:
        return "NULL::DOUBLE"
    parts = []
    for task in derived.TASK_TYPES:
        parts.append(f"WHEN '{task}' THEN ?::DOUBLE")
        params.append(candidate.profile(task))
    return "CASE task_type " + " ".join(parts) + " END"


def _logged_profile(policy: Policy, params: list[Any]) -> str:
    declared = [c for c in policy.models.values() if c.quality]
    if not declared:
        return "NULL::DOUBLE"
    parts = []
    for c in declared:
        params.append(c.name)
        parts.append(f"WHEN ? THEN {_profile(c, params)}")
    return "CASE logged_model " + " ".join(parts) + " END"


def _escalating_struct(
    policy: Policy, j: int, index: dict[str, int], validator: str, rate: Decimal
) -> tuple[str, list[Any]]:
    """A quality_aware policy's row of a cell (see `kinds`): cheap + validator + strong × p,
    where p is 0 (passed), 1 (escalated) or the escalation rate (no outcome for the cheap model).
    """
    router = policy.router
    assert isinstance(router, QualityAware)
    cheap, strong = index[router.cheap], index[router.strong]
    params: list[Any] = [router.cheap, router.strong, f"{router.cheap} + {router.strong}"]

    def by_route(passed: str, escalated: str, mix: str, *rates: object) -> str:
        params.extend(rates)
        return (
            f"CASE rule_{j} WHEN {kinds.PASSED} THEN {passed} "
            f"WHEN {kinds.ESCALATED} THEN {escalated} ELSE {mix} END"
        )

    routed = by_route("?", "?", "?")
    r = float(rate)
    # strong × rate, exact to 1e-18: whole dollars and the fraction apart, so neither overflows
    x = f"c_{strong}"
    expected = (
        f"floor({x})::DECIMAL(38, 0) * ?::DECIMAL(38, 18) "
        f"+ (({x} - floor({x})) * ?::DECIMAL(38, 18))::DECIMAL(38, 18)"
    )
    after = f"c_{cheap} + {validator} + " + by_route("0", x, expected, rate, rate)
    exact = by_route(
        f"q_{cheap}", f"q_{strong}", f"q_{cheap} * (1 - ?::DOUBLE) + q_{strong} * ?::DOUBLE", r, r
    )
    # each use of a profile binds its own values, in the order they appear in the text
    cheap_q, strong_q = policy.models[router.cheap], policy.models[router.strong]
    passed, escalated = _profile(cheap_q, params), _profile(strong_q, params)
    mix = f"({_profile(cheap_q, params)}) * (1 - ?::DOUBLE)"
    params.append(r)
    mix += f" + ({_profile(strong_q, params)}) * ?::DOUBLE"
    params.append(r)
    prof = by_route(passed, escalated, mix)
    checker = validator.replace("c_", "e_")
    estimated = f"e_{cheap} OR {checker} OR (rule_{j} <> {kinds.PASSED} AND e_{strong})"
    before_q = f"coalesce(q_logged, {_logged_profile(policy, params)} * requests)"
    struct = (
        f"{{'policy': {j}, 'rule': rule_{j}, 'routed_model': ({routed})::VARCHAR, "
        "'n': requests, 'boot_group': boot_group, 'bucket': bucket, "
        f"'before_usd': cost_usd::DECIMAL(38, 18), 'after_usd': ({after})::DECIMAL(38, 18), "
        f"'q_exact': ({exact})::DOUBLE, 'q_profile': ({prof})::DOUBLE, "
        f"'input_estimated': ({estimated})::BOOLEAN, 'q_before': ({before_q})::DOUBLE}}"
    )
    return struct, params
