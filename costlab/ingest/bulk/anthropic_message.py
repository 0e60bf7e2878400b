"""The Anthropic Messages fast path: `{request, response}` records an application logs around a
Messages API call, mapped in SQL exactly as `formats.anthropic` maps them.

As in `openai_chat`: one `json_keys` and one `json_extract` of many paths a record; the request
messages, the system blocks and the response content are read into typed lists, taken only
when those lists written back are the very text logged.

Taken only when every part is of the plain shape the per-record path maps the same way:
- top-level keys among request, response, timestamp (ISO text), user, user_id, feature, team,
  latency_ms, duration_ms, request_id, cost, cost_usd;
- a request of model, system (text, or `{type, text}` blocks, each with the same
  `cache_control` or none), messages (`{role, content}` with text
  content), metadata (`{user_id}`), plus known settings with plain scalar values;
- a `message` response whose content is text blocks only, with usage counts (input, output,
  cache read, cache creation and its 5m/1h split) and a plain `service_tier`.
Cache writes follow `usage.anthropic`: with the split the 5m and 1h buckets are its counts (a
split that disagrees with the total is flagged), without it every write is a 5m write.
"""

from __future__ import annotations

from costlab.ingest.bulk.sql import (
    COST_TEXT,
    LATENCY_TEXT,
    Values,
    json_object,
    keys_within,
    well_formed,
)
from costlab.ingest.staging import MAX_CALLS_PER_RECORD

NAME = "anthropic_message"
_TOP = (
    "request", "response", "timestamp", "user", "user_id", "feature", "team", "latency_ms",
    "duration_ms", "request_id", "cost", "cost_usd",
)  # fmt: skip
_REQUEST_EXTRAS = (
    "max_tokens", "temperature", "top_p", "top_k", "stream", "service_tier",
)  # fmt: skip
_REQUEST = ("model", "system", "messages", "metadata", *_REQUEST_EXTRAS)
_BODY_EXTRAS = ("stop_reason", "stop_sequence")
_BODY = ("id", "type", "role", "content", "model", "usage", *_BODY_EXTRAS)
_COUNTS = (
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
)  # fmt: skip
_USAGE = (*_COUNTS, "cache_creation", "service_tier")
_SPLIT = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")

_R, _B, _U = "$.request", "$.response", "$.response.usage"
_S = f"{_U}.cache_creation"
_OBJECTS = ("$", _R, _B, _U, _S, f"{_R}.metadata")
_V = Values(
    (
        *(f"$.{k}" for k in _TOP),
        *(f"{_R}.{k}" for k in ("model", "system", "messages", "metadata", *_REQUEST_EXTRAS)),
        f"{_R}.metadata.user_id",
        *(f"{_B}.{k}" for k in ("id", "type", "role", "content", "model", *_BODY_EXTRAS)),
        *(f"{_U}.{k}" for k in _COUNTS), f"{_U}.service_tier", _S,
        *(f"{_S}.{k}" for k in _SPLIT),
    )
)  # fmt: skip
_MESSAGES_TYPE = '[{"role": "VARCHAR", "content": "VARCHAR"}]'
_BLOCKS_TYPE = '[{"type": "VARCHAR", "text": "VARCHAR"}]'
# System blocks marked for prompt caching (every block of the list the same way).
_CACHED_TYPE = '[{"type": "VARCHAR", "text": "VARCHAR", "cache_control": {"type": "VARCHAR"}}]'
_CACHED_TTL = (
    '[{"type": "VARCHAR", "text": "VARCHAR", '
    '"cache_control": {"type": "VARCHAR", "ttl": "VARCHAR"}}]'
)


def _key_checks() -> str:
    allowed: list[tuple[str, ...]] = [_TOP, _REQUEST, _BODY, _USAGE, _SPLIT, ("user_id",)]
    checks = [keys_within(f"k[{i + 1}]", keys) for i, keys in enumerate(allowed)]
    return " AND ".join(["k IS NOT NULL", *checks])


