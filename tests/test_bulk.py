"""The bulk path (DuckDB maps flat records) must store exactly what the per-record path stores."""

from __future__ import annotations

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
from tests.conftest import DATA, flat, write_jsonl

DATA_CHAT = DATA / "openai" / "chat_completions.jsonl"

COLUMNS = (
    "request_id, ts, provider, model, model_logged, feature, user_id, team, input_tokens, "
    "uncached_input_tokens, cached_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
    "output_tokens, reasoning_tokens, total_tokens_logged, batch, cost_usd, cost_source, "
    "logged_cost_usd, computed_cost_usd, price_note, latency_ms, status, system_prompt, prompt, "
    "messages, response, prompt_hash, system_prompt_hash, flags, format, metadata::JSON, "
    "source_file, source_line"
)


def _varied_records(n: int) -> list[Any]:
    rng = random.Random(7)
    records: list[Any] = []
    for i in range(n):
        r = flat(i, input_tokens=rng.randint(0, 50_000), output_tokens=rng.randint(0, 4000))
        choice = i % 20
        if choice == 0:
            r["request_id"] = None  # content id
        elif choice == 1:
            r["timestamp"] = 1_730_000_000 + i  # epoch seconds
        elif choice == 2:
            r["timestamp"] = 1_730_000_000_000 + i  # epoch ms
        elif choice == 3:
            r["timestamp"] = None
        elif choice == 4:
            r["cached_input_tokens"] = rng.randint(0, 60_000)  # sometimes > input: flagged
        elif choice == 5:
            r["reasoning_tokens"] = rng.randint(0, 5000)
            r["team"] = rng.choice(["core", None, "", 7])
        elif choice == 6:
            r["cost"] = rng.choice([0, 2, 0.00123, 1.5e-05, 12.5])
        elif choice == 7:
            r["prompt"] = 'quotes " and \\ backslash, tab\t, é, 日本, emoji 🚀'
            r["system_prompt"] = ""
        elif choice == 8:
            r["intent"] = rng.choice(["card_lost", None, 3, {"nested": [1, 2]}])
        elif choice == 9:
            r["batch"] = rng.choice([True, False, None])
        elif choice == 10:
            r["model"] = rng.choice(["gpt-4o", "claude-haiku-4-5", "acme-unknown", "openai/gpt-4o"])
        elif choice == 11:
            r["input_tokens"] = "12"  # wrong type: rejected by the per-record path
        elif choice == 12:
            r["feature"] = 42  # a number as text: the per-record path handles it
        elif choice == 13:
            r["timestamp"] = "2026-11-03T10:00:00+02:00"  # an offset: per-record path
        elif choice == 14:
            r["status"] = "error"
            r["duration_ms"] = 12.75
        elif choice == 15:
            r["request_id"] = f"req-{i - 1}"  # duplicate id within the file
        elif choice == 16:
            r["cost"] = rng.choice(["0.5", -1, 1e300])
            r["model"] = rng.choice(["", "gpt-4o"])
        elif choice == 17:  # counts of other JSON types than a whole number of 15 digits
            r["input_tokens"] = rng.choice([12.0, -5, 1e3, 1234567890123456, True, None])
        elif choice == 18:  # kept in metadata as orjson writes them
            r["intent"] = rng.choice(['q " \\ \n\t é', "\u2028", "", False, -0.5, []])
        elif choice == 19:
            r["duration_ms"] = rng.choice(["12", 1e-7, -3, 2.5e3, None])
            r["timestamp"] = rng.choice(["2026-11-03 10:00:00", "2026-11-03T10:00:00.5+00:00"])
        records.append(r)
    records.insert(5, "{broken json")
    records.insert(9, "")
    return records


def _ingest(
    path: Path, catalogue: Catalogue, *, use_bulk: bool, monkeypatch: pytest.MonkeyPatch
) -> Store:
    with monkeypatch.context() as patch:
        if not use_bulk:
            patch.setattr(bulk, "eligible", lambda *args: False)
        store = Store.open(":memory:")
        ingest.ingest(store, sources.expand([str(path)]), IngestOptions(), catalogue)
    return store


