"""The price catalogue: name resolution, price points, and exact costs through the cost SQL."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from costlab import price_import
from costlab.costs import cost_sql
from costlab.errors import BadInput, ConfigError
from costlab.prices import (
    SHIPPED_CATALOGUE,
    Catalogue,
    PriceOverride,
    points_arrow,
)

LITELLM = (
    Path(__file__).parent.parent.parent / "shared/data/pricing/litellm_model_prices_1.110.2.json"
)
needs_litellm = pytest.mark.skipif(not LITELLM.is_file(), reason="shared LiteLLM price list absent")

CALL_SCHEMA = pa.schema(
    [
        ("row_key", pa.int64()),
        ("model", pa.string()),
        ("ts", pa.timestamp("us")),
        ("batch", pa.bool_()),
        ("uncached_input_tokens", pa.int64()),
        ("cached_input_tokens", pa.int64()),
        ("cache_write_5m_tokens", pa.int64()),
        ("cache_write_1h_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
    ]
)


@pytest.fixture(autouse=True)
def no_user_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(SHIPPED_CATALOGUE)


def call(model: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: 0 for name in CALL_SCHEMA.names if name.endswith("_tokens")}
    row.update(model=model, ts=datetime(2025, 1, 1), batch=False)
    row.update(fields)
    return row


def price(catalogue: Catalogue, *calls: dict[str, Any]) -> list[tuple[Decimal | None, str | None]]:
    """(computed_cost_usd, price_note) per call, in order, through the real cost SQL."""
    rows = [{**c, "row_key": i} for i, c in enumerate(calls)]
    table = pa.Table.from_pylist(rows, schema=CALL_SCHEMA)
    points = points_arrow(catalogue.points({c["model"] for c in calls}))
    con = duckdb.connect()
    con.register("calls", table)
    con.register("points", points)
    sql = cost_sql("calls", "points")
    query = f"SELECT computed_cost_usd, price_note FROM ({sql}) ORDER BY row_key"
    return [(cost, note) for cost, note in con.execute(query).fetchall()]


def test_gpt_4o_is_exact(catalogue: Catalogue) -> None:
    [(cost, note)] = price(catalogue, call("gpt-4o", uncached_input_tokens=10, output_tokens=20))
    assert cost == Decimal("0.000225")
    assert isinstance(cost, Decimal)
    assert note is None


def test_gpt_4o_mini_batch_uses_batch_prices(catalogue: Catalogue) -> None:
    batch = call("gpt-4o-mini", batch=True, uncached_input_tokens=20, output_tokens=10)
    [(cost, note)] = price(catalogue, batch)
    assert cost == 20 * Decimal("0.075e-6") + 10 * Decimal("0.3e-6") == Decimal("0.0000045")
    assert note is None


@needs_litellm
def test_batch_prices_match_litellm() -> None:
    source = json.loads(LITELLM.read_text())["gpt-4o-mini"]
    assert source["input_cost_per_token_batches"] == 7.5e-08
    assert source["output_cost_per_token_batches"] == 3e-07
    shipped = json.loads(SHIPPED_CATALOGUE.read_text())["models"]["gpt-4o-mini"]
    assert (shipped["batch_input"], shipped["batch_output"]) == ("0.000000075", "0.0000003")


def test_batch_without_batch_price_is_standard_with_note(catalogue: Catalogue) -> None:
    batch = call("deepseek-reasoner", batch=True, uncached_input_tokens=1000, output_tokens=10)
    [(cost, note)] = price(catalogue, batch)
    assert cost == 1000 * Decimal("0.00000028") + 10 * Decimal("0.00000042")
    assert note == "no batch price: priced at standard rates"


@pytest.mark.parametrize(
    ("bucket", "per_token"),
    [
        ("uncached_input_tokens", "0.000003"),
        ("cached_input_tokens", "0.0000003"),
        ("cache_write_5m_tokens", "0.00000375"),
        ("cache_write_1h_tokens", "0.000006"),
        ("output_tokens", "0.000015"),
    ],
)
def test_claude_bucket_prices(catalogue: Catalogue, bucket: str, per_token: str) -> None:
    [(cost, _)] = price(catalogue, call("claude-sonnet-4-6", **{bucket: 1000}))
    assert cost == 1000 * Decimal(per_token)


def test_claude_request_with_every_bucket(catalogue: Catalogue) -> None:
    request = call(
        "claude-sonnet-4-6",
        uncached_input_tokens=100,
        cached_input_tokens=1000,
        cache_write_5m_tokens=200,
        cache_write_1h_tokens=300,
        output_tokens=50,
    )
    [(cost, note)] = price(catalogue, request)
    # 100*3e-6 + 1000*0.3e-6 + 200*3.75e-6 + 300*6e-6 + 50*15e-6
    assert cost == Decimal("0.0039")
    assert note is None


def test_long_context_tier_is_chosen_by_prompt_size(catalogue: Catalogue) -> None:
    at_limit = call("gemini-2.5-pro", uncached_input_tokens=200_000, output_tokens=1000)
    above = call("gemini-2.5-pro", uncached_input_tokens=200_001, output_tokens=1000)
    # Cached tokens are part of the prompt, so they also push a request into the tier.
    cached = call("gemini-2.5-pro", uncached_input_tokens=1, cached_input_tokens=200_000)
    [(base, _), (tier, _), (tier_cached, _)] = price(catalogue, at_limit, above, cached)
    assert base == 200_000 * Decimal("0.00000125") + 1000 * Decimal("0.00001")
    assert tier == 200_001 * Decimal("0.0000025") + 1000 * Decimal("0.000015")
    assert tier_cached == Decimal("0.0000025") + 200_000 * Decimal("0.00000025")


def test_272k_tier_in_batch(catalogue: Catalogue) -> None:
    big = call("gpt-5.4", batch=True, uncached_input_tokens=300_000, cached_input_tokens=10)
    [(cost, note)] = price(catalogue, big)
    assert cost == 300_000 * Decimal("0.0000025") + 10 * Decimal("0.00000025")
    assert note is None


def test_separate_reasoning_price(catalogue: Catalogue) -> None:
    request = call("dashscope/qwen-turbo", output_tokens=100, reasoning_tokens=40)
    [(cost, _)] = price(catalogue, request)
    assert cost == 60 * Decimal("0.0000002") + 40 * Decimal("0.0000005")


def test_reasoning_without_separate_price_is_output(catalogue: Catalogue) -> None:
    [(cost, _)] = price(catalogue, call("o3", output_tokens=100, reasoning_tokens=40))
    assert cost == 100 * Decimal("0.000008")


def test_missing_cache_read_price_bills_input_rate(catalogue: Catalogue) -> None:
    [(cost, note)] = price(catalogue, call("ai21.j2-mid-v1", cached_input_tokens=10))
    assert cost == 10 * Decimal("0.0000125")
    assert note == "no cache-read price: cache reads priced at the input rate"


def test_unknown_model_costs_null_not_zero(catalogue: Catalogue) -> None:
    known = call("gpt-4o", output_tokens=1)
    [(cost, note), _] = price(catalogue, call("no-such-model", output_tokens=1), known)
    assert cost is None
    assert note == "unknown model: not in the price catalogue"


def test_only_unknown_models_cost_null(catalogue: Catalogue) -> None:
    assert price(catalogue, call("mystery", uncached_input_tokens=5)) == [
        (None, "unknown model: not in the price catalogue")
    ]


def test_override_reprices_only_later_requests() -> None:
    override = PriceOverride(
        "gpt-4o", date(2026, 6, 1), input=Decimal("0.000005"), output=Decimal("0.00002")
    )
    catalogue = Catalogue.load(SHIPPED_CATALOGUE, overrides=[override])
    before = call("gpt-4o", ts=datetime(2026, 5, 31, 23, 59), uncached_input_tokens=10)
    on_day = call("gpt-4o", ts=datetime(2026, 6, 1), uncached_input_tokens=10)
    no_ts = call("gpt-4o", ts=None, uncached_input_tokens=10)
    batch = call("gpt-4o", ts=datetime(2026, 7, 1), batch=True, uncached_input_tokens=10)
    costs = price(catalogue, before, on_day, no_ts, batch)
    assert [c for c, _ in costs] == [Decimal("0.000025")] + [Decimal("0.00005")] * 3
    assert costs[3][1] == "no batch price: priced at standard rates"


def test_override_adds_a_new_model_from_its_date() -> None:
    override = PriceOverride("in-house-llm", date(2026, 1, 1), Decimal("1e-6"), Decimal("2e-6"))
    catalogue = Catalogue.load(SHIPPED_CATALOGUE, overrides=[override])
    assert catalogue.resolve("in-house-llm").model == "in-house-llm"
    early = call("in-house-llm", ts=datetime(2025, 12, 31), output_tokens=1)
    late = call("in-house-llm", ts=datetime(2026, 1, 2), output_tokens=1)
    assert price(catalogue, early, late) == [
        (None, "no price in force on 2025-12-31"),
        (Decimal("0.000002"), None),
    ]


def test_many_rows_sum_exactly(catalogue: Catalogue) -> None:
    calls = [call("gpt-4o-mini", uncached_input_tokens=n, output_tokens=n % 7) for n in range(500)]
    total = sum(c for c, _ in price(catalogue, *calls) if c is not None)
    expected = sum(n * Decimal("0.00000015") + (n % 7) * Decimal("0.0000006") for n in range(500))
    assert total == expected


@pytest.mark.parametrize(
    ("logged", "model", "note"),
    [
        ("gpt-4o", "gpt-4o", None),
        ("GPT-4o", "gpt-4o", None),
        ("openai/gpt-4o", "gpt-4o", None),
        ("anthropic/claude-sonnet-4-6", "claude-sonnet-4-6", None),
        ("azure/gpt-4o", "azure/gpt-4o", None),
        (
            "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            None,
        ),  # noqa: E501
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18", None),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "ft:gpt-4o-mini-2024-07-18", None),
        (
            "gpt-4o-mini-2099-01-01",
            "gpt-4o-mini",
            "'gpt-4o-mini-2099-01-01' is not in the catalogue; priced as 'gpt-4o-mini'",
        ),  # noqa: E501
        (
            "anthropic/claude-sonnet-4-5-20260101",
            "claude-sonnet-4-5",
            "'claude-sonnet-4-5-20260101' is not in the catalogue; priced as 'claude-sonnet-4-5'",
        ),  # noqa: E501
        (
            "claude-sonnet-4.6",
            "claude-sonnet-4-6",
            "'claude-sonnet-4.6' is not in the catalogue; priced as 'claude-sonnet-4-6'",
        ),  # noqa: E501
        (
            "openrouter/openai/gpt-4o",
            "gpt-4o",
            "no 'openrouter/' price for 'gpt-4o'; priced at openai rates",
        ),  # noqa: E501
        # A Bedrock cross-region profile: its own price when listed, else its model id's.
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            None,
        ),  # noqa: E501
        (
            "global.amazon.nova-pro-v1:0",
            "amazon.nova-pro-v1:0",
            "'global.amazon.nova-pro-v1:0' is not in the catalogue; "
            "priced as 'amazon.nova-pro-v1:0'",
        ),  # noqa: E501
        # A Gemini stable version falls back to its model; a platform prefix is kept.
        (
            "vertex_ai/gemini-2.0-flash-001",
            "vertex_ai/gemini-2.0-flash",
            "'vertex_ai/gemini-2.0-flash-001' is not in the catalogue; "
            "priced as 'vertex_ai/gemini-2.0-flash'",
        ),  # noqa: E501
        ("vertex_ai/gemini-2.5-pro", "gemini-2.5-pro", None),
    ],
)
def test_resolve(catalogue: Catalogue, logged: str, model: str, note: str | None) -> None:
    resolution = catalogue.resolve(logged)
    assert (resolution.model, resolution.note) == (model, note)


def test_resolve_unknown_and_memoised(catalogue: Catalogue) -> None:
    resolution = catalogue.resolve("azure/my-deployment")
    assert resolution.model is None
    assert resolution.provider == "azure"
    assert resolution.note and "unknown model 'azure/my-deployment'" in resolution.note
    assert catalogue.resolve("azure/my-deployment") is resolution
    assert catalogue.resolve("claude-3-5-sonnet-20241022").model is None  # not in 1.110.2


def test_points_of_a_tiered_model(catalogue: Catalogue) -> None:
    points = catalogue.points(["gemini-2.5-pro"])
    assert [(p.above_tokens, p.batch) for p in points] == [
        (0, False),
        (0, True),
        (200_000, False),
        (200_000, True),
    ]
    tier_batch = points[3]
    assert (tier_batch.input, tier_batch.output) == (Decimal("0.00000125"), Decimal("0.0000075"))
    # No batch cache-read price in the tier: the standard tier's applies.
    assert tier_batch.cache_read == Decimal("0.00000025")
    assert all(p.since == date(1970, 1, 1) for p in points)


def test_show_and_models(catalogue: Catalogue) -> None:
    prices = catalogue.show("openai/gpt-4o")
    assert (prices.model, prices.provider, prices.mode) == ("gpt-4o", "openai", "chat")
    assert prices.max_input_tokens == 128000
    with pytest.raises(BadInput):
        catalogue.show("no-such-model")
    assert "gpt-4o" in catalogue.models(provider="openai", search="4O")
    assert all(m.startswith("claude") for m in catalogue.models(provider="anthropic"))
    assert "vertex_ai/claude-sonnet-4-6" in catalogue.models(provider="vertex_ai")


def test_bucket_costs_add_up_to_the_total(catalogue: Catalogue) -> None:
    table = pa.Table.from_pylist(
        [
            {
                **call(
                    "claude-sonnet-4-6",
                    uncached_input_tokens=100,
                    cached_input_tokens=1000,
                    cache_write_5m_tokens=200,
                    cache_write_1h_tokens=300,
                    output_tokens=50,
                    reasoning_tokens=20,
                ),
                "row_key": 0,
            }
        ],
        schema=CALL_SCHEMA,
    )
    con = duckdb.connect()
    con.register("calls", table)
    con.register("points", points_arrow(catalogue.points({"claude-sonnet-4-6"})))
    row = con.execute(
        "SELECT computed_cost_usd, uncached_input_cost_usd, cached_input_cost_usd, "
        "cache_write_cost_usd, output_cost_usd, reasoning_cost_usd "
        f"FROM ({cost_sql('calls', 'points')})"
    ).fetchone()
    total, uncached, cached, writes, output, reasoning = row
    assert uncached == Decimal("0.0003")  # 100 x $3/M
    assert cached == Decimal("0.0003")  # 1000 x $0.30/M
    assert writes == Decimal("0.00255")  # 200 x $3.75/M + 300 x $6/M
    assert output == Decimal("0.00075")  # 50 x $15/M, reasoning included
    assert reasoning == Decimal("0.0003")  # 20 x $15/M, a part of the output cost
    assert total == uncached + cached + writes + output


# The rule for the point in force, written as the plain (slow) join and window it replaced.
_WINDOW_RULE = """
SELECT c.row_key, pt.input, pt.output
FROM calls c JOIN points pt
  ON pt.model = c.model
 AND (c.ts IS NULL OR pt.since <= CAST(c.ts AS DATE))
 AND (pt.above_tokens = 0 OR pt.above_tokens < c.uncached_input_tokens + c.cached_input_tokens
      + c.cache_write_5m_tokens + c.cache_write_1h_tokens)
 AND (c.batch OR NOT pt.batch)
