"""The store's schema as named migrations, applied in order at open (costlab.store).

Append only: a migration that has shipped is never edited or reordered; a change is a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Connection(Protocol):
    """What a migration needs of a DuckDB connection (only costlab.store imports duckdb)."""

    def execute(self, query: str, parameters: object = ...) -> Any: ...


# Money is exact: DECIMAL(38, 18) holds any per-token price and any realistic total.
MONEY = "DECIMAL(38, 18)"


def _m001_initial(con: Connection) -> None:
    con.execute(
        f"""
        CREATE TABLE requests (
            request_id VARCHAR NOT NULL,
            ts TIMESTAMP,
            provider VARCHAR,
            model VARCHAR,
            model_logged VARCHAR,
            feature VARCHAR,
            user_id VARCHAR,
            input_tokens BIGINT,
            uncached_input_tokens BIGINT,
            cached_input_tokens BIGINT,
            cache_write_5m_tokens BIGINT,
            cache_write_1h_tokens BIGINT,
            output_tokens BIGINT,
            reasoning_tokens BIGINT,
            total_tokens_logged BIGINT,
            batch BOOLEAN,
            cost_usd {MONEY},
            cost_source VARCHAR,
            logged_cost_usd {MONEY},
            computed_cost_usd {MONEY},
            price_note VARCHAR,
            latency_ms DOUBLE,
            status VARCHAR,
            system_prompt VARCHAR,
            prompt VARCHAR,
            messages JSON,
            response VARCHAR,
            prompt_hash VARCHAR,
            system_prompt_hash VARCHAR,
            flags VARCHAR[],
            format VARCHAR,
            metadata JSON,
            source_file VARCHAR,
            source_line BIGINT,
            run_id VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE rejects (
            run_id VARCHAR, source_file VARCHAR, source_line BIGINT,
            reason VARCHAR, raw VARCHAR, raw_bytes BIGINT
        )
        """
    )
    con.execute(
        """
        CREATE TABLE ingest_runs (
            run_id VARCHAR, source_file VARCHAR, sha256 VARCHAR,
            started_at TIMESTAMP, finished_at TIMESTAMP,
            records_read BIGINT, added BIGINT, duplicate BIGINT, rejected BIGINT,
            flagged BIGINT, no_timestamp BIGINT, status VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE batch_inputs (
            custom_id VARCHAR, model VARCHAR, system_prompt VARCHAR, prompt VARCHAR,
            messages JSON, source_file VARCHAR, run_id VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE embeddings (
            text_hash VARCHAR NOT NULL, embedder VARCHAR NOT NULL, dim INTEGER,
            vector FLOAT[], PRIMARY KEY (text_hash, embedder)
        )
        """
    )


def _m002_bucket_costs(con: Connection) -> None:
    # The computed cost of each token bucket, so reports can split spend without re-pricing.
    for column in (
        "uncached_input_cost_usd",
        "cached_input_cost_usd",
        "cache_write_cost_usd",
        "output_cost_usd",
        "reasoning_cost_usd",
    ):
        con.execute(f"ALTER TABLE requests ADD COLUMN {column} {MONEY}")


def _m003_team(con: Connection) -> None:
    # The team a call is billed to (LiteLLM team, or --map team=...), for team budgets.
    con.execute("ALTER TABLE requests ADD COLUMN team VARCHAR")


def _m004_neighbour_lists(con: Connection) -> None:
    # simulate-cache's similarity index: per embedder, one set of distinct texts (its keys are
    # their positions in text_hash order) and each key's neighbour keys, most similar first.
    con.execute(
        """
        CREATE TABLE neighbour_sets (
            embedder VARCHAR NOT NULL, min_threshold DOUBLE NOT NULL, keys BIGINT NOT NULL,
            pairs BIGINT NOT NULL, built_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE neighbour_lists (
            embedder VARCHAR NOT NULL, key INTEGER NOT NULL, text_hash VARCHAR NOT NULL,
            neighbours INTEGER[] NOT NULL, similarities FLOAT[] NOT NULL
        )
        """
    )


def _m005_outcomes(con: Connection) -> None:
    # Recorded quality of one model's answer to one request (route-replay's evidence). A row
    # names its request by id, or by the md5 of its prompt text when the file had no id.
    con.execute(
        """
        CREATE TABLE outcomes (
            request_id VARCHAR, prompt_md5 VARCHAR, model VARCHAR NOT NULL,
            score DOUBLE NOT NULL, output_tokens BIGINT,
            source_file VARCHAR, source_line BIGINT, loaded_at TIMESTAMP
        )
        """
    )


def _m006_intents(con: Connection) -> None:
    # simulate-cache's recurring intents at its focus threshold, one per replayed request, for
    # route-replay's rules (`intent`, `intent_size`). Only the last run's set is kept, with the
    # embedder, threshold, cache settings and request scope it came from. `intent` ids rank the
    # intents as the cache report lists them: 1 is the largest.
    con.execute(
        """
        CREATE TABLE intent_sets (
            embedder VARCHAR NOT NULL, threshold DOUBLE NOT NULL, cache_key VARCHAR NOT NULL,
            normalized BOOLEAN NOT NULL, cache_scope VARCHAR[] NOT NULL, ttl_s DOUBLE,
            max_entries BIGINT, since DATE, until DATE, where_sql VARCHAR,
            requests BIGINT NOT NULL, intents BIGINT NOT NULL, recurring BIGINT NOT NULL,
            built_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        f"""
        CREATE TABLE intents (
            intent INTEGER NOT NULL, requests BIGINT NOT NULL, hits BIGINT NOT NULL,
            spend_usd {MONEY}, first_request_id VARCHAR NOT NULL, prompt VARCHAR NOT NULL
        )
        """
    )
    con.execute(
        "CREATE TABLE request_intents (request_id VARCHAR NOT NULL, intent INTEGER NOT NULL)"
    )


def _m007_conflicts(con: Connection) -> None:
    # Records that share a request id with a kept one but differ in content: kept here (as the
    # staged row in JSON) so that dropping the duplicate loses nothing. `content_md5` is what
    # ingest compares; rows stored before this migration have none (and are never a conflict).
    con.execute("ALTER TABLE requests ADD COLUMN content_md5 VARCHAR")
    con.execute(
        """
        CREATE TABLE conflicts (
            run_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_line BIGINT NOT NULL,
            request_id VARCHAR NOT NULL, kept_run_id VARCHAR, kept_source_file VARCHAR,
            kept_source_line BIGINT, record JSON
        )
        """
    )


def _m008_entry_lists(con: Connection) -> None:
    # simulate-cache's index becomes entry lists (costlab.cache.entries): per key the keys that
    # may serve it and how far down that list is complete; bounded by the entries, not by the
    # square of the texts. The old complete lists were a cache of vectors still stored: dropped.
    con.execute("DROP TABLE IF EXISTS neighbour_lists")
    con.execute("DROP TABLE IF EXISTS neighbour_sets")
    con.execute(
        """
        CREATE TABLE entry_sets (
            embedder VARCHAR NOT NULL, search VARCHAR NOT NULL, probes INTEGER,
            keys BIGINT NOT NULL, pairs BIGINT NOT NULL, built_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE entry_lists (
            embedder VARCHAR NOT NULL, key INTEGER NOT NULL, text_hash VARCHAR NOT NULL,
            complete_from FLOAT NOT NULL, seeded_from FLOAT NOT NULL,
            neighbours INTEGER[] NOT NULL, similarities FLOAT[] NOT NULL
        )
        """
    )


def _m009_embedding_imports(con: Connection) -> None:
    # Vectors brought from the user's own embedding model (`costlab embeddings import`): one row
    # per import, saying how its keys were mapped to simulate-cache's and what was counted.
    con.execute(
        """
        CREATE TABLE embedding_imports (
            embedder VARCHAR NOT NULL, source_file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            keyed_by VARCHAR NOT NULL, cache_key VARCHAR NOT NULL, normalized BOOLEAN NOT NULL,
            dim INTEGER NOT NULL, vectors BIGINT NOT NULL, vectors_stored BIGINT NOT NULL,
            renormalized BIGINT NOT NULL, conflicting_keys BIGINT NOT NULL,
            unmatched BIGINT NOT NULL, imported_at TIMESTAMP NOT NULL
        )
        """
    )


def _m010_ingest_offsets(con: Connection) -> None:
    # An appended file is read from where the last read ended: the end of its last complete
    # line, and the sha256 of the bytes before it (a rewritten or rotated file is read whole).
    con.execute("ALTER TABLE ingest_runs ADD COLUMN bytes_read BIGINT")
    con.execute("ALTER TABLE ingest_runs ADD COLUMN head_sha256 VARCHAR")


def _m011_intent_methods(con: Connection) -> None:
    # `costlab intents` stores intents from an order-independent clustering beside
    # simulate-cache's leader clusters: the set says which method made it, an intent has a
    # cohesion (the mean similarity of its distinct prompts) and no hits (NULL) when the method
    # replays no cache.
    con.execute("ALTER TABLE intent_sets ADD COLUMN method VARCHAR DEFAULT 'leader'")
    con.execute("UPDATE intent_sets SET method = 'leader'")
    con.execute("ALTER TABLE intent_sets ALTER COLUMN method SET NOT NULL")
    con.execute("ALTER TABLE intents ADD COLUMN cohesion DOUBLE")
    con.execute("ALTER TABLE intents ALTER COLUMN hits DROP NOT NULL")


def _m012_postgres_watermark(con: Connection) -> None:
    # A run that read a PostgreSQL table keeps how far it read (costlab.postgres.watermark).
    con.execute("ALTER TABLE ingest_runs ADD COLUMN watermark_ts TIMESTAMP")
    con.execute("ALTER TABLE ingest_runs ADD COLUMN watermark_ids VARCHAR[]")


def _m013_entry_samples(con: Connection) -> None:
    # An approximate run's check (costlab.cache.fidelity) needs the exact lists of a random
    # sample of keys; kept beside the entry lists, a re-run checks itself without the vectors.
    con.execute(
        """
        CREATE TABLE entry_samples (
            embedder VARCHAR NOT NULL, keys BIGINT NOT NULL, floor FLOAT NOT NULL,
            key INTEGER NOT NULL, neighbours INTEGER[] NOT NULL, similarities FLOAT[] NOT NULL
        )
        """
    )


def _m014_content_md5_version(con: Connection) -> None:
    # `content_md5` now holds the system prompt's md5 in place of its text (conflicts.py, version
    # 2): the rows hashed before keep their hash, marked version 1, and a record read again is
    # compared with a stored row by the stored row's definition (no false conflict).
    con.execute("ALTER TABLE requests ADD COLUMN content_md5_version TINYINT")
    con.execute("UPDATE requests SET content_md5_version = 1 WHERE content_md5 IS NOT NULL")


Migration = tuple[str, Callable[[Connection], None]]

# Append only: never edit or reorder a migration that has shipped.
MIGRATIONS: list[Migration] = [
    ("001_initial", _m001_initial),
    ("002_bucket_costs", _m002_bucket_costs),
    ("003_team", _m003_team),
    ("004_neighbour_lists", _m004_neighbour_lists),
    ("005_outcomes", _m005_outcomes),
    ("006_intents", _m006_intents),
    ("007_conflicts", _m007_conflicts),
    ("008_entry_lists", _m008_entry_lists),
    ("009_embedding_imports", _m009_embedding_imports),
    ("010_ingest_offsets", _m010_ingest_offsets),
    ("011_intent_methods", _m011_intent_methods),
    ("012_postgres_watermark", _m012_postgres_watermark),
    ("013_entry_samples", _m013_entry_samples),
    ("014_content_md5_version", _m014_content_md5_version),
]
