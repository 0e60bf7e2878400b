"""What each request would have cost on each candidate model: exact DECIMAL, computed in SQL.

Token counts under the target model:
- same model as logged: the logged cost, unchanged;
- same tokenizer family: the logged token counts (exact);
- another family: each bucket × (target's tokens per cl100k token ÷ source's), rounded: an
  *estimate* (rough averages for English text, `TOKENIZERS` below), counted as such.
Output tokens: the candidate's own answer length from outcomes when recorded, else the logged
response's length under the target's tokenizer (the same ratio). Cache reads and writes carry
over only when the target is of the logged model's provider (the same prompt cache); otherwise
they are billed as uncached input. Batch requests stay batch: priced at the target's batch rate
where it has one, else at its standard rate (the catalogue's own fallback, noted by it).
Prices, dates and long-context tiers come from the catalogue through `costs.cost_sql`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from costlab import costs, prices
from costlab.routing.policy import Candidate
from costlab.store import Store

# (pattern searched in the lower-cased model name, family, tokens per cl100k token on English
# prose). Rough averages; anything outside the same family is reported as an estimate.
TOKENIZERS: tuple[tuple[str, str, float], ...] = (
    (r"gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt|\bo[134](-|$)|gpt-oss", "o200k", 0.95),
    (r"gpt-4|gpt-3\.5|text-davinci", "cl100k", 1.0),
    (r"claude", "claude", 1.15),
    (r"gemini|gemma", "gemini", 1.05),
    (r"mistral|mixtral|codestral|ministral|pixtral", "mistral", 1.15),
    (r"llama-?3|llama-?4", "llama3", 1.0),
    (r"llama", "llama2", 1.2),
    (r"deepseek", "deepseek", 1.05),
    (r"qwen", "qwen", 1.05),
)
UNKNOWN_RATIO = 1.0


def tokenizer(model: str) -> tuple[str | None, float]:
    """The tokenizer family of a model name and its tokens per cl100k token (None: unknown)."""
    name = model.lower().rsplit("/", 1)[-1]
    for pattern, family, ratio in TOKENIZERS:
        if re.search(pattern, name):
            return family, ratio
    return None, UNKNOWN_RATIO


def price(
    store: Store, catalogue: prices.Catalogue, candidates: Sequence[Candidate], relation: str
) -> None:
    """Add each request's cost (`c_K`) and input-estimate flag (`e_K`) per candidate to `relation`.

    `relation` has row_key, logged_model, ts, batch, the token buckets, cost_usd and the
    candidates' outcome answer lengths `out_K`; it is replaced by a table with the new columns.
    """
    logged = [r[0] for r in store.rows(f"SELECT DISTINCT logged_model FROM {relation}")]
    _register_sources(store, catalogue, [m for m in logged if m is not None])
    count = max(1, len(candidates))
    params: list[object] = []

    def bind(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    points: list[prices.PricePoint] = []
    selects, wide = [], []
    for k, candidate in enumerate(candidates):
        own = _points(catalogue, candidate)
        first = len(points)
        points += [dataclasses.replace(p, model=f"#{k}") for p in own]
        family, ratio = tokenizer(candidate.price_as)
        f, r = bind(family), bind(ratio)
        pv = bind(catalogue.resolve(candidate.price_as).provider)
        chain = " ".join(f"WHEN {_in_force(p, bind)} THEN {first + i}" for i, p in enumerate(own))
        calls = _CALLS_SQL.format(relation=relation, count=count, k=k, f=f, r=r, p=pv)
        selects.append(f"SELECT *, CASE {chain or 'WHEN false THEN 0'} END AS point_no "
                       f"FROM ({calls})")  # fmt: skip
        name = bind(candidate.name)
        wide.append(
            f"CASE WHEN r.logged_model = {name} THEN r.cost_usd ELSE c.c_{k} END AS c_{k}, "
            f"NOT (coalesce(r.logged_model = {name}, false) OR coalesce(s.family = {f}, false)) "
            f"AS e_{k}"
        )
    store.register("_candidate_points", _numbered(points))
    pivot = ", ".join(
        f"max(computed_cost_usd) FILTER (WHERE row_key % {count} = {k}) AS c_{k}"
        for k in range(len(candidates))
    )
    calls = " UNION ALL ".join(selects) or "SELECT 0 AS row_key, 0 AS point_no LIMIT 0"
    cost = costs.cost_sql("_candidate_calls", "_candidate_points", "_candidate_chosen")
    try:
        store.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _candidate_wide AS
            WITH _candidate_calls AS ({calls}),
            _candidate_chosen AS (
                SELECT k.row_key, pt.* FROM _candidate_calls k
                JOIN _candidate_points pt ON pt.no = k.point_no
            ),
            costs AS (
                SELECT row_key // {count} AS row_key{", " + pivot if pivot else ""}
                FROM ({cost}) GROUP BY row_key // {count}
            )
            SELECT r.*{"".join(", " + w for w in wide)}
            FROM {relation} r LEFT JOIN costs c USING (row_key)
            LEFT JOIN _routing_sources s ON s.model = r.logged_model
            """,
            params,
        )
        store.execute(f"DROP TABLE {relation}")
        store.execute(f"ALTER TABLE _candidate_wide RENAME TO {relation}")
    finally:
        store.unregister("_candidate_points")
        store.unregister("_routing_sources")


