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


def test_varied_chat_records_store_the_same_rows_and_most_take_sql(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK_LINES", 64)  # several chunks
    records = _varied_chat(400)
    path = tmp_path / "chat.jsonl"
    path.write_bytes(
        b"".join((r.encode() if isinstance(r, str) else orjson.dumps(r)) + b"\n" for r in records)
    )
    stored = _same(*_both(path, catalogue, monkeypatch))
    assert stored > 350
    store = Store.open(":memory:")
    bulk_read = bulk.read(store, sources.Source(path, str(path)))
    assert bulk_read is not None and bulk_read.formats == ("openai_chat",)
    store.register("_empty", empty_stage())
    store.execute("CREATE TEMP TABLE _stage AS SELECT * FROM _empty")
    left = list(bulk.stage(store, bulk_read, bulk.Target(str(path), "run", 100_000_000)))
    in_sql = store.row("SELECT count(*) FROM _stage")[0]
    assert in_sql + len(left) == len(records)
    assert in_sql > 0.5 * len(records) and len(left) > 0.3 * len(records)  # 11 of 19 kinds
