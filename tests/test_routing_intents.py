"""Rules over the recurring intents simulate-cache stored: the view's columns, exact routing,
and a clear error when a rule needs intents the store does not hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costlab import prices
from costlab.cache import savings
from costlab.errors import BadInput
from costlab.routing import compare, derived, policy, sweep
from costlab.scope import Scope
from costlab.store import Store
from tests.conftest import Cli, FakeEmbedder, load, write_jsonl
from tests.intent_fixtures import IDS, SIZES, THRESHOLD, expected, records

RECURRING_TO_MINI = """\
name = "recurring-to-mini"
default = "logged"

[[rules]]
name = "recurring"
when = "intent_size >= 3"
route_to = "gpt-4o-mini"
"""
BY_INTENT = """\
name = "by-intent"
default = "logged"

[[rules]]
name = "refunds"
when = "intent = 1"
route_to = "gpt-4o-mini"

[[rules]]
name = "passwords"
when = "intent_prompt ILIKE 'password%' AND intent_size > 1"
route_to = "claude-haiku-4-5"

[[rules]]
name = "one-offs"
when = "intent_size = 1"
route_to = "gpt-4o-mini"
"""


@pytest.fixture
def small(store: Store, catalogue: prices.Catalogue, tmp_path: Path) -> Store:
    """The twelve requests of intent_fixtures, logged on gpt-4o."""
    load(store, catalogue, tmp_path, records())
    return store


def simulate(store: Store) -> savings.CacheReport:
    return savings.run(store, savings.CacheOptions(thresholds=[THRESHOLD], embedder="fake"))


def write_policy(tmp_path: Path, text: str, catalogue: prices.Catalogue) -> policy.Policy:
    path = tmp_path / "intents.toml"
    path.write_text(text, encoding="utf-8")
    return policy.load(path, catalogue)


def replay(
    store: Store, catalogue: prices.Catalogue, *policies: policy.Policy
) -> compare.Comparison:
    return compare.run(store, catalogue, list(policies), compare.CompareOptions(resamples=0))


def test_the_view_has_intent_columns_null_until_intents_are_stored(
    small: Store, fake_embedder: FakeEmbedder
) -> None:
    def columns() -> dict[str, str]:
        described = small.rows(f"SELECT column_name, column_type FROM (DESCRIBE {derived.VIEW})")
        return {name: kind for name, kind in described if name in derived.INTENT_COLUMNS}

    derived.create_view(small)
    typed = {"intent": "INTEGER", "intent_size": "BIGINT", "intent_prompt": "VARCHAR"}
    assert columns() == typed
    assert small.row(
        f"SELECT count(*), count(intent), count(intent_size), count(intent_prompt) "
        f"FROM {derived.VIEW}"
    ) == (12, 0, 0, 0)

    simulate(small)
    derived.create_view(small)
    assert columns() == typed
    rows = small.rows(f"SELECT request_id, intent, intent_size, intent_prompt FROM {derived.VIEW}")
    assert {r: (i, size) for r, i, size, _ in rows} == {
        r: (IDS[group], SIZES[group]) for r, group in expected().items()
    }
    assert {i: prompt for _, i, _, prompt in rows}[1] == "Refund my shoes"


def test_a_rule_on_intent_size_routes_exactly_those_requests(
    small: Store, catalogue: prices.Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    simulate(small)
    result = replay(small, catalogue, write_policy(tmp_path, RECURRING_TO_MINI, catalogue))
    p = result.policies[0]
    recurring, default = p.rules
    assert (recurring.matched, recurring.took) == (8, 8)  # 5 refunds and 3 passwords
    assert default.took == 4 and default.after_usd == default.before_usd  # kept on gpt-4o
    assert p.models == {"gpt-4o-mini": 8 / 12, "gpt-4o": 4 / 12}
    mini = next(
        x for x in catalogue.show("gpt-4o-mini").points if not x.batch and not x.above_tokens
    )
    assert recurring.after_usd == 8 * (1000 * mini.input + 200 * mini.output)  # same tokenizer
    built = small.row("SELECT built_at FROM intent_sets")
    assert built is not None
    assert result.notes == [
        f"intent columns from simulate-cache at threshold {THRESHOLD:g} (fake-8, --key prompt, "
        f"stored {built[0]:%Y-%m-%d %H:%M} UTC)"
    ]

    by_intent = replay(small, catalogue, write_policy(tmp_path, BY_INTENT, catalogue))
    took = {r.name: (r.matched, r.took) for r in by_intent.policies[0].rules}
    assert took == {
        "refunds": (5, 5),
        "passwords": (3, 3),
        "one-offs": (2, 2),
        "default": (None, 2),  # the two weather questions
    }

    swept = RECURRING_TO_MINI.replace("intent_size >= 3", "intent_size >= {t}")
    options = sweep.SweepOptions(Scope(), (2.0, 3.0, 6.0))
    curve = sweep.run(small, catalogue, write_policy(tmp_path, swept, catalogue), options)
    shares = [(x.threshold, x.strong_share) for x in curve.points]
    assert shares == [(2.0, 10 / 12), (3.0, 8 / 12), (6.0, 0.0)]


def test_requests_the_stored_run_did_not_replay_have_no_intent(
    small: Store, catalogue: prices.Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    simulate(small)
    load(small, catalogue, tmp_path, records(start=12))  # ingested after simulate-cache
    result = replay(small, catalogue, write_policy(tmp_path, RECURRING_TO_MINI, catalogue))
    assert result.policies[0].rules[0].took == 8
    assert "12 of 24 requests have none (NULL)" in result.notes[0]
    assert "rerun simulate-cache" in result.notes[0]
    simulate(small)
    again = replay(small, catalogue, write_policy(tmp_path, RECURRING_TO_MINI, catalogue))
    # each question twice now: 10 refunds, 6 passwords and 4 weather questions
    assert again.policies[0].rules[0].took == 20 and "have none" not in again.notes[0]


def test_a_rule_on_intents_with_none_stored_is_an_error(
    small: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    with pytest.raises(BadInput) as err:
        replay(small, catalogue, write_policy(tmp_path, BY_INTENT, catalogue))
    assert err.value.message.endswith(
        "line 6: rules[0].when (refunds): uses intent, but the store holds no recurring intents"
    )
    assert "costlab simulate-cache" in err.value.hint
    swept = 'default = "logged"\n[[rules]]\nwhen = "Intent_Size >= {t}"\nroute_to = "gpt-4o"\n'
    options = sweep.SweepOptions(Scope(), (2.0, 3.0))
    with pytest.raises(BadInput, match="uses intent_size, but the store holds no"):
        sweep.run(small, catalogue, write_policy(tmp_path, swept, catalogue), options)
    # the word in a string is no use of the column; rules without intents need none
    literal = RECURRING_TO_MINI.replace("intent_size >= 3", "prompt NOT LIKE '%intent_size%'")
    result = replay(small, catalogue, write_policy(tmp_path, literal, catalogue))
    assert result.policies[0].rules[0].took == 12 and result.notes == []


def test_route_replay_on_intents_from_the_command_line(
    cli: Cli, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    assert cli("ingest", str(write_jsonl(tmp_path / "log.jsonl", records()))).exit_code == 0
    path = tmp_path / "recurring.toml"
    path.write_text(RECURRING_TO_MINI, encoding="utf-8")
    refused = cli("route-replay", "--policy", str(path))
    assert refused.exit_code == 2, refused.output
    assert "uses intent_size, but the store holds no recurring intents" in refused.output
    assert "costlab simulate-cache" in refused.output and "Traceback" not in refused.output

    skipped = cli(
        "simulate-cache", "--threshold", "0.95", "--embedder", "fake", "--no-save-intents"
    )
    assert skipped.exit_code == 0 and "stored for route-replay" not in skipped.output
    assert cli("route-replay", "--policy", str(path)).exit_code == 2

    shown = cli("simulate-cache", "--threshold", "0.95", "--embedder", "fake")
    assert shown.exit_code == 0, shown.output
    assert "stored for route-replay" in shown.output
    replayed = cli("route-replay", "--policy", str(path), "--json", "--resamples", "0")
    assert replayed.exit_code == 0, replayed.output
    data = json.loads(replayed.output)
    assert data["policies"][0]["rules"][0]["took"] == 8
    assert data["notes"][0].startswith("intent columns from simulate-cache at threshold 0.95")
