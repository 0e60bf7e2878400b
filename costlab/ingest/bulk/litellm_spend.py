"""The LiteLLM spend-log rows' fast path: one SQL mapping of the rows of a chunk (`CHUNK`) as
`formats.litellm.LiteLLMSpendLog` maps them, for the rows that are certainly well-formed.

A chunk of rows comes as CSV (`chunk_sql`: every column of the table, a database's rows all have
them), each field text or JSON text; each becomes the JSON text `json_extract` of the row's
`row_to_json` object gives (text quoted by `to_json`, JSON written back compact by `json`, an
integral `spend` as `0.0`), and the nested `metadata` / `response` fields the mapping reads come
from one `json_extract` of many paths on their column. A row left to the per-record path goes
as the JSON line `row_to_json` makes of it (`line_sql`).

A row is mapped here only when every value it uses has the plain type the per-record path
accepts without a question (strings, whole counts, ISO times, a cost written as the per-record
path writes it); any other row is left for the per-record path, which stays the reference and
gives a bad row its precise reject reason (as do rows whose `messages` hold content parts rather
than text, or whose `response` is written as text).

`metadata` (the unmapped columns, kept) is written with its top-level keys sorted as the
per-record path writes them; nested objects keep the order the input had (JSONB's), so the two
paths' `metadata` are the same JSON value, not always the same text.
"""

from __future__ import annotations

from costlab.formats.litellm import SPEND_MAPPED, LiteLLMSpendLog
from costlab.ingest.bulk.sql import ISO_UTC, json_text, sql_text
from costlab.ingest.staging import MAX_CALLS_PER_RECORD

NAME = LiteLLMSpendLog.name
KeySet = tuple[str, ...]
# A table's columns in order: (name, what its CSV field is: "text" to quote as JSON, "compact"
# JSON text as `json()` would write it (whole numbers, times), else "json" text to write back).
Columns = tuple[tuple[str, str], ...]

# The columns the mapping reads from the row itself: the per-record path's and the JSON ones.
_MAPPED = SPEND_MAPPED | {"messages", "response", "metadata"}
# Where LiteLLM keeps the provider's usage detail, in the order the per-record path tries them.
_DETAILS = ("additional_usage_values", "usage_object")
_DETAIL_FIELDS = {
    "read": ("cache_read_input_tokens",),
    "cached": ("prompt_tokens_details", "cached_tokens"),
    "write": ("cache_creation_input_tokens",),
    "creation": ("prompt_tokens_details", "cache_creation_tokens"),
    "w5m": ("prompt_tokens_details", "cache_creation_token_details", "ephemeral_5m_input_tokens"),
    "w1h": ("prompt_tokens_details", "cache_creation_token_details", "ephemeral_1h_input_tokens"),
    "reasoning": ("completion_tokens_details", "reasoning_tokens"),
}
_NESTED = {
    "m_feature_requester": ("metadata", "requester_metadata", "feature"),
    "m_feature_spend": ("metadata", "spend_logs_metadata", "feature"),
    "m_team_alias": ("metadata", "user_api_key_team_alias"),
    "m_team_id": ("metadata", "user_api_key_team_id"),
    "m_status": ("metadata", "status"),
    "r_content": ("response", "choices", 0, "message", "content"),
    **{f"d{i}": ("metadata", detail) for i, detail in enumerate(_DETAILS)},
    **{
        f"d{i}_{name}": ("metadata", detail, *path)
        for i, detail in enumerate(_DETAILS)
        for name, path in _DETAIL_FIELDS.items()
    },
}
_COUNT = "'[0-9]{1,15}'"
# The view of a chunk's rows (`chunk_sql`) the mapping reads.
CHUNK = "_chunk"


def eligible(keys: KeySet) -> bool:
    """Whether rows with these keys can take this path (the keys a spend-log row needs)."""
    return {"request_id", "model", "prompt_tokens", "completion_tokens"} <= set(keys)


def _path(parts: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else "." + json_text(p) for p in parts)


