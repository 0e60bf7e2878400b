"""`costlab rejects`: the records ingest could not read, with file, line and reason."""

from __future__ import annotations

from typing import Any

import typer

from costlab.cli import render
from costlab.ingest import rejects as library
from costlab.store import Store

app = typer.Typer()


@app.command()
def rejects(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="Only this ingest run id."),
    limit: int = typer.Option(50, "--limit", min=0, help="Show at most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON, raw text included."),
) -> None:
    """List rejected log records (file, line, reason, start of the raw text) and conflicting
    duplicates (a request id already stored with other content).

    Example: costlab rejects --run 3f2a9c1b7d4e --limit 20
    """
    with Store.open(ctx.obj["db"], create=False) as store:
        found = library.recent(store, run_id=run, limit=limit)
    if as_json:
        render.print_json(_as_dict(found))
        return
    rows = [[r.where, r.reason, (r.raw or "")[:60]] for r in found.rejects]
    title = _title("Rejected records", found.total, len(rows))
    render.out.print(render.table(title, ["where", "reason", "raw"], rows, right=3))
    if found.conflicts:
        rows = [[c.where, c.request_id, c.kept_where] for c in found.conflicts]
        title = _title("Conflicting duplicates (not stored)", found.conflicts_total, len(rows))
        render.out.print(render.table(title, ["where", "request id", "kept from"], rows, right=3))


def _title(name: str, total: int, shown: int) -> str:
    if total > shown:
        return f"{name}: {total:,}, showing the first {shown:,} (--limit shows more)"
    return f"{name}: {total:,}"


def _as_dict(found: library.Listing) -> dict[str, Any]:
    listed = [r.__dict__ for r in found.rejects]
    conflicts = [c.__dict__ for c in found.conflicts]
    return {
        "total": found.total,
        "shown": len(listed),
        "rejects": listed,
        "conflicts_total": found.conflicts_total,
        "conflicts": conflicts,
    }
