"""The CLI facing hostile logs and user slips: printable output, honest exit codes, JSON errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from costlab.cli import render
from tests.conftest import Cli, flat, write_jsonl

TITLE = "\x1b]0;pwned\x07"  # sets the terminal window title
CLEAR = "\x1b[2J"  # clears the screen
BIDI = "\u202e"  # right-to-left override


def test_printable_makes_every_control_visible_one_for_one() -> None:
    text = f"a{TITLE}b{CLEAR}c{BIDI}d\x9b\x7f\te\nf"
    shown = render.printable(text)
    assert len(shown) == len(text)
    assert not any(ch in shown for ch in "\x1b\x07\x9b\x7f\t\n" + BIDI)
    assert shown.startswith("a␛]0;pwned␇b␛[2Jc")
    assert render.printable("x\ny", lines=True) == "x\ny"


def test_log_text_cannot_drive_the_terminal(tmp_path: Path, cli: Cli) -> None:
    records = [
        flat(1, feature=TITLE + "chat", prompt=CLEAR + "hello " + BIDI + "abc"),
        flat(2, feature='=HYPERLINK("http://x")', user_id="@SUM(A1)"),
    ]
    path = write_jsonl(tmp_path / "a.jsonl", records)
    with path.open("ab") as f:
        f.write(b'{"prompt": "raw \x1b[2J byte", \n')  # a raw ESC: malformed JSON, rejected
    assert cli("ingest", str(path)).exit_code == 0
    outputs = [
        cli("report"),
        cli("report", "top"),
        cli("report", "breakdown"),
        cli("report", "--format", "markdown"),
        cli("report", "--format", "csv"),
        cli("rejects"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert not any(ch in result.stdout for ch in ("\x1b", "\x07", BIDI)), result.stdout
    assert "␛]0;pwned␇chat" in outputs[2].stdout
    cells = [c for row in csv.reader(io.StringIO(outputs[4].stdout)) for c in row]
    assert '\'=HYPERLINK("http://x")' in cells and "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "@")) for c in cells)
    assert json.loads(cli("rejects", "--json").stdout)  # JSON escapes controls itself


def test_report_accepts_json_and_errors_come_as_json_on_stdout(tmp_path: Path, cli: Cli) -> None:
    missing = cli("report", "--json")
    assert missing.exit_code == 2
    error = json.loads(missing.stdout)["error"]
    assert error["exit_code"] == 2 and error["message"].startswith("no store at")
    assert "check --db" in error["hint"]
    cli("ingest", str(write_jsonl(tmp_path / "a.jsonl", [flat(1)])))
    as_json = cli("report", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["totals"]["requests"] == 1
    assert cli("report", "--json").stdout == cli("report", "--format", "json").stdout
    bad = cli("ingest", str(tmp_path / "missing.jsonl"), "--json")
    assert bad.exit_code == 2 and "no such file" in json.loads(bad.stdout)["error"]["message"]
    text = cli("ingest", str(tmp_path / "missing.jsonl"))
    assert text.stdout == "" and "no such file" in text.stderr


def test_db_is_accepted_after_the_command_and_from_the_environment(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from costlab.cli import app

    runner = CliRunner()
    path = write_jsonl(tmp_path / "a.jsonl", [flat(1)])
    db = tmp_path / "after.duckdb"
    assert runner.invoke(app, ["ingest", str(path), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["report", "summary", f"--db={db}"]).exit_code == 0
    from_env = runner.invoke(app, ["report", "--json"], env={"COSTLAB_DB": str(db)})
    assert json.loads(from_env.stdout)["totals"]["requests"] == 1
    assert runner.invoke(app, ["rejects", "--db", str(tmp_path / "typo.duckdb")]).exit_code == 2


def test_requests_without_a_timestamp_are_counted_where_days_leave_them_out(
    tmp_path: Path, cli: Cli
) -> None:
    records = [flat(1), flat(2, timestamp=None), flat(3, timestamp=None)]
    cli("ingest", str(write_jsonl(tmp_path / "a.jsonl", records)))
    (tmp_path / "costlab.toml").write_text('[budgets]\n"*" = "100 USD/month"\n')
    shown = " ".join(cli("--config", str(tmp_path / "costlab.toml"), "report").stdout.split())
    assert "requests without a timestamp │ 2" in shown
    left_out = "leaves out 2 requests without a timestamp ($0.00)"
    assert shown.count(left_out) == 3  # daily spend, budgets, forecast
    totals = json.loads(cli("report", "--json").stdout)["totals"]
    assert totals["no_timestamp"] == 2


def test_progress_reports_rate_and_time_left_from_few_updates() -> None:
    import time

    from rich.progress import Progress

    bar = Progress()
    task_id = bar.add_task("embedding", total=279)
    time.sleep(0.05)
    bar.update(task_id, completed=256)  # one batch: rich alone has no speed yet
    task = bar.tasks[0]
    assert task.speed is None
    assert render._per_second(task) is not None
    assert "texts/s" in str(render._Rate("texts").render(task))
    assert str(render._TimeLeft().render(task)).endswith("left")


def test_ingest_progress_is_full_only_once_the_file_is_stored(tmp_path: Path) -> None:
    from costlab import ingest, prices
    from costlab.ingest import sources
    from costlab.store import Store

    calls: list[tuple[str, int, int | None]] = []
    path = write_jsonl(tmp_path / "a.jsonl", [flat(i) for i in range(100)])
    with Store.open(":memory:") as store:
        ingest.ingest(
            store,
            sources.expand([str(path)]),
            ingest.IngestOptions(),
            prices.Catalogue.load(),
            lambda *call: calls.append(call),
        )
    size = path.stat().st_size
    assert calls[-1] == (str(path), size, size)
    assert all(total is None or done < total for _, done, total in calls[:-1])


def test_narrow_terminals_wrap_words_or_fold_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    narrow = Console(width=60, file=io.StringIO(), highlight=False)
    monkeypatch.setattr(render, "out", narrow)  # the module's console, as a narrow terminal
    note = 'none configured: add [budgets] to costlab.toml, e.g. chat = "500 USD/month"'
    narrow.print(render.table("Budgets", ["note"], [[note]]))
    wide = [["summarize", "gpt-4o-2024-08-06", "56", "$0.7917", "55.6%", "296,837", "4,964"]]
    columns = ["feature", "model", "requests", "spend", "share", "input", "output tokens"]
    narrow.print(render.table("Spend", columns, wide))
    shown = narrow.file.getvalue()  # type: ignore[attr-defined]
    assert "costlab.toml" in shown and "…" not in shown
    assert "gpt-4o-2024-08-06" in shown and "output tokens │ 4,964" in shown