class _Fields:
    """The JSON text of each value a row's mapping reads, by name (NULL when absent), from the
    columns `c_<n>` of `CHUNK` (CSV fields, `Columns`, in the table's order)."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self.keys: KeySet = tuple(name for name, _ in columns)
        self.nested = {name: parts for name, parts in _NESTED.items() if parts[0] in self.keys}

    def select(self) -> str:
        """The fields as columns of JSON text: each column's, then the nested values (one
        `json_extract` of many paths for each column they are in); text columns' own fields
        too (`t_<n>`)."""
        selected = [f"{_json_value(n, column)} AS k_{n}" for n, column in enumerate(self.columns)]
        selected += [
            f"c_{n} AS t_{n}" for n, (_, kind) in enumerate(self.columns) if kind == "text"
        ]
        for root in dict.fromkeys(parts[0] for parts in self.nested.values()):
            names = [name for name, parts in self.nested.items() if parts[0] == root]
            paths = ", ".join(sql_text(_path(self.nested[name][1:])) for name in names)
            n = self.keys.index(str(root))
            source = f"try(json_extract({_sent(n, self.columns[n])}, [{paths}]))"
            selected += [f"{source}[{i + 1}]::VARCHAR AS {name}" for i, name in enumerate(names)]
        selected += [f"NULL::VARCHAR AS {name}" for name in _NESTED if name not in self.nested]
        return ", ".join(selected)

    def key(self, key: str) -> str:
        """The column holding a top-level key's value ('NULL' when rows have no such key)."""
        return f"k_{self.keys.index(key)}" if key in self.keys else "NULL::VARCHAR"

    # A top-level string read from a text column is its field itself: quoting it as JSON and
    # unquoting it again cost ~0.6 CPU s per 1,000,000 rows of the seven columns read so.
    def _text_column(self, key: str) -> str | None:
        if key in self.keys and self.columns[self.keys.index(key)][1] == "text":
            return f"t_{self.keys.index(key)}"
        return None

    def string(self, key: str) -> str:
        """A top-level value that is a string, else NULL."""
        column = self._text_column(key)
        return column if column else _string(self.key(key))

    def text(self, key: str) -> str:
        """`values.text` of a top-level string or absent value: '' is None."""
        return f"nullif({self.string(key)}, '')"

    def is_string(self, key: str) -> str:
        column = self._text_column(key)
        return f"({column} IS NOT NULL)" if column else _is_string(self.key(key))

    def absent(self, key: str) -> str:
        column = self._text_column(key)
        return f"({column} IS NULL)" if column else _absent(self.key(key))

    def optional_string(self, key: str) -> str:
        return "true" if self._text_column(key) else _optional_string(self.key(key))

    def non_empty_string(self, key: str) -> str:
        return f"({self.is_string(key)} AND {self.string(key)} <> '')"


def _sent(n: int, column: tuple[str, str]) -> str:
    """A CSV field as the JSON text `row_to_json` holds (an integral float8 `spend` with the
    text an export written by Python has: `0.0`, not `0`)."""
    name, kind = column
    if kind == "text":
        return f"coalesce(to_json(c_{n})::VARCHAR, 'null')"
    if name == "spend":
        whole = f"regexp_full_match(c_{n}, '-?[0-9]+')"
        return f"coalesce(CASE WHEN {whole} THEN c_{n} || '.0' ELSE c_{n} END, 'null')"
    return f"coalesce(c_{n}, 'null')"


def _json_value(n: int, column: tuple[str, str]) -> str:
    """A column's value as `json_extract` of the row's JSON writes it (compact, numbers written
    back): the text the mapping's tests read."""
    if column[1] == "json":
        return f"json({_sent(n, column)})::VARCHAR"
    return _sent(n, column)


def chunk_sql(columns: Columns, path: str, first_line: int) -> str:
    """A statement making the view `CHUNK` (line_no, c_0, c_1, ...) of a chunk's CSV file, its
    lines numbered from `first_line` (each query of it reads the file again)."""
    types = ", ".join(f"'c_{n}': 'VARCHAR'" for n in range(len(columns)))
    return f"""
CREATE OR REPLACE TEMP VIEW {CHUNK} AS
SELECT {int(first_line) - 1} + row_number() OVER () AS line_no, *
FROM read_csv({sql_text(path)}, columns = {{{types}}}, delim = ',', quote = '"', escape = '"',
              header = false, auto_detect = false, allow_quoted_nulls = false,
              max_line_size = 100000000)
"""


def line_sql(columns: Columns) -> str:
    """SQL: a row of `CHUNK` as the JSON line `row_to_json` makes of it, for the per-record path
    (a text value's rare control characters escaped in upper-case hex, the same JSON)."""
    pairs = [
        f"{sql_text(json_text(column[0]) + ':')} || {_sent(n, column)}"
        for n, column in enumerate(columns)
    ]
    return "'{' || concat_ws(','," + ", ".join(pairs) + ") || '}'"