def _value_checks() -> str:
    v = _V
    texts = ("user", "user_id", "feature", "team", "request_id")
    system = v.at(f"{_R}.system")
    tests = [
        v.is_object("$.request"),
        v.is_object("$.response"),
        f"{v.at(f'{_B}.type')} = '\"message\"'",
        f"{v.is_string(f'{_B}.model')} AND {v.at(f'{_B}.model')} <> '\"\"'",
        v.optional(f"{_B}.id", v.is_string(f"{_B}.id")),
        v.optional(f"{_B}.role", v.is_string(f"{_B}.role")),
        *(v.optional(f"{_B}.{k}", v.is_plain(f"{_B}.{k}")) for k in _BODY_EXTRAS),
        f"starts_with({v.at(f'{_B}.content')}, '[')",
        *(v.optional(f"{_R}.{k}", v.is_plain(f"{_R}.{k}")) for k in _REQUEST_EXTRAS),
        v.optional(f"{_R}.model", v.is_plain(f"{_R}.model")),
        v.optional(f"{_R}.metadata", v.is_object(f"{_R}.metadata")),
        v.optional(f"{_R}.metadata.user_id", v.is_string(f"{_R}.metadata.user_id")),
        f"({v.absent(f'{_R}.system')} OR {v.is_string(f'{_R}.system')} "
        f"OR starts_with({system}, '[{{'))",
        f"starts_with({v.at(f'{_R}.messages')}, '[{{')",
        *(v.optional(f"$.{k}", v.is_string(f"$.{k}")) for k in texts),
        v.optional("$.timestamp", v.is_iso("$.timestamp")),
        *(v.optional(f"$.{k}", f"regexp_full_match({v.at(f'$.{k}')}, '{COST_TEXT}')")
          for k in ("cost", "cost_usd")),
        *(v.optional(f"$.{k}", f"regexp_full_match({v.at(f'$.{k}')}, '{LATENCY_TEXT}')")
          for k in ("latency_ms", "duration_ms")),
        v.is_count(f"{_U}.input_tokens"),
        v.is_count(f"{_U}.output_tokens"),
        *(v.optional(f"{_U}.{k}", v.is_count(f"{_U}.{k}")) for k in _COUNTS[2:]),
        v.optional(f"{_U}.service_tier", v.is_plain(f"{_U}.service_tier")),
        v.optional(_S, v.is_object(_S)),
        *(v.optional(f"{_S}.{k}", v.is_count(f"{_S}.{k}")) for k in _SPLIT),
    ]  # fmt: skip
    return "\n      AND ".join(tests)


def _metadata() -> str:
    """As `formats.anthropic` + `formats.wrapped` build it, keys sorted (as orjson writes them)."""
    v = _V
    request = json_object([v.pair(k, f"{_R}.{k}") for k in sorted(("metadata", *_REQUEST_EXTRAS))])
    usage = f"CASE WHEN NOT {v.absent(f'{_U}.service_tier')} THEN '\"usage\":{{' || {v.pair('service_tier', f'{_U}.service_tier')} || '}}' END"  # noqa: E501
    response = json_object([*(v.pair(k, f"{_B}.{k}") for k in sorted(_BODY_EXTRAS)), usage])
    response_id = (
        f"CASE WHEN app_id IS NOT NULL AND body_id IS NOT NULL AND body_id <> app_id "
        f"THEN '\"response_id\":' || {v.at(f'{_B}.id')} END"
    )
    return json_object(
        [
            f"CASE WHEN {request} <> '{{}}' THEN '\"request\":' || {request} END",
            f"CASE WHEN {response} <> '{{}}' THEN '\"response\":' || {response} END",
            response_id,
        ]
    )


