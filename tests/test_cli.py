"""Every command through the real CLI: help, output, exit codes, and what `--help` imports."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import click
import orjson
import typer

from costlab.cli import app
from costlab.store import Store
from tests.conftest import Cli, flat, write_jsonl

SAMPLES = Path(__file__).parents[1] / "sample_logs"


def _commands() -> list[tuple[str, click.Command]]:
    root = typer.main.get_command(app)
    ctx = root.make_context("costlab", [], resilient_parsing=True)
    found: list[tuple[str, click.Command]] = []
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        else:
            found.append((name, command))
    return found


def test_every_command_has_help_with_an_example() -> None:
    commands = _commands()
    expected = {"ingest", "rejects", "prices list", "prices show", "prices import"}
    assert expected | {"report", "simulate-cache", "tokens check", "tokens update"} <= {
        n for n, _ in commands
    }
    for name, command in commands:
        assert command.help, f"{name} has no help"
        assert "Example" in command.help or "example" in command.help, f"{name} help has no example"


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from costlab.cli import app\n"
        "for args in (['--help'], ['ingest', '--help'], ['prices', 'list', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "names = ('torch', 'sentence_transformers', 'llmlingua', 'transformers', 'sklearn',\n"
        "         'onnxruntime')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_ingest_the_samples_prints_a_summary(cli: Cli) -> None:
    result = cli("ingest", str(SAMPLES))
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "472" in result.output
    assert "bad records kept in the rejects table" in result.output
    again = cli("ingest", str(SAMPLES))
    assert "skipped 13 file(s) already ingested" in again.output


def test_ingest_json_summary_and_rejects_listing(tmp_path: Path, cli: Cli) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [flat(1), flat(2), "{nope"])
    result = cli("ingest", str(path), "--json")
    assert result.exit_code == 0
    summary = orjson.loads(result.stdout)
    assert summary["totals"]["added"] == 2 and summary["totals"]["rejected"] == 1
    assert summary["totals"]["spend_usd"] == "0.000540000000000000"
    listed = orjson.loads(cli("rejects", "--run", summary["run_id"], "--json").stdout)
    assert (listed["total"], listed["shown"]) == (1, 1)
    assert [(r["source_line"], r["raw"]) for r in listed["rejects"]] == [(3, "{nope")]


def test_strict_exits_1_and_bad_input_exits_2_without_traceback(tmp_path: Path, cli: Cli) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [flat(1), "{nope"])
    strict = cli("ingest", str(bad), "--strict")
    assert strict.exit_code == 1
    missing = cli("ingest", str(tmp_path / "missing.jsonl"))
    assert missing.exit_code == 2
    assert "no such file" in missing.output and "Traceback" not in missing.output
    assert cli("ingest", str(bad), "--format", "nope").exit_code == 2
    assert cli("ingest", str(bad), "--map", "colour=metadata.x").exit_code == 2
    assert cli("ingest", str(bad), "--map", "feature").exit_code == 2


def test_config_typo_is_exit_2(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "costlab.toml"
    config.write_text("[ingest]\nredcat = true\n")
    result = cli.runner.invoke(app, ["--config", str(config), "--db", str(cli.db), "rejects"])
    assert result.exit_code == 2
    assert "ingest.redcat" in result.output


def test_price_override_from_the_config_reprices_later_requests(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "costlab.toml"
    config.write_text(
        '[[prices]]\nmodel = "gpt-4o-mini"\nsince = 2026-11-04\ninput = "1"\noutput = "2"\n'
    )
    path = write_jsonl(tmp_path / "a.jsonl", [flat(1), flat(5)])  # 2026-11-02 and 2026-11-06
    args = ["--config", str(config), "--db", str(cli.db), "ingest", str(path)]
    assert cli.runner.invoke(app, args).exit_code == 0
    with Store.open(cli.db) as store:
        costs = dict(store.rows("SELECT request_id, cost_usd FROM requests"))
    # 1000 input + 200 output tokens: list price before the override, $1 / $2 per 1M after.
    assert costs == {"req-1": Decimal("0.00027"), "req-5": Decimal("0.0014")}


def test_ingest_makes_no_network_access(tmp_path: Path) -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('network access attempted')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from costlab.cli import main\n"
        f"sys.argv = ['costlab', '--db', {str(tmp_path / 'n.duckdb')!r}, 'ingest', "
        f"{str(SAMPLES)!r}, '--json']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["totals"]["added"] == 472