# Tests on a value's JSON text: no second parse.
def _absent(j: str) -> str:
    return f"({j} IS NULL OR {j} = 'null')"


def _is_string(j: str) -> str:
    return f"starts_with({j}, '\"')"


def _optional_string(j: str) -> str:
    return f"({_absent(j)} OR {_is_string(j)})"


def _optional_count(j: str) -> str:
    return f"({_absent(j)} OR regexp_full_match({j}, {_COUNT}))"


def _string(j: str) -> str:
    """A JSON string's value; only strings with escapes need the JSON parser; NULL otherwise."""
    return (
        f"CASE WHEN NOT {_is_string(j)} THEN NULL "
        f"WHEN contains({j}, '\\') THEN {j}::JSON->>'$' "
        f"ELSE substr({j}, 2, length({j}) - 2) END"
    )


def _text(j: str) -> str:
    """`values.text` of a string or an absent value: '' is None."""
    return f"nullif({_string(j)}, '')"


# A float's shortest form with a small negative exponent (DuckDB, PostgreSQL and Python write a
# float below 1e-4 so): at most 9 significant digits and 9 leading zeros, which 18 decimals hold.
_SMALL_COST = "[1-9](\\.[0-9]{1,8})?e-0[5-9]"


def _decimals(text: str) -> str:
    """SQL: a float's shortest form with no exponent, as `format(Decimal(text), 'f')` writes it
    (`6.975e-05` is `0.00006975`); only small exponents (`_SMALL_COST`) are written out."""
    return (
        f"CASE WHEN regexp_full_match({text}, '{_SMALL_COST}') "
        f"THEN rtrim(CAST({text} AS DECIMAL(38, 18))::VARCHAR, '0') ELSE {text} END"
    )


def _count(j: str) -> str:
    return f"coalesce(TRY_CAST({j} AS BIGINT), 0)"


def _time(j: str) -> str:
    return (
        f"CASE WHEN {_is_string(j)} THEN TRY_CAST(regexp_replace("
        f"substr({j}, 2, length({j}) - 2), '(Z|\\+00:00)$', '') AS TIMESTAMP) END"
    )


def _optional_time(j: str) -> str:
    return f"({_absent(j)} OR regexp_full_match({j}, '\"{ISO_UTC}\"'))"


def _object_or_absent(j: str) -> str:
    return f"({_absent(j)} OR starts_with({j}, '{{'))"


def insert_sql(columns: Columns, max_tokens: int) -> str:
    """A statement staging into `_stage` the rows of `CHUNK` (`chunk_sql`) this path maps.

    Bound values: the source file and the run id.
    """
    return (
        f"INSERT INTO _stage SELECT * EXCLUDE (ok) FROM ({select_sql(columns, max_tokens)}) "
        "WHERE ok"
    )


