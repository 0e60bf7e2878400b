"""`costlab embeddings`: vectors from your own embedding model, in and out of the store.

(`costlab embedders` is about the models costlab runs itself.)
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from costlab.cache import imported, keyed, to_embed
from costlab.cli import render
from costlab.store import Store

app = typer.Typer(
    no_args_is_help=True,
    help="Bring your own embeddings: import vectors from your production model, export the "
    "texts to embed.\n\nExample: costlab embeddings export texts.parquet && costlab embeddings "
    "import vectors.parquet --embedder text-embedding-3-small",
)

KEY_HELP = "The cache key simulate-cache will use: prompt, system+prompt or messages."
NORMALIZE_HELP = "Key by the normalised text, as simulate-cache does unless --no-normalize."


@app.command("import")
def import_vectors(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Parquet: a key column and a vector column."),
    embedder: str = typer.Option(..., "--embedder", help="The name simulate-cache will use."),
    by: str | None = typer.Option(
        None,
        "--by",
        help="The key column: request_id, text_hash or text [default: the first the file has].",
    ),
    key: str = typer.Option("prompt", "--key", help=KEY_HELP),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help=NORMALIZE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load vectors made by your own model, keyed by request_id, text or text_hash.

    Dimensions, NaNs, zero vectors and duplicate keys are checked first (exit 2, nothing stored);
    vectors are scaled to unit length. Requests sharing a cache key keep the vector of the first
    of them in time; keys given other vectors by later requests are counted. Requests without a
    vector are counted, never guessed. Then: costlab simulate-cache --embedder NAME.

    Example: costlab embeddings import vectors.parquet --embedder text-embedding-3-small
    """
    with Store.open(ctx.obj["db"]) as store:
        report = imported.import_file(store, file, embedder, keyed.Keying(key, normalize), by)
    if as_json:
        render.print_json(asdict(report))
    else:
        _print_import(report)


def _print_import(report: imported.ImportReport) -> None:
    rows = [
        ["vectors in the file", render.count(report.vectors)],
        ["stored (one per key)", render.count(report.vectors_stored)],
        ["scaled to unit length", render.count(report.renormalized)],
        ["keys given other vectors", render.count(report.conflicting_keys)],
        ["matching nothing stored", render.count(report.unmatched)],
    ]
    title = f"{report.embedder}: {report.dim} dims, by {report.keyed_by}, {report.keying}"
    render.out.print(render.table(title, ["", "count"], rows, right=1))
    cover = report.coverage
    missing = cover.requests - cover.requests_covered
    render.out.print(
        f"coverage: {cover.requests_covered:,} of {cover.requests:,} requests "
        f"({cover.keys_covered:,} of {cover.keys:,} keys) have a vector; {missing:,} have none; "
        f"{cover.responses_covered:,} of {cover.responses:,} responses (for precision "
        "without --label)",
        markup=False,
    )
    if report.conflicting_keys:
        render.out.print(
            f"{report.conflicting_keys:,} keys were given different vectors by the requests "
            "sharing them: each keeps its first request's; --no-normalize keys each text alone",
            markup=False,
        )
    if missing or cover.responses_covered < cover.responses:
        render.out.print(
            f"write them: costlab embeddings export missing.parquet --missing {report.embedder}",
            markup=False,
        )


@app.command("export")
def export_texts(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The Parquet file to write."),
    by: str = typer.Option(
        "text", "--by", help="One row per distinct key text (and response), or per request_id."
    ),
    responses: bool = typer.Option(
        True, "--responses/--no-responses", help="With --by text: the logged responses too."
    ),
    key: str = typer.Option("prompt", "--key", help=KEY_HELP),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help=NORMALIZE_HELP),
    missing: str | None = typer.Option(
        None, "--missing", help="Only the texts without a vector under this embedder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write the distinct texts to embed elsewhere, with the keys `embeddings import` takes back.

    --by text: text_hash and the key text, as simulate-cache embeds it. --by request_id:
    request_id, the text as logged, and the hash of its key.

    Example: costlab embeddings export texts.parquet --missing text-embedding-3-small
    """
    with Store.open(ctx.obj["db"]) as store:
        keying = keyed.Keying(key, normalize)
        written = to_embed.export_texts(store, file, keying, by, missing, responses)
    if as_json:
        render.print_json(asdict(written))
        return
    render.out.print(
        f"wrote {written.rows:,} rows ({written.keys:,} cache keys, {written.responses:,} "
        f"responses) to {written.path}",
        markup=False,
    )


@app.command("list")
def list_imported(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List the embedders whose vectors were imported into this store (simulate-cache --embedder).

    Example: costlab embeddings list
    """
    with Store.open(ctx.obj["db"]) as store:
        found = imported.listed(store)
    if as_json:
        render.print_json([asdict(i) for i in found])
        return
    rows = [
        [i.embedder, str(i.dim), render.count(i.vectors), str(i.imports), i.last_file, i.last_at]
        for i in found
    ]
    columns = ["embedder", "dims", "vectors", "imports", "last file", "last imported (UTC)"]
    render.out.print(render.table("Imported embeddings", columns, rows, right=1))
