"""Policy files in YAML: the same policy as its TOML twin; every mistake names file, line, field."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from conftest import flat, load

from costlab import prices
from costlab.errors import BadInput
from costlab.routing import compare, policy
from costlab.store import Store

TOML = """\
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
when = "feature = 'support' AND input_tokens < 1000"
route_to = "openai/gpt-4o-mini"

[[rules]]
when = "feature = 'chat'"
route_to = "house-model"

[[rules]]
when = "hash(request_id) % 2 = 0"
route_to = "gpt-4o"
"""

YAML = """\
name: cheap-support
default: logged

models:
  openai/gpt-4o-mini:
    latency_ms: 400
    quality: {general: 7.5, code: 6.0}
  house-model:
    input: 0.10
    output: 0.40

rules:
  - name: short support
    when: feature = 'support' AND input_tokens < 1000
    route_to: openai/gpt-4o-mini
  - when: feature = 'chat'
    route_to: house-model
  - when: hash(request_id) % 2 = 0
    route_to: gpt-4o
"""

SWEPT_TOML = """\
default = "gpt-4o-mini"
[[rules]]
when = "complexity >= {t}"
route_to = "gpt-4o"
[sweep]
t = { from = 0, to = 1, steps = 5 }
"""

SWEPT_YAML = """\
default: gpt-4o-mini
rules:
  - when: complexity >= {t}
    route_to: gpt-4o
sweep:
  t: {from: 0, to: 1, steps: 5}
"""

COST_AWARE_TOML = """\
kind = "cost_aware"
min_quality = 7.5
max_latency_ms = 1e3
[models.gpt-4o-mini]
quality = { general = 8.0, code = 6.5 }
[models.gpt-4o]
latency_ms = 900
quality = { general = 9.0 }
"""

COST_AWARE_YAML = """\
kind: cost_aware
min_quality: 7.5
max_latency_ms: 1e3
models:
  gpt-4o-mini: {quality: {general: 8.0, code: 6.5}}
  gpt-4o: {latency_ms: 900, quality: {general: 9.0}}
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def without_file(loaded: policy.Policy) -> policy.Policy:
    rules = tuple(dataclasses.replace(r, where="") for r in loaded.rules)
    return dataclasses.replace(loaded, path=Path(), rules=rules)


@pytest.mark.parametrize(
    ("toml", "yaml"), [(TOML, YAML), (SWEPT_TOML, SWEPT_YAML), (COST_AWARE_TOML, COST_AWARE_YAML)]
)
def test_a_yaml_policy_is_its_toml_twin(
    tmp_path: Path, catalogue: prices.Catalogue, toml: str, yaml: str
) -> None:
    from_toml = policy.load(write(tmp_path, toml, "twin.toml"), catalogue)
    from_yaml = policy.load(write(tmp_path, yaml, "twin.yaml"), catalogue)
    assert without_file(from_yaml) == without_file(from_toml)


def test_rules_know_the_line_of_their_condition(
    tmp_path: Path, catalogue: prices.Catalogue
) -> None:
    loaded = policy.load(write(tmp_path, YAML, "support.yml"), catalogue)
    assert loaded.name == "cheap-support"
    assert [r.where for r in loaded.rules] == [
        f"{tmp_path / 'support.yml'}, line {n}" for n in (14, 16, 18)
    ]
    unnamed = policy.load(write(tmp_path, "default: gpt-4o\n", "strong.yml"), catalogue)
    assert unnamed.name == "strong"  # the file name, as for TOML


def test_a_yaml_policy_replays_as_its_toml_twin(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, [flat(n, input_tokens=500 + 100 * n) for n in range(12)])
    twins = [
        policy.load(write(tmp_path, TOML, "twin.toml"), catalogue),
        policy.load(write(tmp_path, YAML.replace("cheap-support", "twin"), "twin.yaml"), catalogue),
    ]
    toml, yaml = compare.run(store, catalogue, twins, compare.CompareOptions()).policies

    def result(p: compare.PolicyResult) -> dict[str, Any]:
        return dataclasses.asdict(p) | {"name": None, "path": None}

    assert result(yaml) == result(toml)
    assert toml.after_usd != toml.before_usd and yaml.name == "twin"
    assert [r.took for r in toml.rules] == [2, 6, 2, 2]  # the default (logged) took the rest


