"""The per-request stacking table (one row per request in scope) and the steps that fill it.

See `costlab.plan` for the order and the formula of each step. Every step writes its own
`saved_<lever>` column; `after_usd` is always logged − the sum of them, so nothing is counted
twice and the totals add up exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab import prices
from costlab.plan import tariffs
from costlab.plan.levers import Routing, Template
from costlab.routing import replay, routes
from costlab.scope import Scope
from costlab.store import Store

TABLE = "_plan"
LEVERS = ("cache", "routing", "compression", "prefix", "batch")
MONEY = "DECIMAL(38, 18)"
AFTER = "logged_usd - " + " - ".join(f"saved_{lever}" for lever in LEVERS)
_ROUTED = "_plan_routed"
_COMPRESSED = "_plan_compressed"


@dataclass(frozen=True)
class Totals:
    requests: int
    unpriced: int  # requests without a logged cost: left out of the money
    logged_usd: Decimal
    saved_usd: dict[str, Decimal]  # per lever, stacked
    after_usd: Decimal
    affected: dict[str, int]  # per lever, requests whose cost the step changed


def create(store: Store, scope: Scope) -> int:
    """The table of the requests in scope, in time order, nothing saved yet; how many."""
    where, params = scope.sql()
    saved = ", ".join(f"0::{MONEY} AS saved_{lever}" for lever in LEVERS)
    store.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {TABLE} AS
        SELECT row_number() OVER (ORDER BY ts NULLS LAST, request_id)::INTEGER AS row,
            request_id, model AS logged_model, model AS routed_model,
            coalesce(feature, '(none)') AS feature, coalesce(batch, false) AS batch,
            cost_usd::{MONEY} AS logged_usd, hash(request_id) % {replay.BOOT_GROUPS} AS boot_group,
            false AS hit, false AS compressed, {saved}
        FROM requests{where}
        """,
        params,
    )
    found = store.row(f"SELECT count(*) FROM {TABLE}")
    return int(found[0]) if found else 0


def cache(store: Store, hit_ids: list[str]) -> None:
    """Step 1: a hit saves its whole logged cost."""
    import pyarrow as pa

    store.register("_plan_hits", pa.table({"request_id": pa.array(hit_ids, pa.string())}))
    try:
        store.execute(
            f"UPDATE {TABLE} SET hit = true, saved_cache = coalesce(logged_usd, 0) "
            "WHERE request_id IN (SELECT request_id FROM _plan_hits)"
        )
    finally:
        store.unregister("_plan_hits")


