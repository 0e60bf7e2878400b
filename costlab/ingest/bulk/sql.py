"""SQL text shared by the fast paths: how a value is tested and written as a JSON text."""

from __future__ import annotations

import json

# A timestamp DuckDB reads exactly as Python's datetime.fromisoformat does: UTC or naive.
ISO_UTC = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)?"
EPOCH_MS = 100_000_000_000  # above this an epoch number is in ms (timestamps.py agrees)


def json_text(text: str) -> str:
    """A JSON string as orjson writes it (non-ASCII kept): also how a JSON path names a key."""
    return json.dumps(text, ensure_ascii=False)


def sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# A count as `usage.count` takes it: a non-negative whole JSON number (15 digits: exact).
COUNT_TEXT = "[0-9]{1,15}"
# A measurement (a latency) Python's float() and DuckDB's DOUBLE read alike.
LATENCY_TEXT = r"[0-9]{1,15}(\.[0-9]{1,16})?"
# A number that orjson and DuckDB write back alike (no exponent, no tiny fraction), so a value
# kept as metadata is the same text on both paths.
PLAIN_NUMBER = r"-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,16})?"
# A logged cost whose float repr (Python) and decimal text (SQL) are the same amount.
COST_TEXT = r"(0|[1-9][0-9]{0,5})(\.[0-9]{1,8})?"


def well_formed(raw: str) -> str:
    """SQL: no JSON that DuckDB reads but orjson refuses (a trailing comma, a lone surrogate).

    NaN, Infinity and huge integers only pass where a mapping reads a value without a test.
    """
    return (
        f"NOT regexp_matches({raw}, ',[ \\t\\r\\n]*[\\]}}]') "
        f"AND NOT regexp_matches({raw}, '\\\\u[dD][89a-fA-F]')"
    )


class Values:
    """Values of a record read in one parse, `json_extract(raw, [paths])`: minified JSON texts.

    A test looks at a value's text (no second parse): NULL when the path is absent, 'null' for
    a JSON null, a leading quote for a string.
    """

    def __init__(self, paths: tuple[str, ...], column: str = "v") -> None:
        self.paths = paths
        self.column = column

    def sql_paths(self) -> str:
        return "[" + ", ".join(sql_text(p) for p in self.paths) + "]"

    def at(self, path: str) -> str:
        return f"{self.column}[{self.paths.index(path) + 1}]::VARCHAR"

    def absent(self, path: str) -> str:
        return f"coalesce({self.at(path)} = 'null', true)"

    def is_string(self, path: str) -> str:
        return f"coalesce(starts_with({self.at(path)}, '\"'), false)"

    def is_object(self, path: str) -> str:
        return f"coalesce(starts_with({self.at(path)}, '{{'), false)"

    def is_count(self, path: str) -> str:
        return f"coalesce(regexp_full_match({self.at(path)}, '{COUNT_TEXT}'), false)"

    def is_plain(self, path: str) -> str:
        """A string, true, false or a number written alike on both paths (metadata)."""
        value = self.at(path)
        return (
            f"coalesce(starts_with({value}, '\"') OR {value} IN ('true', 'false', 'null') "
            f"OR (regexp_full_match({value}, '{PLAIN_NUMBER}') "
            f"AND NOT regexp_matches({value}, '^-?0\\.0000')), false)"
        )

    def optional(self, path: str, test: str) -> str:
        return f"({self.absent(path)} OR {test})"

    def string(self, path: str) -> str:
        """The value of a JSON string; only strings with escapes need the JSON parser."""
        text = self.at(path)
        return (
            f"CASE WHEN NOT {self.is_string(path)} THEN NULL "
            f"WHEN contains({text}, '\\') THEN {text}::JSON->>'$' "
            f"ELSE substr({text}, 2, length({text}) - 2) END"
        )

    def text(self, path: str) -> str:
        """A text field as `values.text` reads it: NULL for null and for ''."""
        return f"nullif({self.string(path)}, '')"

    def count(self, path: str) -> str:
        """A count (tested with `is_count`), 0 when absent."""
        return f"coalesce(TRY_CAST({self.at(path)} AS BIGINT), 0)"

    def ts(self, path: str) -> str:
        """An ISO text (UTC or naive) as a TIMESTAMP; tested with `is_iso`."""
        text = self.at(path)
        return (
            f"TRY_CAST(regexp_replace(substr({text}, 2, length({text}) - 2), "
            f"'(Z|\\+00:00)$', '') AS TIMESTAMP)"
        )

    def is_iso(self, path: str) -> str:
        return f"coalesce(regexp_full_match({self.at(path)}, '\"{ISO_UTC}\"'), false)"

    def is_epoch_s(self, path: str) -> str:
        """An epoch count in seconds (below the ms threshold of `timestamps`)."""
        return f"({self.is_count(path)} AND TRY_CAST({self.at(path)} AS BIGINT) < {EPOCH_MS})"

    def epoch_s(self, path: str) -> str:
        return f"make_timestamp(TRY_CAST({self.at(path)} AS BIGINT) * 1000000)"

    def pair(self, key: str, path: str) -> str:
        """`"key":value` when the value is present (a JSON null too), else NULL."""
        name = sql_text(json_text(key) + ":")
        return f"CASE WHEN {self.at(path)} IS NOT NULL THEN {name} || {self.at(path)} END"


def keys_within(keys: str, allowed: tuple[str, ...]) -> str:
    """SQL: a key list (`json_keys`) holds only allowed keys, none twice; NULL (absent) passes."""
    names = ", ".join(sql_text(k) for k in allowed)
    return (
        f"coalesce(len(list_filter({keys}, lambda k: k NOT IN ({names}))) = 0 "
        f"AND len({keys}) = len(list_distinct({keys})), true)"
    )


def json_object(pairs: list[str]) -> str:
    """SQL: a JSON object of `"key":value` texts (NULL ones left out), in the order given."""
    return "'{' || concat_ws(',', " + ", ".join(pairs) + ") || '}'"


def wrapped_metadata(values: Values, request: str, response: str, body_id: str) -> str:
    """SQL: a wrapped {request, response} record's metadata, as `formats.wrapped` builds it: the
    request's and the response's extra fields (each object left out when empty), and the
    response's id when it differs from the record's own (`app_id`, `body_id` in the query)."""
    response_id = (
        "CASE WHEN app_id IS NOT NULL AND body_id IS NOT NULL AND body_id <> app_id "
        f"THEN '\"response_id\":' || {values.at(body_id)} END"
    )
    return json_object(
        [
            f"CASE WHEN {request} <> '{{}}' THEN '\"request\":' || {request} END",
            f"CASE WHEN {response} <> '{{}}' THEN '\"response\":' || {response} END",
            response_id,
        ]
    )
