"""The OpenAI chat fast path: `{request, response}` records an application logs around a Chat
Completions call, mapped in SQL exactly as `formats.openai` maps them.

A record is parsed twice, each time in one call: `json_keys` of every object it must check,
and `json_extract` of every value it maps (as JSON text, tested by its text). The messages are
read once more, into a typed list, and taken only when that list written back as JSON is the
very text logged (so each is `{role, content}` with text content, and is stored as logged).

A record is taken only when every part of it is of the plain shape the per-record path maps
the same way, so the rows are the same; anything else goes to the per-record path:
- top-level keys among request, response, timestamp (ISO text, UTC or naive), user, user_id,
  feature, team, latency_ms, duration_ms, request_id, cost, cost_usd (text where text is meant);
- a request of model, messages and user, plus known settings with plain scalar values
  (temperature, max_tokens, ...), kept as metadata;
- a `chat.completion` response with one choice (text or null content, no tool calls, no
  logprobs), token counts (cached and reasoning details; every other detail zero), and known
  scalar extras (service_tier, system_fingerprint).
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

NAME = "openai_chat"
_TOP = (
    "request", "response", "timestamp", "user", "user_id", "feature", "team", "latency_ms",
    "duration_ms", "request_id", "cost", "cost_usd",
)  # fmt: skip
# Request settings kept as metadata when their values are plain scalars.
_REQUEST_EXTRAS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "seed", "stream",
    "frequency_penalty", "presence_penalty", "service_tier", "store", "parallel_tool_calls",
)  # fmt: skip
_REQUEST = ("model", "messages", "user", *_REQUEST_EXTRAS)
_BODY_EXTRAS = ("service_tier", "system_fingerprint")
_BODY = ("id", "object", "created", "model", "choices", "usage", *_BODY_EXTRAS)
_USAGE = (
    "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
    "completion_tokens_details",
)  # fmt: skip
# Details that no bucket holds: a non-zero one is metadata (the per-record path maps it).
_PROMPT_DETAILS_ZERO = ("audio_tokens",)
_COMPLETION_DETAILS_ZERO = (
    "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens",
)  # fmt: skip
_CHOICE = ("index", "message", "finish_reason", "logprobs")
_MESSAGE = ("role", "content", "refusal", "annotations")

_R, _B, _U = "$.request", "$.response", "$.response.usage"
_C = "$.response.choices[0]"
_PD, _CD = f"{_U}.prompt_tokens_details", f"{_U}.completion_tokens_details"
# The objects whose keys are checked, in the order of `k`.
_OBJECTS = ("$", _R, _B, _U, _PD, _CD, _C, f"{_C}.message")
_V = Values(
    (
        *(f"$.{k}" for k in _TOP),
        *(f"{_R}.{k}" for k in ("model", "messages", "user", *_REQUEST_EXTRAS)),
        *(f"{_B}.{k}" for k in ("id", "object", "created", "model", *_BODY_EXTRAS)),
        *(f"{_U}.{k}" for k in ("prompt_tokens", "completion_tokens", "total_tokens")),
        _PD, _CD, f"{_PD}.cached_tokens", f"{_CD}.reasoning_tokens",
        *(f"{_PD}.{k}" for k in _PROMPT_DETAILS_ZERO),
        *(f"{_CD}.{k}" for k in _COMPLETION_DETAILS_ZERO),
        "$.response.choices[1]", _C, f"{_C}.finish_reason", f"{_C}.logprobs",
        f"{_C}.index", f"{_C}.message", f"{_C}.message.role", f"{_C}.message.content",
        f"{_C}.message.refusal", f"{_C}.message.annotations",
    )
)  # fmt: skip
_MESSAGES_TYPE = '[{"role": "VARCHAR", "content": "VARCHAR"}]'


def _key_checks() -> str:
    allowed: list[tuple[str, ...]] = [_TOP, _REQUEST, _BODY, _USAGE]
    allowed += [("cached_tokens", *_PROMPT_DETAILS_ZERO)]
    allowed += [("reasoning_tokens", *_COMPLETION_DETAILS_ZERO), _CHOICE, _MESSAGE]
    checks = [keys_within(f"k[{i + 1}]", keys) for i, keys in enumerate(allowed)]
    return " AND ".join(["k IS NOT NULL", *checks])


def _value_checks() -> str:
    v = _V
    texts = ("user", "user_id", "feature", "team", "request_id")
    tests = [
        v.is_object("$.request"),
        v.is_object("$.response"),
        f"{v.at(f'{_B}.object')} = '\"chat.completion\"'",
        f"{v.is_string(f'{_B}.model')} AND {v.at(f'{_B}.model')} <> '\"\"'",
        v.optional(f"{_B}.id", v.is_string(f"{_B}.id")),
        v.optional(f"{_B}.created", v.is_epoch_s(f"{_B}.created")),
        *(v.optional(f"{_B}.{k}", v.is_plain(f"{_B}.{k}")) for k in _BODY_EXTRAS),
        *(v.optional(f"{_R}.{k}", v.is_plain(f"{_R}.{k}")) for k in _REQUEST_EXTRAS),
        v.optional(f"{_R}.user", v.is_string(f"{_R}.user")),
        v.optional(f"{_R}.model", v.is_plain(f"{_R}.model")),
        v.optional(f"{_C}.index", v.is_count(f"{_C}.index")),
        v.optional(f"{_C}.message.role", v.is_string(f"{_C}.message.role")),
        f"starts_with({v.at(f'{_R}.messages')}, '[{{')",
        *(v.optional(f"$.{k}", v.is_string(f"$.{k}")) for k in texts),
        v.optional("$.timestamp", v.is_iso("$.timestamp")),
        *(v.optional(f"$.{k}", f"regexp_full_match({v.at(f'$.{k}')}, '{COST_TEXT}')")
          for k in ("cost", "cost_usd")),
        *(v.optional(f"$.{k}", f"regexp_full_match({v.at(f'$.{k}')}, '{LATENCY_TEXT}')")
          for k in ("latency_ms", "duration_ms")),
        v.is_count(f"{_U}.prompt_tokens"),
        v.is_count(f"{_U}.completion_tokens"),
        v.optional(f"{_U}.total_tokens", v.is_count(f"{_U}.total_tokens")),
        v.optional(_PD, v.is_object(_PD)),
        v.optional(_CD, v.is_object(_CD)),
        v.optional(f"{_PD}.cached_tokens", v.is_count(f"{_PD}.cached_tokens")),
        v.optional(f"{_CD}.reasoning_tokens", v.is_count(f"{_CD}.reasoning_tokens")),
        *(f"coalesce({v.at(f'{_PD}.{k}')} IN ('0', 'null'), true)" for k in _PROMPT_DETAILS_ZERO),
        *(f"coalesce({v.at(f'{_CD}.{k}')} IN ('0', 'null'), true)"
          for k in _COMPLETION_DETAILS_ZERO),
        f"{v.at('$.response.choices[1]')} IS NULL",
        v.is_object(_C),
        v.is_object(f"{_C}.message"),
        v.optional(f"{_C}.finish_reason", v.is_string(f"{_C}.finish_reason")),
        v.absent(f"{_C}.logprobs"),
        v.optional(f"{_C}.message.content", v.is_string(f"{_C}.message.content")),
        v.optional(f"{_C}.message.refusal", v.is_string(f"{_C}.message.refusal")),
        f"coalesce({v.at(f'{_C}.message.annotations')} IN ('[]', 'null'), true)",
    ]  # fmt: skip
    return "\n      AND ".join(tests)


def _metadata() -> str:
    """As `formats.openai` + `formats.wrapped` build it, keys sorted (as orjson writes them)."""
    v = _V
    request = json_object([v.pair(k, f"{_R}.{k}") for k in sorted(_REQUEST_EXTRAS)])
    finish = (
        f"CASE WHEN NOT {v.absent(f'{_C}.finish_reason')} THEN "
        f"'\"finish_reason\":' || {v.at(f'{_C}.finish_reason')} END"
    )
    response = json_object([finish, *(v.pair(k, f"{_B}.{k}") for k in sorted(_BODY_EXTRAS))])
    return wrapped_metadata(v, request, response, f"{_B}.id")


def insert_sql(max_tokens: int) -> str:
    """One INSERT staging the well-formed chat records of `_bulk` among the lines after the
    first placeholder, up to the second (then: file, run)."""
    v = _V
    objects = "[" + ", ".join(f"'{p}'" for p in _OBJECTS) + "]"
    prompt_n, completion_n = v.count(f"{_U}.prompt_tokens"), v.count(f"{_U}.completion_tokens")
    cached_n, reasoning_n = v.count(f"{_PD}.cached_tokens"), v.count(f"{_CD}.reasoning_tokens")
    total = f"TRY_CAST({v.at(f'{_U}.total_tokens')} AS BIGINT)"
    created = f"CASE WHEN NOT {v.absent(f'{_B}.created')} THEN {v.epoch_s(f'{_B}.created')} END"
    stamp = f"CASE WHEN NOT {v.absent('$.timestamp')} THEN {v.ts('$.timestamp')} END"
    latency, duration = v.at("$.latency_ms"), v.at("$.duration_ms")
    cost, cost_usd = v.at("$.cost"), v.at("$.cost_usd")
    limit = int(max_tokens)
    return f"""