def routing(store: Store, catalogue: prices.Catalogue, lever: Routing, scope: Scope) -> None:
    """Step 2: each miss at its routed model's repriced cost (route-replay's own SQL, with each
    request its own cell)."""
    from costlab import calibration

    policies = [lever.policy]
    replay.prepare(store, policies)
    ratios = calibration.ratios(store)
    bucket = f"(SELECT p.row FROM {TABLE} p WHERE p.request_id = routing_requests.request_id)"
    models = replay.materialise(store, catalogue, policies, scope, bucket, ratios)
    ctes, params = routes.routed(store, policies, models, replay.TABLE)
    store.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_ROUTED} AS
        {ctes}
        SELECT bucket AS row, routed_model, priced, before_usd, after_usd,
            q_after, q_before, input_estimated
        FROM v
        """,
        params,
    )
    store.execute(
        f"""
        UPDATE {TABLE} SET routed_model = coalesce(r.routed_model, {TABLE}.logged_model),
            saved_routing = CASE WHEN NOT {TABLE}.hit AND r.priced
                                 THEN r.before_usd - r.after_usd ELSE 0 END
        FROM {_ROUTED} r WHERE r.row = {TABLE}.row
        """
    )
    store.execute(f"DROP TABLE IF EXISTS {replay.TABLE}")


def routed_quality(store: Store) -> Any:
    """Per bootstrap group, over routed misses: Δ quality sum and count (numpy, groups × 2)."""
    import numpy as np

    rows = store.rows(
        f"""
        SELECT p.boot_group, sum(r.q_after - r.q_before),
            count(*) FILTER (WHERE r.q_after - r.q_before IS NOT NULL)
        FROM {TABLE} p JOIN {_ROUTED} r ON r.row = p.row
        WHERE NOT p.hit GROUP BY p.boot_group ORDER BY p.boot_group
        """
    )
    table = np.zeros((replay.BOOT_GROUPS, 2))
    for group, total, n in rows:
        table[int(group)] = (float(total or 0), float(n or 0))
    return table


def register_tariffs(store: Store, found: dict[str, tariffs.Tariff]) -> None:
    store.register(tariffs.TABLE, tariffs.arrow(found))


def routed_models(store: Store) -> list[str]:
    return [r[0] for r in store.rows(f"SELECT DISTINCT routed_model FROM {TABLE}") if r[0]]


def compression(store: Store, templates: Sequence[Template], removed: dict[str, Any]) -> None:
    """Step 3: a miss whose system prompt or prompt is a template saves the tokens removed
    (`removed`: per template name, per encoding) at its routed model's input price."""
    import pyarrow as pa

    rows = [(t.original, encoding, n) for t in templates for encoding, n in removed[t.name].items()]
    table = pa.table(
        {
            "text": pa.array([r[0] for r in rows], pa.string()),
            "encoding": pa.array([r[1] for r in rows], pa.string()),
            "removed": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    store.register(_COMPRESSED, table)
    try:
        store.execute(
            f"""
            UPDATE {TABLE} SET compressed = true,
                saved_compression = least(greatest({AFTER}, 0), s.removed * s.input)
            FROM (
                SELECT p.row, sum(c.removed) AS removed, any_value(t.input) AS input
                FROM {TABLE} p JOIN requests q ON q.request_id = p.request_id
                JOIN {tariffs.TABLE} t ON t.model = p.routed_model
                JOIN {_COMPRESSED} c ON c.encoding = t.encoding
                    AND (c.text = q.system_prompt OR c.text = q.prompt)
                WHERE NOT p.hit AND t.input IS NOT NULL AND p.logged_usd IS NOT NULL
                GROUP BY p.row
            ) s
            WHERE s.row = {TABLE}.row
            """
        )
    finally:
        store.unregister(_COMPRESSED)


def batch(store: Store, eligible: Sequence[str]) -> int:
    """Step 5: a miss of an eligible feature, not already batched, at its routed model's batch
    rate; how many eligible misses have no batch price."""
    import pyarrow as pa

    store.register("_plan_batch", pa.table({"feature": pa.array(list(eligible), pa.string())}))
    try:
        store.execute(
            f"""
            UPDATE {TABLE} SET saved_batch = greatest({AFTER}, 0)
                * CAST(1 - t.batch_factor AS DECIMAL(18, 12))
            FROM {tariffs.TABLE} t
            WHERE t.model = {TABLE}.routed_model AND t.batch_factor IS NOT NULL
              AND NOT {TABLE}.hit AND NOT {TABLE}.batch AND {TABLE}.logged_usd IS NOT NULL
              AND {TABLE}.feature IN (SELECT feature FROM _plan_batch)
            """
        )
        found = store.row(
            f"""
            SELECT count(*) FROM {TABLE} p LEFT JOIN {tariffs.TABLE} t ON t.model = p.routed_model
            WHERE NOT p.hit AND NOT p.batch AND p.feature IN (SELECT feature FROM _plan_batch)
              AND t.batch_factor IS NULL
            """
        )
    finally:
        store.unregister("_plan_batch")
    return int(found[0]) if found else 0


def totals(store: Store) -> Totals:
    """The stacked money: logged, saved per lever, after (exact), over requests with a cost."""
    sums = ", ".join(f"sum(saved_{lever})" for lever in LEVERS)
    changed = ", ".join(f"count(*) FILTER (WHERE saved_{lever} <> 0)" for lever in LEVERS)
    row = store.row(
        f"""
        SELECT count(*), count(*) FILTER (WHERE logged_usd IS NULL), sum(logged_usd), {sums},
            sum({AFTER}), {changed}
        FROM {TABLE}
        """
    )
    assert row is not None
    zero = Decimal(0)
    saved = {lever: row[3 + k] or zero for k, lever in enumerate(LEVERS)}
    start = 4 + len(LEVERS)
    return Totals(
        requests=int(row[0]),
        unpriced=int(row[1]),
        logged_usd=row[2] or zero,
        saved_usd=saved,
        after_usd=row[3 + len(LEVERS)] or zero,
        affected={lever: int(row[start + k]) for k, lever in enumerate(LEVERS)},
    )


def groups(store: Store) -> Any:
    """Per bootstrap group: logged $ and after $ (numpy, BOOT_GROUPS × 2)."""
    import numpy as np

    table = np.zeros((replay.BOOT_GROUPS, 2))
    rows = store.rows(
        f"SELECT boot_group, sum(logged_usd), sum({AFTER}) FROM {TABLE} "
        "WHERE logged_usd IS NOT NULL GROUP BY boot_group"
    )
    for group, logged, after in rows:
        table[int(group)] = (float(logged or 0), float(after or 0))
    return table


def drop(store: Store) -> None:
    for name in (TABLE, _ROUTED):
        store.execute(f"DROP TABLE IF EXISTS {name}")
