"""`costlab plan`: levers standalone and stacked per request, exact money, skips, --emit, --html."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab.plan import emit
from tests.conftest import Cli, FakeEmbedder, flat, write_jsonl
from tests.pages import chromium, parse, run_chromium

SAMPLES = Path(__file__).parents[1] / "sample_logs"
POLICY = """\
name = "support-mini"
default = "logged"

[models."gpt-4o-mini"]
quality = { general = 7.0 }

[[rules]]
name = "support to mini"
when = "feature = 'support'"
route_to = "gpt-4o-mini"
"""
LEVERS = ["cache", "routing", "compression", "prefix", "batch"]
WORDS = ["apple", "brick", "cloud", "dune", "ember", "fjord", "grove", "harbor", "iris", "jade"]


def _json(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def _steps(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["lever"]: s for s in data["steps"]}


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_logs/ ingested once for the module; each test gets its own copy."""
    db = tmp_path_factory.mktemp("samples") / "samples.duckdb"
    assert Cli(db)("ingest", str(SAMPLES)).exit_code == 0
    return db


@pytest.fixture
def samples(cli: Cli, sample_store: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    shutil.copy(sample_store, cli.db)
    policy = tmp_path / "support-mini.toml"
    policy.write_text(POLICY)
    return policy


def test_sample_logs_plan_adds_up_exactly_and_matches_each_command(cli: Cli, samples: Path) -> None:
    data = _json(
        cli, "plan", "--embedder", "fake", "--threshold", "0.95", "--policy", str(samples),
        "--batch-feature", "summarize",
    )  # fmt: skip
    steps = _steps(data)
    assert [s["lever"] for s in data["steps"]] == LEVERS
    saved = sum(Decimal(s["saved_usd"]) for s in data["steps"])
    assert Decimal(data["logged_usd"]) - saved == Decimal(data["after_usd"])
    low, high = (Decimal(v) for v in data["after_usd_ci"])
    assert low <= high and Decimal(data["after_usd"]) < Decimal(data["logged_usd"])
    # Each standalone figure is its own command's figure.
    cache = _json(cli, "simulate-cache", "--embedder", "fake", "--threshold", "0.95",
                  "--no-save-intents")  # fmt: skip
    assert steps["cache"]["standalone_saved_usd"] == str(cache["thresholds"][0]["saved_usd"])
    route = _json(cli, "route-replay", "--policy", str(samples))["policies"][0]
    routed = Decimal(route["before_usd"]) - Decimal(route["after_usd"])
    assert Decimal(steps["routing"]["standalone_saved_usd"]) == routed
    prefix = _json(cli, "simulate-prefix-cache", "--batch-feature", "summarize")
    assert Decimal(steps["prefix"]["standalone_saved_usd"]) == Decimal(prefix["total"]["saved_usd"])
    batch = sum(Decimal(b["saved_usd"]) for b in prefix["batch"])
    assert Decimal(steps["batch"]["standalone_saved_usd"]) == batch
    # The cache comes first: its stacked saving is its standalone one; routing sees only misses.
    assert steps["cache"]["saved_usd"] == steps["cache"]["standalone_saved_usd"]
    if Decimal(steps["cache"]["saved_usd"]) > 0:
        assert Decimal(steps["routing"]["saved_usd"]) < routed
    assert data["ranking"][0] in LEVERS and data["first"].startswith("Do this first:")


def _repeated(tmp_path: Path) -> Path:
    """Ten gpt-4o support requests asking the same thing, and ten distinct chat requests."""
    records = [
        flat(n, model="gpt-4o", feature="support", prompt="refund my card please")
        for n in range(10)
    ] + [
        flat(n + 10, model="gpt-4o", feature="chat", prompt=f"{w} words")
        for n, w in enumerate(WORDS)
    ]
    return write_jsonl(tmp_path / "log.jsonl", records)


def test_a_cache_hit_is_neither_routed_nor_batched(
    cli: Cli, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    assert cli("ingest", str(_repeated(tmp_path))).exit_code == 0
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    data = _json(
        cli, "plan", "--embedder", "fake", "--threshold", "0.99", "--policy", str(policy),
        "--batch-feature", "support", "--resamples", "50",
    )  # fmt: skip
    steps = _steps(data)
    per_request = Decimal(data["logged_usd"]) / 20  # every request costs the same here
    assert Decimal(steps["cache"]["saved_usd"]) == 9 * per_request  # 9 of 10 repeats hit
    # Routing alone moves all ten support requests; stacked, only the one miss among them.
    standalone = Decimal(steps["routing"]["standalone_saved_usd"])
    assert Decimal(steps["routing"]["saved_usd"]) * 10 == standalone
    assert steps["routing"]["requests"] == 1 and steps["batch"]["requests"] == 1
    saved = sum(Decimal(s["saved_usd"]) for s in data["steps"])
    assert Decimal(data["logged_usd"]) - saved == Decimal(data["after_usd"])


def test_levers_that_cannot_run_are_listed_with_what_enables_them(cli: Cli, tmp_path: Path) -> None:
    records = [flat(n, prompt=None) for n in range(6)]
    assert cli("ingest", str(write_jsonl(tmp_path / "l.jsonl", records))).exit_code == 0
    data = _json(cli, "plan")
    steps = _steps(data)
    assert {lever for lever, s in steps.items() if s["status"] == "skipped"} == set(LEVERS)
    assert "prompt text" in steps["cache"]["notes"][0]
    assert steps["routing"]["action"] == "give --policy FILE (repeatable)"
    assert "--batch-feature" in steps["batch"]["action"]
    assert data["after_usd"] == data["logged_usd"] and data["first"] is None


def test_compression_is_counted_with_the_routed_models_tokenizer(cli: Cli, tmp_path: Path) -> None:
    from costlab import encodings

    padded = "You are   a helpful    assistant.\n\n\n\nAnswer   briefly   and politely."
    records = [flat(n, model="gpt-4o", system_prompt=padded, prompt=f"q{n}") for n in range(8)]
    assert cli("ingest", str(write_jsonl(tmp_path / "l.jsonl", records))).exit_code == 0
    data = _json(cli, "plan", "--no-cache", "--compress-method", "minify")
    step = _steps(data)["compression"]
    assert step["status"] == "applied" and step["requests"] == 8
    o200k = encodings.load("o200k_base")
    from costlab.compress import minify

    removed = o200k.count([padded])[0] - o200k.count([minify.minify(padded)])[0]
    assert removed > 0
    price = Decimal("2.5") / 1_000_000  # gpt-4o input, USD per token
    assert Decimal(step["saved_usd"]) == 8 * removed * price


def test_emit_writes_each_librarys_convention_and_refuses_a_full_folder(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    out = tmp_path / "emitted"
    args = ("plan", "--embedder", "fake", "--threshold", "0.92", "--policy", str(samples),
            "--batch-feature", "summarize", "--resamples", "20", "--emit", str(out))  # fmt: skip
    data = _json(cli, *args)
    names = {str(Path(p).relative_to(out)) for p in data["emitted"]}
    assert {"plan.json", "cache/thresholds.json", "cache/redisvl.py", "cache/gptcache.py",
            "cache/litellm.yaml", "cache/langchain_redis.py", "routing/support-mini.toml",
            "prefix/breakpoints.json", "batch/costlab.toml"} <= names  # fmt: skip
    settings = json.loads((out / "cache/thresholds.json").read_text())
    assert settings["redisvl"]["distance_threshold"] == pytest.approx(0.08)
    assert settings["gptcache"]["similarity_threshold"] == pytest.approx(0.96)
    assert "DISTANCE_THRESHOLD = 0.08" in (out / "cache/redisvl.py").read_text()
    assert (out / "routing/support-mini.toml").read_text() == samples.read_text()
    before = sorted(p.name for p in out.rglob("*"))
    refused = cli(*args)
    assert refused.exit_code == 2 and "not empty" in refused.output
    assert sorted(p.name for p in out.rglob("*")) == before  # nothing written
    assert cli(*args, "--force").exit_code == 0


@pytest.mark.parametrize("cosine", [0.8, 0.92, 0.97])
def test_thresholds_round_trip(cosine: float) -> None:
    t = emit.thresholds(cosine)
    assert 1 - t["redisvl"]["distance_threshold"] == pytest.approx(cosine)
    assert 2 * t["gptcache"]["similarity_threshold"] - 1 == pytest.approx(cosine)
    assert t["litellm"]["similarity_threshold"] == pytest.approx(cosine)


def test_the_gptcache_setting_loads_through_gptcache(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    gptcache = pytest.importorskip("gptcache")
    out = tmp_path / "e"
    _json(cli, "plan", "--embedder", "fake", "--threshold", "0.9", "--resamples", "0",
          "--emit", str(out))  # fmt: skip
    scope: dict[str, Any] = {}
    exec((out / "cache/gptcache.py").read_text(), scope)  # the emitted file, as a user runs it
    assert isinstance(scope["config"], gptcache.Config)
    assert 2 * scope["config"].similarity_threshold - 1 == pytest.approx(0.9)


def test_bad_input_is_one_message_and_exit_2(cli: Cli, samples: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('default = "logged"\n[[rules]]\nwhen = "nope_column = 1"\nroute_to = "gpt-4o"\n')
    for args in (
        ("--rules", "google"),
        ("--policy", str(bad)),
        ("--threshold", "1.5"),
        ("--rule", "openai.nope=1"),
        ("--where", "no_such_column = 1"),
    ):
        result = cli("plan", "--embedder", "fake", *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


def test_terminal_waterfall_and_html_page(cli: Cli, samples: Path, tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    result = cli(
        "plan", "--embedder", "fake", "--threshold", "0.95", "--policy", str(samples),
        "--resamples", "50", "--html", str(page),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"logged .*\$", result.output) and "Do this first:" in result.output
    marks = parse(page.read_text()).marks["waterfall"]
    applied = [m for m in marks if m[1].get("data-step") not in ("logged", "after")]
    assert len(marks) == len(applied) + 2 and len(applied) >= 3


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium package")
def test_the_page_draws_in_a_real_browser(cli: Cli, samples: Path, tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    args = ("plan", "--embedder", "fake", "--threshold", "0.95", "--policy", str(samples),
            "--resamples", "20", "--html", str(page))  # fmt: skip
    assert cli(*args).exit_code == 0
    result = run_chromium(page, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = parse(result.stdout)
    assert dom.figures["waterfall"]["data-drawn"] == str(len(dom.marks["waterfall"]))


def test_with_nothing_before_it_the_prefix_step_is_simulate_prefix_cache(
    cli: Cli, samples: Path
) -> None:
    data = _json(cli, "plan", "--no-cache", "--resamples", "0")
    prefix = _steps(data)["prefix"]
    assert Decimal(prefix["saved_usd"]) > 0
    assert prefix["saved_usd"] == prefix["standalone_saved_usd"]


def test_after_routing_the_prefix_cache_follows_the_routed_provider(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    claude = tmp_path / "claude.toml"
    claude.write_text('name = "all-sonnet"\ndefault = "claude-sonnet-4-5"\n')
    data = _json(cli, "plan", "--no-cache", "--resamples", "0", "--policy", str(claude))
    notes = " ".join(_steps(data)["prefix"]["notes"])
    assert "(anthropic " in notes and "openai" not in notes  # every miss under Claude's rule


def test_the_fast_prefix_path_gives_the_plan_of_the_reference_path(
    cli: Cli, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sample_logs/ and the Banking77 sample (short prompts, under every rule's minimum): the plan
    with short prompts left untokenized and one token memo equals the plan tokenizing all."""
    from costlab.prefix import rules

    banking = Path(__file__).parent / "data" / "banking77" / "support_sample.jsonl"
    assert cli("ingest", str(banking)).exit_code == 0
    claude = tmp_path / "claude.toml"  # routed misses replay under the other rule too
    claude.write_text('name = "all-sonnet"\ndefault = "claude-sonnet-4-5"\n')
    args = ["plan", "--embedder", "fake", "--threshold", "0.95", "--policy", str(samples),
            "--policy", str(claude), "--batch-feature", "summarize",
            "--resamples", "20"]  # fmt: skip
    fast = _json(cli, *args)
    monkeypatch.setattr(rules, "smallest_prefix", lambda table: 0)  # tokenize every prompt
    reference = _json(cli, *args)
    fast.pop("stages_s"), reference.pop("stages_s")
    assert fast == reference
    assert Decimal(_steps(fast)["prefix"]["standalone_saved_usd"]) > 0


def test_the_cache_self_check_moves_no_hit(cli: Cli, samples: Path) -> None:
    """plan skips an approximate run's self-check: the hits and figures are those with it."""
    import dataclasses

    from costlab.cache import savings
    from costlab.store import Store

    options = savings.CacheOptions(
        thresholds=[0.9, 0.95], embedder="fake", neighbours="approx", save_intents=False
    )
    with Store.open(cli.db) as store:
        checked = savings.with_hits(store, options)
        unchecked = savings.with_hits(store, dataclasses.replace(options, self_check=False))
    assert checked.report.approximation is not None and unchecked.report.approximation is None
    assert checked.report.thresholds == unchecked.report.thresholds
    assert all((checked.hits[t] == unchecked.hits[t]).all() for t in (0.9, 0.95))
    assert sum(int(h.sum()) for h in checked.hits.values()) > 0