BASE = "default: gpt-4o\n"
MODEL = BASE + "models:\n  gpt-4o:\n    latency_ms: 400\n"
RULE = BASE + "rules:\n  - name: first\n    when: feature = 'chat'\n    route_to: gpt-4o\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # syntax: the line from PyYAML's mark
        ("default: [gpt-4o\nname: x\n", "line 2: not valid YAML: while parsing a flow sequence"),
        (RULE + "   route: x\n", "line 6: not valid YAML"),
        (BASE + "rules:\n\t- when: x\n", "line 3: not valid YAML"),
        (BASE + "---\ndefault: gpt-4o\n", "line 2: not valid YAML: expected a single document"),
        (BASE + "name: \x01\n", "line 2: not valid YAML: special characters are not allowed"),
        ("- default: gpt-4o\n", "line 1: a policy file is a mapping of fields"),
        # an unknown field, a missing one, a field of another kind
        (RULE + "    route: 1\n", "line 6: rules[0].route: Extra inputs are not permitted"),
        (RULE.replace("route_to", "route_too"), "line 3: rules[0].route_to: Field required"),
        (MODEL + "    price: 3\n", "line 5: models.gpt-4o.price: Extra inputs are not permitted"),
        (BASE + "min_quality: 7\n", 'line 2: min_quality: not a field of a kind = "rules"'),
        # a wrong type or value
        (MODEL.replace("400", "fast"), "line 4: models.gpt-4o.latency_ms: Input should be a valid"),
        (MODEL.replace("400", "-1"), "line 4: models.gpt-4o.latency_ms: Input should be greater"),
        (RULE.replace("feature = 'chat'", "1e3"), "line 4: rules[0].when: Input should be a valid"),
        (RULE.replace("feature = 'chat'", "true"), "line 4: rules[0].when: Input should be a"),
        (BASE + "rules: {when: x}\n", "line 2: rules: Input should be a valid list"),
        (MODEL + "    quality: {poetry: 3}\n", "line 5: models.gpt-4o.quality: unknown task type"),
        (MODEL + "    input: 1\n", "line 3: models.gpt-4o: give both input and output prices"),
        (BASE + "sweep:\n  t: {from: 0, to: 1, steps: 1}\n", "line 3: sweep.t.steps: Input should"),
        # duplicate keys: PyYAML alone keeps the last silently
        (BASE + "default: gpt-4o-mini\n", "line 2: default: duplicate key (first on line 1)"),
        (MODEL + "    latency_ms: 900\n", "line 5: models.gpt-4o.latency_ms: duplicate key (first"),
        (RULE + "    when: 'true'\n", "line 6: rules[0].when: duplicate key (first on line 4)"),
        # no value, a tag
        ("default:\n", "line 1: default: no value"),
        (BASE + "models:\n  gpt-4o:\n", "line 3: models.gpt-4o: no value"),
        (BASE + "name: ~\n", "line 2: name: no value"),
        (BASE + "name: !!timestamp 2026-11-01\n", "line 2: name: no !!timestamp in a policy file"),
        (BASE + "name: !!python/object:os.system {}\n", "line 2: name: no !!python/object:os.sys"),
        (MODEL.replace("400", "!!int fast"), "line 4: models.gpt-4o.latency_ms: not a !!int"),
        (BASE + "models: &m\n  x: *m\n", "line 3: models.x: an alias inside its own anchor"),
        # unknown models
        (RULE.replace("route_to: gpt-4o", "route_to: gpt-9"), "line 5: rules[0].route_to: routes"),
        ("default: no\n", "line 1: default: routes to unknown model 'no'"),  # not false
        (MODEL + "    price_as: nope\n", "line 5: models.gpt-4o: unknown model 'nope'"),
    ],
)  # fmt: skip
def test_mistakes_name_the_file_line_and_field(
    tmp_path: Path, catalogue: prices.Catalogue, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BadInput) as err:
        policy.load(path, catalogue)
    assert f"{path}, {expected}" in err.value.message


def test_a_bad_rule_names_its_file_line_and_field(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    load(store, catalogue, tmp_path, [flat(n) for n in range(2)])
    bad = policy.load(write(tmp_path, RULE.replace("feature =", "featur =")), catalogue)
    with pytest.raises(BadInput) as err:
        compare.run(store, catalogue, [bad], compare.CompareOptions())
    assert f"{tmp_path / 'p.yaml'}, line 4: rules[0].when (first)" in err.value.message


def test_yaml_1_1_look_alikes_keep_their_meaning(
    tmp_path: Path, catalogue: prices.Catalogue
) -> None:
    """`no`, `on`, `1:30`, dates stay strings (as YAML 1.2 reads them); 0400 is 400, not octal."""
    text = """\
name: 2026-11-01
default: "on"
models:
  on: {input: 1, output: 2, latency_ms: 0400}
  no: {input: 1, output: 2, latency_ms: 1e3}
  "1:30": {input: 1, output: 2}
  null: {input: 1, output: 2, quality: {general: +7}}
rules:
  - {when: "true", route_to: no}
  - {when: "true", route_to: "1:30"}
  - {when: "true", route_to: "null"}
"""
    loaded = policy.load(write(tmp_path, text), catalogue)
    assert loaded.name == "2026-11-01" and loaded.default == "on"
    assert [r.route_to for r in loaded.rules] == ["no", "1:30", "null"]
    assert loaded.models["on"].latency_ms == 400 and loaded.models["no"].latency_ms == 1000
    assert loaded.models["null"].quality == {"general": 7}


def test_an_alias_shares_its_anchor(tmp_path: Path, catalogue: prices.Catalogue) -> None:
    text = """\
default: gpt-4o
models:
  gpt-4o: {quality: &strong {general: 9, code: 8}}
  gpt-4.1: {quality: *strong}
"""
    loaded = policy.load(write(tmp_path, text), catalogue)
    assert (
        loaded.models["gpt-4.1"].quality
        == loaded.models["gpt-4o"].quality
        == {
            "general": 9,
            "code": 8,
        }
    )


def test_an_empty_file_lacks_its_default(tmp_path: Path, catalogue: prices.Catalogue) -> None:
    with pytest.raises(BadInput, match=r"p.yaml: default: Field required"):
        policy.load(write(tmp_path, ""), catalogue)


@pytest.mark.parametrize("name", ["p.toml", "p.yaml"])
def test_a_file_that_is_not_utf8_is_bad_input(
    tmp_path: Path, catalogue: prices.Catalogue, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b'default = "caf\xe9"\n')
    with pytest.raises(BadInput, match="not UTF-8 text"):
        policy.load(path, catalogue)
