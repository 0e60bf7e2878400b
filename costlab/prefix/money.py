"""Exact dollars for the what-ifs: every request priced three ways by the catalogue's own SQL.

Per request: its logged input buckets, its simulated buckets (prefix caching), and its logged
buckets at batch rates when its feature is batch-eligible. All three go through
`costs.cost_sql` with the same price points, so a difference between them is only the what-if.
A cache price the catalogue lacks is filled from the request's rule (see `rules`), not billed at
the input price, since the rule says what the provider charges.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import numpy as np

from costlab import prices
from costlab.costs import cost_sql
from costlab.prefix.replay import Replayed, UnitPrices
from costlab.prefix.rules import Rule
from costlab.prefix.traffic import Traffic, python_values
from costlab.store import Store


@dataclasses.dataclass(frozen=True)
class Costs:
    """Per request, in traffic order: logged buckets, simulated buckets, batch rates."""

    logged_buckets: list[Decimal | None]
    simulated: list[Decimal | None]
    batch: list[Decimal | None]
    batch_notes: list[str | None]


def filled_points(
    catalogue: prices.Catalogue, rule_by_model: dict[str, Rule]
) -> list[prices.PricePoint]:
    """The catalogue's points of these models, with missing cache prices taken from the rule."""
    points = []
    for point in catalogue.points(sorted(rule_by_model)):
        rule = rule_by_model[point.model]
        if point.input is None:
            points.append(point)
            continue
        write_5m = point.cache_write_5m
        points.append(
            dataclasses.replace(
                point,
                cache_read=_or(point.cache_read, point.input * rule.read_multiplier),
                cache_write_5m=_or(write_5m, point.input * rule.write_5m_multiplier),
                cache_write_1h=_or(point.cache_write_1h, point.input * rule.write_1h_multiplier),
            )
        )
    return points


def unit_prices(points: list[prices.PricePoint]) -> dict[str, UnitPrices]:
    """Per model, the prices of its latest standard base-tier point (for choosing breakpoints)."""
    latest: dict[str, tuple[prices.PricePoint, Decimal]] = {}
    for p in points:
        if p.batch or p.above_tokens or p.input is None:
            continue
        if p.model not in latest or p.since > latest[p.model][0].since:
            latest[p.model] = (p, p.input)
    return {
        model: UnitPrices(
            given,
            _or(p.cache_read, given),
            _or(p.cache_write_5m, given),
            _or(p.cache_write_1h, _or(p.cache_write_5m, given)),
        )
        for model, (p, given) in latest.items()
    }


def costs(
    store: Store,
    traffic: Traffic,
    replayed: Replayed,
    batch_eligible: list[bool],
    points: list[prices.PricePoint],
) -> Costs:
    """Each request priced with its logged buckets, its simulated buckets, and at batch rates."""
    import pyarrow as pa

    simulated = replayed.template_of >= 0
    table = pa.table(
        {
            "request_id": pa.array(traffic.request_ids, pa.string()),
            "position": pa.array(range(len(traffic)), pa.int64()),
            "simulated": pa.array(simulated.tolist(), pa.bool_()),
            "cached": pa.array(replayed.cached.tolist(), pa.int64()),
            "write_5m": pa.array(replayed.write_5m.tolist(), pa.int64()),
            "write_1h": pa.array(replayed.write_1h.tolist(), pa.int64()),
            "to_batch": pa.array(batch_eligible, pa.bool_()),
        }
    )
    store.register("_prefix_sim", table)
    store.register("_prefix_points", prices.points_arrow(points))
    try:
        for view, sql in _VIEWS.items():
            store.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
        rows = store.arrow(
            f"""
            SELECT l.computed_cost_usd AS logged, l.price_note AS logged_note,
                   c.row_key IS NOT NULL AS repriced, c.computed_cost_usd AS simulated,
                   b.row_key IS NOT NULL AS rebatched, b.computed_cost_usd AS batch,
                   b.price_note AS batch_note
            FROM _prefix_sim s
            JOIN ({cost_sql("_prefix_logged", "_prefix_points")}) l
              ON l.row_key = s.request_id
            LEFT JOIN ({cost_sql("_prefix_cached", "_prefix_points")}) c
              ON c.row_key = s.request_id
            LEFT JOIN ({cost_sql("_prefix_batched", "_prefix_points")}) b
              ON b.row_key = s.request_id
            ORDER BY s.position
            """
        )
        for view in _VIEWS:
            store.execute(f"DROP VIEW {view}")
    finally:
        store.unregister("_prefix_sim")
        store.unregister("_prefix_points")
    logged = python_values(rows.column("logged"))
    note = rows.column("logged_note").to_pylist()
    return Costs(
        logged,
        _either(rows.column("repriced"), rows.column("simulated"), logged),
        _either(rows.column("rebatched"), rows.column("batch"), logged),
        _either(rows.column("rebatched"), rows.column("batch_note"), note),
    )