INSERT INTO _stage
WITH parsed AS MATERIALIZED (
    SELECT line_no, try(json_keys(raw, {objects})) AS k,
           try(json_extract(raw, {v.sql_paths()})) AS v,
           CASE WHEN NOT contains(raw, '"id"') AND NOT contains(raw, '"request_id"')
                THEN 'content:' || left(sha256(raw), 24) END AS content_id
    FROM _bulk WHERE line_no > ? AND line_no <= ? AND raw IS NOT NULL
                     AND contains(raw, '"chat.completion"') AND {well_formed("raw")}
), shaped AS (
    SELECT *, {prompt_n} AS prompt_n, {completion_n} AS completion_n, {cached_n} AS cached_n,
           {reasoning_n} AS reasoning_n, {total} AS total_n,
           try(from_json({v.at(f"{_R}.messages")}, '{_MESSAGES_TYPE}')) AS ms,
           {v.text("$.request_id")} AS app_id, {v.text(f"{_B}.id")} AS body_id
    FROM parsed
    WHERE v IS NOT NULL AND {_key_checks()}
      AND {_value_checks()}
), mapped AS (
    SELECT *, coalesce({stamp}, {created}) AS ts
    FROM shaped
    WHERE coalesce(app_id, body_id, content_id) IS NOT NULL
      AND to_json(ms)::VARCHAR = {v.at(f"{_R}.messages")}
      AND greatest(prompt_n - cached_n, cached_n, completion_n, reasoning_n,
                   coalesce(total_n, 0)) <= {limit}
)
SELECT line_no * {MAX_CALLS_PER_RECORD},
       coalesce(app_id, body_id, content_id),
       ts, 'openai', {v.string(f"{_B}.model")},
       {v.text("$.feature")}, coalesce({v.text("$.user_id")}, {v.text("$.user")},
       {v.text(f"{_R}.user")}),
       greatest(prompt_n - cached_n, 0), cached_n, 0, 0, completion_n, reasoning_n, total_n,
       false,
       CASE WHEN NOT {v.absent("$.cost_usd")} THEN {cost_usd}
            WHEN NOT {v.absent("$.cost")} THEN {cost} END,
       CASE WHEN NOT {v.absent("$.latency_ms")} THEN {latency}::DOUBLE
            WHEN NOT {v.absent("$.duration_ms")} THEN {duration}::DOUBLE END,
       'ok',
       nullif(array_to_string(list_transform(list_filter(ms,
           lambda m: m.role IN ('system', 'developer') AND m.content <> ''),
           lambda m: m.content), chr(10)), ''),
       list_filter(ms, lambda m: m.role = 'user')[-1].content,
       {v.at(f"{_R}.messages")},
       nullif({v.string(f"{_C}.message.content")}, ''),
       list_filter([CASE WHEN cached_n > prompt_n THEN 'cached_gt_input' END,
                    CASE WHEN reasoning_n > completion_n THEN 'reasoning_gt_output' END,
                    CASE WHEN total_n IS NOT NULL AND total_n <> prompt_n + completion_n
                         THEN 'total_mismatch' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       '{NAME}', {_metadata()}, ?, line_no, ?,
       {v.text("$.team")}
FROM mapped
"""
