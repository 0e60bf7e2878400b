"""Verdicts against the baseline and budgets, and the policy built from config and flags."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costlab import settings
from costlab.errors import ConfigError
from costlab.tokens import gate
from costlab.tokens.baseline import Entry
from costlab.tokens.gate import Counted, Usage
from costlab.tokens.policy import Increase, Policy, Rule

WARN_AT = Decimal("0.8")


def _rule(**limits: object) -> Rule:
    return Rule(encoding="cl100k_base", **limits)  # type: ignore[arg-type]


def _one(tokens: int, before: int | None, **limits: object) -> gate.Row:
    baseline = {} if before is None else {"t.txt": Entry("cl100k_base", before)}
    counted = [Counted("t.txt", tokens, _rule(**limits))]
    return gate.compare(counted, baseline, WARN_AT)[0]


def test_increase_parses_percent_and_tokens() -> None:
    assert Increase.parse("10%") == Increase(Decimal(10), True)
    assert Increase.parse("+2.5 %").allowed(200) == Decimal(5)
    assert Increase.parse("50") == Increase.parse("50 tokens") == Increase(Decimal(50), False)
    for bad in ("ten", "1.5 tokens", "-3", "%"):
        with pytest.raises(ValueError):
            Increase.parse(bad)


def test_growth_past_the_percentage_fails_near_it_warns() -> None:
    limit = Increase.parse("10%")
    assert _one(111, 100, max_increase=limit).verdict == "fail"
    assert _one(110, 100, max_increase=limit).verdict == "warn"  # +10 of 10 allowed
    assert _one(107, 100, max_increase=limit).verdict == "pass"  # +7 < 8
    row = _one(111, 100, max_increase=limit)
    assert row.reasons == ("grew 100 → 111 tokens (+11, +11.0%), over the allowed +10%",)
    assert row.status == "grown" and row.delta == 11 and row.delta_percent == Decimal(11)


def test_shrinking_and_unchanged_pass() -> None:
    limit = Increase.parse("0%")
    assert _one(90, 100, max_increase=limit).status == "shrunk"
    assert _one(100, 100, max_increase=limit).verdict == "pass"
    assert _one(101, 100, max_increase=limit).verdict == "fail"  # 0% allows no growth


def test_budgets_in_tokens_and_dollars() -> None:
    assert _one(201, 100, max_tokens=200).reasons == ("201 tokens, over the budget of 200",)
    assert _one(170, None, max_tokens=200).verdict == "warn"
    priced = Counted("t.txt", 1000, _rule(model="gpt-4", max_usd_per_call=Decimal("0.02")))
    row = gate.compare([_priced(priced, "0.00003")], {}, WARN_AT)[0]
    assert row.usd_per_call == Decimal("0.03000") and row.verdict == "fail"


def _priced(c: Counted, price: str) -> Counted:
    return Counted(c.id, c.tokens, c.rule, Decimal(price))


def test_removed_templates_are_noted_and_pass() -> None:
    rows = gate.compare([], {"old.txt": Entry("cl100k_base", 40)}, WARN_AT)
    assert [(r.id, r.status, r.verdict, r.tokens) for r in rows] == [
        ("old.txt", "removed", "pass", None)
    ]


def test_delta_dollars_per_month_is_tokens_times_calls_times_price() -> None:
    usage = {"t.txt": Usage(Decimal(3000), Decimal("0.0000025"))}
    row = gate.compare([Counted("t.txt", 140, _rule())], {"t.txt": Entry("x", 100)}, WARN_AT, usage)
    assert row[0].delta_usd_per_month == Decimal("0.3")  # 40 × 3000 × $2.50/1M
    assert row[0].reasons == ("baseline counted with x", "100 → 140 tokens")


def test_rules_by_glob_then_flags_win() -> None:
    policy = Policy(
        WARN_AT,
        Rule(max_increase=Increase.parse("10%"), encoding="cl100k_base"),
        (Rule("agents/*", max_tokens=4000), Rule("agents/big/*", max_tokens=8000)),
    )
    assert policy.for_template("agents/big/x.txt").max_tokens == 8000
    assert policy.for_template("agents/x.txt").max_increase == Increase.parse("10%")
    assert policy.for_template("other.txt").max_tokens is None
    flagged = policy.with_flags(Rule(max_tokens=10))
    assert flagged.for_template("agents/big/x.txt").max_tokens == 10


def test_the_config_section_and_its_rules(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.costlab.tokens]\n"
        'paths = ["prompts/**/*.txt"]\n'
        'model = "gpt-4"\n'
        "max_increase = 50\n"
        "[[tool.costlab.tokens.rules]]\n"
        'glob = "prompts/agents/*"\n'
        "max_usd_per_call = 0.05\n"
    )
    tokens = settings.load(cwd=tmp_path).tokens
    assert tokens.paths == ["prompts/**/*.txt"] and tokens.baseline == "costlab-tokens.json"
    rule = tokens.policy().for_template("prompts/agents/a.txt")
    assert rule.model == "gpt-4" and rule.max_increase == Increase(Decimal(50), False)
    assert rule.max_usd_per_call == Decimal("0.05")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('encoding = "p50k_base"', "tokens.encoding"),
        ('max_increase = "lots"', "tokens.max_increase"),
        ("max_tokens = -1", "tokens.max_tokens"),
        ("warn_at = 2", "tokens.warn_at"),
        ('template_keys = ["a.b"]', "tokens.template_keys"),
    ],
)
def test_config_errors_name_the_file_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    config = tmp_path / "costlab.toml"
    config.write_text(f"[tokens]\npaths = []\n{line}\n")
    with pytest.raises(ConfigError) as err:
        settings.load(cwd=tmp_path)
    assert f"{config}, line 3: {field}" in err.value.message