def test_bulk_and_per_record_paths_store_the_same_rows(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jsonl(tmp_path / "varied.jsonl", _varied_records(800))
    fast = _ingest(path, catalogue, use_bulk=True, monkeypatch=monkeypatch)
    slow = _ingest(path, catalogue, use_bulk=False, monkeypatch=monkeypatch)
    query = f"SELECT {COLUMNS} FROM requests ORDER BY source_line"
    fast_rows, slow_rows = fast.rows(query), slow.rows(query)
    assert len(fast_rows) > 600
    for fast_row, slow_row in zip(fast_rows, slow_rows, strict=True):
        assert fast_row == slow_row
    reject_query = "SELECT source_line, reason FROM rejects ORDER BY source_line"
    assert fast.rows(reject_query) == slow.rows(reject_query)
    assert len(fast.rows(reject_query)) > 40


def test_most_flat_records_take_the_bulk_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = {"région": "é", "a.b c": None, "it's": [2]}  # keys a JSON path must quote
    records = [flat(i, **(odd if i % 3 == 0 else {})) for i in range(300)]
    path = write_jsonl(tmp_path / "plain.jsonl", records)
    store = Store.open(":memory:")
    bulk_read = bulk.read(store, sources.Source(path, str(path)))
    assert bulk_read is not None
    from costlab.ingest.staging import STAGE_SCHEMA

    store.register("_empty", STAGE_SCHEMA.empty_table())
    store.execute("CREATE TEMP TABLE _stage AS SELECT * FROM _empty")
    leftovers = list(bulk.stage(store, bulk_read, bulk.Target(str(path), "run", 10**8)))
    assert leftovers == []
    assert store.row("SELECT count(*) FROM _stage")[0] == 300


@pytest.mark.parametrize(
    ("extra", "left"),
    [([], []), (["", "   "], []), (["", '{"object": "list"}'], [4])],
    ids=["every line flat", "blank lines", "one line for Python"],
)
def test_the_lines_left_for_python_are_those_no_fast_path_staged(
    tmp_path: Path, extra: list[str], left: list[int]
) -> None:
    """Every non-empty line staged: none left (the file is not read again to find them)."""
    path = write_jsonl(tmp_path / "a.jsonl", [flat(1), flat(2), *extra, flat(3)])
    store = Store.open(":memory:")
    store.register("_empty", empty_stage())
    store.execute("CREATE TEMP TABLE _stage AS SELECT * FROM _empty")
    bulk_read = bulk.read(store, sources.Source(path, str(path)))
    assert bulk_read is not None and bulk_read.count == 3 + sum(bool(e) for e in extra)
    leftovers = bulk.stage(store, bulk_read, bulk.Target(str(path), "run", 10**8))
    assert [line.number for line in leftovers] == left
    assert store.row("SELECT count(*) FROM _stage")[0] == 3


@pytest.mark.parametrize("late", [40, 160])
def test_keys_the_sample_did_not_show_are_kept_in_metadata(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, late: int
) -> None:
    # The sample (first 50 lines) shows two key sets; later records drop a key, hold a JSON null,
    # or carry a key never sampled: 40 of those stay for Python, 160 are resampled and bulk-read.
    monkeypatch.setattr(bulk.flat, "SAMPLE_LINES", 50)
    monkeypatch.setattr(bulk, "RESAMPLE_MIN_LINES", 100)
    odd = {"intent": "card", "région": "é", "a.b c": 1, "it's": [2]}
    records: list[Any] = [flat(i, **(odd if i % 2 else {})) for i in range(200)]
    for i in range(200, 200 + late):
        extra = {"region": ["eu", None, {"zone": 2}][i % 3]}
        records.append(flat(i, **extra) | ({"intent": None} if i % 4 == 0 else {}))
    records += [{k: v for k, v in flat(i).items() if k != "prompt"} for i in range(500, 520)]
    records += [flat(i, **{'a"b': 1}) for i in range(600, 605)]  # a key no SQL path names
    path = write_jsonl(tmp_path / "late_keys.jsonl", records)
    fast = _ingest(path, catalogue, use_bulk=True, monkeypatch=monkeypatch)
    slow = _ingest(path, catalogue, use_bulk=False, monkeypatch=monkeypatch)
    query = f"SELECT {COLUMNS} FROM requests ORDER BY source_line"
    assert fast.rows(query) == slow.rows(query)
    metadata = dict(fast.rows("SELECT request_id, metadata FROM requests"))
    assert orjson.loads(metadata["req-199"]) == {"cache_hit": False, **odd}
    assert orjson.loads(metadata["req-202"]) == {"cache_hit": False, "region": None}
    assert orjson.loads(metadata["req-203"]) == {"cache_hit": False, "region": {"zone": 2}}
    assert orjson.loads(metadata["req-204"]) == {"cache_hit": False, "intent": None, "region": "eu"}
    assert len(metadata) == 200 + late + 25
    assert orjson.loads(metadata["req-600"]) == {"cache_hit": False, 'a"b': 1}


def test_files_duckdb_cannot_read_fall_back_to_the_per_record_path(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(orjson.dumps(flat(1)) + b"\n" + b'{"model": "caf\xe9"}\n')
    store = Store.open(":memory:")
    assert bulk.read(store, sources.Source(path, str(path))) is None
    assert (
        store.row(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name IN ('_bulk', '_bulk_file')"
        )[0]
        == 0
    )


def test_the_worker_pool_stores_the_same_rows_as_one_process(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costlab.ingest import parse_pool

    records = _varied_records(3000)
    chat = DATA_CHAT.read_bytes().splitlines()
    path = tmp_path / "mixed.jsonl"
    lines = [orjson.dumps(r) if not isinstance(r, str) else r.encode() for r in records]
    path.write_bytes(b"\n".join(lines + chat) + b"\n")
    monkeypatch.setattr(parse_pool, "CHUNK_LINES", 500)
    serial = _ingest(path, catalogue, use_bulk=False, monkeypatch=monkeypatch)
    monkeypatch.setattr(parse_pool, "MIN_FILE_BYTES", 0)
    monkeypatch.setattr(parse_pool, "CHUNK_LINES", 500)
    assert parse_pool.workers_for(1) >= 2 or (__import__("os").cpu_count() or 1) < 2
    pooled = _ingest(path, catalogue, use_bulk=False, monkeypatch=monkeypatch)
    query = f"SELECT {COLUMNS} FROM requests ORDER BY source_line"
    assert pooled.rows(query) == serial.rows(query)
    rejects = "SELECT source_line, reason, raw, raw_bytes FROM rejects ORDER BY source_line"
    assert pooled.rows(rejects) == serial.rows(rejects)
    assert len(serial.rows(query)) > 2000


def test_a_flat_file_is_ingested_without_importing_pandas(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write_jsonl(tmp_path / "plain.jsonl", [flat(i) for i in range(50)])
    script = (
        "import sys; from costlab import ingest, prices; from costlab.ingest import sources; "
        "from costlab.store import Store; "
        f"r = ingest.ingest(Store.open(':memory:'), sources.expand([{str(path)!r}]), "
        "ingest.IngestOptions(), prices.Catalogue.load()); "
        "assert r.total('added') == 50, r; assert 'pandas' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", script], check=True, cwd=root)
