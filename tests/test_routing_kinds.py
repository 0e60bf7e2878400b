"""The built-in router kinds: cost_aware and quality_aware, with hand-computed exact costs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import flat, load, write_jsonl

from costlab import prices
from costlab.errors import BadInput
from costlab.routing import compare, outcomes, policy
from costlab.store import Store

M = Decimal(1_000_000)
# o200k names the catalogue does not know: priced by the policy, tokens exact from gpt-4o-mini
MODELS = """
[models.gpt-4o-cheap-x]
input = 1
output = 2
latency_ms = 100
quality = { general = 8, code = 5 }

[models.gpt-4o-mid-x]
input = 2
output = 4
latency_ms = 300
quality = { general = 9, code = 8 }

[models.gpt-4o-fast-x]
input = 2
output = 4
latency_ms = 50
quality = { general = 9, code = 8 }
"""
ROLES = """
[models.gpt-4o-cheap-x]
input = 1
output = 2
quality = { general = 6 }

[models.gpt-4o-strong-x]
input = 10
output = 20
quality = { general = 9 }

[models.gpt-4o-val-x]
input = 0.5
output = 1
"""
QUALITY_AWARE = (
    'kind = "quality_aware"\ncheap = "gpt-4o-cheap-x"\nstrong = "gpt-4o-strong-x"\n'
    'validator = "gpt-4o-val-x"\n'
)
CHEAP, STRONG = (1000 * 1 + 200 * 2) / M, (1000 * 10 + 200 * 20) / M
# the validator reads the prompt and the cheap answer (1000 + 200 tokens), writes 5
VALIDATOR = (1200 * Decimal("0.5") + 5 * 1) / M


@pytest.fixture
def loaded(store: Store, catalogue: prices.Catalogue, tmp_path: Path) -> Store:
    """Ten gpt-4o-mini requests (1000 in, 200 out); the even ones are code, the odd general."""
    records = [
        flat(n, prompt="debug this python function" if n % 2 == 0 else f"hello number {n}")
        for n in range(10)
    ]
    load(store, catalogue, tmp_path, records)
    return store


def replay(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path, text: str
) -> compare.PolicyResult:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    loaded = policy.load(path, catalogue)
    return compare.run(store, catalogue, [loaded], compare.CompareOptions()).policies[0]


def test_cost_aware_takes_the_cheapest_qualified_model_ties_to_lower_latency(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    p = replay(loaded, catalogue, tmp_path, f'kind = "cost_aware"\nmin_quality = 7.5\n{MODELS}')
    # general: the cheap model qualifies (8); code: mid and fast (8) cost the same, fast is faster
    assert p.models == {"gpt-4o-cheap-x": 0.5, "gpt-4o-fast-x": 0.5}
    assert p.after_usd == 5 * CHEAP + 5 * (1000 * 2 + 200 * 4) / M
    assert p.quality == pytest.approx((5 * 8 + 5 * 8) / 10)
    assert p.quality_estimated_share == 1.0 and p.input_estimated_share == 0.0
    assert {r.name: r.took for r in p.rules}["cheapest qualified: gpt-4o-fast-x"] == 5


def test_cost_aware_latency_limit_and_the_fallback_when_none_qualifies(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    fast = replay(
        loaded, catalogue, tmp_path,
        f'kind = "cost_aware"\nmin_quality = 7.5\nmax_latency_ms = 80\n{MODELS}',
    )  # fmt: skip
    assert fast.models == {"gpt-4o-fast-x": 1.0}
    # nothing reaches 9.5: the best for the task type, ties to the first declared
    best = replay(loaded, catalogue, tmp_path, f'kind = "cost_aware"\nmin_quality = 9.5\n{MODELS}')
    assert best.models == {"gpt-4o-mid-x": 1.0}


def test_quality_aware_with_a_given_rate_is_cheap_plus_validator_plus_rate_times_strong(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    p = replay(loaded, catalogue, tmp_path, f"{QUALITY_AWARE}escalation_rate = 0.3\n{ROLES}")
    assert p.after_usd == 10 * (CHEAP + VALIDATOR + Decimal("0.3") * STRONG)
    assert p.quality == pytest.approx(0.7 * 6 + 0.3 * 9)
    assert p.quality_estimated_share == 1.0


def test_quality_aware_escalates_exactly_the_failed_requests_from_outcomes(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [
        {"request_id": f"req-{n}", "model": "gpt-4o-cheap-x", "score": 4 if n < 2 else 8}
        for n in range(8)
    ] + [{"request_id": f"req-{n}", "model": "gpt-4o-strong-x", "score": 9} for n in range(10)]
    outcomes.ingest(loaded, write_jsonl(tmp_path / "o.jsonl", records), catalogue)
    text = f'{QUALITY_AWARE}escalation = "outcomes"\npass_score = 7\n{ROLES}'
    p = replay(loaded, catalogue, tmp_path, text)
    took = {r.name: r.took for r in p.rules}
    assert took == {
        "passed validation": 6, "escalated": 2, "escalated at the expected rate": 2
    }  # fmt: skip
    rate = Decimal("0.25")  # 2 of the 8 requests with a cheap outcome failed
    assert p.after_usd == 10 * (CHEAP + VALIDATOR) + 2 * STRONG + 2 * rate * STRONG
    # passed: 8 (exact), escalated: 9 (exact), no outcome: 0.75 × 6 + 0.25 × 9 (declared)
    assert p.quality == pytest.approx((6 * 8 + 2 * 9 + 2 * (0.75 * 6 + 0.25 * 9)) / 10)
    assert p.quality_exact_share == 0.8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'{QUALITY_AWARE}escalation_rate = 0.3\ndefault = "gpt-4o"\n{ROLES}',
         'line 6: default: not a field of a kind = "quality_aware" policy'),
        (f"{QUALITY_AWARE}{ROLES}", "needs escalation_rate or escalation, not both"),
        (f"{QUALITY_AWARE}escalation_rate = 1.5\n{ROLES}", "escalation_rate: Input should be"),
        (f'{QUALITY_AWARE}escalation = "outcomes"\n{ROLES}', 'pass_score goes with escalation'),
        (QUALITY_AWARE.replace("gpt-4o-val-x", "no-such-model") + "escalation_rate = 0.1\n"
         + ROLES, "line 4: validator: routes to unknown model 'no-such-model'"),
        ('kind = "cost_aware"\n' + MODELS, "min_quality: Field required"),
        ('kind = "cost_aware"\nmin_quality = 7\n[[rules]]\nwhen = "true"\nroute_to = "gpt-4o"\n',
         'line 3: rules: not a field of a kind = "cost_aware" policy'),
        ('kind = "cost_aware"\nmin_quality = 7\n[models.gpt-4o]\nquality = { code = 9 }\n',
         "line 3: models.gpt-4o.quality: a cost_aware candidate needs a quality for every task"),
        ('default = "gpt-4o"\nmin_quality = 7\n', 'line 2: min_quality: not a field of a kind'),
        ('kind = "smart"\ndefault = "gpt-4o"\n', "line 1: kind: Input should be"),
    ],
)  # fmt: skip
def test_kind_mistakes_name_the_file_line_and_field(
    tmp_path: Path, catalogue: prices.Catalogue, text: str, expected: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput) as err:
        policy.load(path, catalogue)
    assert expected in err.value.message


def test_escalation_from_outcomes_needs_outcomes_for_the_cheap_model(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    text = f'{QUALITY_AWARE}escalation = "outcomes"\npass_score = 7\n{ROLES}'
    with pytest.raises(BadInput, match="no replayed request has an outcome"):
        replay(loaded, catalogue, tmp_path, text)
