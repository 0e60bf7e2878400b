"""The Python API: `costlab.open(path)` gives the commands' answers as DataFrames — the same
figures as their --json — reads never write, and bad arguments are CostlabErrors with a hint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import costlab
from costlab.errors import BadInput, CostlabError, StoreError
from tests.conftest import Cli, FakeEmbedder, write_jsonl
from tests.intent_fixtures import expected, records

POLICY = """\
name = "support-to-mini"
default = "logged"

[[rules]]
name = "support"
when = "feature = 'support' AND intent_size > 1"
route_to = "gpt-4o-mini"
"""


def logged() -> list[dict[str, Any]]:
    """The intent fixture's requests, labelled, on two models and two features."""
    truth = expected()
    rows = records()
    for n, row in enumerate(rows):
        row["intent"] = truth[row["request_id"]]
        if n % 3 == 0:
            row.update(model="gpt-4o-mini", feature="chat")
    return rows


@pytest.fixture
def db(cli: Cli, tmp_path: Path, fake_embedder: FakeEmbedder) -> Cli:
    write_jsonl(tmp_path / "log.jsonl", logged())
    assert cli("ingest", str(tmp_path / "log.jsonl")).exit_code == 0
    return cli


def cli_json(cli: Cli, *args: str) -> Any:
    out = cli(*args, "--json")
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_requests_in_scope_as_a_dataframe(db: Cli) -> None:
    store = costlab.open(db.db)
    frame = store.requests()
    assert len(frame) == 12 and list(frame["request_id"][:2]) == ["q-00", "q-01"]
    chat = store.requests(where="feature = 'chat'", columns=["request_id", "model", "cost_usd"])
    assert list(chat.columns) == ["request_id", "model", "cost_usd"]
    assert set(chat["model"]) == {"gpt-4o-mini"} and len(chat) == 4
    assert len(store.requests(since="2026-11-02")) == 0
    assert len(store.requests(limit=3)) == 3
    count = store.sql("SELECT feature, count(*) AS n FROM requests GROUP BY 1 ORDER BY 1")
    assert count.to_dict("list") == {"feature": ["chat", "support"], "n": [4, 8]}


def test_report_is_the_cli_json(db: Cli) -> None:
    api = costlab.open(db.db).report(by="feature,model", top=3)
    assert api.to_dict() == cli_json(db, "report", "--by", "feature,model", "--top", "3")
    frame = api.to_pandas()
    assert list(frame.columns[:3]) == ["feature", "model", "requests"]
    groups = api.to_dict()["breakdowns"][0]["groups"]
    assert frame["spend_usd"].tolist() == [float(g["spend_usd"]) for g in groups]
    assert frame["requests"].sum() == 12 == api.totals["requests"]


def test_simulate_cache_is_the_cli_json_one_row_per_threshold(db: Cli) -> None:
    args = ["--threshold", "0.9", "--threshold", "0.95", "--embedder", "fake"]
    shown = cli_json(db, "simulate-cache", *args, "--label", "metadata.intent")
    api = costlab.open(db.db).simulate_cache([0.9, 0.95], embedder="fake", label="metadata.intent")
    found = api.to_dict()
    for run in (found, shown):  # how long each stage took, and the second run reused the index
        run.pop("stages_s")
        run.pop("index")
    assert found == shown
    frame = api.to_pandas()
    assert frame["threshold"].tolist() == [0.9, 0.95]
    assert frame["hits"].tolist() == [t["hits"] for t in shown["thresholds"]]
    assert frame["saved_usd"].tolist() == [float(t["saved_usd"]) for t in shown["thresholds"]]
    assert api.intents["requests"].tolist() == [i["requests"] for i in shown["intents"]]
    sweep = costlab.open(db.db).simulate_cache("0.90:0.96:0.02", embedder="fake", ttl="1h")
    assert sweep.to_pandas()["threshold"].tolist() == [0.9, 0.92, 0.94, 0.96]


def test_intents_and_route_replay_are_the_cli_json(db: Cli, tmp_path: Path) -> None:
    store = costlab.open(db.db)
    store.simulate_cache(0.95, embedder="fake", save_intents=False)
    api = store.intents(min_similarity=0.95, label="metadata.intent")
    shown = cli_json(db, "intents", "--min-similarity", "0.95", "--label", "metadata.intent")
    found = api.to_dict()
    found.pop("stages_s"), shown.pop("stages_s")
    assert found == shown
    assert api.to_pandas()["requests"].tolist() == [5, 3, 2]
    assert api.agreement is not None and api.agreement["adjusted_rand"] == pytest.approx(1.0)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    routed = store.route_replay(policy, resamples=20)
    assert routed.to_dict() == cli_json(
        db, "route-replay", "--policy", str(policy), "--resamples", "20"
    )
    frame = routed.to_pandas()
    assert frame["name"].tolist() == ["support-to-mini"]
    assert routed.rules["took"].sum() == 12


