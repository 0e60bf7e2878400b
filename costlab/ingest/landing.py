"""Landing: staged calls become rows of `requests`, with normalised models and exact costs.

One statement does it: the catalogue name of each model, the computed cost next to the logged
one, prompt hashes, and no request id stored twice (within the file or across the store).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from costlab import costs, prices, settings
from costlab.ingest import conflicts, prompt_hash
from costlab.store import Store


def land(store: Store, catalogue: prices.Catalogue, no_text: bool) -> None:
    """Insert the staged calls that are new into `requests`, priced."""
    logged = [r[0] for r in store.rows("SELECT DISTINCT model_logged FROM _stage")]
    resolutions = {name: catalogue.resolve(name) for name in logged if name}
    _create_table(store, "_models", _models_columns(resolutions), {})
    known = sorted({r.model for r in resolutions.values() if r.model})
    _create_table(store, "_points", prices.points_columns(catalogue.points(known)), _POINT_TYPES)
    text = "NULL" if no_text else None
    store.execute(_TEMPLATES_SQL)
    version = conflicts.CONTENT_MD5_VERSION
    content_md5 = conflicts.content_md5("s", "p.md5", version)
    store.execute(_CALLS_SQL.format(content_md5=content_md5, version=int(version)))
    with prompt_hash.sql(store, "_templates") as prompt_md5:
        store.execute(
            _INSERT_SQL.format(
                priced=costs.priced_sql("_calls", "_points"),
                system_prompt=text or "system_prompt",
                prompt=text or "prompt",
                messages=text or "messages",
                response=text or "response",
                prompt_hash=prompt_md5,
            ),
            [settings.MISMATCH_RELATIVE, settings.MISMATCH_ABSOLUTE_USD],
        )
    store.execute("DROP VIEW _calls")
    for table in ("_templates", "_models", "_points"):
        store.execute(f"DROP TABLE {table}")


def _models_columns(resolutions: Mapping[str, prices.Resolution]) -> dict[str, list[Any]]:
    names = list(resolutions)
    return {
        "logged": names,
        "model": [resolutions[n].model for n in names],
        "provider": [resolutions[n].provider for n in names],
        "note": [resolutions[n].note for n in names],
    }


_POINT_TYPES = {"since": "DATE", "above_tokens": "BIGINT", "batch": "BOOLEAN"} | dict.fromkeys(
    prices.PRICE_FIELDS, "DECIMAL(38, 18)"
)


def _create_table(
    store: Store, name: str, columns: Mapping[str, list[Any]], types: Mapping[str, str]
) -> None:
    """A small temp table from Python lists, bound as text and cast (VARCHAR unless `types`).

    Not Arrow: building an Arrow array imports pandas, ~0.3 s of a flat file's ingest.
    """
    select = ", ".join(
        f"CAST(unnest(?::VARCHAR[]) AS {types.get(column, 'VARCHAR')}) AS {column}"
        for column in columns
    )
    values = [[None if v is None else _text(v) for v in column] for column in columns.values()]
    store.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select}", values)


def _text(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


# The calls that are new (no request id stored twice, within the file or across the store),
# with their catalogue model. Pricing reads them in one streaming pass (`costs.priced_sql`).
# A system prompt is most often one of a few templates: its md5 is taken once per distinct
# text and joined back (on the text itself; its 64-bit hash only finds it fast), not once per
# row (measured: 0.23 s instead of 0.58 s for 100,000 rows of 3 KB prompts, 5 distinct); the
# content hash takes that md5 in place of the text, and the prompt hash goes on from it.
_TEMPLATES_SQL = """
CREATE OR REPLACE TEMP TABLE _templates AS
SELECT hash(text) AS key, text, md5(text) AS md5
FROM (SELECT DISTINCT system_prompt AS text FROM _stage WHERE system_prompt IS NOT NULL)
"""
_CALLS_SQL = """
CREATE OR REPLACE TEMP VIEW _calls AS
SELECT s.* EXCLUDE (provider, logged_cost_usd),
       coalesce(s.provider, m.provider) AS provider,
       coalesce(m.model, s.model_logged) AS model, m.model AS known, m.note AS resolve_note,
       s.logged_cost_usd::DECIMAL(38, 18) AS logged, {content_md5} AS content_md5,
       {version}::TINYINT AS content_md5_version, p.md5 AS system_prompt_md5
