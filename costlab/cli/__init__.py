"""The composition root: one Typer app that adds each command module, and the error boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from costlab import settings
from costlab.cli import cache, embedders, ingest, prices, rejects, report
from costlab.cli.render import print_error
from costlab.errors import CostlabError


class _Boundary(TyperGroup):
    """Turns every CostlabError into a message on stderr and its exit code: no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CostlabError as err:
            print_error(err)
            raise typer.Exit(err.exit_code) from None


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


app.add_typer(ingest.app)
app.add_typer(rejects.app)
app.add_typer(report.app)
app.add_typer(cache.app)
app.add_typer(prices.app, name="prices")
app.add_typer(embedders.app, name="embedders")


def main() -> None:
    """Console-script entry point."""
    app()
