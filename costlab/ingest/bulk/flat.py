"""The flat records' fast path: which key sets a file's flat records have, and one INSERT
mapping the records with those keys as `formats.flat` does.

The keys of the flat records the sample showed are mapped in one pass over the file: a record is
taken when all its keys are among them (the type and the text of every key's value, and a key
count). Only records that are certainly flat, and whose every field has the type `formats.flat`
accepts, are mapped here.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

import orjson

from costlab.formats import Detector
from costlab.formats.flat import MAPPED_KEYS, FlatRecord
from costlab.ingest.bulk.sql import EPOCH_MS, ISO_UTC, json_text, sql_text
from costlab.ingest.sources import Reader, Source
from costlab.ingest.staging import MAX_CALLS_PER_RECORD
from costlab.store import Store

# Lines read in Python first: do they hold flat records, and with which keys?
SAMPLE_LINES = 2000
# Keys whose values other formats' detection looks at: a key set holding one is never bulk-read.
# (`response` and `messages` are flat keys too; type checks send non-text values to Python.)
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
        "messages",
    }
)
_TEXT_KEYS = (
    "request_id",
    "provider",
    "feature",
    "user_id",
    "team",
    "status",
    "prompt",
    "system_prompt",
    "response",
)

# Keys a quoted JSON path names as they are (no empty key, quote, backslash or control character).
_PLAIN_KEY = re.compile(r'[^"\\\x00-\x1f]+')

KeySet = tuple[str, ...]


def _flat_key_set(record: object, detector: Detector) -> KeySet | None:
    if not isinstance(record, dict) or _FOREIGN_KEYS & record.keys():
        return None
    if not all(_PLAIN_KEY.fullmatch(key) for key in record):
        return None  # a JSON path in SQL cannot name it: the per-record path reads the record
    try:
        if detector.parse(record)[0] != FlatRecord.name:
            return None
    except Exception:  # noqa: BLE001 - a bad record is the per-record path's business
        return None
    return tuple(sorted(record))


def sample(source: Source) -> tuple[list[KeySet], set[str]]:
    """The key sets of the flat records among the first lines, most frequent first; and the
    formats of the other records there."""
    detector = Detector()
    seen: Counter[KeySet] = Counter()
    others: set[str] = set()
    for line in itertools.islice(Reader(source).lines(), SAMPLE_LINES):
        try:
            record = orjson.loads(line.raw)
            keys = _flat_key_set(record, detector)
            if keys is None:
                others.add(detector.format_of(record).name)
        except Exception:  # noqa: BLE001 - a bad record is the per-record path's business
            continue
        if keys is not None:
            seen[keys] += 1
    return [keys for keys, _ in seen.most_common()], others


def left_over_key_sets(store: Store, done: set[str]) -> list[KeySet]:
    """Flat key sets among the lines still left with a key the sample did not show."""
    detector = Detector()
    rows = store.rows(
        "SELECT any_value(raw), count(*) FROM _bulk WHERE raw IS NOT NULL "
        "GROUP BY try(json_keys(raw)) ORDER BY 2 DESC"
    )
    found = []
    for raw, _ in rows:
        try:
            keys = _flat_key_set(orjson.loads(raw), detector)
        except orjson.JSONDecodeError:
            continue
        if keys is not None and not done.issuperset(keys):
            found.append(keys)
    return found


class _Mapping:
    """SQL mapping records with exactly the keys `keys` as `FlatRecord.parse` maps them.

    Each record is read in two passes of the parser: the JSON type of every key's value
    (`json_type`: NULL when absent, 'NULL' for a JSON null) and its value as text
    (`json_extract_string`: a string unescaped, any other value as minified JSON). Tests look at
    the type and the text; no value is written back as JSON and parsed again (a 3 KB system
    prompt with escaped newlines cost most of the staging that way).
    """

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    def type(self, key: str) -> str:
        """The JSON type of the key's value: NULL when absent, 'NULL' for a JSON null."""
        if key not in self.keys:
            return "NULL::VARCHAR"
        return f"t[{self.keys.index(key) + 1}]"

    def value(self, key: str) -> str:
        """The key's value as text: a string unescaped, NULL when absent or a JSON null."""
        if key not in self.keys:
            return "NULL::VARCHAR"
        return f"s[{self.keys.index(key) + 1}]"

    def json(self, key: str) -> str:
        """The key's value as minified JSON text ('null' for a JSON null), NULL when absent."""
        kind = self.type(key)
        return (
            f"CASE {kind} WHEN 'VARCHAR' THEN to_json({self.value(key)})::VARCHAR "
            f"WHEN 'NULL' THEN 'null' ELSE {self.value(key)} END"
        )

    def absent(self, key: str) -> str:
        return f"({self.type(key)} IS NULL OR {self.type(key)} = 'NULL')"

    def is_string(self, key: str) -> str:
        return f"{self.type(key)} = 'VARCHAR'"

    def is_count(self, key: str) -> str:
        """A non-negative whole JSON number of at most 15 digits."""
        return f"({self.type(key)} = 'UBIGINT' AND length({self.value(key)}) <= 15)"

    def is_number(self, key: str) -> str:
        return (
            f"({self.type(key)} IN ('UBIGINT', 'BIGINT', 'DOUBLE') AND regexp_full_match("
            f"{self.value(key)}, '-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?'))"
        )

    def optional(self, key: str, test: str) -> str:
        return f"({self.absent(key)} OR {test})"

    def string(self, key: str) -> str:
        """The value of a JSON string, NULL for a JSON null or an absent key: the checks let
        only those through for the keys read as strings."""
        return self.value(key)

    def text(self, key: str) -> str:
        return f"nullif({self.string(key)}, '')"

    def count(self, key: str) -> str:
        return f"coalesce(TRY_CAST({self.value(key)} AS BIGINT), 0)"

    def checks(self) -> str:
        cost, ts = self.value("cost"), self.value("timestamp")
        tests = [
            f"{self.is_string('model')} AND {self.value('model')} <> ''",
            self.is_count("input_tokens"),
            self.is_count("output_tokens"),
            self.optional("cached_input_tokens", self.is_count("cached_input_tokens")),
            self.optional("reasoning_tokens", self.is_count("reasoning_tokens")),
            self.optional("batch", f"{self.type('batch')} = 'BOOLEAN'"),
            self.optional("duration_ms", self.is_number("duration_ms")),
            self.optional(
                "cost",
                f"{self.is_number('cost')} AND NOT starts_with({cost}, '-') "
                f"AND TRY_CAST({cost} AS DOUBLE) < 1000000",
            ),
            self.optional(
                "timestamp",
                f"({self.is_string('timestamp')} AND regexp_full_match({ts}, '{ISO_UTC}')) "
                f"OR ({self.is_count('timestamp')} AND TRY_CAST({ts} AS BIGINT) < "
                f"{EPOCH_MS * 1000})",
            ),
            *(self.optional(key, self.is_string(key)) for key in _TEXT_KEYS),
        ]
        return " AND ".join(tests)

    def ts(self) -> str:
        ts, epoch = self.value("timestamp"), f"TRY_CAST({self.value('timestamp')} AS BIGINT)"
        return (
            f"CASE WHEN {self.absent('timestamp')} THEN NULL "
            f"WHEN {self.is_string('timestamp')} THEN TRY_CAST(regexp_replace("
            f"{ts}, '(Z|\\+00:00)$', '') AS TIMESTAMP) "
            f"WHEN {epoch} > {EPOCH_MS} THEN make_timestamp({epoch} * 1000) "
            f"ELSE make_timestamp({epoch} * 1000000) END"
        )

    def metadata(self) -> str:
        """The unmapped keys present in the record, as in `chat.unmapped` (a JSON null is kept)."""
        extras = [k for k in self.keys if k not in MAPPED_KEYS]
        if not extras:
            return "'{}'"
        pairs = ", ".join(
            f"CASE WHEN {self.type(k)} IS NOT NULL THEN {sql_text(json_text(k) + ':')} "
            f"|| {self.json(k)} END"
            for k in extras
        )
        return f"'{{' || concat_ws(',', {pairs}) || '}}'"

    def paths(self) -> str:
        return "[" + ", ".join(sql_text("$." + json_text(k)) for k in self.keys) + "]"


