"""`prefix.money.costs` prices again only the requests whose simulated (or batch) buckets differ
from their logged ones: the same three prices per request as pricing every request three ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from costlab import prices
from costlab.costs import cost_sql
from costlab.prefix import money, replay, rules, traffic
from costlab.scope import Scope
from costlab.store import Store

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from costlab import ingest
    from costlab.ingest import sources

    db = tmp_path_factory.mktemp("samples") / "samples.duckdb"
    with Store.open(db) as store:  # long prompts that cache (sample_logs/), short ones (Banking77)
        ingest.ingest(
            store,
            sources.expand(
                [str(ROOT / "sample_logs"), str(ROOT / "tests/data/banking77/support_sample.jsonl")]
            ),
            ingest.IngestOptions(),
            prices.Catalogue.load(),
        )
    return db


def _every_row(
    store: Store,
    found: traffic.Traffic,
    replayed: replay.Replayed,
    eligible: list[bool],
    points: list[prices.PricePoint],
) -> list[tuple[Any, ...]]:
    """Each request priced three ways in full (the views without their filters)."""
    import pyarrow as pa

    simulation = {
        "request_id": pa.array(found.request_ids, pa.string()),
        "position": pa.array(range(len(found)), pa.int64()),
        "simulated": pa.array((replayed.template_of >= 0).tolist(), pa.bool_()),
        "cached": pa.array(replayed.cached.tolist(), pa.int64()),
        "write_5m": pa.array(replayed.write_5m.tolist(), pa.int64()),
        "write_1h": pa.array(replayed.write_1h.tolist(), pa.int64()),
        "to_batch": pa.array(eligible, pa.bool_()),
    }
    store.register("_prefix_sim", pa.table(simulation))
    views = {
        "_prefix_logged": "SELECT " + money._BUCKETS.format(**money._LOGGED),
        "_prefix_cached": "SELECT " + money._BUCKETS.format(**money._SIMULATED),
        "_prefix_batched": "SELECT " + money._BUCKETS.format(
            **{**money._LOGGED, "batch": "coalesce(r.batch, false) OR s.to_batch"}
        ),
    }  # fmt: skip
    store.register("_prefix_points", prices.points_arrow(points))
    for view, sql in views.items():
        store.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
    rows = store.rows(
        f"""
        SELECT l.computed_cost_usd, c.computed_cost_usd, b.computed_cost_usd, b.price_note
        FROM _prefix_sim s
        JOIN ({cost_sql("_prefix_logged", "_prefix_points")}) l ON l.row_key = s.request_id
        JOIN ({cost_sql("_prefix_cached", "_prefix_points")}) c ON c.row_key = s.request_id
        JOIN ({cost_sql("_prefix_batched", "_prefix_points")}) b ON b.row_key = s.request_id
        ORDER BY s.position
        """
    )
    store.unregister("_prefix_points")
    store.unregister("_prefix_sim")
    return rows


@pytest.mark.parametrize("choice", ["auto", "openai", "anthropic"])
def test_costs_equal_pricing_every_request_three_ways(
    choice: rules.RuleChoice, sample_store: Path
) -> None:
    catalogue = prices.Catalogue.load()
    table = rules.RULES
    with Store.open(sample_store, read_only=True) as store:
        found = traffic.load(store, Scope(), traffic.AUTO, below=rules.smallest_prefix(table))
        pairs = zip(found.providers, found.models, strict=True)
        rule_of = [rules.rule_for(p, m, choice) for p, m in pairs]
        rule_by_model = {m: table[r] for m, r in zip(found.models, rule_of, strict=True) if r}
        points = money.filled_points(catalogue, rule_by_model)
        replayed = replay.replay(found, rule_of, table, money.unit_prices(points))
        eligible = [f in ("summarize", "support") for f in found.features]
        got = money.costs(store, found, replayed, eligible, points)
        want = _every_row(store, found, replayed, eligible, points)
    assert (
        list(zip(got.logged_buckets, got.simulated, got.batch, got.batch_notes, strict=True))
        == want
    )
    assert (replayed.cached > 0).any() and any(eligible) and not all(eligible)
    assert any(a != b for a, b in zip(got.logged_buckets, got.simulated, strict=True))
