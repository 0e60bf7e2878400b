"""The prefix report's sums as columns equal adding one request at a time (the reference), on
real logs: the total, each feature, each template and its most frequent feature."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from costlab import prices
from costlab.prefix import money, replay, report, rules, spend, traffic
from costlab.scope import Scope
from costlab.store import Store

ROOT = Path(__file__).parents[1]
LOGS = [ROOT / "sample_logs", ROOT / "tests" / "data" / "banking77" / "support_sample.jsonl"]
ZERO = Decimal(0)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from costlab import ingest
    from costlab.ingest import sources

    db = tmp_path_factory.mktemp("logs") / "logs.duckdb"
    with Store.open(db) as store:
        ingest.ingest(
            store,
            sources.expand([str(p) for p in LOGS]),
            ingest.IngestOptions(),
            prices.Catalogue.load(),
        )
    return db


def _one_at_a_time(
    found: traffic.Traffic, replayed: replay.Replayed, costs: money.Costs
) -> tuple[list[spend.Spend], int]:
    """The reference: one Spend per request, as the report made them before the columns."""
    rows, kept = [], 0
    for i in range(len(found)):
        logged = found.cost_usd[i] or ZERO
        base, simulated = costs.logged_buckets[i], costs.simulated[i]
        cached, written = int(found.logged_cached[i]), int(found.logged_written[i])
        s = spend.Spend(1, logged, logged, ZERO, cached, cached, written, written)
        if replayed.template_of[i] >= 0 and base is not None and simulated is not None:
            if cached <= replayed.cached[i]:
                s.saved_usd = base - simulated
                s.with_cache_usd = logged - s.saved_usd
                s.possible_cached_tokens = int(replayed.cached[i])
                s.possible_write_tokens = int(replayed.write_5m[i] + replayed.write_1h[i])
            else:
                kept += 1
        rows.append(s)
    return rows, kept


@pytest.mark.parametrize("choice", ["auto", "openai", "anthropic"])
def test_column_sums_equal_adding_one_request_at_a_time(
    choice: rules.RuleChoice, logs: Path
) -> None:
    catalogue = prices.Catalogue.load()
    table = rules.RULES
    with Store.open(logs) as store:
        found = traffic.load(store, Scope(), traffic.AUTO)
        rule_of = [
            rules.rule_for(p, m, choice) for p, m in zip(found.providers, found.models, strict=True)
        ]
        by_model = {m: table[r] for m, r in zip(found.models, rule_of, strict=True) if r}
        points = money.filled_points(catalogue, by_model)
        replayed = replay.replay(found, rule_of, table, money.unit_prices(points))
        costs = money.costs(store, found, replayed, [False] * len(found), points)
    per_request, kept = _one_at_a_time(found, replayed, costs)
    columns = spend.columns(found, replayed, costs)
    total = spend.Spend()
    for s in per_request:
        total.add(s)
    assert columns.total() == total and columns.kept_logged == kept
    assert total.saved_usd > 0  # the comparison covers requests that save
    for k, template in enumerate(replayed.templates):
        expected = spend.Spend()
        for i in template.rows:
            expected.add(per_request[i])
        assert columns.sums(replayed.template_of, len(replayed.templates))[k] == expected
    by_feature: dict[str, spend.Spend] = {}
    for i, s in enumerate(per_request):
        by_feature.setdefault(found.features[i], spend.Spend()).add(s)
    names = list(dict.fromkeys(found.features))
    code = np.array([names.index(f) for f in found.features])
    assert dict(zip(names, columns.sums(code, len(names)), strict=True)) == by_feature


@pytest.mark.parametrize("seed", range(5))
def test_most_common_breaks_ties_as_counter_does(seed: int) -> None:
    rng = random.Random(seed)
    group = np.array([rng.randrange(-1, 8) for _ in range(300)])
    code = np.array([rng.randrange(4) for _ in range(300)])
    found = spend.most_common(group, code, 10).tolist()
    for g in range(10):
        seen = Counter(int(c) for c, h in zip(code, group, strict=True) if h == g)
        assert found[g] == (seen.most_common(1)[0][0] if seen else -1)


def test_the_report_is_the_same_as_before_on_real_logs(logs: Path) -> None:
    """Known figures of sample_logs + Banking77 through the whole report, feature by feature."""
    catalogue = prices.Catalogue.load()
    options = report.PrefixOptions(top=0, batch_features={"summarize": "test"})
    with Store.open(logs) as store:
        result = report.run(store, options, catalogue)
    assert sum((f.spend.saved_usd for f in result.features), ZERO) == result.total.saved_usd
    assert sum(f.spend.requests for f in result.features) == result.requests
    assert sum(t.spend.requests for t in result.templates) == result.replayed


@pytest.mark.parametrize("choice", ["auto", "openai", "anthropic"])
def test_templates_are_grouped_as_one_request_at_a_time_would(
    choice: rules.RuleChoice, logs: Path
) -> None:
    catalogue = prices.Catalogue.load()
    with Store.open(logs) as store:
        found = traffic.load(store, Scope(), traffic.AUTO)
    rule_of = [
        rules.rule_for(p, m, choice) for p, m in zip(found.providers, found.models, strict=True)
    ]
    by_model = {m: rules.RULES[r] for m, r in zip(found.models, rule_of, strict=True) if r}
    units = money.unit_prices(money.filled_points(catalogue, by_model))
    replayed = replay.replay(found, rule_of, rules.RULES, units)
    groups: dict[tuple[str, int], list[int]] = {}
    first_rule: dict[tuple[str, int], str | None] = {}
    for i in range(len(found)):  # the reference: the loop the replay grouped with before
        s = int(found.sequence[i])
        if rule_of[i] is None or s < 0 or found.ts_s[i] is None or found.models[i] not in units:
            continue
        key = (found.models[i], found.segment_ids[s][0])
        first_rule.setdefault(key, rule_of[i])
        groups.setdefault(key, []).append(i)
    got = [((t.model, t.first_segment), t.rule, t.rows) for t in replayed.templates]
    assert got == [(key, first_rule[key], rows) for key, rows in groups.items()]
    assert len(got) > 10


@pytest.mark.parametrize("seed", range(3))
def test_a_template_head_is_clipped_as_from_the_whole_text(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["a", "bb", " ", "  ", "\n", "\t", "ü", "word", "x" * 50]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 200)))
        flat = " ".join(text.split())
        expected = flat if len(flat) <= 80 else flat[:79] + "…"
        assert report._clip(text, 80) == expected


@pytest.mark.parametrize("seed", range(3))
def test_a_short_head_is_clipped_as_flattened_whatever_its_whitespace(seed: int) -> None:
    rng = random.Random(seed)
    # every kind of whitespace str.split() takes, and printable text around it
    pieces = [
        "a",
        "bb",
        " ",
        "  ",
        "\n",
        "\t",
        "\xa0",
        "\u2028",
        "\x1c",
        "\u3000",
        "ü",
        "?",
        "x" * 9,
    ]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 14)))
        flat = " ".join(text.split())
        expected = flat if len(flat) <= 80 else flat[:79] + "…"
        assert report._clip(text, 80) == expected
