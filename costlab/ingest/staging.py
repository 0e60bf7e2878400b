"""Per-record work of ingest: decode, detect, map, redact, and gather rows into Arrow batches."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import orjson
import pyarrow as pa

from costlab import timestamps
from costlab.call import Call
from costlab.errors import RecordError
from costlab.formats import Detector
from costlab.ingest.options import IngestOptions
from costlab.ingest.sources import Line
from costlab.redact import redact

_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some editors write at the start of a file
# Rejected raw text is kept up to this size: enough to see the problem, not a 50 MB blob.
MAX_REJECT_TEXT = 4096
# Calls one record may hold (a CloudWatch Logs payload of Bedrock invocation logs holds several).
MAX_CALLS_PER_RECORD = 1 << 16

STAGE_SCHEMA = pa.schema(
    [
        ("row_key", pa.int64()),
        ("request_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("provider", pa.string()),
        ("model_logged", pa.string()),
        ("feature", pa.string()),
        ("user_id", pa.string()),
        ("uncached_input_tokens", pa.int64()),
        ("cached_input_tokens", pa.int64()),
        ("cache_write_5m_tokens", pa.int64()),
        ("cache_write_1h_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("total_tokens_logged", pa.int64()),
        ("batch", pa.bool_()),
        ("logged_cost_usd", pa.string()),
        ("latency_ms", pa.float64()),
        ("status", pa.string()),
        ("system_prompt", pa.string()),
        ("prompt", pa.string()),
        ("messages", pa.string()),
        ("response", pa.string()),
        ("flags", pa.list_(pa.string())),
        ("format", pa.string()),
        ("metadata", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("run_id", pa.string()),
        ("team", pa.string()),
    ]
)


def empty_stage() -> pa.Table:
    """No rows, the stage's columns (`STAGE_SCHEMA.empty_table()` would import pandas)."""
    return pa.Table.from_batches([], schema=STAGE_SCHEMA)


_CALL_COLUMNS = [
    ("request_id", "request_id"),
    ("ts", "ts"),
    ("provider", "provider"),
    ("model_logged", "model"),
    ("feature", "feature"),
    ("user_id", "user_id"),
    ("team", "team"),
    ("uncached_input_tokens", "uncached_input_tokens"),
    ("cached_input_tokens", "cached_input_tokens"),
    ("cache_write_5m_tokens", "cache_write_5m_tokens"),
    ("cache_write_1h_tokens", "cache_write_1h_tokens"),
    ("output_tokens", "output_tokens"),
    ("reasoning_tokens", "reasoning_tokens"),
    ("total_tokens_logged", "total_tokens_logged"),
    ("batch", "batch"),
    ("logged_cost_usd", "logged_cost_usd"),
    ("latency_ms", "latency_ms"),
    ("status", "status"),
    ("system_prompt", "system_prompt"),
    ("prompt", "prompt"),
    ("response", "response"),
]
_TEXT_FIELDS = ("system_prompt", "prompt", "response")


def row_key(line_number: int, index: int = 0) -> int:
    """The staged row's key: file order, then the call's place in its record (bulk.py agrees)."""
    return line_number * MAX_CALLS_PER_RECORD + index


def content_id(raw: bytes) -> str:
    """The request id of a record whose log has none: a hash of its bytes (bulk.flat agrees)."""
    return "content:" + hashlib.sha256(raw).hexdigest()[:24]


class StageBatch:
    """Rows of parsed calls waiting to go to the `_stage` table."""

    def __init__(self, options: IngestOptions, source_file: str, run_id: str) -> None:
        self._options = options
        self._source_file = source_file
        self._run_id = run_id
        self._detector = Detector(options.format)
        self._columns: dict[str, list[Any]] = {name: [] for name in STAGE_SCHEMA.names}
        self.rows = 0
        self.calls = 0
        self.formats: Counter[str] = Counter()

    def add(self, line: Line) -> str | None:
        """Stage one record; the reason it was rejected, or None."""
        if line.error is not None:
            return line.error
        try:
            raw = line.raw.removeprefix(_BOM) if line.number == 1 else line.raw
            record = line.value if line.value is not None else orjson.loads(raw)
            name, calls = self._detector.parse_all(record)
            if len(calls) > MAX_CALLS_PER_RECORD:
                raise RecordError(
                    f"{len(calls):,} calls in one record, over {MAX_CALLS_PER_RECORD:,}"
                )
            rows = []
            for index, call in enumerate(calls):
                if self._options.field_map and isinstance(record, dict):
                    _apply_map(call, record, self._options.field_map)
                rows.append(self._row(call, line, name, index))
        except orjson.JSONDecodeError as err:
            return _decode_reason(line.raw, err)
        except RecordError as err:
            return str(err)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as err:
            return f"unexpected value in record: {type(err).__name__}: {err}"
        for row in rows:
            for key, value in row.items():
                self._columns[key].append(value)
        self.rows += len(rows)
        self.calls += len(rows)
        self.formats[name] += len(rows)
        return None

    def _row(self, call: Call, line: Line, name: str, index: int) -> dict[str, Any]:
        row: dict[str, Any] = {col: call.get(key) for col, key in _CALL_COLUMNS}
        if row["request_id"] is None:
            row["request_id"] = content_id(line.raw if not index else b"%b#%d" % (line.raw, index))
        messages = call.get("messages")
        row["messages"] = None if messages is None else orjson.dumps(messages).decode()
        metadata = call.get("metadata") or {}
        # Keys sorted, as the bulk path (bulk.flat) writes them.
        row["metadata"] = orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS).decode()
        flags = list(call.get("flags") or ())
        if row["ts"] is None and name != "openai_batch_input":
            flags.append("no_timestamp")
        row["flags"] = flags
        row["batch"] = bool(row["batch"])
        row["status"] = row["status"] or "ok"
        for bucket in _BUCKETS:
            row[bucket] = row[bucket] or 0
        _check_plausible(row, self._options.max_tokens)
        if self._options.redact:
            for key in (*_TEXT_FIELDS, "messages", "metadata"):
                if row[key] is not None:
                    row[key] = redact(row[key])
        row.update(
            row_key=row_key(line.number, index),
            format=name,
            source_file=self._source_file,
            source_line=line.number,
            run_id=self._run_id,
        )
        return row

    def take(self) -> pa.Table | None:
        """The staged rows as an Arrow table (None when empty); the batch starts over."""
        if not self.rows:
            return None
        table = pa.table(self._columns, schema=STAGE_SCHEMA)
        self._columns = {name: [] for name in STAGE_SCHEMA.names}
        self.rows = 0
        return table


