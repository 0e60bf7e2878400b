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
Prices, dates and long-context tiers come from the catalogue through `prices.cost_sql`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from costlab import prices
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
COSTS = "_candidate_costs"


def tokenizer(model: str) -> tuple[str | None, float]:
    """The tokenizer family of a model name and its tokens per cl100k token (None: unknown)."""
    name = model.lower().rsplit("/", 1)[-1]
    for pattern, family, ratio in TOKENIZERS:
        if re.search(pattern, name):
            return family, ratio
    return None, UNKNOWN_RATIO


def price(
    store: Store, catalogue: prices.Catalogue, candidates: Sequence[Candidate], relation: str
) -> str:
    """Create a table of each request's cost (`c_K`) and estimate flag (`e_K`) per candidate.

    `relation` has row_key, logged_model, ts, batch, the token buckets, cost_usd and the
    candidates' outcome answer lengths `out_K`; the table made is keyed by row_key.
    """
    logged = [r[0] for r in store.rows(f"SELECT DISTINCT logged_model FROM {relation}")]
    _register_sources(store, catalogue, [m for m in logged if m is not None])
    points: list[prices.PricePoint] = []
    for k, candidate in enumerate(candidates):
        source = (
            prices.Catalogue({}, "policy", "", overrides=(candidate.override,)).points(
                [candidate.name]
            )
            if candidate.override
            else catalogue.points([candidate.price_as])
        )
        points += [dataclasses.replace(p, model=f"#{k}") for p in source]
    store.register("_candidate_points", prices.points_arrow(points))
    count = max(1, len(candidates))
    selects, params = [], []
    for k, candidate in enumerate(candidates):
        family, ratio = tokenizer(candidate.price_as)
        provider = catalogue.resolve(candidate.price_as).provider
        n = 3 * k
        selects.append(
            _CALLS_SQL.format(relation=relation, count=count, k=k, f=n + 1, r=n + 2, p=n + 3)
        )
        params += [family, ratio, provider]
    try:
        store.execute(
            "CREATE OR REPLACE TEMP TABLE _candidate_calls AS " + " UNION ALL ".join(selects),
            params,
        )
        columns = ", ".join(
            f"CASE WHEN any_value(k.logged_model) = ${i + 1} THEN any_value(k.cost_usd) ELSE "
            f"max(k.computed_cost_usd) FILTER (WHERE k.row_key % {count} = {i}) END AS c_{i}, "
            f"CASE WHEN any_value(k.logged_model) = ${i + 1} THEN false ELSE "
            f"bool_or(k.estimated) FILTER (WHERE k.row_key % {count} = {i}) END AS e_{i}"
            for i in range(len(candidates))
        )
        store.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {COSTS} AS
            SELECT k.row_key // {count} AS row_key{", " + columns if columns else ""}
            FROM (SELECT calls.row_key, calls.estimated, calls.logged_model, calls.cost_usd,
                         cost.computed_cost_usd
                  FROM _candidate_calls calls
                  JOIN ({prices.cost_sql("_candidate_calls", "_candidate_points")}) cost
                    ON cost.row_key = calls.row_key) k
            GROUP BY k.row_key // {count}
            """,
            [c.name for c in candidates],
        )
        store.execute("DROP TABLE _candidate_calls")
    finally:
        store.unregister("_candidate_points")
        store.unregister("_routing_sources")
    return COSTS


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
    NOT same_family AS estimated
FROM (
    SELECT r.*,
        coalesce(s.family = ${f}, false) AS same_family,
        CASE WHEN s.family = ${f} THEN 1.0 ELSE ${r} / coalesce(s.ratio, 1.0) END AS factor,
        coalesce(s.provider = ${p}, false) AS same_cache
    FROM {relation} r LEFT JOIN _routing_sources s ON s.model = r.logged_model
) r
"""
