"""`costlab export`: the store as a hive-partitioned Parquet dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from costlab import dataset
from costlab.cli import render
from costlab.store import Store

app = typer.Typer()


@app.command()
def export(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="The dataset folder to write (new, or --replace)."),
    replace: bool = typer.Option(
        False, "--replace", help="Overwrite an earlier costlab export in this folder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Write the store as Parquet: requests/day=YYYY-MM-DD/, embeddings/, outcomes/, rejects/, ...

    A manifest.json holds the schema version, each table's rows and the exact cost sums. DuckDB,
    Spark and Trino read the folder as it is; `costlab ingest FOLDER` loads it back.

    Example: costlab export lake/costlab && duckdb -c "SELECT day, sum(cost_usd) FROM
    read_parquet('lake/costlab/requests/*/*.parquet', hive_partitioning = true) GROUP BY day"
    """
    with Store.open(ctx.obj["db"]) as store:
        manifest = dataset.export(store, folder, replace=replace)
    if as_json:
        render.print_json(manifest.as_json())
        return
    rows = [[name, render.count(t.rows)] for name, t in manifest.tables.items()]
    render.out.print(render.table(f"Exported to {folder}", ["table", "rows"], rows, right=1))
    spend = manifest.tables[dataset.PARTITIONED].sums["cost_usd"]
    render.out.print(f"requests cost_usd sum: {spend} (exact, in manifest.json)", markup=False)
