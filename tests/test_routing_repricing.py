"""Repricing on a candidate gives what ingest's own pricing (costs.cost_sql) gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import flat, load

from costlab import prices
from costlab.routing import compare, policy
from costlab.store import Store

# (logged model, candidate): same tokenizer family and provider, so the tokens carry over
# exactly and the candidate's cost must equal ingest's cost of the same call on it.
PAIRS = [
    ("gemini-2.5-flash", "gemini-2.5-pro"),  # the pro model has a tier above 200k tokens
    ("claude-haiku-4-5", "claude-sonnet-4-5"),
    ("gpt-4o-mini", "gpt-4o"),
]
SHAPES = [
    {"input_tokens": 1000, "output_tokens": 200},
    {"input_tokens": 250_000, "output_tokens": 900},
    {"input_tokens": 4000, "output_tokens": 0, "cached_input_tokens": 3000},
    {"input_tokens": 120_000, "output_tokens": 50, "cached_input_tokens": 100_000},
]


@pytest.mark.parametrize(("logged", "candidate"), PAIRS)
def test_a_candidate_costs_what_ingest_would_charge(
    catalogue: prices.Catalogue, tmp_path: Path, logged: str, candidate: str
) -> None:
    records = [flat(n, model=logged, **shape) for n, shape in enumerate(SHAPES)]
    path = tmp_path / "p.toml"
    path.write_text(f'default = "{candidate}"\n', encoding="utf-8")
    with Store.open(":memory:") as store:
        load(store, catalogue, tmp_path, records)
        result = compare.run(
            store, catalogue, [policy.load(path, catalogue)], compare.CompareOptions()
        )
    with Store.open(":memory:") as store:
        load(store, catalogue, tmp_path, [{**r, "model": candidate} for r in records])
        row = store.row("SELECT sum(cost_usd), count(cost_usd) FROM requests")
    assert row is not None and row[1] == len(SHAPES)
    replayed = result.policies[0]
    assert replayed.input_estimated_share == 0.0 and replayed.unpriced == 0
    assert replayed.after_usd == row[0]
