"""The OpenAI chat fast path: `{request, response}` records an application logs around a Chat
Completions call, mapped in SQL exactly as `formats.openai` maps them.

A record is taken only when every part of it is of the plain shape the per-record path maps
the same way, so the rows are the same; anything else goes to the per-record path:
- top-level keys among request, response, timestamp (ISO text, UTC or naive), user, user_id,
  feature, team, latency_ms, duration_ms, request_id (text where text is meant);
- a request of model, messages (each an object with a text role and text content) and user,
  plus extra settings with scalar values (temperature, max_tokens, ...), kept as metadata;
- a `chat.completion` response with one choice (text or null content, no tool calls), token
  counts (cached and reasoning details; every other detail zero), and scalar extras.
Extra keys must be plain names: metadata is written with sorted keys, as orjson writes it.
"""

from __future__ import annotations

from costlab.ingest.bulk.sql import ISO_UTC
from costlab.ingest.staging import MAX_CALLS_PER_RECORD

NAME = "openai_chat"
_TOP = (
    "request", "response", "timestamp", "user", "user_id", "feature", "team", "latency_ms",
    "duration_ms", "request_id",
)  # fmt: skip
_REQUEST_MAPPED = ("model", "messages", "user")
_REQUEST_REFUSED = ("input", "instructions", "prompt")  # mapped otherwise: the Python path
_BODY_MAPPED = ("id", "object", "created", "model", "choices", "usage")
_USAGE_KEYS = (
    "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
    "completion_tokens_details",
)  # fmt: skip
_CHOICE_KEYS = "('index', 'message', 'finish_reason', 'logprobs')"
_MESSAGE_KEYS = "('role', 'content', 'refusal', 'annotations')"
_TEXT_MESSAGE = (
    "json_type(k) = 'OBJECT' AND json_type(json_extract(k, '$.role')) = 'VARCHAR' "
    "AND json_type(json_extract(k, '$.content')) = 'VARCHAR'"
)
_SCALARS = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN', 'NULL')"
_PLAIN_KEY = "'^[A-Za-z0-9_.-]+$'"


def _top(key: str) -> str:
    return f"t[{_TOP.index(key) + 1}]"


def _is_text(value: str) -> str:
    return f"({value} IS NULL OR json_type({value}) IN ('VARCHAR', 'NULL'))"


def _text(value: str) -> str:
    """A text field as `values.text` reads it: NULL for null and for ''."""
    return f"nullif(json_extract_string({value}, '$'), '')"


def _count(value: str) -> str:
    return f"({value} IS NULL OR json_type({value}) IN ('UBIGINT', 'BIGINT', 'NULL'))"


def _extras(obj: str, mapped: tuple[str, ...]) -> str:
    """The keys of `obj` no mapping takes, sorted."""
    names = ", ".join(f"'{k}'" for k in mapped)
    return f"list_sort(list_filter(json_keys({obj}), lambda k: k NOT IN ({names})))"


def _all(items: str, test: str) -> str:
    """Whether `test` (a lambda of k) holds for every item: true for none."""
    return f"coalesce(list_bool_and(list_transform({items}, lambda k: {test})), true)"


def _at(obj: str) -> str:
    """The value of key k of `obj` (a quoted path: any key without a quote is named as is)."""
    return f"try(json_extract({obj}, '$.\"' || k || '\"'))"


def _scalar_extras(obj: str, mapped: tuple[str, ...]) -> str:
    """Every extra key is a plain name whose value is a scalar."""
    test = f"regexp_matches(k, {_PLAIN_KEY}) AND json_type({_at(obj)}) IN {_SCALARS}"
    return _all(_extras(obj, mapped), test)


def _pairs(obj: str, mapped: tuple[str, ...]) -> str:
    """The extra keys as `"key":value` JSON texts, sorted by key."""
    pair = f"to_json(k) || ':' || {_at(obj)}::VARCHAR"
    return f"list_transform({_extras(obj, mapped)}, lambda k: {pair})"


def _details_zero(details: str, mapped: str) -> str:
    """A usage details object holds nothing but its mapped count (others zero or null)."""
    others = _all(
        f"json_keys({details})",
        f"k = '{mapped}' OR {_at(details)}::VARCHAR IN ('0', 'null', 'false')",
    )
    count = _count(f"(json_extract({details}, '$.{mapped}'))")
    return (
        f"({details} IS NULL OR json_type({details}) = 'NULL' OR "
        f"(json_type({details}) = 'OBJECT' AND {others} AND {count}))"
    )