FROM _stage s
LEFT JOIN _models m ON m.logged = s.model_logged
LEFT JOIN _templates p ON hash(s.system_prompt) = p.key AND s.system_prompt = p.text
WHERE s.format <> 'openai_batch_input'
  AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = s.request_id)
  AND s.row_key IN (SELECT min(row_key) FROM _stage GROUP BY request_id)
"""

# The one statement that turns staged records into stored requests: normalised model, exact
# cost (logged kept beside computed), prompt hashes.
_INSERT_SQL = """
INSERT INTO requests BY NAME
SELECT request_id, ts, provider, model, model_logged, feature, user_id, team,
       uncached_input_tokens + cached_input_tokens + cache_write_5m_tokens
           + cache_write_1h_tokens AS input_tokens,
       uncached_input_tokens, cached_input_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, output_tokens, reasoning_tokens, total_tokens_logged, batch,
       coalesce(logged, computed) AS cost_usd,
       CASE WHEN logged IS NOT NULL THEN 'logged'
            WHEN computed IS NOT NULL THEN 'computed' END AS cost_source,
       logged AS logged_cost_usd, computed AS computed_cost_usd,
       CASE WHEN no_tokens AND model_logged IS NULL THEN 'no model logged: no tokens billed'
            WHEN known IS NULL THEN 'unknown model: not in the price catalogue'
            ELSE nullif(concat_ws('; ', resolve_note, price_note,
                 CASE WHEN abs(logged - computed) > greatest(computed * ?, ?)
                      THEN 'logged cost disagrees with computed cost' END), '') END
           AS price_note,
       uncached_input_cost_usd, cached_input_cost_usd, cache_write_cost_usd, output_cost_usd,
       reasoning_cost_usd,
       latency_ms, status,
       {system_prompt} AS system_prompt, {prompt} AS prompt, {messages} AS messages,
       {response} AS response,
       CASE WHEN prompt IS NOT NULL OR system_prompt IS NOT NULL
            THEN {prompt_hash} END AS prompt_hash,
       system_prompt_md5 AS system_prompt_hash,
       flags, format, metadata, source_file, source_line, run_id, content_md5,
       content_md5_version
FROM (
    SELECT * EXCLUDE (computed_cost_usd),
           CASE WHEN model_logged IS NULL AND no_tokens THEN 0::DECIMAL(38, 18)
                ELSE computed_cost_usd END AS computed
    FROM (
        SELECT *, uncached_input_tokens + cached_input_tokens + cache_write_5m_tokens
                  + cache_write_1h_tokens + output_tokens = 0 AS no_tokens
        FROM ({priced})
    )
)
"""


def store_batch_inputs(store: Store, no_text: bool) -> None:
    """Keep the staged Batch API input lines (once each) for joining with their outputs.

    Under --no-text they are not kept at all: their only use is the prompt text.
    """
    if no_text:
        return
    store.execute(
        "INSERT INTO batch_inputs SELECT json_extract_string(metadata, '$.custom_id'), "
        "model_logged, system_prompt, prompt, messages, source_file, run_id "
        "FROM _stage s WHERE format = 'openai_batch_input' AND NOT EXISTS (SELECT 1 "
        "FROM batch_inputs b WHERE b.custom_id = json_extract_string(s.metadata, '$.custom_id') "
        "AND b.prompt IS NOT DISTINCT FROM s.prompt "
        "AND b.system_prompt IS NOT DISTINCT FROM s.system_prompt)"
    )


def join_batch_inputs(store: Store, no_text: bool) -> None:
    """Fill the prompt of Batch API outputs from their input lines, joined on custom_id."""
    if no_text:
        return
    # A custom_id with different prompts in several input lines is ambiguous: not joined.
    store.execute(
        """
        UPDATE requests SET system_prompt = b.system_prompt, prompt = b.prompt,
            messages = b.messages,
            prompt_hash = md5(coalesce(b.system_prompt, '') || chr(0) || coalesce(b.prompt, '')),
            system_prompt_hash = CASE WHEN b.system_prompt IS NOT NULL
                                      THEN md5(b.system_prompt) END
        FROM (SELECT custom_id, any_value(system_prompt) AS system_prompt,
                     any_value(prompt) AS prompt, any_value(messages) AS messages
              FROM batch_inputs GROUP BY custom_id
              HAVING count(DISTINCT (system_prompt, prompt)) = 1) b
        WHERE requests.format = 'openai_batch_output' AND requests.prompt IS NULL
          AND json_extract_string(requests.metadata, '$.custom_id') = b.custom_id
        """
    )
