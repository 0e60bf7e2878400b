"""simulate-cache on Ray: the same answers and the same store tables as the single process.

One local Ray instance (2 CPUs) serves the whole module; the data are small, so each Ray run
costs its start-up, not its work.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from costlab.cache.reference import naive
from costlab.cache.simulate import CacheSettings, Traffic
from costlab.distributed import partitions, windows
from costlab.store import Store
from tests.conftest import Cli, FakeEmbedder, flat, write_jsonl
from tests.test_architecture import PACKAGE, _imports
from tests.test_cache_simulate import assert_same, logs

TESTS = Path(__file__).parent
# Near-duplicates by first word (the fake embedder puts texts with one first word together).
TOPICS = ["refund", "password", "invoice", "shipping", "login", "upgrade"]
WORDS = ["card", "today", "again", "account", "help", "please", "now", "order"]
# Texts of one topic are 0.998-0.9996 similar under the fake embedder: these thresholds split them.
SWEEP = ["--sweep", "0.9980:0.9995:0.0005"]


@settings(max_examples=50, deadline=None)
@given(logs(), st.data())
def test_replaying_scope_by_scope_equals_the_whole_replay(
    log: tuple[npt.NDArray[np.float32], Traffic, CacheSettings, int, int], data: st.DataObject
) -> None:
    vectors, traffic, cache, min_64ths, _ = log
    cache = CacheSettings(cache.ttl_s)  # a capacity ties the scopes together: not separable
    thresholds = sorted({data.draw(st.integers(min_64ths, 64)) / 64 for _ in range(3)})
    if traffic.n == 0:
        return
    parts = partitions.by_scope(traffic)
    assert sorted(np.concatenate([p.requests for p in parts]).tolist()) == list(range(traffic.n))
    replayed = [partitions.replay(p, vectors[p.keys], thresholds, cache) for p in parts]
    merged = partitions.merge(traffic, parts, [r.results for r in replayed], cache)
    for got, threshold in zip(merged, thresholds, strict=True):
        assert_same(got, naive(vectors, traffic, threshold, cache))


@settings(max_examples=60, deadline=None)
@given(logs(), st.data())
def test_replaying_by_time_window_equals_the_whole_replay(
    log: tuple[npt.NDArray[np.float32], Traffic, CacheSettings, int, int], data: st.DataObject
) -> None:
    """Windows as short as a quarter TTL, warm-ups down to none (so that speculation often
    disagrees and windows are replayed again after their halo), one scope or several."""
    vectors, traffic, cache, min_64ths, _ = log
    if traffic.n == 0:
        return
    ttl = cache.ttl_s or data.draw(st.sampled_from([0.5, 1.0, 2.0, 5.0]))
    if data.draw(st.booleans()):
        traffic = Traffic(traffic.ts, np.zeros(traffic.n), traffic.keys)
    thresholds = sorted({data.draw(st.integers(min_64ths, 64)) / 64 for _ in range(3)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(windows, "MIN_WINDOW_TTLS", data.draw(st.sampled_from([0.25, 1.0, 4.0])))
        patch.setattr(windows, "WARM_UP_TTLS", data.draw(st.sampled_from([0.0, 0.5, 1.0])))
        patch.setattr(windows, "MIN_CHUNK", data.draw(st.sampled_from([1, 3, 2048])))
        split = windows.replay(
            traffic, vectors, thresholds, CacheSettings(ttl), pieces=data.draw(st.integers(1, 9))
        )
    assert split.windows >= split.scopes
    event(f"windowed: {split.windows > split.scopes}, fixed up: {split.fixed > 0}")
    for got, threshold in zip(split.results, thresholds, strict=True):
        assert_same(got, naive(vectors, traffic, threshold, CacheSettings(ttl)))


def _one_key(ts: list[float]) -> tuple[npt.NDArray[np.float32], Traffic]:
    n = len(ts)
    return np.eye(1, 8, dtype=np.float32), Traffic(np.array(ts), np.zeros(n), np.zeros(n))


def test_a_text_asked_more_often_than_its_ttl_keeps_its_phase_so_windows_are_fixed_up() -> None:
    # every 0.3 s with a TTL of 1 s: entries at 0, 1.2, 2.4, ...; a window started empty
    # inserts at its own first request and never agrees: each is replayed after its halo
    vectors, traffic = _one_key([0.3 * i for i in range(200)])
    cache = CacheSettings(1.0)
    split = windows.replay(traffic, vectors, [0.9], cache, pieces=6)
    assert split.windows == 6
    assert split.fixed == 5
    want = naive(vectors, traffic, 0.9, cache)
    assert want.expired_misses == 49
    assert_same(split.results[0], want)


def test_traffic_with_quiet_gaps_converges_without_fix_ups() -> None:
    # bursts 10 TTLs apart: each window's speculation agrees on its halo
    vectors, traffic = _one_key([10.0 * b + 0.3 * i for b in range(12) for i in range(8)])
    cache = CacheSettings(1.0)
    split = windows.replay(traffic, vectors, [0.9], cache, pieces=4)
    assert (split.windows, split.fixed) == (4, 0)
    assert_same(split.results[0], naive(vectors, traffic, 0.9, cache))


def test_time_windows_need_a_ttl_and_no_capacity() -> None:
    vectors, traffic = _one_key([float(i) for i in range(100)])
    assert windows.splits(traffic, CacheSettings(1.0), pieces=4)
    assert not windows.splits(traffic, CacheSettings(), pieces=4)
    assert not windows.splits(traffic, CacheSettings(1.0, max_entries=5), pieces=4)
    assert not windows.splits(traffic, CacheSettings(30.0), pieces=4)  # under 4 TTLs a window
    with pytest.raises(ValueError, match="capacity"):
        windows.replay(traffic, vectors, [0.9], CacheSettings(1.0, 5))


def test_scoped_traffic_or_a_ttl_without_a_capacity_splits() -> None:
    scoped = Traffic(np.arange(4.0), np.array([0, 1, 0, 1]), np.array([0, 1, 2, 3]))
    assert partitions.separable(scoped, CacheSettings(ttl_s=60))
    assert not partitions.separable(scoped, CacheSettings(max_entries=10))
    one_scope = Traffic(np.arange(2.0), np.zeros(2), np.arange(2))
    assert not partitions.separable(one_scope, CacheSettings())
    assert partitions.separable(one_scope, CacheSettings(ttl_s=60))  # by time window


def test_groups_balance_the_search_cost() -> None:
    sizes = [40, 30, 20, 10, 10, 5]
    parts = [
        partitions.Part(
            np.arange(n), np.arange(n), Traffic(np.arange(n * 1.0), np.zeros(n), np.arange(n))
        )
        for n in sizes
    ]
    groups = partitions.balance(parts, 2)
    assert len(groups) == 2
    loads = sorted(sum(p.cost for p in g) for g in groups)
    assert loads == [1525, 1600]  # 30² + 20² + 10² + 10² + 5² | 40²
    assert len(partitions.balance(parts, 10)) == len(sizes)


def test_ray_is_imported_by_the_ray_engine_alone_inside_its_functions() -> None:
    users = [
        p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "ray" in _imports(p)
    ]
    assert users == ["distributed/ray_engine.py"]
    assert "ray" not in _imports(PACKAGE / users[0], top_level_only=True)


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    for attempt in range(2):  # a busy machine can miss Ray's own 30 s start-up deadline once
        try:
            ray.init(
                num_cpus=2,
                include_dashboard=False,
                logging_level=logging.ERROR,
                log_to_driver=False,
                # the workers import the fake embedder from conftest, as pytest does
                runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}},
            )
            break
        except Exception:
            ray.shutdown()
            if attempt:
                raise
    yield ray
    ray.shutdown()


@pytest.fixture
def stores(tmp_path: Path, fake_embedder: FakeEmbedder) -> tuple[Cli, Cli]:
    """Two copies of one ingested store: one for each engine."""
    rng = np.random.default_rng(7)
    records = [
        flat(
            n,
            timestamp=f"2026-11-0{1 + n // 60}T{(n // 4) % 24:02d}:{n % 60:02d}:00Z",
            feature=["chat", "support", "billing"][n % 3],
            prompt=" ".join(
                [TOPICS[rng.integers(6)], WORDS[rng.integers(8)], WORDS[rng.integers(8)]]
            ),
        )
        for n in range(180)
    ]
    local = Cli(tmp_path / "local.duckdb")
    assert local("ingest", str(write_jsonl(tmp_path / "log.jsonl", records))).exit_code == 0
    shutil.copy(local.db, tmp_path / "ray.duckdb")
    return local, Cli(tmp_path / "ray.duckdb")


RUNS = {
    "scope partitions": ["--neighbours", "exact", "--scope", "feature", "--ttl", "20h"],
    "time windows": ["--neighbours", "exact", "--ttl", "3h"],
    "search actors, index": ["--neighbours", "approx", "--max-entries", "12"],
}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_ray_gives_the_single_process_answers_and_store(
    ray_instance: Any, stores: tuple[Cli, Cli], run: str
) -> None:
    local, on_ray = stores
    args = ["simulate-cache", "--embedder", "fake", *SWEEP, "--json", *RUNS[run]]
    want = local(*args)
    got = on_ray(*args, "--engine", "ray")
    assert want.exit_code == 0, want.output
    assert got.exit_code == 0, got.output
    want_report, got_report = json.loads(want.output), json.loads(got.output)
    assert got_report["engine"].startswith("ray (a local instance, 2 workers")
    assert ("exact, by scope" in got_report["engine"]) == (run != "search actors, index")
    assert ("time window" in got_report["engine"]) == (run == "time windows")
    hits = [t["hits"] for t in got_report["thresholds"]]
    assert hits[0] > hits[-1] > 0  # the thresholds tell the texts apart
    for key in ("thresholds", "health", "intents", "recommended_threshold", "distinct_keys"):
        assert got_report[key] == want_report[key], key
    for table in ("embeddings", "request_intents", "intents"):
        assert _rows(on_ray.db, table) == _rows(local.db, table), table
    if run != "search actors, index":  # per-part lists are not the store's: none written
        assert _rows(on_ray.db, "entry_lists") == []
    else:  # the same search found the same lists, kept for the next run
        assert _rows(on_ray.db, "entry_lists") == _rows(local.db, "entry_lists") != []


def _rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with Store.open(db) as store:
        columns = [r[0] for r in store.rows(f"SELECT column_name FROM (DESCRIBE {table})")]
        kept = [c for c in columns if c not in ("created_at", "set_id")]
        return sorted(store.rows(f"SELECT {', '.join(kept)} FROM {table}"), key=repr)


def test_an_unreachable_address_is_refused_at_once(cli: Cli) -> None:
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port with nothing listening on this machine
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    cli("ingest", str(write_jsonl(cli.db.parent / "log.jsonl", [flat(1)])))
    started = time.monotonic()
    result = cli(
        "simulate-cache", "--threshold", "0.9", "--engine", "ray", "--ray-address", address
    )
    assert result.exit_code == 2
    assert time.monotonic() - started < 15
    message = result.output.strip().splitlines()
    assert address in message[0] and "no Ray cluster answers there" in message[0]
    assert "Traceback" not in result.output


def test_without_ray_installed_the_error_says_how_to_install_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("ingest", str(write_jsonl(cli.db.parent / "log.jsonl", [flat(1)])))
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    result = cli("simulate-cache", "--threshold", "0.9", "--engine", "ray")
    assert result.exit_code == 2
    assert "pip install 'costlab[ray]'" in result.output


def test_engine_flags_are_checked(cli: Cli) -> None:
    cli("ingest", str(write_jsonl(cli.db.parent / "log.jsonl", [flat(1)])))
    for bad, said in [
        (["--workers", "2"], "--engine ray"),
        (["--engine", "spark"], "--engine spark"),
        (["--device", "tpu"], "--device tpu"),
        (["--device", "cuda"], "--device cuda"),  # no CUDA device on the test machines
    ]:
        result = cli("simulate-cache", "--threshold", "0.9", *bad)
        assert result.exit_code == 2, bad
        assert said in result.output
