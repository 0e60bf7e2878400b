"""The SQL that prices calls: the point in force per call, and each token bucket's exact cost.

Price points come from `prices.Catalogue.points` (as `prices.points_arrow`). A point is in force
for a call when its `since` is on or before the call's day (no day: the latest), its tier is the
largest one below the prompt size, and batch points win for batch calls. Money stays DECIMAL.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def cost_sql(calls: str, points: str, chosen: str | None = None) -> str:
    """A DuckDB SELECT of (row_key, computed_cost_usd, each bucket's cost, price_note)."""
    # `chosen`: (row_key, the columns of `points`), the point in force already picked per call.
    _check_relations(calls, points, chosen or points)
    if chosen is None:
        return (
            f"SELECT row_key, computed_cost_usd, {_COST_COLUMNS} FROM ({priced_sql(calls, points)})"
        )
    costs = _BUCKET_COSTS.format(known="k.model IS NOT NULL", in_force="p.row_key IS NOT NULL")
    buckets = _CHOSEN_SQL.format(points=points, calls=calls, chosen=chosen, costs=costs)
    return f"SELECT row_key, {_TOTALS} FROM ({buckets})"


def priced_sql(calls: str, points: str) -> str:
    """A DuckDB SELECT of every column of `calls`, with each bucket's cost, the total and a note.

    `calls` needs model, ts, batch and the six token buckets. One streaming pass: each call picks
    its point in force from its model's few points, so there is no per-call sort or join back.
    """
    _check_relations(calls, points)
    costs = _BUCKET_COSTS.format(known="c.known_model", in_force="p.point_no IS NOT NULL")
    buckets = _PRICED_SQL.format(points=points, calls=calls, costs=costs)
    return f"SELECT * EXCLUDE ({_COST_COLUMNS}), {_TOTALS} FROM ({buckets})"


def _check_relations(*names: str) -> None:
    for name in names:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a relation name: {name!r}")


# The token counts of each call, zero when absent.
_COUNTS = """
    coalesce(uncached_input_tokens, 0)::BIGINT AS n_uncached,
    coalesce(cached_input_tokens, 0)::BIGINT AS n_cached,
    coalesce(cache_write_5m_tokens, 0)::BIGINT AS n_write_5m,
    coalesce(cache_write_1h_tokens, 0)::BIGINT AS n_write_1h,
    coalesce(output_tokens, 0)::BIGINT AS n_output,
    coalesce(reasoning_tokens, 0)::BIGINT AS n_reasoning
"""
_HELPERS = "n_uncached, n_cached, n_write_5m, n_write_1h, n_output, n_reasoning"

# A point is in force when its `since` is on or before the request's day (no day: the latest),
# its tier is the largest one below the prompt size, and batch points win for batch requests:
# the first of the model's points, latest first, then batch, then largest tier, that applies.
_PRICED_SQL = (
    """
WITH c AS (
    SELECT * REPLACE (coalesce(batch, false) AS batch), """
    + _COUNTS
    + """
    FROM {calls}
),
pts AS (SELECT row_number() OVER () AS point_no, * FROM {points}),
model_points AS (
    SELECT model, list(struct_pack(point_no, since, above_tokens, batch)
                       ORDER BY since DESC, batch DESC, above_tokens DESC) AS points
    FROM pts GROUP BY model
),
chosen AS (
    SELECT c.*, m.model IS NOT NULL AS known_model,
        list_filter(m.points, lambda pt: (c.ts IS NULL OR pt.since <= CAST(c.ts AS DATE))
            AND (pt.above_tokens = 0
                 OR pt.above_tokens < c.n_uncached + c.n_cached + c.n_write_5m + c.n_write_1h)
            AND (c.batch OR NOT pt.batch))[1].point_no AS point_no
    FROM c LEFT JOIN model_points m ON m.model = c.model
)
SELECT c.* EXCLUDE ("""
    + _HELPERS
    + """, known_model, point_no), {costs}
FROM chosen c
LEFT JOIN pts p ON p.point_no = c.point_no
"""
)

# Routing's path: the point in force already picked per call, joined on row_key.
_CHOSEN_SQL = (
    """
WITH c AS (
    SELECT row_key, model, ts, coalesce(batch, false) AS batch, """
    + _COUNTS
    + """
    FROM {calls}
),
known AS (SELECT DISTINCT model FROM {points})
SELECT c.row_key, {costs}
FROM c
LEFT JOIN {chosen} p ON p.row_key = c.row_key
LEFT JOIN known k ON k.model = c.model
"""
)

_BUCKET_COSTS = """
    c.n_uncached * p.input AS uncached_input_cost_usd,
    c.n_cached * coalesce(p.cache_read, p.input) AS cached_input_cost_usd,
    c.n_write_5m * coalesce(p.cache_write_5m, p.input)
        + c.n_write_1h * coalesce(p.cache_write_1h, p.cache_write_5m, p.input)
        AS cache_write_cost_usd,
    CASE WHEN c.n_output = 0 THEN 0
         WHEN p.reasoning IS NULL THEN c.n_output * p.output
         ELSE greatest(c.n_output - c.n_reasoning, 0) * p.output
              + c.n_reasoning * p.reasoning END AS output_cost_usd,
    c.n_reasoning * coalesce(p.reasoning, p.output) AS reasoning_cost_usd,
    CASE
    WHEN NOT ({known}) THEN 'unknown model: not in the price catalogue'
    WHEN NOT ({in_force}) THEN 'no price in force on ' || CAST(CAST(c.ts AS DATE) AS VARCHAR)
    ELSE nullif(concat_ws('; ',
        CASE WHEN c.batch AND NOT p.batch THEN 'no batch price: priced at standard rates' END,
        CASE WHEN c.n_cached > 0 AND p.cache_read IS NULL
             THEN 'no cache-read price: cache reads priced at the input rate' END,
        CASE WHEN c.n_write_5m > 0 AND p.cache_write_5m IS NULL
             THEN 'no cache-write price: cache writes priced at the input rate' END,
        CASE WHEN c.n_write_1h > 0 AND p.cache_write_1h IS NULL
             THEN 'no 1h cache-write price: priced at the 5m write (else input) rate' END,
        CASE WHEN c.n_output > 0 AND p.output IS NULL
             THEN 'no output price: cost unknown' END), '')
    END AS price_note
"""

_COST_COLUMNS = (
    "uncached_input_cost_usd, cached_input_cost_usd, cache_write_cost_usd, output_cost_usd, "
    "reasoning_cost_usd, price_note"
)
# The cost of each bucket, and their exact sum. Reasoning is a part of the output cost.
_TOTALS = """
    CAST(uncached_input_cost_usd + cached_input_cost_usd + cache_write_cost_usd + output_cost_usd
         AS DECIMAL(38, 18)) AS computed_cost_usd,
    CAST(uncached_input_cost_usd AS DECIMAL(38, 18)) AS uncached_input_cost_usd,
    CAST(cached_input_cost_usd AS DECIMAL(38, 18)) AS cached_input_cost_usd,
    CAST(cache_write_cost_usd AS DECIMAL(38, 18)) AS cache_write_cost_usd,
    CAST(output_cost_usd AS DECIMAL(38, 18)) AS output_cost_usd,
    CAST(reasoning_cost_usd AS DECIMAL(38, 18)) AS reasoning_cost_usd,
    price_note
"""