def _either(taken: Any, values: Any, otherwise: list[Any]) -> list[Any]:
    """`values` where `taken`, else `otherwise` (Arrow columns): only the values taken become
    Python objects (a Decimal each: most requests keep their logged cost)."""
    out = list(otherwise)
    at = np.flatnonzero(taken.to_numpy(zero_copy_only=False))
    for i, value in zip(at.tolist(), values.take(at).to_pylist(), strict=True):
        out[i] = value
    return out


def _or(value: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if value is None else value


_BUCKETS = """
    r.request_id AS row_key, r.model, r.ts, {batch} AS batch,
    {uncached} AS uncached_input_tokens, {cached} AS cached_input_tokens,
    {write_5m} AS cache_write_5m_tokens, {write_1h} AS cache_write_1h_tokens,
    r.output_tokens, r.reasoning_tokens
    FROM requests r JOIN _prefix_sim s ON s.request_id = r.request_id
"""
_LOGGED: dict[str, Any] = {
    "batch": "r.batch",
    "uncached": "r.uncached_input_tokens",
    "cached": "r.cached_input_tokens",
    "write_5m": "r.cache_write_5m_tokens",
    "write_1h": "r.cache_write_1h_tokens",
}
_SIMULATED = {
    **_LOGGED,
    "uncached": "CASE WHEN s.simulated THEN coalesce(r.input_tokens, 0) - s.cached - s.write_5m "
    "- s.write_1h ELSE r.uncached_input_tokens END",
    "cached": "CASE WHEN s.simulated THEN s.cached ELSE r.cached_input_tokens END",
    "write_5m": "CASE WHEN s.simulated THEN s.write_5m ELSE r.cache_write_5m_tokens END",
    "write_1h": "CASE WHEN s.simulated THEN s.write_1h ELSE r.cache_write_1h_tokens END",
}
# A request whose simulated (or batch) buckets are its logged ones costs what its logged buckets
# cost: only the others are priced again (the same SQL on the same values gives the same price).
_CHANGED = (
    " WHERE s.simulated AND (({uncached}) IS DISTINCT FROM r.uncached_input_tokens"
    " OR s.cached IS DISTINCT FROM r.cached_input_tokens"
    " OR s.write_5m IS DISTINCT FROM r.cache_write_5m_tokens"
    " OR s.write_1h IS DISTINCT FROM r.cache_write_1h_tokens)"
).format(uncached="coalesce(r.input_tokens, 0) - s.cached - s.write_5m - s.write_1h")
_VIEWS = {
    "_prefix_logged": "SELECT " + _BUCKETS.format(**_LOGGED),
    "_prefix_cached": "SELECT " + _BUCKETS.format(**_SIMULATED) + _CHANGED,
    "_prefix_batched": "SELECT "
    + _BUCKETS.format(**{**_LOGGED, "batch": "coalesce(r.batch, false) OR s.to_batch"})
    + " WHERE s.to_batch OR r.batch IS NULL",
}
