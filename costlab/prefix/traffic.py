"""The logged traffic as the replay needs it: time-ordered requests and their prompts as tokens.

A prompt is a list of segments in the order a provider reads them: system prompt, tools, then the
messages. Each distinct segment text is tokenized once; each distinct list of segments becomes
one token sequence, so thousands of requests that share a system prompt share its tokens.
Each request is tokenized with its model's encoding (`AUTO`: o200k_base for gpt-4o and later,
cl100k_base for gpt-4 and, as an estimate, for models without a tiktoken encoding), or with one
encoding named for all.

A sequence of fewer UTF-8 bytes than `below` (the smallest prefix any rule in use caches) is not
tokenized: a byte-level BPE token is at least one byte, so it has fewer tokens than `below` and
no rule can cache any of it. Its `tokens` are empty and its `segment_ends` zeros (as many as it
has segments); `Traffic.short` marks it. A `Memo` of token ids per (encoding, text) is shared by
the loads of one run (`costlab plan` loads the traffic twice: as logged, and as routed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from costlab import encodings
from costlab.scope import Scope
from costlab.store import Store

AUTO = "auto"
_COLUMNS = """
    request_id, epoch(ts) AS ts_s, provider, model, coalesce(feature, '(none)') AS feature,
    system_prompt, prompt, CAST(messages AS VARCHAR) AS messages,
    CAST(coalesce(json_extract(metadata, '$.tools'), json_extract(metadata, '$.request.tools'))
         AS VARCHAR) AS tools,
    coalesce(input_tokens, 0) AS input_tokens, coalesce(cached_input_tokens, 0) AS cached,
    coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0) AS written,
    coalesce(batch, false) AS batch, cost_usd, latency_ms
"""


@dataclass(frozen=True)
class Traffic:
    """Requests in time order (requests without a time last) and their token sequences."""

    request_ids: list[str]
    ts_s: list[float | None]
    providers: list[str | None]
    models: list[str]
    features: list[str]
    input_tokens: np.ndarray  # int64, as logged (all four input buckets)
    logged_cached: np.ndarray  # int64, cache reads the provider reported
    logged_written: np.ndarray  # int64, cache writes the provider reported
    batch: list[bool]
    cost_usd: list[Decimal | None]
    latency_ms: list[float | None]
    sequence: np.ndarray  # int64: index into `tokens`, -1 for a request without prompt text
    tokens: list[np.ndarray]  # per distinct sequence: its token ids
    segment_ends: list[list[int]]  # per distinct sequence: cumulative token count per segment
    segment_ids: list[tuple[int, ...]]  # per distinct sequence: its distinct segment ids
    segment_texts: list[str]  # per segment id
    short: np.ndarray  # bool per distinct sequence: under `below` bytes, not tokenized
    # per model: the encoding its token ids come from (a model not named: cl100k_base)
    model_encodings: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.request_ids)

    def describe_encodings(self) -> str:
        """Which encoding counted which models, and which of them are estimates."""
        by_encoding: dict[str, list[str]] = {}
        for model, name in sorted(self.model_encodings.items()):
            exact = encodings.encoding_for_model(model) == name
            by_encoding.setdefault(name, []).append(model if exact else f"{model} (estimate)")
        return "; ".join(f"{name} for {', '.join(ms)}" for name, ms in by_encoding.items())

    def first_segment(self, row: int) -> np.ndarray:
        """A request's first segment as token ids (tokenized here when its sequence is short)."""
        s = int(self.sequence[row])
        if not self.short[s]:
            return self.tokens[s][: self.segment_ends[s][0]]
        name = self.model_encodings.get(self.models[row], encodings.DEFAULT_ENCODING)
        text = self.segment_texts[self.segment_ids[s][0]]
        return np.asarray(encodings.load(name).ids([text])[0], dtype=np.uint32)


Memo = dict[tuple[str, str], np.ndarray]  # (encoding, text) -> its token ids


