"""The fast path of ingest: DuckDB reads a JSONL file and maps well-formed flat records itself.

Per-record Python parsing costs ~80 µs a row; DuckDB reads and maps a flat record in a few µs.
Only records that are certainly flat and whose every field has the type `formats.flat` expects
are mapped here; every other line goes back to the per-record path, which stays the reference
(and gives bad lines their precise reject reason). A test proves both paths store the same rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import orjson
import pyarrow as pa

from costlab.errors import StoreError
from costlab.formats import Detector
from costlab.formats.flat import MAPPED_KEYS, FlatRecord
from costlab.sources import Line, Reader, Source
from costlab.store import Store

# Lines read in Python to see whether a file holds flat records at all.
SAMPLE_LINES = 2000
# Keys whose values other formats' detection looks at: a key set holding one is never bulk-read.
# (`response` and `messages` are flat keys too; the type checks send their non-text values to
# the per-record path.)
_FOREIGN_KEYS = frozenset(
    {
        "object",
        "type",
        "result",
        "request",
        "body",
        "custom_id",
        "attributes",
        "usage",
        "choices",
        "call_type",
        "spend",
        "response_cost",
    }
)
_INT_KEYS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
_TEXT_KEYS = (
    "request_id",
    "provider",
    "feature",
    "user_id",
    "status",
    "prompt",
    "system_prompt",
    "response",
)
# A timestamp DuckDB reads exactly as Python's datetime.fromisoformat does: UTC or naive.
_ISO_UTC = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)?"
_EPOCH_MS = 100_000_000_000  # above this an epoch number is in ms (timestamps.py agrees)


def eligible(source: Source, forced_format: str | None, redact: bool, mapped: bool) -> bool:
    """Whether a file may take the fast path: on disk, JSON lines, no per-record rewrites."""
    if source.path is None or redact or mapped or forced_format not in (None, FlatRecord.name):
        return False
    name = source.path.name.removesuffix(".gz").removesuffix(".zst")
    return not name.endswith(".json")


def read(store: Store, source: Source) -> bool:
    """Read the file's lines into `_bulk` (outside any transaction: a failure must not abort one).

    False when the file does not start with flat records, or DuckDB cannot read it (bad UTF-8,
    a huge line, a corrupt stream): the per-record path then reads it and explains each problem.
    """
    store.execute("DROP TABLE IF EXISTS _bulk")
    if not _sample_is_flat(source):
        return False
    try:
        store.execute(_READ_SQL, [str(source.path)])
    except StoreError:
        store.execute("DROP TABLE IF EXISTS _bulk")
        return False
    return True


def stage(store: Store, source_file: str, run_id: str) -> Iterator[Line]:
    """Stage the flat records of `_bulk` into `_stage`; yield the lines left for Python."""
    fast = _fast_key_sets(store)
    extras = sorted({key for keys in fast for key in keys} - MAPPED_KEYS)
    struct = dict.fromkeys(sorted(MAPPED_KEYS | set(extras)), "JSON")
    store.register("_fast_keys", pa.table({"keys": pa.array(fast, pa.list_(pa.string()))}))
    try:
        store.execute(_insert_sql(_sql_text(json.dumps(struct)), extras), [source_file, run_id])
    finally:
        store.unregister("_fast_keys")
    return _leftovers(store)


def _sample_is_flat(source: Source) -> bool:
    """Whether the file starts with flat records (else DuckDB would read it for nothing)."""
    detector = Detector()
    for line in itertools.islice(Reader(source).lines(), SAMPLE_LINES):
        try:
            if detector.parse(orjson.loads(line.raw))[0] == FlatRecord.name:
                return True
        except Exception:  # noqa: BLE001, S112 - a bad line is the per-record path's business
            continue
    return False


def _fast_key_sets(store: Store) -> list[list[str]]:
    """The key sets whose records are flat records: checked once each, on a real record."""
    detector = Detector()
    fast: list[list[str]] = []
    rows = store.rows("SELECT keys, any_value(raw) FROM _bulk WHERE keys IS NOT NULL GROUP BY keys")
    for keys, raw in rows:
        if _FOREIGN_KEYS & set(keys):
            continue
        try:
            if detector.parse(orjson.loads(raw))[0] == FlatRecord.name:
                fast.append(keys)
        except Exception:  # noqa: BLE001, S112 - such records take the per-record path
            continue
    return fast


def _leftovers(store: Store) -> Iterator[Line]:
    counts = store.row("SELECT (SELECT count(raw) FROM _bulk), (SELECT count(*) FROM _stage)")
    if counts is not None and counts[0] == counts[1]:
        store.execute("DROP TABLE _bulk")
        return
    rows = store.rows(
        "SELECT line_no, raw FROM _bulk b WHERE raw IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM _stage s WHERE s.row_key = b.line_no) "
        "AND trim(raw) <> '' ORDER BY line_no"
    )
    store.execute("DROP TABLE _bulk")
    for number, raw in rows:
        yield Line(number, raw.encode("utf-8"))


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Lines as DuckDB reads them: one VARCHAR column (the delimiter cannot occur in valid JSON).
_READ_SQL = """
CREATE OR REPLACE TEMP TABLE _bulk AS
SELECT line_no, raw, try(json_keys(raw)) AS keys
FROM (
    SELECT row_number() OVER () AS line_no, raw
    FROM read_csv(?, columns = {'raw': 'VARCHAR'}, delim = '\x1f', quote = '', escape = '',
                  header = false, auto_detect = false)
)
"""


def _field(key: str) -> str:
    return f"v.{_ident(key)}"


# Type tests on the JSON text of one value (minified by json_transform): no second parse.
def _json(key: str) -> str:
    return f"{_field(key)}::VARCHAR"


def _absent(key: str) -> str:
    return f"({_field(key)} IS NULL OR {_json(key)} = 'null')"


def _is_string(key: str) -> str:
    return f"starts_with({_json(key)}, '\"')"


def _is_count(key: str) -> str:
    return f"regexp_full_match({_json(key)}, '[0-9]{{1,15}}')"


def _is_number(key: str) -> str:
    return f"regexp_full_match({_json(key)}, '-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?')"


def _string(key: str) -> str:
    """The value of a JSON string; only strings with escapes need the JSON parser."""
    text = _json(key)
    return (
        f"CASE WHEN NOT {_is_string(key)} THEN NULL "
        f"WHEN contains({text}, '\\') THEN {_field(key)}->>'$' "
        f"ELSE substr({text}, 2, length({text}) - 2) END"
    )


def _optional(key: str, test: str) -> str:
    return f"({_absent(key)} OR {test})"


def _checks() -> list[str]:
    cost = _json("cost")
    ts = _json("timestamp")
    checks = [
        f"{_is_string('model')} AND {_json('model')} <> '\"\"'",
        _is_count("input_tokens"),
        _is_count("output_tokens"),
        _absent("messages"),
        _optional("batch", f"{_json('batch')} IN ('true', 'false')"),
        _optional("duration_ms", _is_number("duration_ms")),
        _optional(
            "cost",
            f"{_is_number('cost')} AND TRY_CAST({cost} AS DOUBLE) < 1000000 "
            f"AND NOT starts_with({cost}, '-')",
        ),
        _optional(
            "timestamp",
            f"regexp_full_match({ts}, '\"{_ISO_UTC}\"') OR ({_is_count('timestamp')} "
            f"AND TRY_CAST({ts} AS BIGINT) < {_EPOCH_MS * 1000})",
        ),
    ]
    checks += [_optional(key, _is_count(key)) for key in _INT_KEYS[2:]]
    checks += [_optional(key, _is_string(key)) for key in _TEXT_KEYS]
    return checks


def _text(key: str) -> str:
    return f"nullif({_string(key)}, '')"


def _ts() -> str:
    ts, epoch = _json("timestamp"), f"TRY_CAST({_json('timestamp')} AS BIGINT)"
    return (
        f"CASE WHEN {_absent('timestamp')} THEN NULL "
        f"WHEN {_is_string('timestamp')} "
        f"THEN TRY_CAST(regexp_replace(substr({ts}, 2, length({ts}) - 2), '(Z|\\+00:00)$', '') "
        f"AS TIMESTAMP) "
        f"WHEN {epoch} > {_EPOCH_MS} THEN make_timestamp({epoch} * 1000) "
        f"ELSE make_timestamp({epoch} * 1000000) END"
    )


def _metadata(extras: list[str]) -> str:
    """The unmapped keys of each record, as in `chat.unmapped` (a JSON null is kept)."""
    if not extras:
        return "'{}'"
    pairs = ", ".join(
        f"struct_pack(k := {_sql_text(k)}, v := coalesce({_field(k)}, 'null'::JSON))"
        for k in extras
    )
    return f"to_json(map_from_entries(list_filter([{pairs}], lambda e: list_contains(keys, e.k))))"


def _bigint(key: str) -> str:
    return f"TRY_CAST({_json(key)} AS BIGINT)"


def _insert_sql(struct: str, extras: list[str]) -> str:
    """One INSERT mapping every bulk-readable flat record exactly as `FlatRecord.parse` does."""
    it, ot = _bigint("input_tokens"), _bigint("output_tokens")
    ct, rt = (
        f"coalesce({_bigint('cached_input_tokens')}, 0)",
        f"coalesce({_bigint('reasoning_tokens')}, 0)",
    )
    return f"""