def insert_sql(max_tokens: int) -> str:
    """One INSERT staging the well-formed chat records of `_bulk` among the lines after the
    first placeholder, up to the second (then: file, run)."""
    paths = "[" + ", ".join(f"'$.{k}'" for k in _TOP) + "]"
    usage_keys = ", ".join(f"'{k}'" for k in _USAGE_KEYS)
    refused = ", ".join(f"'{k}'" for k in _REQUEST_REFUSED)
    limit = int(max_tokens)
    return f"""
INSERT INTO _stage
WITH top AS (
    SELECT line_no, raw, try(json_extract(raw, {paths})) AS t, try(len(json_keys(raw))) AS n_keys
    FROM _bulk WHERE line_no > ? AND line_no <= ? AND raw IS NOT NULL
                     AND contains(raw, '"chat.completion"')
), parts AS (
    SELECT *, {_top("request")} AS req, {_top("response")} AS body,
           json_extract({_top("response")}, '$.usage') AS u,
           json_extract({_top("response")}, '$.choices') AS choices
    FROM top
    WHERE t IS NOT NULL AND n_keys = list_aggregate(t, 'count')
      AND json_type({_top("request")}) = 'OBJECT' AND json_type({_top("response")}) = 'OBJECT'
), shaped AS (
    SELECT *, json_extract(req, '$.messages') AS messages, json_extract(choices, '$[0]') AS choice,
           TRY_CAST(json_extract_string(u, '$.prompt_tokens') AS BIGINT) AS prompt_n,
           TRY_CAST(json_extract_string(u, '$.completion_tokens') AS BIGINT) AS completion_n,
           TRY_CAST(json_extract_string(u, '$.total_tokens') AS BIGINT) AS total_n,
           coalesce(TRY_CAST(
               json_extract_string(u, '$.prompt_tokens_details.cached_tokens') AS BIGINT), 0)
               AS cached_n,
           coalesce(TRY_CAST(
               json_extract_string(u, '$.completion_tokens_details.reasoning_tokens') AS BIGINT), 0)
               AS reasoning_n
    FROM parts
    WHERE json_extract_string(body, '$.object') = 'chat.completion'
      AND {_all("json_keys(body)", "k NOT IN ('error', 'finish_reason')")}
      AND json_type(json_extract(body, '$.model')) = 'VARCHAR'
      AND json_extract_string(body, '$.model') <> ''
      AND {_is_text("(json_extract(body, '$.id'))")}
      AND {_is_text("(json_extract(body, '$.user'))")}
      AND {_scalar_extras("body", _BODY_MAPPED)}
      AND json_type(choices) = 'ARRAY' AND json_array_length(choices) = 1
      AND json_type(json_extract(choices, '$[0]')) = 'OBJECT'
      AND {_all("json_keys(json_extract(choices, '$[0]'))", f"k IN {_CHOICE_KEYS}")}
      AND json_type(json_extract(choices, '$[0].message')) = 'OBJECT'
      AND {_all("json_keys(json_extract(choices, '$[0].message'))", f"k IN {_MESSAGE_KEYS}")}
      AND {_is_text("(json_extract(choices, '$[0].message.content'))")}
      AND json_type(json_extract(choices, '$[0].finish_reason')) IN ('VARCHAR', 'NULL')
      AND json_type(u) = 'OBJECT'
      AND {_all("json_keys(u)", f"k IN ({usage_keys})")}
      AND json_type(json_extract(u, '$.prompt_tokens')) IN ('UBIGINT', 'BIGINT')
      AND json_type(json_extract(u, '$.completion_tokens')) IN ('UBIGINT', 'BIGINT')
      AND {_count("(json_extract(u, '$.total_tokens'))")}
      AND {_details_zero("(json_extract(u, '$.prompt_tokens_details'))", "cached_tokens")}
      AND {_details_zero("(json_extract(u, '$.completion_tokens_details'))", "reasoning_tokens")}
      AND {_all("json_keys(req)", f"k NOT IN ({refused})")}
      AND {_scalar_extras("req", _REQUEST_MAPPED)}
      AND {_is_text("(json_extract(req, '$.model'))")}
      AND {_is_text("(json_extract(req, '$.user'))")}
      AND json_type(json_extract(req, '$.messages')) = 'ARRAY'
      AND json_array_length(json_extract(req, '$.messages')) > 0
      AND {_all("json_extract(req, '$.messages[*]')", _TEXT_MESSAGE)}
      AND {_is_text(_top("user"))} AND {_is_text(_top("user_id"))}
      AND {_is_text(_top("feature"))} AND {_is_text(_top("team"))}
      AND {_is_text(_top("request_id"))}
      AND ({_top("latency_ms")} IS NULL OR json_type({_top("latency_ms")})
           IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL'))
      AND ({_top("duration_ms")} IS NULL OR json_type({_top("duration_ms")})
           IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL'))
      AND ({_top("timestamp")} IS NULL OR json_type({_top("timestamp")}) = 'NULL'
           OR regexp_full_match(json_extract_string({_top("timestamp")}, '$'), '{ISO_UTC}'))
      AND json_type(json_extract(body, '$.created')) IN ('UBIGINT', 'BIGINT')
      AND TRY_CAST(json_extract_string(body, '$.created') AS BIGINT) BETWEEN 0 AND 99999999999
      AND prompt_n IS NOT NULL AND completion_n IS NOT NULL
), mapped AS (
    SELECT *,
        coalesce(TRY_CAST(regexp_replace(
                     json_extract_string({_top("timestamp")}, '$'), '(Z|\\+00:00)$', '')
                          AS TIMESTAMP),
                 make_timestamp(
                     TRY_CAST(json_extract_string(body, '$.created') AS BIGINT) * 1000000))
            AS ts,
        list_transform(list_filter(json_extract(messages, '$[*]'),
                       lambda m: json_extract_string(m, '$.role') IN ('system', 'developer')
                                 AND json_extract_string(m, '$.content') <> ''),
                       lambda m: json_extract_string(m, '$.content')) AS system_texts,
        list_filter(json_extract(messages, '$[*]'),
                    lambda m: json_extract_string(m, '$.role') = 'user') AS user_turns,
        {_text(_top("request_id"))} AS app_id, {_text("(json_extract(body, '$.id'))")} AS body_id,
        CASE WHEN {_top("latency_ms")} IS NOT NULL AND json_type({_top("latency_ms")}) <> 'NULL'
             THEN {_top("latency_ms")}::DOUBLE ELSE {_top("duration_ms")}::DOUBLE END
            AS latency,
        {_pairs("req", _REQUEST_MAPPED)} AS request_pairs,
        list_transform(list_sort(list_concat({_extras("body", _BODY_MAPPED)},
            CASE WHEN json_type(json_extract(choice, '$.finish_reason')) = 'VARCHAR'
                 THEN ['finish_reason'] ELSE [] END)),
            lambda k: to_json(k) || ':' || CASE WHEN k = 'finish_reason'
                 THEN json_extract(choice, '$.finish_reason') ELSE {_at("body")} END::VARCHAR)
            AS response_pairs
    FROM shaped
    WHERE greatest(prompt_n - cached_n, cached_n, completion_n, reasoning_n,
                   coalesce(total_n, 0)) <= {limit}
), meta AS (
    SELECT *, list_concat(
        CASE WHEN len(request_pairs) > 0
             THEN ['"request":{{' || array_to_string(request_pairs, ',') || '}}'] ELSE [] END,
        CASE WHEN len(response_pairs) > 0
             THEN ['"response":{{' || array_to_string(response_pairs, ',') || '}}'] ELSE [] END,
        CASE WHEN app_id IS NOT NULL AND body_id IS NOT NULL AND body_id <> app_id
             THEN ['"response_id":' || to_json(body_id)] ELSE [] END) AS meta_pairs
    FROM mapped
)
SELECT line_no * {MAX_CALLS_PER_RECORD},
       coalesce(app_id, body_id, 'content:' || left(sha256(raw), 24)),
       ts, 'openai', json_extract_string(body, '$.model'),
       {_text(_top("feature"))}, coalesce({_text(_top("user_id"))}, {_text(_top("user"))},
       {_text("(json_extract(req, '$.user'))")}, {_text("(json_extract(body, '$.user'))")}),
       greatest(prompt_n - cached_n, 0), cached_n, 0, 0, completion_n, reasoning_n, total_n,
       false, NULL, latency, 'ok',
       nullif(array_to_string(system_texts, chr(10)), ''),
       CASE WHEN len(user_turns) > 0 THEN json_extract_string(user_turns[-1], '$.content') END,
       messages::VARCHAR,
       nullif(json_extract_string(choice, '$.message.content'), ''),
       list_filter([CASE WHEN cached_n > prompt_n THEN 'cached_gt_input' END,
                    CASE WHEN reasoning_n > completion_n THEN 'reasoning_gt_output' END,
                    CASE WHEN total_n IS NOT NULL AND total_n <> prompt_n + completion_n
                         THEN 'total_mismatch' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       '{NAME}', '{{' || array_to_string(meta_pairs, ',') || '}}', ?, line_no, ?,
       {_text(_top("team"))}
FROM meta
"""