_BUCKETS = (
    "uncached_input_tokens",
    "cached_input_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def _check_plausible(row: dict[str, Any], max_tokens: int) -> None:
    """A token count over the limit is a broken record (and one over 2^63 cannot be stored)."""
    for name in (*_BUCKETS, "total_tokens_logged"):
        n = row[name]
        if n is not None and n > max_tokens:
            shown = f"{n:,}" if n < 10**15 else f"{n:.3g}"
            raise RecordError(
                f"token count '{name}' is {shown}, over the plausible limit of "
                f"{max_tokens:,} per request (ingest.max_tokens, --max-tokens)"
            )


def _apply_map(call: Call, record: dict[str, Any], field_map: dict[str, str] | Any) -> None:
    for target, path in field_map.items():
        value = _lookup(record, path)
        if value is None:
            value = _lookup(dict(call), path)
        if value is None:
            continue
        if target == "ts":
            call["ts"] = timestamps.parse(value, path)
        else:
            call[target] = value if isinstance(value, str) else orjson.dumps(value).decode()  # type: ignore[literal-required]


def _lookup(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
        if obj is None:
            return None
    return obj


def _decode_reason(raw: bytes, err: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8: byte 0x{raw[bad.start]:02x} at position {bad.start}"
    return f"malformed JSON: {err}"


# The reasons of a line that is not JSON at all (`_decode_reason`).
_UNDECODABLE = ("malformed JSON: ", "not valid UTF-8: ")
RejectRow = tuple[int, str, str | None, int]  # line, reason, start of the raw text, raw size


def reject_row(line: Line, reason: str, options: IngestOptions) -> RejectRow:
    """What `rejects` keeps of a bad record: what the user keeps out of the store stays out.

    --no-text keeps no raw text at all; --redact masks the raw text and the reason (a reason
    may quote a value).
    """
    text: str | None = line.raw[:MAX_REJECT_TEXT].decode("utf-8", errors="replace")
    if options.no_text:
        text = None
    if options.redact or options.no_text:
        reason = redact(reason)
        text = None if text is None else redact(text)
    return (line.number, reason, text, len(line.raw))


class RejectBatch:
    """Rejected records of one file, kept with file, line, reason and (truncated) raw text."""

    def __init__(self, options: IngestOptions, source_file: str, run_id: str) -> None:
        self._options = options
        self._source_file = source_file
        self._run_id = run_id
        self._rows: list[RejectRow] = []

    @property
    def count(self) -> int:
        return len(self._rows)

    def add(self, line: Line, reason: str) -> RejectRow:
        """Keep a rejected line; the row kept."""
        return self.add_row(reject_row(line, reason, self._options))

    def first_reason(self) -> str | None:
        """'line N: reason' of the first reject, None when there is none."""
        return f"line {self._rows[0][0]}: {self._rows[0][1]}" if self._rows else None

    def all_undecodable(self) -> bool:
        """Whether no rejected line was JSON at all (not one was a record of the wrong shape)."""
        return all(row[1].startswith(_UNDECODABLE) for row in self._rows)

    def add_row(self, row: RejectRow) -> RejectRow:
        self._rows.append(row)
        return row

    def take(self) -> pa.Table | None:
        if not self._rows:
            return None
        lines, reasons, raws, sizes = zip(*self._rows, strict=True)
        n = len(lines)
        return pa.table(
            {
                "run_id": pa.array([self._run_id] * n, pa.string()),
                "source_file": pa.array([self._source_file] * n, pa.string()),
                "source_line": pa.array(lines, pa.int64()),
                "reason": pa.array(reasons, pa.string()),
                "raw": pa.array(raws, pa.string()),
                "raw_bytes": pa.array(sizes, pa.int64()),
            }
        )