INSERT INTO _stage
WITH parsed AS MATERIALIZED (
    SELECT line_no, raw, keys, try(json_transform(raw, {struct})) AS v FROM _bulk
    WHERE keys IN (SELECT keys FROM _fast_keys)
)
SELECT line_no, coalesce({_text("request_id")}, CASE WHEN {_text("request_id")} IS NULL
       THEN 'content:' || left(sha256(raw), 24) END), ts,
       {_text("provider")}, {_string("model")}, {_text("feature")}, {_text("user_id")},
       greatest({it} - {ct}, 0), {ct}, 0, 0, {ot}, {rt}, NULL,
       coalesce({_json("batch")} = 'true', false),
       CASE WHEN NOT {_absent("cost")} THEN {_json("cost")} END,
       TRY_CAST({_json("duration_ms")} AS DOUBLE),
       coalesce({_text("status")}, 'ok'),
       {_text("system_prompt")}, {_text("prompt")}, NULL, {_text("response")},
       list_filter([CASE WHEN {ct} > {it} THEN 'cached_gt_input' END,
                    CASE WHEN {rt} > {ot} THEN 'reasoning_gt_output' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       'flat', {_metadata(extras)}, ?, line_no, ?
FROM (SELECT *, {_ts()} AS ts FROM parsed WHERE {" AND ".join(_checks())})
WHERE ts IS NOT NULL OR {_absent("timestamp")}
"""
