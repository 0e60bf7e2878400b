"""The composition root: one Typer app that adds each command module, and the error boundary."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from costlab import settings
from costlab.cli import render
from costlab.cli.render import report_error
from costlab.errors import CostlabError

# Command name -> its module in costlab.cli, imported only when that command runs (or for
# --help): `costlab tokens check` in CI must not pay for numpy, duckdb and pyarrow at start.
# A module whose app holds a command of that name gives it; otherwise its app is the group.
COMMANDS = {
    "ingest": "ingest",
    "rejects": "rejects",
    "report": "report",
    "simulate-cache": "cache",
    "simulate-prefix-cache": "prefix",
    "intents": "intents",
    "compress": "compress",
    "route-replay": "routing",
    "plan": "plan",
    "ingest-outcomes": "routing",
    "prices": "prices",
    "embedders": "embedders",
    "embeddings": "embeddings",
    "export": "export",
    "tokens": "tokens",
}


class _Boundary(TyperGroup):
    """Turns every CostlabError into a message and its exit code: no traceback.

    The message goes to stderr; a command asked for JSON (--json, --format json) prints it as
    {"error": {...}} on stdout instead, so a machine reading stdout always gets JSON.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[_JSON] = _wants_json(args)
        render.new_command()
        return super().parse_args(ctx, self._db_first(ctx, args))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CostlabError as err:
            report_error(err, ctx.meta.get(_JSON, False))
            raise typer.Exit(err.exit_code) from None

    def _db_first(self, ctx: Any, args: list[str]) -> list[str]:
        """`costlab ingest --db x`: a --db after the command is the global one, moved first
        (unless that command has a --db of its own)."""
        start = _command_index(args)
        if start is None or _has_own_db(self, ctx, args[start:]):
            return args
        moved, rest = _take_db(args[start + 1 :])
        return [*args[:start], *moved, args[start], *rest]

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"costlab.cli.{COMMANDS[cmd_name]}")
            group = typer.main.get_group(module.app)
            self.commands[cmd_name] = group.commands.get(cmd_name, group)
            self.commands[cmd_name].name = cmd_name
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_Boundary,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Offline LLM cost analysis over your own request logs. Nothing leaves this machine.\n\n"
    "Example: costlab ingest logs/ && costlab prices show gpt-4o",
)


def _wants_json(args: list[str]) -> bool:
    pairs = zip(args, args[1:], strict=False)
    return "--json" in args or "--format=json" in args or ("--format", "json") in pairs


_JSON = "costlab.json"  # ctx.meta key: the command line asks for JSON output
_VALUED = ("--db", "--config")  # the global options that take a value


def _command_index(args: list[str]) -> int | None:
    """Where the command name is among the arguments (after the global options)."""
    i = 0
    while i < len(args):
        if args[i] in _VALUED:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def _has_own_db(group: Any, ctx: Any, args: list[str]) -> bool:
    """Whether the command named by `args` (a group's subcommand too) declares --db."""
    command = group.get_command(ctx, args[0])
    names = iter(a for a in args[1:] if not a.startswith("-"))
    while command is not None and hasattr(command, "get_command"):
        command = command.get_command(ctx, next(names, ""))
    return command is not None and any("--db" in p.opts for p in command.params)


def _take_db(args: list[str]) -> tuple[list[str], list[str]]:
    """The --db options among `args` (a bare `--` ends the search) and the other arguments."""
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--db" and i + 1 < len(args):
            moved += args[i : i + 2]
            i += 2
            continue
        if arg.startswith("--db="):
            moved.append(arg)
        else:
            rest.append(arg)
        i += 1
    return moved, rest


@app.callback()
def _options(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", help="Store file [default: $COSTLAB_DB, the config's db, ./costlab.duckdb]."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Config file [default: ./costlab.toml, else pyproject.toml]."
    ),
) -> None:
    """Offline LLM cost analysis over your own request logs."""
    try:
        loaded = settings.load(config)
    except CostlabError as err:
        report_error(err, ctx.meta.get(_JSON, False))
        raise typer.Exit(err.exit_code) from None
    ctx.obj = {"settings": loaded, "db": settings.db_path(db, loaded)}


def main() -> None:
    """Console-script entry point."""
    app()