def _points(catalogue: prices.Catalogue, candidate: Candidate) -> list[prices.PricePoint]:
    """A candidate's price points, most specific first: latest, batch, then largest tier."""
    if candidate.override:
        source = prices.Catalogue({}, "policy", "", overrides=(candidate.override,))
        own = source.points([candidate.name])
    else:
        own = catalogue.points([candidate.price_as])
    return sorted(own, key=lambda p: (p.since, p.batch, p.above_tokens), reverse=True)


def _in_force(point: prices.PricePoint, bind: Callable[[object], str]) -> str:
    """The condition for `point` to be in force for a call (the rule of `costs.cost_sql`)."""
    parts = ["true"]
    if point.since > prices.CATALOGUE_SINCE:
        parts.append(f"(ts IS NULL OR {bind(point.since)} <= CAST(ts AS DATE))")
    if point.above_tokens:
        parts.append(
            f"{bind(point.above_tokens)} < uncached_input_tokens + cached_input_tokens"
            " + cache_write_5m_tokens + cache_write_1h_tokens"
        )
    if point.batch:
        parts.append("coalesce(batch, false)")
    return " AND ".join(parts)


def _numbered(points: list[prices.PricePoint]) -> Any:
    import pyarrow as pa

    table = prices.points_arrow(points)
    return table.append_column("no", pa.array(range(len(points)), pa.int64()))


def _register_sources(store: Store, catalogue: prices.Catalogue, models: list[str]) -> None:
    import pyarrow as pa

    found = [tokenizer(m) for m in models]
    store.register(
        "_routing_sources",
        pa.table(
            {
                "model": pa.array(models, pa.string()),
                "family": pa.array([f for f, _ in found], pa.string()),
                "ratio": pa.array([r for _, r in found], pa.float64()),
                "provider": pa.array([catalogue.resolve(m).provider for m in models], pa.string()),
            }
        ),
    )


# One candidate's calls: the logged requests with token counts under the candidate's tokenizer.
# Parameters $f, $r, $p: the candidate's tokenizer family, its ratio, its provider.
_CALLS_SQL = """
SELECT r.row_key * {count} + {k} AS row_key, '#{k}' AS model, r.ts, r.batch,
    r.logged_model, r.cost_usd,
    CAST(round(CASE WHEN same_cache THEN coalesce(r.uncached_input_tokens, 0)
                    ELSE coalesce(r.input_tokens, 0) END * factor) AS BIGINT)
        AS uncached_input_tokens,
    CAST(round(CASE WHEN same_cache THEN coalesce(r.cached_input_tokens, 0) ELSE 0 END * factor)
         AS BIGINT) AS cached_input_tokens,
    CAST(round(CASE WHEN same_cache THEN coalesce(r.cache_write_5m_tokens, 0) ELSE 0 END * factor)
         AS BIGINT) AS cache_write_5m_tokens,
    CAST(round(CASE WHEN same_cache THEN coalesce(r.cache_write_1h_tokens, 0) ELSE 0 END * factor)
         AS BIGINT) AS cache_write_1h_tokens,
    coalesce(r.out_{k}, CAST(round(coalesce(r.output_tokens, 0) * factor) AS BIGINT))
        AS output_tokens,
    CASE WHEN r.out_{k} IS NULL
         THEN CAST(round(coalesce(r.reasoning_tokens, 0) * factor) AS BIGINT) ELSE 0 END
        AS reasoning_tokens,
    same_family
FROM (
    SELECT r.*,
        coalesce(s.family = {f}, false) AS same_family,
        CASE WHEN s.family = {f} THEN 1.0 ELSE {r} / coalesce(s.ratio, 1.0) END AS factor,
        coalesce(s.provider = {p}, false) AS same_cache
    FROM {relation} r LEFT JOIN _routing_sources s ON s.model = r.logged_model
) r
"""
