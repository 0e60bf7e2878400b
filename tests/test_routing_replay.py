"""Replaying policies: exact repricing, first match wins, quality from evidence, intervals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import flat, load, write_jsonl

from costlab import prices
from costlab.errors import BadInput
from costlab.routing import compare, outcomes, policy
from costlab.scope import Scope
from costlab.store import Store


def write_policy(
    tmp_path: Path, name: str, text: str, catalogue: prices.Catalogue
) -> policy.Policy:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return policy.load(path, catalogue)


def point(catalogue: prices.Catalogue, model: str) -> prices.PricePoint:
    return next(p for p in catalogue.show(model).points if not p.batch and p.above_tokens == 0)


@pytest.fixture
def loaded(store: Store, catalogue: prices.Catalogue, tmp_path: Path) -> Store:
    """Ten gpt-4o-mini requests (1000 input, 200 output tokens), chat and support alternating."""
    load(store, catalogue, tmp_path, [flat(n) for n in range(10)])
    return store


def run(
    store: Store, catalogue: prices.Catalogue, *policies: policy.Policy, **kw: object
) -> compare.Comparison:
    return compare.run(store, catalogue, list(policies), compare.CompareOptions(**kw))  # type: ignore[arg-type]


def test_same_tokenizer_reprices_exactly(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    strong = write_policy(tmp_path, "strong", 'default = "gpt-4o"\n', catalogue)
    result = run(loaded, catalogue, strong)
    p = result.policies[0]
    mini, big = point(catalogue, "gpt-4o-mini"), point(catalogue, "gpt-4o")
    assert result.requests == 10
    assert p.before_usd == result.logged_usd == 10 * (1000 * mini.input + 200 * mini.output)
    assert p.after_usd == 10 * (1000 * big.input + 200 * big.output)
    assert p.input_estimated_share == 0.0  # gpt-4o-mini and gpt-4o share o200k
    assert p.savings == pytest.approx(float(1 - p.after_usd / p.before_usd))
    assert p.models == {"gpt-4o": 1.0}


def test_another_tokenizer_is_an_estimate_by_the_documented_ratio(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    haiku = write_policy(tmp_path, "haiku", 'default = "claude-haiku-4-5"\n', catalogue)
    p = run(loaded, catalogue, haiku).policies[0]
    ratio = 1.15 / 0.95  # claude tokens per o200k token (calibration.families.TOKENIZERS)
    price = point(catalogue, "claude-haiku-4-5")
    assert p.input_estimated_share == 1.0
    assert p.after_usd == 10 * (
        round(1000 * ratio) * price.input + round(200 * ratio) * price.output
    )


def test_cache_reads_carry_over_only_within_the_provider(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, [flat(0, cached_input_tokens=600)])
    to_openai = write_policy(tmp_path, "a", 'default = "gpt-4o"\n', catalogue)
    to_anthropic = write_policy(tmp_path, "b", 'default = "claude-haiku-4-5"\n', catalogue)
    a, b = run(store, catalogue, to_openai, to_anthropic).policies
    big, haiku = point(catalogue, "gpt-4o"), point(catalogue, "claude-haiku-4-5")
    assert big.cache_read is not None
    assert a.after_usd == 400 * big.input + 600 * big.cache_read + 200 * big.output
    ratio = 1.15 / 0.95
    assert b.after_usd == round(1000 * ratio) * haiku.input + round(200 * ratio) * haiku.output


def test_first_match_wins_and_each_rule_says_what_it_took(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    text = """default = "logged"
[[rules]]
name = "support"
when = "feature = 'support'"
route_to = "gpt-4o"
[[rules]]
name = "even"
when = "CAST(split_part(request_id, '-', 2) AS INTEGER) % 2 = 1 OR request_id = 'req-0'"
route_to = "claude-haiku-4-5"
[[rules]]
name = "never"
when = "input_tokens > 10^9"
route_to = "gpt-4o"
"""
    p = run(loaded, catalogue, write_policy(tmp_path, "p", text, catalogue)).policies[0]
    by_name = {r.name: r for r in p.rules}
    assert (by_name["support"].matched, by_name["support"].took) == (5, 5)  # odd n: support
    assert (by_name["even"].matched, by_name["even"].took) == (6, 1)
    assert (by_name["never"].matched, by_name["never"].took) == (0, 0)
    assert by_name["default"].took == 4 and by_name["default"].route_to == "logged"
    assert by_name["default"].after_usd == by_name["default"].before_usd
    assert p.models == {"gpt-4o": 0.5, "gpt-4o-mini": 0.4, "claude-haiku-4-5": 0.1}
    assert any("even matches 6 requests but takes 1" in n for n in p.notes)
    assert any("never" in n and "matches no request" in n for n in p.notes)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("featur = 'chat'", 'Referenced column "featur" not found'),
        ("feature = 'chat' AND", "syntax error"),
        ("request_id IN (SELECT request_id FROM requests)", "a subquery is not allowed"),
        ("true; DROP TABLE requests", "a second statement is not allowed"),
        ("read_csv('x.csv') IS NULL", "the function read_csv() is not allowed"),
    ],
)
def test_a_bad_rule_names_its_file_line_and_field(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path, when: str, expected: str
) -> None:
    text = f'default = "gpt-4o"\n\n[[rules]]\nname = "bad"\nwhen = "{when}"\nroute_to = "gpt-4o"\n'
    bad = write_policy(tmp_path, "p", text, catalogue)
    with pytest.raises(BadInput) as err:
        run(loaded, catalogue, bad)
    assert f"{tmp_path / 'p.toml'}, line 5: rules[0].when (bad)" in err.value.message
    assert expected in err.value.message


def test_derived_columns_are_there_for_rules(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    text = """default = "logged"
[[rules]]
when = "task_type = 'general' AND complexity < 0.5 AND prompt_tokens = 5"
route_to = "gpt-4o"
"""
    p = run(loaded, catalogue, write_policy(tmp_path, "p", text, catalogue)).policies[0]
    assert p.rules[0].took == 10  # "question number 3": 17 characters, 5 tokens


def test_quality_exact_from_outcomes_else_estimated_from_the_profile(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [{"request_id": f"req-{n}", "model": "gpt-4o", "score": 9} for n in range(4)]
    records += [{"request_id": f"req-{n}", "model": "gpt-4o-mini", "score": 6} for n in range(10)]
    outcomes.ingest(loaded, write_jsonl(tmp_path / "o.jsonl", records), catalogue)
    text = 'default = "gpt-4o"\n[models.gpt-4o]\nquality = { general = 8.0 }\n'
    p = run(loaded, catalogue, write_policy(tmp_path, "p", text, catalogue)).policies[0]
    assert p.quality_exact_share == 0.4 and p.quality_estimated_share == 0.6
    assert p.quality_unknown_share == 0.0
    assert p.quality == pytest.approx((4 * 9 + 6 * 8) / 10)
    assert p.quality_before == pytest.approx(6.0)
    assert p.quality_delta == pytest.approx((4 * 3 + 6 * 2) / 10)
    bare = write_policy(tmp_path, "bare", 'default = "gpt-4o"\n', catalogue)
    q = run(loaded, catalogue, bare).policies[0]
    assert q.quality == pytest.approx(9.0) and q.quality_unknown_share == 0.6


def test_intervals_are_seeded_and_hold_the_estimate(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [flat(n, input_tokens=100 + 37 * n, output_tokens=10 + n % 50) for n in range(300)]
    load(store, catalogue, tmp_path, records)
    half = write_policy(
        tmp_path,
        "half",
        'default = "logged"\n[[rules]]\nwhen = "hash(request_id) % 2 = 0"\nroute_to = "gpt-4o"\n',
        catalogue,
    )
    first = run(store, catalogue, half, seed=7).policies[0]
    again = run(store, catalogue, half, seed=7).policies[0]
    other = run(store, catalogue, half, seed=8).policies[0]
    assert first.savings_ci == again.savings_ci != other.savings_ci
    assert first.savings_ci is not None and first.savings is not None
    assert first.savings_ci.low < first.savings < first.savings_ci.high


def test_recommend_picks_the_cheapest_policy_meeting_the_quality(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [
        {"request_id": f"req-{n}", "model": m, "score": s}
        for n in range(10)
        for m, s in (("gpt-4o", 9), ("gpt-4o-mini", 7), ("claude-haiku-4-5", 8))
    ]
    outcomes.ingest(loaded, write_jsonl(tmp_path / "o.jsonl", records), catalogue)
    names = ("gpt-4o", "gpt-4o-mini", "claude-haiku-4-5")
    policies = [
        write_policy(tmp_path, f"p{i}", f'default = "{m}"\n', catalogue)
        for i, m in enumerate(names)
    ]
    assert run(loaded, catalogue, *policies, min_quality=7.5).recommended == "p2"
    assert run(loaded, catalogue, *policies, min_quality=6).recommended == "p1"
    none = run(loaded, catalogue, *policies, min_quality=9.5)
    assert none.recommended is None and "no policy reaches" in none.notes[0]


def test_scope_and_empty_scope(loaded: Store, catalogue: prices.Catalogue, tmp_path: Path) -> None:
    strong = write_policy(tmp_path, "strong", 'default = "gpt-4o"\n', catalogue)
    assert run(loaded, catalogue, strong, scope=Scope(where="feature = 'chat'")).requests == 5
    with pytest.raises(BadInput, match="no requests to replay"):
        run(loaded, catalogue, strong, scope=Scope(where="feature = 'none'"))


def test_policies_must_agree_on_names_and_prices(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    a = write_policy(tmp_path, "a", 'name = "x"\ndefault = "gpt-4o"\n', catalogue)
    b = write_policy(tmp_path, "b", 'name = "x"\ndefault = "gpt-4o"\n', catalogue)
    with pytest.raises(BadInput, match="two policies are named 'x'"):
        run(loaded, catalogue, a, b)
    c = write_policy(tmp_path, "c", 'default = "m"\n[models.m]\ninput = 1\noutput = 2\n', catalogue)
    d = write_policy(tmp_path, "d", 'default = "m"\n[models.m]\ninput = 1\noutput = 3\n', catalogue)
    with pytest.raises(BadInput, match="model 'm' is priced differently"):
        run(loaded, catalogue, c, d)


def test_a_price_override_prices_a_model_the_catalogue_lacks(
    loaded: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    text = 'default = "house"\n[models.house]\ninput = 1\noutput = 2\n'
    p = run(loaded, catalogue, write_policy(tmp_path, "h", text, catalogue)).policies[0]
    # an unknown tokenizer: estimated at 1 token per cl100k token, from o200k's 0.95
    assert p.after_usd == 10 * (
        round(1000 / 0.95) * Decimal("1e-6") + round(200 / 0.95) * Decimal("2e-6")
    )
    assert p.input_estimated_share == 1.0
