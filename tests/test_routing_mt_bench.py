"""Real data: RouteLLM's MT-Bench judgements replayed; the ends must equal the dataset's means."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from costlab import ingest, prices
from costlab.ingest import sources
from costlab.routing import compare, outcomes, policy
from costlab.store import Store

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data" / "routellm_mt_bench"
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
WEAK_MODEL = f'[models."{WEAK}"]\nprice_as = "together_ai/{WEAK}"\n'
POLICIES = {
    "all-strong": f'default = "{STRONG}"\n',
    "all-weak": f'default = "{WEAK}"\n{WEAK_MODEL}',
    "random-half": f'default = "{STRONG}"\n{WEAK_MODEL}'
    f'[[rules]]\nwhen = "hash(request_id) % 2 = 0"\nroute_to = "{WEAK}"\n',
}
# Mixtral answers, gpt-4o-mini validates, failures (an MT-Bench score below 8) go to GPT-4
VALIDATED = (
    f'kind = "quality_aware"\ncheap = "{WEAK}"\nstrong = "{STRONG}"\nvalidator = "gpt-4o-mini"\n'
)
PASS_SCORE = 8
POLICIES |= {
    "validated": f'{VALIDATED}escalation = "outcomes"\npass_score = {PASS_SCORE}\n{WEAK_MODEL}',
    "validated-never": f"{VALIDATED}escalation_rate = 0\n{WEAK_MODEL}",
}


def scores(model: str) -> list[float]:
    rows = [json.loads(line) for line in (DATA / "judgements.jsonl").open(encoding="utf-8")]
    return [r["score"] for r in rows if r["model"] == model]


def mean_score(model: str) -> float:
    found = scores(model)
    assert len(found) == 160  # 80 questions × 2 turns
    return sum(found) / len(found)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[compare.Comparison]:
    tmp = tmp_path_factory.mktemp("mt_bench")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ROOT / "scripts" / "samples" / "routellm_logs.py"
    subprocess.run(
        [sys.executable, str(script), "--data", str(DATA), "--out", str(tmp)], check=True, env=env
    )
    catalogue = prices.Catalogue.load()
    paths = []
    for name, text in POLICIES.items():
        paths.append(tmp / f"{name}.toml")
        paths[-1].write_text(text, encoding="utf-8")
    with Store.open(tmp / "mt.duckdb") as store:
        ingest.ingest(
            store, sources.expand([str(tmp / "logs.jsonl")]), ingest.IngestOptions(), catalogue
        )
        outcomes.ingest(store, tmp / "outcomes.jsonl", catalogue)
        loaded = [policy.load(p, catalogue) for p in paths]
        yield compare.run(store, catalogue, loaded, compare.CompareOptions(min_quality=8.5))


def by_name(result: compare.Comparison) -> dict[str, compare.PolicyResult]:
    return {p.name: p for p in result.policies}


def test_all_strong_is_the_traffic_as_logged(replayed: compare.Comparison) -> None:
    strong = by_name(replayed)["all-strong"]
    assert replayed.requests == 160
    assert strong.quality == pytest.approx(mean_score(STRONG))
    assert strong.quality_exact_share == 1.0
    assert strong.after_usd == strong.before_usd == replayed.logged_usd
    assert strong.savings == 0 and strong.input_estimated_share == 0


def test_all_weak_has_the_mean_mixtral_score(replayed: compare.Comparison) -> None:
    weak = by_name(replayed)["all-weak"]
    assert weak.quality == pytest.approx(mean_score(WEAK))
    assert weak.quality_exact_share == 1.0
    assert weak.quality_delta == pytest.approx(mean_score(WEAK) - mean_score(STRONG))
    assert weak.quality_delta_ci is not None and weak.quality_delta_ci.high < 0
    assert weak.savings is not None and weak.savings > 0.9
    assert weak.input_estimated_share == 1.0  # Mixtral's tokenizer is not cl100k


def test_a_random_half_lands_between_the_two(replayed: compare.Comparison) -> None:
    policies = by_name(replayed)
    half, weak = policies["random-half"], policies["all-weak"]
    assert mean_score(WEAK) < (half.quality or 0) < mean_score(STRONG)
    assert 0 < (half.savings or 0) < (weak.savings or 0)
    assert half.models[WEAK] == pytest.approx(0.5, abs=0.1)
    assert half.savings_ci is not None and half.savings_ci.low < half.savings_ci.high


def test_the_recommendation_meets_the_quality_floor(replayed: compare.Comparison) -> None:
    chosen = by_name(replayed)[replayed.recommended or ""]
    assert (chosen.quality or 0) >= 8.5
    cheaper = [p for p in replayed.policies if p.after_usd < chosen.after_usd]
    assert all((p.quality or 0) < 8.5 for p in cheaper)


def test_validated_escalation_lands_between_weak_and_strong_at_the_formula_cost(
    replayed: compare.Comparison,
) -> None:
    policies = by_name(replayed)
    validated, never, weak = (
        policies["validated"],
        policies["validated-never"],
        policies["all-weak"],
    )
    took = {r.name: r for r in validated.rules}
    failed = sum(s < PASS_SCORE for s in scores(WEAK))
    assert took["escalated"].took == failed and took["passed validation"].took == 160 - failed
    assert took["escalated at the expected rate"].took == 0  # every request has a Mixtral outcome
    assert mean_score(WEAK) < (validated.quality or 0) < mean_score(STRONG)
    assert validated.quality_exact_share == 1.0
    # cheap + validator (the rate-0 policy) + the escalated requests on GPT-4 (their logged cost)
    validator = never.after_usd - weak.after_usd
    assert validator > 0
    assert validated.after_usd == never.after_usd + took["escalated"].before_usd
    assert weak.after_usd < validated.after_usd < policies["all-strong"].after_usd
