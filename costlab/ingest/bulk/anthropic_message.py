"""The Anthropic Messages fast path: `{request, response}` records an application logs around a
Messages API call, mapped in SQL exactly as `formats.anthropic` maps them.

A record is read in four calls of many paths each, none of which writes a large value back:
`json_keys` of every object (each message and block too), `json_type` of the lists' values,
`json_extract` of the small scalars, and `from_json` of the messages, system blocks and content
into typed lists. A list is taken only when each of its items has exactly the keys the typed
list holds, in that order, with text values (at most 16 messages, 4 system blocks, 8 content
blocks): written back, it is the text logged.

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
    wrapped_metadata,
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
# Messages and blocks a record may hold to be mapped here (their keys are checked one by one).
_MESSAGES, _SYSTEM, _CONTENT = 16, 4, 8
_M, _SB, _CB = f"{_R}.messages", f"{_R}.system", f"{_B}.content"
_OBJECTS = (
    "$", _R, _B, _U, _S, f"{_R}.metadata",
    *(f"{_M}[{i}]" for i in range(_MESSAGES)),
    *(f"{_SB}[{i}]" for i in range(_SYSTEM)),
    *(f"{_SB}[{i}].cache_control" for i in range(_SYSTEM)),
    *(f"{_CB}[{i}]" for i in range(_CONTENT)),
)  # fmt: skip
# The JSON types of the lists' values (`json_type` of many paths: one parse, nothing written).
_TYPES = (
    _SB, _M, _CB, f"{_M}[{_MESSAGES}]", f"{_SB}[{_SYSTEM}]", f"{_CB}[{_CONTENT}]",
    *(f"{_M}[{i}].{k}" for i in range(_MESSAGES) for k in ("role", "content")),
    *(f"{_SB}[{i}].{k}" for i in range(_SYSTEM) for k in ("type", "text")),
    *(f"{_SB}[{i}].cache_control.{k}" for i in range(_SYSTEM) for k in ("type", "ttl")),
    *(f"{_CB}[{i}].{k}" for i in range(_CONTENT) for k in ("type", "text")),
)  # fmt: skip
# The lists themselves, read typed in one parse.
_LISTS = (
    '{"request": {"messages": [{"role": "VARCHAR", "content": "VARCHAR"}], '
    '"system": [{"text": "VARCHAR"}]}, '
    '"response": {"content": [{"type": "VARCHAR", "text": "VARCHAR"}]}}'
)
_V = Values(
    (
        *(f"$.{k}" for k in _TOP),
        *(f"{_R}.{k}" for k in ("model", "metadata", *_REQUEST_EXTRAS)),
        f"{_R}.metadata.user_id",
        *(f"{_B}.{k}" for k in ("id", "type", "role", "model", *_BODY_EXTRAS)),
        *(f"{_U}.{k}" for k in _COUNTS), f"{_U}.service_tier", _S,
        *(f"{_S}.{k}" for k in _SPLIT),
    )
)  # fmt: skip


def _ty(path: str) -> str:
    return f"t[{_TYPES.index(path) + 1}]"


def _key_checks() -> str:
    allowed: list[tuple[str, ...]] = [_TOP, _REQUEST, _BODY, _USAGE, _SPLIT, ("user_id",)]
    checks = [keys_within(f"k[{i + 1}]", keys) for i, keys in enumerate(allowed)]
    at = len(allowed)
    # Each message exactly {role, content}, each block {type, text} (a system block may add
    # cache_control): written back from the typed lists, they are the text logged.
    for i in range(_MESSAGES):
        checks.append(f"coalesce(k[{at + i + 1}] = ['role', 'content'], true)")
    at += _MESSAGES
    for i in range(_SYSTEM):
        checks.append(
            f"coalesce(k[{at + i + 1}] IN (['type', 'text'], ['type', 'text', 'cache_control']),"
            " true)"
        )
        checks.append(keys_within(f"k[{at + _SYSTEM + i + 1}]", ("type", "ttl")))
    at += 2 * _SYSTEM
    for i in range(_CONTENT):
        checks.append(f"coalesce(k[{at + i + 1}] = ['type', 'text'], true)")
    return " AND ".join(["k IS NOT NULL", *checks])


def _type_checks() -> str:
    """Every message a text role and text (or null) content; every block text; no more of
    them than the keys were checked for."""
    tests = [
        f"{_ty(_M)} = 'ARRAY'",
        f"coalesce({_ty(_SB)} IN ('ARRAY', 'VARCHAR', 'NULL'), true)",
        f"{_ty(_CB)} = 'ARRAY'",
        *(f"{_ty(p)} IS NULL" for p in (f"{_M}[{_MESSAGES}]", f"{_SB}[{_SYSTEM}]")),
        f"{_ty(f'{_CB}[{_CONTENT}]')} IS NULL",
    ]
    for i in range(_MESSAGES):
        role, content = _ty(f"{_M}[{i}].role"), _ty(f"{_M}[{i}].content")
        tests.append(f"coalesce({role} = 'VARCHAR' AND {content} IN ('VARCHAR', 'NULL'), true)")
    for i in range(_SYSTEM):
        kind, text = _ty(f"{_SB}[{i}].type"), _ty(f"{_SB}[{i}].text")
        tests.append(f"coalesce({kind} = 'VARCHAR' AND {text} = 'VARCHAR', true)")
        for k in ("type", "ttl"):
            tests.append(f"coalesce({_ty(f'{_SB}[{i}].cache_control.{k}')} = 'VARCHAR', true)")
    for i in range(_CONTENT):
        kind, text = _ty(f"{_CB}[{i}].type"), _ty(f"{_CB}[{i}].text")
        tests.append(f"coalesce({kind} = 'VARCHAR' AND {text} = 'VARCHAR', true)")
    return "\n      AND ".join(tests)


def _value_checks() -> str:
    v = _V
    texts = ("user", "user_id", "feature", "team", "request_id")
    tests = [
        v.is_object("$.request"),
        v.is_object("$.response"),
        f"{v.at(f'{_B}.type')} = '\"message\"'",
        f"{v.is_string(f'{_B}.model')} AND {v.at(f'{_B}.model')} <> '\"\"'",
        v.optional(f"{_B}.id", v.is_string(f"{_B}.id")),
        v.optional(f"{_B}.role", v.is_string(f"{_B}.role")),
        *(v.optional(f"{_B}.{k}", v.is_plain(f"{_B}.{k}")) for k in _BODY_EXTRAS),
        *(v.optional(f"{_R}.{k}", v.is_plain(f"{_R}.{k}")) for k in _REQUEST_EXTRAS),
        v.optional(f"{_R}.model", v.is_plain(f"{_R}.model")),
        v.optional(f"{_R}.metadata", v.is_object(f"{_R}.metadata")),
        v.optional(f"{_R}.metadata.user_id", v.is_string(f"{_R}.metadata.user_id")),
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
    tier = f"{_U}.service_tier"
    usage = (
        f"CASE WHEN NOT {v.absent(tier)} THEN "
        f"'\"usage\":{{' || {v.pair('service_tier', tier)} || '}}' END"
    )
    response = json_object([*(v.pair(k, f"{_B}.{k}") for k in sorted(_BODY_EXTRAS)), usage])
    return wrapped_metadata(v, request, response, f"{_B}.id")


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
    limit = int(max_tokens)
    types = "[" + ", ".join(f"'{p}'" for p in _TYPES) + "]"
    return f"""