def load(
    store: Store,
    scope: Scope,
    encoding: str,
    source: str = "requests",
    rewrite: Mapping[str, str] | None = None,
    below: int = 0,
    memo: Memo | None = None,
) -> Traffic:
    """Every request in scope, in time order, its prompt tokenized with `encoding` (or `AUTO`).

    `source` is a relation with the columns of requests (`costlab plan` gives the requests as
    routed); `rewrite` replaces a segment's text by another (plan: a compressed template);
    sequences under `below` UTF-8 bytes are left untokenized; `memo` holds token ids already
    made (and gets those made here).
    """
    if encoding != AUTO:
        encodings.load(encoding)  # an unknown or unavailable encoding is an error up front
    where, params = scope.sql()
    table = store.arrow(
        f"SELECT {_COLUMNS} FROM {source}{where} ORDER BY ts NULLS LAST, request_id", params
    )
    swap = rewrite or {}
    models = table.column("model").to_pylist()
    model_encodings = {m: _encoding(m, encoding) for m in set(models)}
    # rows with the same texts and encoding share a key: only the first row of each is parsed
    texts, codes = zip(*(_codes(table.column(name)) for name in _TEXTS), strict=True)
    number: dict[str, int] = {}
    model_names, model_codes = _codes(table.column("model"))
    of_model = np.array(
        [number.setdefault(_encoding(m, encoding), len(number)) for m in model_names], np.int64
    )
    key, first = _first_seen([*codes, of_model[model_codes]])
    segment_index: dict[tuple[str, str], int] = {}
    sequence_index: dict[tuple[int, ...], int] = {}
    sequence_of_key = np.full(len(first), -1, dtype=np.int64)
    heads = [column[first].tolist() for column in codes]  # each key's code per text column
    system, prompt, messages, tools = texts  # in the order of _TEXTS
    segment, sequence_number = segment_index.setdefault, sequence_index.setdefault
    rows = zip(first.tolist(), *heads, strict=True)
    # a loop over every distinct prompt (~600k at 1M requests): names bound once, and without
    # messages `segments` inlined (its texts are system, tools, prompt)
    for k, (row, s, p, m, t) in enumerate(rows):
        name = model_encodings[models[row]]
        if m < 0:
            said = [x for x in (system[s], tools[t], prompt[p]) if x]
        else:
            said = segments(system[s], prompt[p], messages[m], tools[t])
        ids = tuple([segment((name, swap.get(x, x)), len(segment_index)) for x in said])
        if ids:
            sequence_of_key[k] = sequence_number(ids, len(sequence_index))
    sequence = sequence_of_key[key]
    keys = list(segment_index)
    size = [len(text.encode("utf-8", "surrogatepass")) for _, text in keys]
    short = np.fromiter(
        (sum(size[s] for s in ids) < below for ids in sequence_index), bool, len(sequence_index)
    )
    needed = sorted({s for ids, low in zip(sequence_index, short, strict=True) if not low
                     for s in ids})  # fmt: skip
    segment_tokens = _tokenized(keys, needed, {} if memo is None else memo)
    tokens, ends = [], []
    zeros: dict[int, list[int]] = {}  # short sequences of one length share their (read-only) ends
    for ids, low in zip(sequence_index, short, strict=True):
        if low:
            tokens.append(_EMPTY)
            ends.append(zeros.get(len(ids)) or zeros.setdefault(len(ids), [0] * len(ids)))
            continue
        parts = [segment_tokens[s] for s in ids]
        tokens.append(np.concatenate(parts))
        ends.append(np.cumsum([len(p) for p in parts]).tolist())
    column = {name: table.column(name) for name in _KEPT}
    return Traffic(
        request_ids=column["request_id"].to_pylist(),
        ts_s=column["ts_s"].cast(pa.float64()).to_pylist(),
        providers=column["provider"].to_pylist(),
        models=[m or "(unknown)" for m in models],
        features=column["feature"].to_pylist(),
        input_tokens=_ints(column["input_tokens"]),
        logged_cached=_ints(column["cached"]),
        logged_written=_ints(column["written"]),
        batch=column["batch"].to_pylist(),
        cost_usd=python_values(column["cost_usd"]),
        latency_ms=column["latency_ms"].to_pylist(),
        sequence=sequence,
        tokens=tokens,
        segment_ends=ends,
        segment_ids=list(sequence_index),
        segment_texts=[text for _, text in segment_index],
        short=short,
        model_encodings={m or "(unknown)": e for m, e in model_encodings.items()},
    )


