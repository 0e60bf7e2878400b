"""Conflicting duplicates: a record whose request id is already kept, with other content.

Ingest keeps one row per request id: the one stored first (an earlier file or run), else the
first line of the file. A later record with the same id and the same content (`content_md5`
over what a report shows: time, model, who, tokens, cost, status, texts) is a silent duplicate.
One with other content is a conflict: it is not stored in `requests`, but kept in `conflicts`
with where it came from and where the kept one came from, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from costlab.ingest.staging import STAGE_SCHEMA
from costlab.store import Store

# The staged columns whose values make a record's content (metadata and the format are how a
# log wrote it, not what happened; `messages` repeats the prompt).
CONTENT_COLUMNS = (
    "ts", "provider", "model_logged", "feature", "user_id", "team", "uncached_input_tokens",
    "cached_input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
    "reasoning_tokens", "total_tokens_logged", "batch", "logged_cost_usd", "latency_ms", "status",
    "system_prompt", "prompt", "response",
)  # fmt: skip
_TEXT_COLUMNS = frozenset({"system_prompt", "prompt", "messages", "response"})
_NOT_KEPT = frozenset({"row_key", "run_id", "source_file", "source_line"})


# The definition of `content_md5` that ingest stores (`requests.content_md5_version`): 1 took
# the system prompt's text, 2 (migration 014) its md5, which landing takes once per distinct
# text (a flat ingest spent ~1 s of CPU per 100,000 rows hashing the same 3 KB templates).
CONTENT_MD5_VERSION = 2


def content_md5(alias: str, system_prompt_md5: str, version: int) -> str:
    """SQL: the md5 of a staged row's content columns as text, unit-separated, NUL for null;
    from `version` 2 on, the system prompt is there as its md5 (`system_prompt_md5`, SQL).

    (Four times cheaper than the md5 of their JSON, which costs ~20 % of a flat ingest.)
    """
    texts = [
        system_prompt_md5 if c == "system_prompt" and version >= 2 else f"{alias}.{c}::VARCHAR"
        for c in CONTENT_COLUMNS
    ]
    fields = ", ".join(f"coalesce({text}, chr(0))" for text in texts)
    return f"md5(concat_ws(chr(31), {fields}))"


def record(store: Store, no_text: bool) -> None:
    """Keep the staged rows of `_stage` that conflict with a stored or an earlier staged row.

    Runs before the file's rows land in `requests`, so `requests` holds only earlier ones.
    """
    kept = [c for c in STAGE_SCHEMA.names if c not in _NOT_KEPT]
    if no_text:
        kept = [c for c in kept if c not in _TEXT_COLUMNS]
    fields = ", ".join(f"'{c}': s.{c}" for c in kept)
    # A stored row's hash is compared with the record's by the stored row's definition.
    stored_md5 = (
        f"CASE WHEN r.content_md5_version = 1 THEN {content_md5('s', 'NULL', 1)} "
        "ELSE s.content_md5 END"
    )
    store.execute(
        f"""
        INSERT INTO conflicts
        WITH ids AS (  -- ids seen twice: only their rows are hashed
            SELECT request_id FROM _stage WHERE format <> 'openai_batch_input'
            GROUP BY request_id HAVING count(*) > 1
            UNION
            SELECT s.request_id FROM _stage s SEMI JOIN requests r ON r.request_id = s.request_id
        ),
        staged AS (
            SELECT *, {content_md5("_stage", "md5(_stage.system_prompt)", CONTENT_MD5_VERSION)}
                       AS content_md5,
                   min(row_key) OVER (PARTITION BY request_id) AS first_key
            FROM _stage SEMI JOIN ids USING (request_id)
            WHERE format <> 'openai_batch_input'
        )
        SELECT s.run_id, s.source_file, s.source_line, s.request_id,
               coalesce(r.run_id, f.run_id), coalesce(r.source_file, f.source_file),
               coalesce(r.source_line, f.source_line), to_json({{{fields}}})
        FROM staged s
        LEFT JOIN requests r ON r.request_id = s.request_id
        JOIN staged f ON f.request_id = s.request_id AND f.row_key = s.first_key
        WHERE CASE WHEN r.request_id IS NOT NULL
                   THEN r.content_md5 IS NOT NULL AND r.content_md5 <> {stored_md5}
                   ELSE s.row_key <> f.row_key AND f.content_md5 <> s.content_md5 END
        """
    )


@dataclass(frozen=True)
class Conflict:
    """One record not stored because another with its request id, and other content, was."""

    request_id: str
    source_file: str
    source_line: int
    kept_source_file: str | None
    kept_source_line: int | None

    @property
    def where(self) -> str:
        return f"{self.source_file}:{self.source_line}"

    @property
    def kept_where(self) -> str:
        return f"{self.kept_source_file}:{self.kept_source_line}"


def of_file(store: Store, run_id: str, source_file: str) -> list[Conflict]:
    """The conflicts one file of one run had, in line order."""
    rows = store.rows(
        "SELECT request_id, source_file, source_line, kept_source_file, kept_source_line "
        "FROM conflicts WHERE run_id = ? AND source_file = ? ORDER BY source_line",
        [run_id, source_file],
    )
    return [Conflict(*row) for row in rows]


def recent(store: Store, run_id: str | None, limit: int) -> tuple[int, list[Conflict]]:
    """How many conflicts a run (or every run) had, and the first `limit`, in file order."""
    where = "WHERE ? IS NULL OR run_id = ?"
    row = store.row(f"SELECT count(*) FROM conflicts {where}", [run_id, run_id])
    rows = store.rows(
        "SELECT request_id, source_file, source_line, kept_source_file, kept_source_line "
        f"FROM conflicts {where} ORDER BY source_file, source_line LIMIT ?",
        [run_id, run_id, limit],
    )
    return (int(row[0]) if row else 0), [Conflict(*r) for r in rows]