INSERT INTO _stage
WITH parsed AS MATERIALIZED (
    SELECT line_no, try(json_keys(raw, {objects})) AS k, try(json_type(raw, {types})) AS t,
           try(json_extract(raw, {v.sql_paths()})) AS v,
           try(from_json(raw, '{_LISTS}')) AS l,
           CASE WHEN NOT contains(raw, '"id"') AND NOT contains(raw, '"request_id"')
                THEN 'content:' || left(sha256(raw), 24) END AS content_id,
           CASE WHEN contains(raw, '"system":"') THEN json_extract_string(raw, '{_SB}') END
               AS system_string
    FROM _bulk WHERE line_no > ? AND line_no <= ? AND raw IS NOT NULL
                     AND contains(raw, '"message"') AND {well_formed("raw")}
), shaped AS (
    SELECT *, {input_n} AS input_n, {output_n} AS output_n, {read_n} AS read_n,
           {write_n} AS write_n,
           CASE WHEN {split} THEN {w5m} ELSE {write_n} END AS w5m_n,
           CASE WHEN {split} THEN {w1h} ELSE 0 END AS w1h_n,
           l.request.messages AS ms, l.response.content AS blocks,
           {v.text("$.request_id")} AS app_id, {v.text(f"{_B}.id")} AS body_id, {stamp} AS ts
    FROM parsed
    WHERE v IS NOT NULL AND t IS NOT NULL AND l IS NOT NULL AND {_key_checks()}
      AND {_type_checks()}
      AND {_value_checks()}
      AND coalesce(app_id, body_id, content_id) IS NOT NULL
      AND list_bool_and(list_transform(blocks, lambda b: b.type = 'text')) IS NOT FALSE
      AND ({_ty(_SB)} <> 'VARCHAR' OR system_string IS NOT NULL)
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
       'ok',
       CASE WHEN {_ty(_SB)} = 'VARCHAR' THEN system_string
            WHEN len(l.request.system) > 0
            THEN array_to_string(list_transform(l.request.system, lambda b: b.text), chr(10))
            END,
       list_filter(ms, lambda m: m.role = 'user')[-1].content,
       to_json(ms)::VARCHAR,
       nullif(array_to_string(list_transform(blocks, lambda b: b.text), ''), ''),
       list_filter([CASE WHEN {split} AND write_n <> 0 AND w5m_n + w1h_n <> write_n
                         THEN 'cache_write_split_mismatch' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       '{NAME}', {_metadata()}, ?, line_no, ?,
       {v.text("$.team")}
FROM shaped
"""
