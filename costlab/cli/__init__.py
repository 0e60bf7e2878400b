"""The composition root: one Typer app that adds each command module, and the error boundary."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from costlab import settings
from costlab.cli.render import print_error
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
    "compress": "compress",
    "route-replay": "routing",
    "ingest-outcomes": "routing",
    "prices": "prices",
    "embedders": "embedders",
    "embeddings": "embeddings",
    "export": "export",
    "tokens": "tokens",
}


class _Boundary(TyperGroup):
    """Turns every CostlabError into a message on stderr and its exit code: no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CostlabError as err:
            print_error(err)
            raise typer.Exit(err.exit_code) from None

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
        print_error(err)
        raise typer.Exit(err.exit_code) from None
    ctx.obj = {"settings": loaded, "db": settings.db_path(db, loaded)}


def main() -> None:
    """Console-script entry point."""
    app()
