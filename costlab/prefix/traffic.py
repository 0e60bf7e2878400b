"""The logged traffic as the replay needs it: time-ordered requests and their prompts as tokens.

A prompt is a list of segments in the order a provider reads them: system prompt, tools, then the
messages. Each distinct segment text is tokenized once; each distinct list of segments becomes
one token sequence, so thousands of requests that share a system prompt share its tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import orjson

from costlab import encodings
from costlab.scope import Scope
from costlab.store import Store

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

    def __len__(self) -> int:
        return len(self.request_ids)


def load(store: Store, scope: Scope, encoding: str) -> Traffic:
    """Every request in scope, in time order, with its prompt tokenized."""
    where, params = scope.sql()
    table = store.arrow(
        f"SELECT {_COLUMNS} FROM requests{where} ORDER BY ts NULLS LAST, request_id", params
    )
    col = {name: table.column(name).to_pylist() for name in table.column_names}
    segment_index: dict[str, int] = {}
    sequence_index: dict[tuple[int, ...], int] = {}
    sequence = np.full(len(col["request_id"]), -1, dtype=np.int64)
    parsed: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for i, key in enumerate(
        zip(col["system_prompt"], col["prompt"], col["messages"], col["tools"], strict=True)
    ):
        ids = parsed.get(key)
        if ids is None:
            texts = segments(*key)
            ids = tuple(segment_index.setdefault(t, len(segment_index)) for t in texts)
            parsed[key] = ids
        if ids:
            sequence[i] = sequence_index.setdefault(ids, len(sequence_index))
    segment_texts = list(segment_index)
    segment_tokens = [  # each text once: segment_index holds distinct texts
        np.asarray(ids, dtype=np.uint32) for ids in encodings.load(encoding).ids(segment_texts)
    ]
    tokens, ends = [], []
    for ids in sequence_index:
        parts = [segment_tokens[s] for s in ids]
        tokens.append(np.concatenate(parts))
        ends.append(np.cumsum([len(p) for p in parts]).tolist())
    return Traffic(
        request_ids=col["request_id"],
        ts_s=[None if t is None else float(t) for t in col["ts_s"]],
        providers=col["provider"],
        models=[m or "(unknown)" for m in col["model"]],
        features=col["feature"],
        input_tokens=np.asarray(col["input_tokens"], dtype=np.int64),
        logged_cached=np.asarray(col["cached"], dtype=np.int64),
        logged_written=np.asarray(col["written"], dtype=np.int64),
        batch=col["batch"],
        cost_usd=col["cost_usd"],
        latency_ms=col["latency_ms"],
        sequence=sequence,
        tokens=tokens,
        segment_ends=ends,
        segment_ids=list(sequence_index),
        segment_texts=segment_texts,
    )


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