def test_plan_is_the_cli_json_one_row_per_lever(db: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"  # plan stores no intents: the rule cannot use them
    policy.write_text(POLICY.replace(" AND intent_size > 1", ""), encoding="utf-8")
    args = ["--threshold", "0.9", "--embedder", "fake", "--policy", str(policy),
            "--batch-feature", "chat", "--resamples", "20"]  # fmt: skip
    shown = cli_json(db, "plan", *args)
    api = costlab.open(db.db).plan(
        0.9, embedder="fake", policies=policy, batch_features=["chat"], resamples=20
    )
    found = api.to_dict()
    found.pop("stages_s"), shown.pop("stages_s")
    assert found == shown
    frame = api.to_pandas()
    assert frame["lever"].tolist() == [s["lever"] for s in shown["steps"]]
    assert frame["saved_usd"].tolist() == [float(s["saved_usd"]) for s in shown["steps"]]
    applied = {s["lever"] for s in shown["steps"] if s["status"] == "applied"}
    assert {"cache", "routing"} <= applied
    assert str(api.totals["after_usd"]) == shown["after_usd"]


def test_reads_never_write_the_store(db: Cli, tmp_path: Path) -> None:
    store = costlab.open(db.db)
    store.simulate_cache(0.95, embedder="fake")  # writes: vectors, lists, intents
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    before = (db.db.read_bytes(), db.db.stat().st_mtime_ns)
    costlab.open(db.db)
    store.requests(where="feature = 'chat'")
    store.sql("SELECT * FROM intents")
    store.report(by="model")
    store.route_replay(policy, resamples=10)
    store.intents(min_similarity=0.95, save=False)
    with pytest.raises(BadInput, match="read-only"):
        store.sql("DELETE FROM requests")
    with pytest.raises(BadInput):
        store.sql("CREATE TABLE stolen AS SELECT * FROM requests")
    assert (db.db.read_bytes(), db.db.stat().st_mtime_ns) == before
    assert len(store.requests()) == 12


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.requests(where="nope = 1"), "--where"),
        (lambda s: s.requests(where="1; DROP TABLE requests"), "--where"),
        (lambda s: s.requests(columns=["colour"]), "colour not in requests"),
        (lambda s: s.requests(since="last week"), "not a date"),
        (lambda s: s.sql("SELECT * FROM nowhere"), "sql:"),
        (lambda s: s.report(by="colour"), "unknown dimension"),
        (lambda s: s.simulate_cache("0.9:0.8:0.1", embedder="fake"), "--sweep"),
        (lambda s: s.simulate_cache(0.9, embedder="fake", ttl="soon"), "not a duration"),
        (lambda s: s.simulate_cache(1.5, embedder="fake"), "outside"),
        (lambda s: s.intents(), "no stored embeddings"),
        (lambda s: s.intents(method="kmeans"), "unknown"),
        (lambda s: s.route_replay("missing.toml"), "missing.toml"),
        (lambda s: s.plan(0.9, embedder="fake", rules="google"), "--rules"),
        (lambda s: s.plan(0.9, embedder="fake", compress_top=0), "--compress-top"),
        (lambda s: s.plan(0.9, embedder="fake", resamples=-1), "--resamples"),
        (lambda s: s.plan(0.9, embedder="fake", policies="missing.toml"), "missing.toml"),
        (lambda s: s.plan(1.5, embedder="fake"), "outside"),
        (lambda s: s.plan(0.9, embedder="fake", rule_overrides=["openai.nope=1"]), "nope"),
    ],
)
def test_bad_arguments_are_costlab_errors_with_a_hint(db: Cli, call: Any, message: str) -> None:
    with pytest.raises(CostlabError) as raised:
        call(costlab.open(db.db))
    assert message in raised.value.message
    assert raised.value.hint  # what to do about it


def test_open_a_missing_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at") as raised:
        costlab.open(tmp_path / "typo.duckdb")
    assert "costlab ingest" in raised.value.hint
    assert not (tmp_path / "typo.duckdb").exists()


def test_importing_costlab_loads_neither_pandas_nor_the_api() -> None:
    code = "import sys, costlab; print('pandas' in sys.modules, 'costlab.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
