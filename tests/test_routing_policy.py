"""Policy files: a valid one loads resolved; every mistake names the file, line and field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costlab import prices
from costlab.errors import BadInput
from costlab.routing import policy

GOOD = """\
name = "cheap-support"
default = "logged"

[models."openai/gpt-4o-mini"]
latency_ms = 400
quality = { general = 7.5, code = 6.0 }

[models.house-model]
input = 0.10
output = 0.40

[[rules]]
name = "short support"
when = "feature = 'support' AND input_tokens < 500"
route_to = "openai/gpt-4o-mini"

[[rules]]
when = "task_type = 'code'"
route_to = "gpt-4o"

[[rules]]
when = "feature = 'internal'"
route_to = "house-model"
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_policy_resolves_models_and_keeps_rule_order(
    tmp_path: Path, catalogue: prices.Catalogue
) -> None:
    loaded = policy.load(write(tmp_path, GOOD), catalogue)
    assert loaded.name == "cheap-support"
    assert [r.route_to for r in loaded.rules] == ["gpt-4o-mini", "gpt-4o", "house-model"]
    assert loaded.default == policy.LOGGED
    assert [r.name for r in loaded.rules] == ["short support", "rule 2", "rule 3"]
    assert loaded.rules[0].where.endswith("p.toml, line 14")
    mini = loaded.models["gpt-4o-mini"]
    assert mini.profile("code") == 6.0 and mini.profile("faq") == 7.5  # general stands in
    assert loaded.models["gpt-4o"].quality == {}  # a catalogue model needs no declaration
    house = loaded.models["house-model"]
    assert house.override is not None and house.override.input == Decimal("0.0000001")


def test_the_name_defaults_to_the_file_name(tmp_path: Path, catalogue: prices.Catalogue) -> None:
    loaded = policy.load(write(tmp_path, 'default = "gpt-4o"\n', "strong.toml"), catalogue)
    assert loaded.name == "strong" and loaded.rules == () and loaded.default == "gpt-4o"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('route_to = "gpt-4o"', 'route_to = "gpt-9-turbo"'),
         "p.toml, line 19: rules[1].route_to: routes to unknown model 'gpt-9-turbo'"),
        (GOOD.replace('default = "logged"', 'default = "nope"'),
         "p.toml, line 2: default: routes to unknown model 'nope'"),
        (GOOD.replace("route_to = \"gpt-4o\"\n", "route_too = \"gpt-4o\"\n"),
         "p.toml, line 17: rules[1].route_to: Field required"),
        (GOOD.replace("route_to = \"gpt-4o\"\n", "route_to = \"gpt-4o\"\nroute = 1\n"),
         "p.toml, line 20: rules[1].route: Extra inputs are not permitted"),
        (GOOD.replace("latency_ms = 400", "latency_ms = -1"),
         "p.toml, line 5: models.openai/gpt-4o-mini.latency_ms: Input should be greater"),
        (GOOD.replace("code = 6.0", "poetry = 6.0"),
         "p.toml, line 6: models.openai/gpt-4o-mini.quality: unknown task type 'poetry'"),
        (GOOD.replace("output = 0.40\n", ""),
         "p.toml, line 8: models.house-model: give both input and output prices"),
        (GOOD.replace('name = "cheap-support"\n', ""), None),
        ("default = \n", "p.toml: not valid TOML"),
        ('name = "x"\n', "p.toml: default: Field required"),
    ],
)  # fmt: skip
def test_mistakes_name_the_file_line_and_field(
    tmp_path: Path, catalogue: prices.Catalogue, text: str, expected: str | None
) -> None:
    path = write(tmp_path, text)
    if expected is None:
        policy.load(path, catalogue)
        return
    with pytest.raises(BadInput) as err:
        policy.load(path, catalogue)
    assert expected in err.value.message
    assert str(path) in err.value.message


def test_an_unknown_price_as_is_an_error(tmp_path: Path, catalogue: prices.Catalogue) -> None:
    text = 'default = "m"\n\n[models.m]\nprice_as = "not-a-model"\n'
    with pytest.raises(BadInput, match=r"line 4: models.m: unknown model 'not-a-model'"):
        policy.load(write(tmp_path, text), catalogue)


def test_too_many_rules_is_an_error(tmp_path: Path, catalogue: prices.Catalogue) -> None:
    rules = '[[rules]]\nwhen = "true"\nroute_to = "gpt-4o"\n' * (policy.MAX_RULES + 1)
    with pytest.raises(BadInput, match="rules: List should have at most 62 items"):
        policy.load(write(tmp_path, 'default = "gpt-4o"\n' + rules), catalogue)


def test_a_missing_file_is_bad_input(tmp_path: Path, catalogue: prices.Catalogue) -> None:
    with pytest.raises(BadInput, match="cannot read"):
        policy.load(tmp_path / "missing.toml", catalogue)