def insert_sql(keys: KeySet, max_tokens: int, lines: str = "_bulk") -> str:
    """One INSERT staging the records of `lines` (`_bulk`, or the file's view) whose keys are all
    among `keys` (one pass: the types, the texts and the keys of each record).

    `json_type` of every key tells a JSON null ('NULL') from an absent key (NULL); a record
    holding as many keys as it has values among `keys` has no other key (nor a repeated one).
    """
    m = _Mapping(keys)
    it, ot = m.count("input_tokens"), m.count("output_tokens")
    ct, rt = m.count("cached_input_tokens"), m.count("reasoning_tokens")
    # Over the limit: the per-record path rejects the record with the limit in its reason.
    limit = int(max_tokens)
    plausible = f"greatest({it} - {ct}, {ct}, {ot}, {rt}) <= {limit}"
    return f"""
INSERT INTO _stage
WITH parsed AS (
    -- `random() < 2` is always true; being volatile, it keeps the optimizer from copying each
    -- parse into every test that reads it (the filter pushed down: ~50 parses a record).
    SELECT line_no, raw, CASE WHEN random() < 2 THEN try(json_type(raw, {m.paths()})) END AS t,
           CASE WHEN random() < 2 THEN try(json_extract_string(raw, {m.paths()})) END AS s,
           try(len(json_keys(raw))) AS n_keys
    FROM {lines}
    WHERE raw IS NOT NULL
)
SELECT line_no * {MAX_CALLS_PER_RECORD},
       coalesce({m.text("request_id")}, 'content:' || left(sha256(raw), 24)),
       ts, {m.text("provider")}, {m.string("model")}, {m.text("feature")}, {m.text("user_id")},
       greatest({it} - {ct}, 0), {ct}, 0, 0, {ot}, {rt}, NULL,
       coalesce({m.value("batch")} = 'true', false), {m.value("cost")},
       TRY_CAST({m.value("duration_ms")} AS DOUBLE),
       coalesce({m.text("status")}, 'ok'),
       {m.text("system_prompt")}, {m.text("prompt")}, NULL, {m.text("response")},
       list_filter([CASE WHEN {ct} > {it} THEN 'cached_gt_input' END,
                    CASE WHEN {rt} > {ot} THEN 'reasoning_gt_output' END,
                    CASE WHEN ts IS NULL THEN 'no_timestamp' END], lambda f: f IS NOT NULL),
       'flat', {m.metadata()}, ?, line_no, ?, {m.text("team")}
FROM (SELECT *, {m.ts()} AS ts FROM parsed
      WHERE n_keys = list_aggregate(t, 'count') AND {m.checks()})
WHERE (ts IS NOT NULL OR {m.absent("timestamp")}) AND {plausible}
"""
