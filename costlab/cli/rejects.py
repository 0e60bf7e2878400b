"""`costlab rejects`: the records ingest could not read, with file, line and reason."""

from __future__ import annotations

import typer

from costlab import rejects as library
from costlab.cli import render
from costlab.store import Store

app = typer.Typer()


@app.command()
def rejects(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="Only this ingest run id."),
    limit: int = typer.Option(50, "--limit", min=0, help="Show at most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON, raw text included."),
) -> None:
    """List rejected log records: file, line, reason and the start of the raw text.

    Example: costlab rejects --run 3f2a9c1b7d4e --limit 20
    """
    with Store.open(ctx.obj["db"], create=False) as store:
        found = library.recent(store, run_id=run, limit=limit)
    if as_json:
        listed = [r.__dict__ for r in found.rejects]
        render.print_json({"total": found.total, "shown": len(listed), "rejects": listed})
        return
    rows = [[r.where, r.reason, (r.raw or "")[:60]] for r in found.rejects]
    title = f"Rejected records: {found.total:,}"
    if found.total > len(rows):
        title += f", showing the first {len(rows):,} (--limit shows more)"
    render.out.print(render.table(title, ["where", "reason", "raw"], rows, right=3))