QUALIFY row_number() OVER (
    PARTITION BY c.row_key ORDER BY pt.since DESC, pt.batch DESC, pt.above_tokens DESC) = 1
"""


def test_the_streaming_pick_is_the_window_rule() -> None:
    import random

    overrides = [
        PriceOverride("gpt-4o", date(2026, 6, 1), Decimal("0.000005"), Decimal("0.00002")),
        PriceOverride(
            "gpt-4o", date(2026, 6, 1), Decimal("0.00001"), Decimal("0.00004"), above_tokens=5000
        ),
        PriceOverride("gemini-2.5-pro", date(2026, 3, 1), Decimal("1e-6"), Decimal("2e-6")),
    ]
    catalogue = Catalogue.load(SHIPPED_CATALOGUE, overrides=overrides)
    rng = random.Random(3)
    models = ["gpt-4o", "gemini-2.5-pro", "gpt-4o-mini", "claude-sonnet-4-5", "no-such-model"]
    calls = [
        {
            **call(
                rng.choice(models),
                ts=rng.choice(
                    [None, datetime(2026, 1, 1), datetime(2026, 6, 1), datetime(2027, 1, 1)]
                ),
                batch=rng.random() < 0.3,
                uncached_input_tokens=rng.choice([0, 10, 4999, 5001, 199_999, 250_000]),
                cached_input_tokens=rng.choice([0, 1, 100_000]),
                output_tokens=rng.randint(0, 50),
            ),
            "row_key": i,
        }
        for i in range(400)
    ]
    con = duckdb.connect()
    con.register("calls", pa.Table.from_pylist(calls, schema=CALL_SCHEMA))
    con.register("points", points_arrow(catalogue.points(models)))
    picked = con.execute(
        f"SELECT c.row_key, c.uncached_input_cost_usd, c.output_cost_usd, c.price_note, "
        f"w.input, w.output FROM ({cost_sql('calls', 'points')}) c "
        f"LEFT JOIN ({_WINDOW_RULE}) w USING (row_key) ORDER BY row_key"
    ).fetchall()
    tokens = {c["row_key"]: c for c in calls}
    for row_key, input_cost, output_cost, note, input_price, output_price in picked:
        c = tokens[row_key]
        if input_price is None:
            assert input_cost is None and note is not None
            continue
        assert input_cost == c["uncached_input_tokens"] * input_price
        assert output_cost == (c["output_tokens"] * output_price if c["output_tokens"] else 0)
    assert len({(r[4], r[5]) for r in picked}) > 6  # many different points were in force


def test_cost_sql_rejects_non_identifiers() -> None:
    with pytest.raises(ValueError):
        cost_sql("calls; DROP TABLE x", "points")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.5e-06, "0.0000025"),
        (1e-05, "0.00001"),
        (0.0, "0"),
        (3, "3"),
        (2.9999900000000002e-06, "0.00000299999"),
        (True, None),
        (-1e-6, None),
        ("0.1", None),
    ],
)
def test_price_text(value: object, text: str | None) -> None:
    assert price_import.price_text(value) == text


def test_convert_entry_keeps_text_models_with_tiers() -> None:
    entry = {
        "litellm_provider": "vertex_ai",
        "mode": "chat",
        "input_cost_per_token": 3e-06,
        "input_cost_per_token_priority": 9e-06,
        "cache_creation_input_token_cost_above_1hr": 6e-06,
        "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
        "input_cost_per_token_above_200k_tokens": 6e-06,
        "input_cost_per_token_above_200k_tokens_batches": 3e-06,
        "max_input_tokens": 1000000,
    }
    assert price_import.convert_entry(entry) == {
        "provider": "vertex_ai",
        "mode": "chat",
        "input": "0.000003",
        "cache_write_1h": "0.000006",
        "tiers": [
            {
                "above_tokens": 200000,
                "input": "0.000006",
                "batch_input": "0.000003",
                "cache_write_1h": "0.000012",
            }
        ],
        "max_input_tokens": 1000000,
    }
    assert (
        price_import.convert_entry({"mode": "image_generation", "input_cost_per_token": 1}) is None
    )
    assert price_import.convert_entry({"mode": "chat", "input_cost_per_second": 1}) is None


@needs_litellm
def test_shipped_catalogue_is_the_build_of_the_source() -> None:
    shipped = json.loads(SHIPPED_CATALOGUE.read_text())
    litellm, sha256 = price_import.read_litellm(LITELLM)
    assert shipped["source_sha256"] == sha256
    assert price_import.convert(litellm, {})["models"] == shipped["models"]


def test_user_catalogue_replaces_shipped(tmp_path: Path) -> None:
    user = tmp_path / "config" / "costlab" / "prices.json"
    user.parent.mkdir(parents=True)
    document = {"source": "mine", "source_date": "2026-01-01", "models": {}}
    document["models"]["my-model"] = {"provider": "me", "mode": "chat", "input": "1", "output": "2"}
    user.write_text(json.dumps(document))
    catalogue = Catalogue.load()
    assert (catalogue.source, catalogue.path) == ("mine", user)
    assert catalogue.models() == ["my-model"]


def test_bad_catalogue_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text('{"models": [1]}')
    with pytest.raises(ConfigError):
        Catalogue.load(bad)
    with pytest.raises(ConfigError):
        Catalogue.load(tmp_path / "missing.json")
    bad.write_text('{"models": {"m": {"input": "cheap"}}}')
    with pytest.raises(ConfigError, match="not a decimal"):
        Catalogue.load(bad).points(["m"])
