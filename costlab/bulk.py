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
from costlab.formats.flat import FlatRecord, MAPPED_KEYS
from costlab.sources import Line, Reader, Source
from costlab.store import Store

# Lines read in Python to learn a file's keys before DuckDB reads all of it.
SAMPLE_LINES = 2000
# Keys whose values other formats' detection looks at: a key set holding one is never bulk-read.
# (`response` and `messages` are flat keys too; the type checks send their non-text values to
# the per-record path.)
_FOREIGN_KEYS = frozenset(
    {"object", "type", "result", "request", "body", "custom_id", "attributes", "usage",
     "choices", "call_type", "spend", "response_cost"}
)
_INT_KEYS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
_TEXT_KEYS = ("request_id", "provider", "feature", "user_id", "status", "prompt",
              "system_prompt", "response")
_INTS = "('BIGINT', 'UBIGINT')"
_NUMBERS = "('BIGINT', 'UBIGINT', 'DOUBLE')"
# A timestamp DuckDB reads exactly as Python's datetime.fromisoformat does: UTC or naive.
_ISO_UTC = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)?$"
_EPOCH_MS = 100_000_000_000  # above this an epoch number is in ms (timestamps.py agrees)


def eligible(source: Source, forced_format: str | None, redact: bool, mapped: bool) -> bool:
    """Whether a file may take the fast path (a file on disk, JSON lines, no per-record rewrites)."""
    if source.path is None or redact or mapped or forced_format not in (None, FlatRecord.name):
        return False
    name = source.path.name.removesuffix(".gz").removesuffix(".zst")
    return not name.endswith(".json")


def stage(store: Store, source: Source, source_file: str, run_id: str) -> Iterator[Line] | None:
    """Stage the file's flat records into `_stage`; yield the other lines, None if not possible."""
    extras = _sampled_extra_keys(source)
    if extras is None:
        return None
    struct = {key: "JSON" for key in sorted(MAPPED_KEYS | extras)}
    try:
        store.execute(_READ_SQL.format(struct=_sql_text(json.dumps(struct))), [str(source.path)])
    except StoreError:
        store.execute("DROP TABLE IF EXISTS _bulk")
        return None  # unreadable for DuckDB (bad UTF-8, a huge line, a corrupt stream)
    store.register("_fast_keys", _fast_key_sets(store, frozenset(struct)))
    try:
        store.execute(_insert_sql(sorted(extras)), [source_file, run_id])
    finally:
        store.unregister("_fast_keys")
    return _leftovers(store)


def _sampled_extra_keys(source: Source) -> frozenset[str] | None:
    """Keys of the first flat records beyond the mapped ones; None when the sample is not flat."""
    keys: set[str] = set()
    detector = Detector()
    flat_seen = False
    for line in itertools.islice(Reader(source).lines(), SAMPLE_LINES):
        try:
            record = orjson.loads(line.raw)
            if isinstance(record, dict) and detector.parse(record)[0] == FlatRecord.name:
                flat_seen = True
                keys.update(record)
        except Exception:  # noqa: BLE001 - a bad sample line is the per-record path's business
            continue
    return frozenset(keys - MAPPED_KEYS) if flat_seen else None


def _fast_key_sets(store: Store, known: frozenset[str]) -> pa.Table:
    """The key sets whose records are flat records: checked once each, on a real record."""
    detector = Detector()
    fast: list[list[str]] = []
    for keys, raw in store.rows("SELECT keys, any_value(raw) FROM _bulk WHERE keys IS NOT NULL GROUP BY keys"):
        if not set(keys) <= known or _FOREIGN_KEYS & set(keys):
            continue
        try:
            if detector.parse(orjson.loads(raw))[0] == FlatRecord.name:
                fast.append(keys)
        except Exception:  # noqa: BLE001 - a record that fails here takes the per-record path
            continue
    return pa.table({"keys": pa.array(fast, pa.list_(pa.string()))})


