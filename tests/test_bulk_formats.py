"""The fast paths of every format store exactly what the per-record path stores.

Every fixture of every format (and the sample logs, and the bad-input corpus) is ingested both
ways; then varied OpenAI chat records, most of them plain (taken in SQL), some of shapes only
the per-record path maps, some broken.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from costlab import ingest
from costlab.ingest import IngestOptions, bulk, sources
from costlab.ingest.staging import empty_stage
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA
from tests.test_bulk import COLUMNS

ROOT = Path(__file__).parents[1]
FIXTURES = sorted(
    p
    for p in [*(ROOT / "sample_logs").iterdir(), *DATA.glob("*/*")]
    if p.name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")) and "banking77" not in str(p)
)
CHAT = [orjson.loads(line) for line in (ROOT / "sample_logs" / "openai_chat.jsonl").open("rb")]
ANTHROPIC = [
    r
    for r in map(orjson.loads, (ROOT / "sample_logs" / "anthropic_messages.jsonl").open("rb"))
    if "request" in r
]


@pytest.fixture(autouse=True)
def every_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQL mapping in use, those not yet faster than the per-record path too."""
    monkeypatch.setattr(bulk, "FAST", bulk.MAPPINGS)


def _both(path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> list[Store]:
    stores = []
    for use_bulk in (True, False):
        with monkeypatch.context() as patch:
            if not use_bulk:
                patch.setattr(bulk, "eligible", lambda *args: False)
            store = Store.open(":memory:")
            ingest.ingest(store, sources.expand([str(path)]), IngestOptions(), catalogue)
            stores.append(store)
    return stores


def _same(fast: Store, slow: Store) -> int:
    query = f"SELECT {COLUMNS} FROM requests ORDER BY source_line, request_id"
    rows = fast.rows(query)
    assert rows == slow.rows(query)
    rejects = "SELECT source_line, reason FROM rejects ORDER BY source_line"
    assert fast.rows(rejects) == slow.rows(rejects)
    return len(rows)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_stores_the_same_rows_on_both_paths(
    path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same(*_both(path, catalogue, monkeypatch))


def _varied_chat(n: int) -> list[Any]:
    rng = random.Random(11)
    out: list[Any] = []
    for i in range(n):
        r = copy.deepcopy(CHAT[i % len(CHAT)])
        r["response"]["id"] = f"chatcmpl-{i}"
        usage = r["response"]["usage"]
        kind = i % 19
        if kind == 0:
            usage["prompt_tokens_details"] = {"cached_tokens": rng.randint(0, 3000)}
        elif kind == 1:
            usage["completion_tokens_details"] = {"reasoning_tokens": rng.randint(0, 900)}
        elif kind == 2:
            usage["total_tokens"] = usage["prompt_tokens"] + 1  # total_mismatch flag
        elif kind == 3:
            r["request"]["messages"][-1]["content"] = 'é 日本 🚀 "quotes" \\ back\tslash\u2028'
        elif kind == 4:
            r["request"].update(top_p=0.95, max_tokens=512, stream=False, seed=None, n=1)
        elif kind == 5:
            r["request_id"] = f"app-{i}"  # the response id goes to metadata
        elif kind == 6:
            r.pop("timestamp")  # the response's `created`
        elif kind == 7:
            r["timestamp"] = 1_793_000_000  # epoch: the per-record path
        elif kind == 8:
            r["response"]["choices"][0]["message"]["tool_calls"] = [{"id": "t", "type": "f"}]
        elif kind == 9:
            r["response"]["choices"].append(r["response"]["choices"][0])
        elif kind == 10:
            usage["completion_tokens_details"] = {"audio_tokens": 7}  # kept as metadata
        elif kind == 11:
            r["cost"] = 0.0125
        elif kind == 12:
            usage["prompt_tokens"] = "12"  # wrong type: rejected
        elif kind == 13:
            r["response"]["choices"][0]["message"]["content"] = None
            r["latency_ms"], r["team"] = 812.5, "core"
        elif kind == 14:
            r["request"]["messages"].insert(0, {"role": "developer", "content": ""})
            r["user_id"], r["user"] = "", "u-9"
        elif kind == 15:
            usage["prompt_tokens"] = 10**12  # over the plausible limit: rejected
        elif kind == 16:
            r["request_id"] = f"chatcmpl-{i - 1}"  # a duplicate id
        elif kind == 17:
            r["response"]["service_tier"] = None
            r["request"]["metadata"] = {"app": "x"}  # a nested extra: per-record path
        out.append(r)
    out.insert(3, "{not json")
    return out


def _write(path: Path, records: list[Any]) -> None:
    path.write_bytes(
        b"".join((r.encode() if isinstance(r, str) else orjson.dumps(r)) + b"\n" for r in records)
    )


def _in_sql(path: Path, formats: tuple[str, ...]) -> tuple[int, int]:
    """How many lines the fast paths stage, and how many they leave to Python."""
    store = Store.open(":memory:")
    bulk_read = bulk.read(store, sources.Source(path, str(path)))
    assert bulk_read is not None and bulk_read.formats == formats
    store.register("_empty", empty_stage())
    store.execute("CREATE TEMP TABLE _stage AS SELECT * FROM _empty")
    left = bulk.stage(store, bulk_read, bulk.Target(str(path), "run", 100_000_000))
    return store.row("SELECT count(*) FROM _stage")[0], len(left)


def test_varied_chat_records_store_the_same_rows_and_most_take_sql(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK_LINES", 64)  # several chunks
    records = _varied_chat(400)
    path = tmp_path / "chat.jsonl"
    _write(path, records)
    stored = _same(*_both(path, catalogue, monkeypatch))
    assert stored > 350
    in_sql, left = _in_sql(path, ("openai_chat",))
    assert in_sql + left == len(records)
    assert in_sql > 0.5 * len(records) and left > 0.3 * len(records)  # 11 of 19 kinds


def _varied_anthropic(n: int) -> list[Any]:
    rng = random.Random(13)
    out: list[Any] = []
    for i in range(n):
        r = copy.deepcopy(ANTHROPIC[i % len(ANTHROPIC)])
        r["response"]["id"] = f"msg-{i}"
        usage = r["response"]["usage"]
        kind = i % 17
        if kind == 0:
            usage["cache_creation"] = None  # every write is a 5m write
            usage["cache_creation_input_tokens"] = rng.randint(1, 3000)
        elif kind == 1:
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": 5,
                "ephemeral_1h_input_tokens": 7,
            }
            usage["cache_creation_input_tokens"] = 12
        elif kind == 2:
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": 5,
                "ephemeral_1h_input_tokens": 7,
            }
            usage["cache_creation_input_tokens"] = 99  # split mismatch flag
        elif kind == 3:
            usage["cache_read_input_tokens"] = rng.randint(0, 90_000)
            usage.pop("service_tier")
        elif kind == 4:
            r["request"]["messages"][-1]["content"] = 'é 日本 🚀 "q" \\ x\t\u2028'
        elif kind == 5:
            r["request"]["system"] = "plain system text"
        elif kind == 6:
            r["request"]["system"] = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
        elif kind == 7:
            r["request"]["system"][0]["cache_control"]["ttl"] = "1h"
        elif kind == 8:
            r["response"]["content"].append(
                {"type": "tool_use", "id": "t", "name": "f", "input": {}}
            )
        elif kind == 9:
            r["request_id"], r["user_id"], r["latency_ms"] = f"app-{i}", "u-x", 812.5
        elif kind == 10:
            r["cost_usd"] = 0.0125
        elif kind == 11:
            usage["input_tokens"] = "12"  # wrong type: rejected
        elif kind == 12:
            usage["output_tokens"] = 10**12  # over the plausible limit: rejected
        elif kind == 13:
            r["request"]["messages"][-1]["content"] = [{"type": "text", "text": "parts"}]
        elif kind == 14:
            r["response"].pop("usage")  # missing usage: rejected
        elif kind == 15:
            r["request"]["metadata"] = None
            r["request"]["temperature"] = 1.0
        out.append(r)
    return out


def test_varied_anthropic_records_store_the_same_rows_and_most_take_sql(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK_LINES", 64)
    records = _varied_anthropic(340)
    path = tmp_path / "anthropic.jsonl"
    _write(path, records)
    assert _same(*_both(path, catalogue, monkeypatch)) == 340 - 3 * 20  # 3 kinds rejected
    in_sql, left = _in_sql(path, ("anthropic_message",))
    assert in_sql + left == len(records)
    assert in_sql > 0.5 * len(records) and left > 0.2 * len(records)


def _edge_lines() -> list[str]:
    """Lines DuckDB and orjson may read differently, or values only Python maps: all must
    reach the per-record path (or be mapped identically)."""
    chat = orjson.dumps(CHAT[0]).decode()
    claude = orjson.dumps(ANTHROPIC[0]).decode()
    big = "1" * 25
    return [
        chat[:-1] + ',"request_id":"dup-1"}',
        chat[:-1] + ',"request_id":"dup-1"}',  # a duplicate id: stored once
        chat.replace('"prompt_tokens":', f'"prompt_tokens":{big},"x":', 1),  # huge number
        chat.replace('"temperature":', '"temperature":NaN,"t2":', 1),
        chat.replace('"temperature":', f'"temperature":{big},"t2":', 1),
        chat.replace('"temperature":', '"seed":1e400,"temperature":', 1),
        chat[:-1] + ",}",  # a trailing comma: orjson refuses it
        chat.replace('"feature":', '"feature":"\\ud800","f2":', 1),  # a lone surrogate
        chat.replace('"feature":', '"feature":"x","feature":', 1),  # a key twice
        chat.replace('"role":"user"', '"role":"user","name":"ann"', 1),
        chat.replace('"role":"user"', '"role":7', 1),
        chat.replace('"timestamp":"', '"timestamp":"2026-11-02T05:56:53+02:00","t0":"', 1),
        chat.replace('"service_tier":', '"service_tier":{"a":1},"s2":', 1),
        chat.replace('"usage":', '"usage":null,"u2":', 1),  # missing usage
        chat.replace('"model":"', '"model":"é🚀 ', 1),  # unicode model name
        claude[:-1] + ',"request_id":"dup-1"}',  # an id stored already by another format
        claude.replace('"input_tokens":', '"input_tokens":-3,"i2":', 1),
        claude.replace('"input_tokens":', '"input_tokens":3.0,"i2":', 1),
        claude.replace('"cache_read_input_tokens":', f'"cache_read_input_tokens":{big},"c":', 1),
        claude.replace('"text":"', '"text":null,"t":"', 1),
        claude.replace('"stop_sequence":', '"stop_sequence":1e400,"s2":', 1),
        claude.replace('"type":"ephemeral"', '"type":"ephemeral","n":' + big, 1),
        claude.replace('"timestamp":"', '"timestamp":"', 1).replace(
            '"feature":', '"cost":-1,"feature":', 1
        ),
    ]


def test_edge_records_store_the_same_rows_on_both_paths(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "edges.jsonl"
    lines = _edge_lines()
    _write(path, [*lines, *CHAT, *ANTHROPIC])
    fast, slow = _both(path, catalogue, monkeypatch)
    _same(fast, slow)
    assert fast.row("SELECT count(*) FROM rejects")[0] >= 5
