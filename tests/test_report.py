"""`costlab report`: totals against an independent sum, breakdowns, scope, every output format."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab import ingest, report
from costlab.errors import BadInput
from costlab.ingest import IngestOptions, sources
from costlab.prices import Catalogue
from costlab.scope import Scope, checked_where
from costlab.store import Store
from tests.conftest import Cli, flat, write_jsonl

MINI_IN, MINI_OUT = Decimal("0.00000015"), Decimal("0.0000006")  # gpt-4o-mini per token


def _records() -> list[dict[str, Any]]:
    return [
        flat(
            i,
            input_tokens=100 + 37 * i,
            output_tokens=5 + i,
            feature=["chat", "support", "search"][i % 3],
        )
        for i in range(60)
    ]


def _cost(r: dict[str, Any]) -> Decimal:
    return r["input_tokens"] * MINI_IN + r["output_tokens"] * MINI_OUT


@pytest.fixture
def loaded(tmp_path: Path, store: Store, catalogue: Catalogue) -> Store:
    path = write_jsonl(tmp_path / "a.jsonl", _records())
    ingest.ingest(store, sources.expand([str(path)]), IngestOptions(), catalogue)
    return store


def test_totals_equal_an_independent_sum(loaded: Store) -> None:
    t = report.totals(loaded, Scope())
    records = _records()
    assert t.requests == 60
    assert t.spend_usd == sum(map(_cost, records)) == t.computed_spend_usd
    buckets = {b.name: b for b in t.buckets}
    assert buckets["uncached input"].tokens == sum(r["input_tokens"] for r in records)
    assert buckets["output"].cost_usd == sum(r["output_tokens"] * MINI_OUT for r in records)
    assert sum(b.share for b in t.buckets if "reasoning" not in b.name) == pytest.approx(1)


def test_breakdown_by_feature_and_user_matches_a_python_grouping(loaded: Store) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in _records():
        expected[(r["feature"], r["user_id"])] += _cost(r)
    groups = report.breakdown(loaded, Scope(), ("feature", "user_id")).groups
    assert {g.key: g.spend_usd for g in groups} == expected
    assert [g.spend_usd for g in groups] == sorted(expected.values(), reverse=True)
    assert sum(g.share for g in groups) == pytest.approx(1)


def test_scope_filters_days_and_predicates(loaded: Store) -> None:
    records = _records()
    day = date(2026, 11, 3)
    scoped = report.totals(loaded, Scope(since=day, until=day))
    assert scoped.requests == sum(1 for r in records if r["timestamp"].startswith("2026-11-03"))
    where = checked_where(loaded, "feature = 'chat' AND input_tokens > 1000")
    chat = report.totals(loaded, Scope(where=where))
    assert chat.spend_usd == sum(
        _cost(r) for r in records if r["feature"] == "chat" and r["input_tokens"] > 1000
    )


def test_top_requests_are_the_most_expensive(loaded: Store) -> None:
    top = report.top_requests(loaded, Scope(), 3)
    assert [t.request_id for t in top] == ["req-59", "req-58", "req-57"]
    assert top[0].prompt_start == "question number 59"


@pytest.mark.parametrize(
    ("predicate", "reason"),
    [
        ("featur = 'chat'", "not found"),
        ("1=1; DROP TABLE requests", "second statement"),
        ("true; SELECT 1", "only a filter|second statement"),
        ("request_id IN (SELECT request_id FROM rejects)", "subquery"),
        ("true UNION SELECT * FROM rejects", "only a filter"),
        ("getenv('HOME') <> ''", "getenv"),
        ("feature =", "syntax error"),
    ],
)
def test_a_bad_where_is_a_clear_error(loaded: Store, predicate: str, reason: str) -> None:
    with pytest.raises(BadInput, match=reason):
        checked_where(loaded, predicate)
    assert loaded.row("SELECT count(*) FROM requests")[0] == 60


def test_unknown_dimension_is_bad_input() -> None:
    assert report.parse_dimensions("feature, model") == ("feature", "model")
    assert report.parse_dimensions("team,day") == ("team", "day")
    with pytest.raises(BadInput, match="colour"):
        report.parse_dimensions("feature,colour")


def _cli_loaded(tmp_path: Path, cli: Cli) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", _records())
    assert cli("ingest", str(path)).exit_code == 0


def test_every_output_format(tmp_path: Path, cli: Cli) -> None:
    _cli_loaded(tmp_path, cli)
    total = sum(map(_cost, _records()))
    data = json.loads(cli("report", "summary", "--format", "json").stdout)
    assert Decimal(data["totals"]["spend_usd"]) == total
    rows = list(
        csv.reader(
            io.StringIO(cli("report", "breakdown", "--by", "feature", "--format", "csv").stdout)
        )
    )
    assert rows[0][:3] == ["feature", "requests", "spend"]
    assert sum(Decimal(r[2]) for r in rows[1:]) == total
    markdown = cli("report", "top", "--format", "markdown", "--top", "2").stdout
    assert "### Most expensive requests" in markdown and "| 1 |" in markdown
    table = cli("report", "--top", "3")
    assert table.exit_code == 0 and "Spend by feature" in table.stdout


def test_cli_errors_are_exit_2_without_traceback(tmp_path: Path, cli: Cli) -> None:
    missing = cli("report")  # a misspelt --db is an error, and makes no store
    assert missing.exit_code == 2 and "no store at" in missing.output
    assert not cli.db.exists()
    Store.open(cli.db).close()
    empty = cli("report")
    assert empty.exit_code == 2 and "no requests in the store" in empty.output
    _cli_loaded(tmp_path, cli)
    for args in (["--where", "nope = 1"], ["--format", "xml"], ["--since", "yesterday"], ["bogus"]):
        result = cli("report", *args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output
    none = cli("report", "--since", "2030-01-01")
    assert none.exit_code == 2 and "no requests match" in none.output


SAMPLES = Path(__file__).parents[1] / "sample_logs"


@pytest.fixture(scope="module")
def samples_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("samples") / "samples.duckdb"
    assert Cli(db)("ingest", str(SAMPLES)).exit_code == 0
    return db


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
@pytest.mark.parametrize("section", report.SECTIONS)
def test_every_section_in_every_format(samples_db: Path, section: str, fmt: str) -> None:
    result = Cli(samples_db)("report", section, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    if fmt == "json":
        json.loads(result.stdout)


def test_the_sample_spike_is_reported(samples_db: Path) -> None:
    data = json.loads(Cli(samples_db)("report", "anomalies", "--format", "json").stdout)
    flagged = {(d["day"], d["feature"]) for d in data["anomalies"]["days"]}
    assert ("2026-11-06", "summarize") in flagged


def test_fail_on_budget_exits_1_only_when_projected_over_95_percent(
    tmp_path: Path, samples_db: Path
) -> None:
    runner = Cli(samples_db).runner
    from costlab.cli import app

    def run_with(budget: str) -> Any:
        config = tmp_path / "costlab.toml"
        config.write_text(f'[budgets]\n"*" = "{budget} USD/month"\n')
        args = ["--config", str(config), "--db", str(samples_db), "report", "budget"]
        return runner.invoke(app, [*args, "--fail-on-budget", "--format", "json"])

    over, under = run_with("1"), run_with("1000")
    assert over.exit_code == 1 and "budget alert" in over.output
    assert under.exit_code == 0
    assert json.loads(under.stdout)["budgets"][0]["alert"] is False


def test_html_report_is_written(tmp_path: Path, samples_db: Path) -> None:
    out = tmp_path / "r.html"
    result = Cli(samples_db)("report", "top", "--html", str(out))
    assert result.exit_code == 0
    page = out.read_text()
    assert 'data-chart="daily-by-feature"' in page and "2026-11-06" in page