def select_sql(columns: Columns, max_tokens: int) -> str:
    """A query of `CHUNK` (`chunk_sql`): each row's staged columns (`STAGE_SCHEMA`, in order)
    and `ok`, whether this path maps it (bound values: the source file and the run id)."""
    f = _Fields(columns)
    k = f.key
    limit = int(max_tokens)
    # The usage detail: `additional_usage_values` when a non-empty object, else `usage_object`.
    use_first = "(starts_with(d0, '{') AND d0 <> '{}')"
    detail = {
        name: f"CASE WHEN {use_first} THEN d0_{name} ELSE d1_{name} END" for name in _DETAIL_FIELDS
    }
    detail_checks = " AND ".join(
        _optional_count(f"d{i}_{name}") for i in range(len(_DETAILS)) for name in _DETAIL_FIELDS
    )
    spend = k("spend")
    checks = [
        f.non_empty_string("request_id"),
        f.non_empty_string("model"),
        f"regexp_full_match({k('prompt_tokens')}, {_COUNT})",
        f"regexp_full_match({k('completion_tokens')}, {_COUNT})",
        _optional_count(k("total_tokens")),
        detail_checks,
        # The cost as the per-record path writes it (`format(Decimal(str(float)), 'f')`): a whole
        # number, or decimals already in the float's shortest form (that of a small cost written
        # out: `_decimals`); anything else goes to Python.
        f"({_absent(spend)} OR regexp_full_match({spend}, {_COUNT}) OR "
        f"(regexp_full_match({spend}, '[0-9]{{1,7}}\\.[0-9]{{1,20}}') AND "
        f"{_decimals(f'TRY_CAST(TRY_CAST({spend} AS DOUBLE) AS VARCHAR)')} = {spend}))",
        f"({_absent(spend)} OR TRY_CAST({spend} AS DOUBLE) < 1000000)",
        _optional_time(k("startTime")),
        _optional_time(k("endTime")),
        f"({_absent(k('request_duration_ms'))} OR regexp_full_match({k('request_duration_ms')}, "
        "'-?[0-9]{1,15}(\\.[0-9]{1,15})?'))",
        *(
            f.optional_string(key)
            for key in ("custom_llm_provider", "end_user", "user", "team_id", "status")
        ),
        *(
            _optional_string(name)
            for name in ("m_feature_requester", "m_feature_spend", "m_team_alias", "m_team_id")
        ),
        f"({_absent('m_status')} OR {_is_string('m_status')} OR NOT {f.absent('status')})",
        f"NOT coalesce({_is_string(k('metadata'))}, false)",  # a string: JSON text to decode
        # Messages: none, an object (LiteLLM's '{}'), or a list whose contents are text or null.
        f"({_absent(k('messages'))} OR starts_with({k('messages')}, '{{') OR "
        "(starts_with(msgs_json, '[') AND coalesce(list_bool_and(list_transform(msgs, "
        "lambda m: m.content IS NULL OR starts_with(m.content, '\"'))), len(msgs) = 0)))",
        # Response: none or an object; its text a string or nothing.
        _object_or_absent(k("response")),
        f"({_absent('r_content')} OR {_is_string('r_content')})",
    ]
    prompt, completion = _count(k("prompt_tokens")), _count(k("completion_tokens"))
    read = (
        f"coalesce(TRY_CAST({detail['read']} AS BIGINT), TRY_CAST({detail['cached']} AS BIGINT), 0)"
    )
    write = (
        f"coalesce(TRY_CAST({detail['write']} AS BIGINT), "
        f"TRY_CAST({detail['creation']} AS BIGINT), 0)"
    )
    w5m, w1h = (f"TRY_CAST({detail[n]} AS BIGINT)" for n in ("w5m", "w1h"))
    total = f"TRY_CAST({k('total_tokens')} AS BIGINT)"
    duration = f"TRY_CAST({k('request_duration_ms')} AS DOUBLE)"
    status_text = (
        f"CASE WHEN {f.text('status')} IS NOT NULL THEN {f.string('status')} "
        f"WHEN {f.is_string('status')} OR {f.absent('status')} THEN {_string('m_status')} END"
    )
    feature = (
        f"CASE WHEN NOT {_absent('m_feature_requester')} THEN {_text('m_feature_requester')} "
        f"ELSE {_text('m_feature_spend')} END"
    )
    return f"""
WITH fields AS (
    SELECT line_no, {f.select()} FROM {CHUNK}
), listed AS (
    SELECT *, {k("messages")} AS msgs_json,
        CASE WHEN starts_with({k("messages")}, '[') THEN try(json_transform({k("messages")},
            '[{{"role": "JSON", "content": "JSON"}}]')) END AS msgs
    FROM fields
), typed AS (
    SELECT *,
        coalesce({" AND ".join(f"({c})" for c in checks)}, false) AS well_formed,
        {_time(k("startTime"))} AS start_ts, {_time(k("endTime"))} AS end_ts,
        {prompt} AS prompt_n, {completion} AS completion_n, {read} AS read_n,
        {write} AS write_n, {w5m} AS w5m_n, {w1h} AS w1h_n,
        coalesce(TRY_CAST({detail["reasoning"]} AS BIGINT), 0) AS reasoning_n,
        {total} AS total_n
    FROM listed
), buckets AS (
    SELECT *,
        CASE WHEN w5m_n IS NULL AND w1h_n IS NULL THEN write_n
             ELSE coalesce(w5m_n, 0) + coalesce(w1h_n, 0) END AS writes_n,
        CASE WHEN w5m_n IS NULL AND w1h_n IS NULL THEN write_n
             ELSE coalesce(w5m_n, 0) END AS out_5m,
        CASE WHEN w5m_n IS NULL AND w1h_n IS NULL THEN 0 ELSE coalesce(w1h_n, 0) END AS out_1h
    FROM typed
), rows AS (
    SELECT *, prompt_n - read_n - writes_n AS uncached_raw,
           greatest(prompt_n - read_n - writes_n, 0) AS uncached_n
    FROM buckets
)
SELECT line_no * {MAX_CALLS_PER_RECORD} AS row_key,
       {f.string("request_id")} AS request_id,
       start_ts AS ts,
       {f.text("custom_llm_provider")} AS provider,
       {f.string("model")} AS model_logged,
       {feature} AS feature,
       coalesce({f.text("end_user")}, {f.text("user")}) AS user_id,
       uncached_n AS uncached_input_tokens, read_n AS cached_input_tokens,
       out_5m AS cache_write_5m_tokens, out_1h AS cache_write_1h_tokens,
       completion_n AS output_tokens, reasoning_n AS reasoning_tokens,
       total_n AS total_tokens_logged,
       false AS batch,
       CASE WHEN NOT {_absent(spend)} THEN {spend} END AS logged_cost_usd,
       CASE WHEN {duration} IS NOT NULL THEN {duration}
            WHEN start_ts IS NOT NULL AND end_ts IS NOT NULL
            THEN (epoch_us(end_ts) - epoch_us(start_ts))::DOUBLE / 1000000.0 * 1000.0 END
           AS latency_ms,
       CASE WHEN {status_text} IN ('failure', 'error') THEN 'error' ELSE 'ok' END AS status,
       nullif(array_to_string(list_filter(list_transform(list_filter(msgs,
           lambda m: json_extract_string(m.role, '$') IN ('system', 'developer')),
           lambda m: json_extract_string(m.content, '$')),
           lambda t: t IS NOT NULL AND t <> ''), chr(10)), '') AS system_prompt,
       json_extract_string(list_filter(msgs,
           lambda m: json_extract_string(m.role, '$') = 'user')[-1].content, '$') AS prompt,
       CASE WHEN msgs IS NOT NULL THEN msgs_json END AS messages,
       {_string("r_content")} AS response,
       list_filter([
           CASE WHEN NOT (w5m_n IS NULL AND w1h_n IS NULL) AND write_n <> 0
                AND out_5m + out_1h <> write_n THEN 'cache_write_split_mismatch' END,
           CASE WHEN reasoning_n > completion_n THEN 'reasoning_gt_output' END,
           CASE WHEN total_n IS NOT NULL AND total_n NOT IN (
                uncached_n + read_n + out_5m + out_1h + completion_n, uncached_n + completion_n)
                THEN 'total_mismatch' END,
           CASE WHEN uncached_raw < 0 THEN 'cached_gt_input' END,
           CASE WHEN start_ts IS NULL THEN 'no_timestamp' END], lambda x: x IS NOT NULL) AS flags,
       '{NAME}' AS format,
       {_kept(f)} AS metadata,
       ?::VARCHAR AS source_file, line_no AS source_line, ?::VARCHAR AS run_id,
       coalesce({f.text("team_id")}, {_text("m_team_alias")}, {_text("m_team_id")}) AS team,
       well_formed
           AND (start_ts IS NOT NULL OR {_absent(k("startTime"))})
           AND (end_ts IS NOT NULL OR {_absent(k("endTime"))})
           AND greatest(uncached_n, read_n, out_5m, out_1h, completion_n, reasoning_n,
                        coalesce(total_n, 0)) <= {limit} AS ok
FROM rows
"""


def _kept(f: _Fields) -> str:
    """`metadata`: the unmapped columns, `metadata`, and `messages` / `response` (objects here),
    top-level keys sorted as `orjson.OPT_SORT_KEYS` sorts them; a JSON null is kept."""
    present = [k for k in f.keys if k not in _MAPPED]
    kept = sorted({*present, "metadata", "messages", "response"})
    pairs = []
    for key in kept:
        column = f.key(key)
        name = sql_text(json_text(key) + ":")
        if key in ("metadata", "response"):  # kept even when absent (as null)
            pairs.append(f"{name} || coalesce({column}, 'null')")
        elif key == "messages":  # kept unless a list (those are `messages`)
            pairs.append(f"CASE WHEN msgs IS NULL THEN {name} || coalesce({column}, 'null') END")
        else:
            pairs.append(f"CASE WHEN {column} IS NOT NULL THEN {name} || {column} END")
    return f"'{{' || concat_ws(',', {', '.join(pairs)}) || '}}'"