_TEXTS = ("system_prompt", "prompt", "messages", "tools")  # the arguments of `segments`
_KEPT = ("request_id", "ts_s", "provider", "feature", "input_tokens", "cached", "written",
         "batch", "cost_usd", "latency_ms")  # fmt: skip


def _codes(column: Any) -> tuple[list[Any], np.ndarray]:
    """The distinct values of a column, then None; per row its value's position (-1: null,
    which is that None)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return [*encoded.dictionary.to_pylist(), None], codes.astype(np.int64)


def python_values(column: Any) -> list[Any]:
    """A column as Python values, each distinct value made once and shared by its rows (a
    million Decimals from Arrow take a second; a million requests cost a few hundred prices)."""
    if not len(column):  # Arrow cannot combine no chunks of a dictionary of decimals
        return []
    values, codes = _codes(column)
    return [values[c] for c in codes.tolist()]


def _first_seen(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the number of its combination of codes (one per column), numbered in the order
    of first appearance; and the first row of each."""
    rows = len(columns[0])
    combined = np.zeros(rows, np.int64)
    for column in columns:
        if rows and column.min() != column.max():  # a constant column tells no row apart
            # both factors stay under rows + 1 after each step: no overflow
            pair = combined * (int(column.max()) + 2) + (column + 1)
            combined = np.unique(pair, return_inverse=True)[1].reshape(-1)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    by_first = np.argsort(first)
    number = np.empty_like(by_first)
    number[by_first] = np.arange(len(by_first))
    return number[inverse.reshape(-1)], first[by_first]


def _ints(column: Any) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _encoding(model: str | None, chosen: str) -> str:
    if chosen != AUTO:
        return chosen
    own = encodings.encoding_for_model(model) if model else None
    return own or encodings.DEFAULT_ENCODING


_EMPTY = np.zeros(0, np.uint32)


def _tokenized(segments: list[tuple[str, str]], needed: list[int], memo: Memo) -> list[np.ndarray]:
    """Token ids of the `needed` (encoding, text) segments (others: empty), from `memo` where it
    has them; each distinct text is tokenized once per encoding and added to `memo`."""
    out: list[np.ndarray] = [_EMPTY] * len(segments)
    by_encoding: dict[str, list[int]] = {}
    for k in needed:
        known = memo.get(segments[k])
        if known is None:
            by_encoding.setdefault(segments[k][0], []).append(k)
        else:
            out[k] = known
    for name, ks in by_encoding.items():
        ids = encodings.load(name).ids([segments[k][1] for k in ks])
        for k, one in zip(ks, ids, strict=True):
            out[k] = memo[segments[k]] = np.asarray(one, dtype=np.uint32)
    return out


def segments(
    system_prompt: str | None, prompt: str | None, messages: str | None, tools: str | None
) -> list[str]:
    """A prompt's texts in the order the provider reads them: system, tools, messages."""
    turns = _messages(messages)
    if not turns:
        return [t for t in (system_prompt, tools, prompt) if t]
    systems = [text for role, text in turns if role in ("system", "developer")]
    rest = [text for role, text in turns if role not in ("system", "developer")]
    head = systems or ([system_prompt] if system_prompt else [])
    return [t for t in (*head, tools, *rest) if t]


def _messages(messages: str | None) -> list[tuple[str, str]]:
    if not messages:
        return []
    try:
        value = orjson.loads(messages)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(value, list):
        return []
    turns = []
    for message in value:
        if isinstance(message, dict):
            text = _text(message.get("content"))
            if text:
                turns.append((str(message.get("role") or ""), text))
    return turns


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [_text(p) for p in content]
        joined = "\n".join(p for p in parts if p)
        return joined or None
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return str(content["text"])
        return _text(content.get("content"))
    return None