def _leftovers(store: Store) -> Iterator[Line]:
    rows = store.rows(
        "SELECT line_no, raw FROM _bulk WHERE raw IS NOT NULL AND trim(raw) <> '' "
        "AND line_no NOT IN (SELECT row_key FROM _stage) ORDER BY line_no"
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
SELECT line_no, raw, try(json_keys(raw)) AS keys, try(json_transform(raw, {struct})) AS v
FROM (
    SELECT row_number() OVER () AS line_no, raw
    FROM read_csv(?, columns = {{'raw': 'VARCHAR'}}, delim = '\x1f', quote = '', escape = '',
                  header = false, auto_detect = false)
)
"""


def _field(key: str) -> str:
    return f"v.{_ident(key)}"


def _absent(key: str) -> str:
    return f"({_field(key)} IS NULL OR json_type({_field(key)}) = 'NULL')"


def _checks() -> list[str]:
    checks = [
        f"json_type({_field('model')}) = 'VARCHAR' AND {_field('model')}->>'$' <> ''",
        f"json_type({_field('input_tokens')}) IN {_INTS}",
        f"json_type({_field('output_tokens')}) IN {_INTS}",
        _absent("messages"),
        f"({_absent('batch')} OR json_type({_field('batch')}) = 'BOOLEAN')",
        f"({_absent('duration_ms')} OR json_type({_field('duration_ms')}) IN {_NUMBERS})",
        f"({_absent('cost')} OR (json_type({_field('cost')}) IN {_NUMBERS} "
        f"AND TRY_CAST({_field('cost')} AS DOUBLE) >= 0 "
        f"AND TRY_CAST({_field('cost')} AS DOUBLE) < 1000000))",
        f"({_absent('timestamp')} OR regexp_matches({_field('timestamp')}->>'$', '{_ISO_UTC}') "
        f"OR (json_type({_field('timestamp')}) IN {_INTS} "
        f"AND TRY_CAST({_field('timestamp')} AS BIGINT) < {_EPOCH_MS * 1000}))",
    ]
    for key in _INT_KEYS[2:]:
        checks.append(f"({_absent(key)} OR json_type({_field(key)}) IN {_INTS})")
    for key in _INT_KEYS:
        checks.append(f"coalesce(TRY_CAST({_field(key)} AS HUGEINT), 0) >= 0")
    for key in _TEXT_KEYS:
        checks.append(f"({_field(key)} IS NULL OR json_type({_field(key)}) IN ('VARCHAR', 'NULL'))")
    return checks


def _text(key: str) -> str:
    return f"nullif({_field(key)}->>'$', '')"


def _ts() -> str:
    ts = _field("timestamp")
    return (
        f"CASE WHEN {_absent('timestamp')} THEN NULL "
        f"WHEN json_type({ts}) = 'VARCHAR' "
        f"THEN TRY_CAST(regexp_replace({ts}->>'$', '(Z|\\+00:00)$', '') AS TIMESTAMP) "
        f"WHEN TRY_CAST({ts} AS BIGINT) > {_EPOCH_MS} "
        f"THEN make_timestamp(TRY_CAST({ts} AS BIGINT) * 1000) "
        f"ELSE make_timestamp(TRY_CAST({ts} AS BIGINT) * 1000000) END"
    )


def _metadata(extras: list[str]) -> str:
    if not extras:
        return "'{}'"
    pairs = ", ".join(f"struct_pack(k := {_sql_text(k)}, v := {_field(k)})" for k in extras)
    return f"to_json(map_from_entries(list_filter([{pairs}], lambda e: e.v IS NOT NULL)))"


def _bigint(key: str) -> str:
    return f"TRY_CAST({_field(key)} AS BIGINT)"


def _insert_sql(extras: list[str]) -> str:
    """One INSERT mapping every bulk-readable flat record exactly as `FlatRecord.parse` does."""
    it, ot = _bigint("input_tokens"), _bigint("output_tokens")
    ct, rt = f"coalesce({_bigint('cached_input_tokens')}, 0)", f"coalesce({_bigint('reasoning_tokens')}, 0)"
    return f"""
INSERT INTO _stage
SELECT line_no, coalesce({_text('request_id')}, 'content:' || left(sha256(raw), 24)), ts,
       {_text('provider')}, {_field('model')}->>'$', {_text('feature')}, {_text('user_id')},
       greatest({it} - {ct}, 0), {ct}, 0, 0, {ot}, {rt}, NULL,
       coalesce(TRY_CAST({_field('batch')} AS BOOLEAN), false),
       CASE WHEN NOT {_absent('cost')} THEN {_field('cost')}::VARCHAR END,
       TRY_CAST({_field('duration_ms')} AS DOUBLE),
       coalesce({_text('status')}, 'ok'),
       {_text('system_prompt')}, {_text('prompt')}, NULL, {_text('response')},
       list_filter([CASE WHEN {ct} > {it} THEN 'cached_gt_input' END,
                    CASE WHEN {rt} > {ot} THEN 'reasoning_gt_output' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       'flat', {_metadata(extras)}, ?, line_no, ?
FROM (SELECT *, {_ts()} AS ts FROM _bulk WHERE keys IN (SELECT keys FROM _fast_keys)
      AND {' AND '.join(_checks())})
WHERE ts IS NOT NULL OR {_absent('timestamp')}
"""