def insert_sql(max_tokens: int) -> str:
    """One INSERT staging the well-formed Messages records of `_bulk` among the lines after the
    first placeholder, up to the second (then: file, run)."""
    v = _V
    objects = "[" + ", ".join(f"'{p}'" for p in _OBJECTS) + "]"
    input_n, output_n = v.count(f"{_U}.input_tokens"), v.count(f"{_U}.output_tokens")
    read_n = v.count(f"{_U}.cache_read_input_tokens")
    write_n = v.count(f"{_U}.cache_creation_input_tokens")
    split = f"{v.is_object(_S)}"
    w5m, w1h = (v.count(f"{_S}.{k}") for k in _SPLIT)
    stamp = f"CASE WHEN NOT {v.absent('$.timestamp')} THEN {v.ts('$.timestamp')} END"
    latency, duration = v.at("$.latency_ms"), v.at("$.duration_ms")
    cost, cost_usd = v.at("$.cost"), v.at("$.cost_usd")
    system, messages, content = (
        v.at(f"{_R}.system"),
        v.at(f"{_R}.messages"),
        v.at(f"{_B}.content"),
    )
    limit = int(max_tokens)
    return f"""
INSERT INTO _stage
WITH parsed AS MATERIALIZED (
    SELECT line_no, try(json_keys(raw, {objects})) AS k,
           try(json_extract(raw, {v.sql_paths()})) AS v,
           CASE WHEN NOT contains(raw, '"id"') AND NOT contains(raw, '"request_id"')
                THEN 'content:' || left(sha256(raw), 24) END AS content_id
    FROM _bulk WHERE line_no > ? AND line_no <= ? AND raw IS NOT NULL
                     AND contains(raw, '"message"') AND {well_formed("raw")}
), shaped AS MATERIALIZED (
    SELECT *, {input_n} AS input_n, {output_n} AS output_n, {read_n} AS read_n,
           {write_n} AS write_n,
           CASE WHEN {split} THEN {w5m} ELSE {write_n} END AS w5m_n,
           CASE WHEN {split} THEN {w1h} ELSE 0 END AS w1h_n,
           try(from_json({messages}, '{_MESSAGES_TYPE}')) AS ms,
           try(from_json({content}, '{_BLOCKS_TYPE}')) AS blocks,
           CASE WHEN NOT starts_with({system}, '[') THEN true
                WHEN contains({system}, '"ttl"')
                THEN to_json(try(from_json({system}, '{_CACHED_TTL}')))::VARCHAR = {system}
                WHEN contains({system}, '"cache_control"')
                THEN to_json(try(from_json({system}, '{_CACHED_TYPE}')))::VARCHAR = {system}
                ELSE to_json(try(from_json({system}, '{_BLOCKS_TYPE}')))::VARCHAR = {system}
                END AS system_ok,
           CASE WHEN starts_with({system}, '[')
                THEN list_filter(try(from_json({system}, '[{{"text": "VARCHAR"}}]')),
                                 lambda b: b.text IS NOT NULL) END AS system_blocks,
           {v.text("$.request_id")} AS app_id, {v.text(f"{_B}.id")} AS body_id
    FROM parsed
    WHERE v IS NOT NULL AND {_key_checks()}
      AND {_value_checks()}
), mapped AS (
    SELECT *, {stamp} AS ts,
           CASE WHEN {v.is_string(f"{_R}.system")} THEN {v.string(f"{_R}.system")}
                WHEN len(system_blocks) > 0
                THEN array_to_string(list_transform(system_blocks, lambda b: b.text), chr(10))
                END AS system_text
    FROM shaped
    WHERE coalesce(app_id, body_id, content_id) IS NOT NULL
      AND to_json(ms)::VARCHAR = {messages}
      AND to_json(blocks)::VARCHAR = {content}
      AND list_bool_and(list_transform(blocks, lambda b: b.type = 'text' AND b.text IS NOT NULL))
          IS NOT FALSE
      AND system_ok
      AND greatest(input_n, read_n, w5m_n, w1h_n, output_n) <= {limit}
)
SELECT line_no * {MAX_CALLS_PER_RECORD},
       coalesce(app_id, body_id, content_id),
       ts, 'anthropic', {v.string(f"{_B}.model")},
       {v.text("$.feature")}, coalesce({v.text("$.user_id")}, {v.text("$.user")},
       {v.text(f"{_R}.metadata.user_id")}),
       input_n, read_n, w5m_n, w1h_n, output_n, 0, NULL,
       false,
       CASE WHEN NOT {v.absent("$.cost_usd")} THEN {cost_usd}
            WHEN NOT {v.absent("$.cost")} THEN {cost} END,
       CASE WHEN NOT {v.absent("$.latency_ms")} THEN {latency}::DOUBLE
            WHEN NOT {v.absent("$.duration_ms")} THEN {duration}::DOUBLE END,
       'ok', system_text,
       list_filter(ms, lambda m: m.role = 'user')[-1].content,
       {messages},
       nullif(array_to_string(list_transform(blocks, lambda b: b.text), ''), ''),
       list_filter([CASE WHEN {split} AND write_n <> 0 AND w5m_n + w1h_n <> write_n
                         THEN 'cache_write_split_mismatch' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       '{NAME}', {_metadata()}, ?, line_no, ?,
       {v.text("$.team")}
FROM mapped
"""
