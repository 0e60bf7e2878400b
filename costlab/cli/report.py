"""`costlab report`: where the money goes, as tables, JSON, CSV, markdown or an HTML file."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import typer

from costlab import report as library
from costlab.cli import render, report_sheets
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.errors import BadInput, GateFailed
from costlab.scope import Scope, from_flags, parse_day
from costlab.settings import Settings
from costlab.store import Store

app = typer.Typer()

FORMATS = ("table", "json", "csv", "markdown")
_BY_HELP = (
    "Group spend by dimensions, e.g. feature,model (repeatable). "
    f"Dimensions: {', '.join(library.DIMENSIONS)}. Default: feature, model, user_id, day."
)


@app.command()
def report(
    ctx: typer.Context,
    section: str = typer.Argument(
        "all", help=f"One section, or all: {', '.join(library.SECTIONS)}."
    ),
    by: list[str] = typer.Option(
        [],
        "--by",
        help=_BY_HELP,
    ),
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    top: int = typer.Option(10, "--top", min=0, help="How many of the most expensive requests."),
    fmt: str = typer.Option("table", "--format", help=f"Output: {', '.join(FORMATS)}."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Day budgets and forecasts count from [default: the latest request]."
    ),
    fail_on_budget: bool = typer.Option(
        False, "--fail-on-budget", help="Exit 1 when a budget is projected at 95 % or more."
    ),
) -> None:
    """Where the money goes: spend by feature, model, user and day, anomalies, budgets.

    Example: costlab report --by feature,model --since 2026-11-01 --where "feature = 'chat'"
    """
    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt}: unknown format", f"choose from {', '.join(FORMATS)}")
    settings: Settings = ctx.obj["settings"]
    library.wanted(section)  # an unknown section is an error before any work
    with Store.open(ctx.obj["db"], create=False) as store:
        options = library.ReportOptions(
            scope=from_flags(store, since, until, where),
            by=[library.parse_dimensions(b) for b in by] or library.ReportOptions().by,
            top=top,
            section="all" if html is not None else section,
            budgets=settings.budget_list(),
            as_of=parse_day(as_of, "--as-of"),
        )
        result = library.build(store, options)
    _check_not_empty(result, ctx.obj["db"])
    if fmt == "json":
        render.print_json(_plain(dataclasses.asdict(result)))
    else:
        render.show(report_sheets.sheets(result, library.wanted(section), fmt), fmt)
    if html is not None:
        _write_html(result, html)
    alerts = [b for b in result.budgets if b.alert]
    if fail_on_budget and alerts:
        names = ", ".join(b.budget.target for b in alerts)
        raise GateFailed(f"budget alert: {names} projected at 95 % or more of the budget")


def _check_not_empty(result: library.Report, db: str) -> None:
    if result.totals.requests == 0:
        scoped = result.scope != Scope()
        raise BadInput(
            f"no requests {'match this scope' if scoped else 'in the store'} {db}",
            "widen --since/--until/--where" if scoped else "load logs first: costlab ingest PATH",
        )


def _write_html(result: library.Report, path: Path) -> None:
    from costlab.report import html as html_report

    render.write_page(path, html_report.render(result))


def _plain(value: Any) -> Any:
    """JSON-safe: infinite ratios become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
