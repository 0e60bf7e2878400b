"""`prefix.traffic.load` parses each distinct prompt once: the same traffic as parsing every row
(the reference below, one request at a time) on random rows that repeat, miss texts and mix
encodings."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pytest

from costlab import encodings
from costlab.prefix import traffic
from costlab.scope import Scope
from costlab.store import Store

SYSTEMS = [None, "", "You are terse.", "You answer in French." * 40, "日本語 😀" * 30]
PROMPTS = [None, "", "hi", "what is my balance?", "long question " * 100, "You are terse."]
MESSAGES = [
    None,
    "[",  # not JSON: no turns
    '{"role": "user"}',  # not a list: no turns
    json.dumps([{"role": "user", "content": "hi"}]),
    json.dumps([{"role": "system", "content": "sys " * 80}, {"role": "user", "content": "q"}]),
    json.dumps([{"role": "developer", "content": [{"text": "dev"}, {"text": "more"}]},
                {"role": "assistant", "content": {"text": "a"}}, {"role": "user", "content": ""}]),
]  # fmt: skip
TOOLS = [None, json.dumps({"tools": [{"name": "lookup"}]})]
MODELS = [None, "gpt-4o-mini", "gpt-4", "claude-3-5-haiku", ""]


def _reference(table: Any, encoding: str, rewrite: dict[str, str], below: int) -> dict[str, Any]:
    """Every row parsed one at a time (what load did before it grouped rows)."""
    col = {name: table.column(name).to_pylist() for name in table.column_names}
    names = {m: traffic._encoding(m, encoding) for m in set(col["model"])}
    segment_index: dict[tuple[str, str], int] = {}
    sequence_index: dict[tuple[int, ...], int] = {}
    sequence = np.full(table.num_rows, -1, np.int64)
    for i in range(table.num_rows):
        texts = traffic.segments(
            col["system_prompt"][i], col["prompt"][i], col["messages"][i], col["tools"][i]
        )
        name = names[col["model"][i]]
        ids = tuple(
            segment_index.setdefault((name, rewrite.get(t, t)), len(segment_index)) for t in texts
        )
        if ids:
            sequence[i] = sequence_index.setdefault(ids, len(sequence_index))
    size = [len(t.encode("utf-8", "surrogatepass")) for _, t in segment_index]
    short = [sum(size[s] for s in ids) < below for ids in sequence_index]
    keys = list(segment_index)
    return {
        "sequence": sequence.tolist(),
        "segment_ids": list(sequence_index),
        "segment_texts": [t for _, t in segment_index],
        "short": short,
        "tokens": [[] if low else [t for s in ids for t in _ids(keys[s])]
                   for ids, low in zip(sequence_index, short, strict=True)],
        "models": [m or "(unknown)" for m in col["model"]],
        "request_ids": col["request_id"],
        "input_tokens": col["input_tokens"],
        "cost_usd": col["cost_usd"],
    }  # fmt: skip


def _ids(segment: tuple[str, str]) -> list[int]:
    name, text = segment
    return encodings.load(name).ids([text])[0]


def _rows(store: Store, seed: int, n: int) -> None:
    rng = random.Random(seed)
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _random_requests (
            request_id VARCHAR, ts TIMESTAMP, provider VARCHAR, model VARCHAR, feature VARCHAR,
            system_prompt VARCHAR, prompt VARCHAR, messages VARCHAR, metadata JSON,
            input_tokens BIGINT, cached_input_tokens BIGINT, cache_write_5m_tokens BIGINT,
            cache_write_1h_tokens BIGINT, batch BOOLEAN, cost_usd DECIMAL(38, 18),
            latency_ms DOUBLE)
        """
    )
    for i in range(n):
        store.execute(
            "INSERT INTO _random_requests VALUES (?, TIMESTAMP '2026-11-02' + to_seconds(?), "
            "'openai', ?, 'f', ?, ?, ?, ?, ?, NULL, NULL, NULL, false, ?, NULL)",
            [
                f"r{i:04d}", rng.choice([rng.randrange(100), None]) if i % 7 == 0 else i,
                rng.choice(MODELS), rng.choice(SYSTEMS), rng.choice(PROMPTS),
                rng.choice(MESSAGES), rng.choice(TOOLS), rng.randrange(1, 500),
                rng.choice([None, "0.000012500000000001"]),
            ],
        )  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_grouped_rows_load_the_same_traffic_as_parsing_each_row(store: Store, seed: int) -> None:
    _rows(store, seed, 300)
    rng = random.Random(seed)
    encoding = rng.choice([traffic.AUTO, "cl100k_base"])
    rewrite = {"hi": "hello there"} if seed % 2 else {}
    below = rng.choice([0, 40, 1024])
    found = traffic.load(store, Scope(), encoding, "_random_requests", rewrite, below)
    table = store.arrow(
        f"SELECT {traffic._COLUMNS} FROM _random_requests ORDER BY ts NULLS LAST, request_id"
    )
    want = _reference(table, encoding, rewrite, below)
    assert found.sequence.tolist() == want["sequence"]
    assert found.segment_ids == want["segment_ids"]
    assert found.segment_texts == want["segment_texts"]
    assert found.short.tolist() == want["short"]
    assert [t.tolist() for t in found.tokens] == want["tokens"]
    assert [e[-1] if e else 0 for e in found.segment_ends] == [len(t) for t in want["tokens"]]
    assert found.models == want["models"]
    assert found.request_ids == want["request_ids"]
    assert found.input_tokens.tolist() == want["input_tokens"]
    assert found.cost_usd == want["cost_usd"]
    assert len(set(want["sequence"])) < len(want["sequence"])  # rows did repeat


def test_an_empty_relation_loads_no_traffic(store: Store) -> None:
    _rows(store, 0, 0)
    found = traffic.load(store, Scope(), traffic.AUTO, "_random_requests")
    assert len(found) == 0 and found.segment_ids == [] and found.sequence.tolist() == []
