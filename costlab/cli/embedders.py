"""`costlab embedders`: the embedders simulate-cache can use, and distilling the fast one."""

from __future__ import annotations

from pathlib import Path

import typer

from costlab.cache import embedders, static, tuned
from costlab.cli import render

app = typer.Typer(
    no_args_is_help=True,
    help="The embedders simulate-cache can run. Vectors from your own model: costlab embeddings.",
)


@app.command()
def distill(
    dims: int = typer.Option(
        static.DEFAULT_DIMS, "--dims", min=8, help="PCA dimensions (384 keeps MiniLM's)."
    ),
    corpus: Path | None = typer.Option(
        None,
        "--corpus",
        help="Fit minilm-static to these prompts (a costlab store, or a text file, one a line): "
        "makes minilm-tuned.",
    ),
    sample: int = typer.Option(
        tuned.DEFAULT_SAMPLE, "--sample", min=1, help="With --corpus: prompts MiniLM embeds."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder (default: $COSTLAB_HOME/embedders/minilm-static, or minilm-tuned).",
    ),
) -> None:
    """Distil the fast static embedder (minilm-static) from the installed MiniLM; rebuilds it.

    With --corpus, fit it to a sample of your prompts instead (minilm-tuned: a few minutes at most,
    once minilm-static is distilled).

    Example: costlab embedders distill && costlab embedders distill --corpus costlab.duckdb
    """
    with render.ProgressBars(False, units="texts" if corpus else "tokens") as bars:
        if corpus is None:
            made = static.build(
                out,
                static.Recipe(dims=dims),
                lambda done, total: bars.update("distilling", done, total),
            )
        else:
            made = tuned.build(
                tuned.Tuning(str(corpus), sample),
                out,
                lambda done, total: bars.update("embedding the sample", done, total),
            )
    where = out or (static.folder() if corpus is None else tuned.folder())
    render.out.print(
        f"{made.name}: {made.vocab_size:,} tokens × {made.dims} dims written to {where} "
        f"in {made.distill_s:.0f} s",
        markup=False,
    )
    if made.fit:
        render.out.print(
            f"fitted on {made.fit['texts']:,} prompts; on {made.fit['checked_on']:,} others, "
            f"the similarity error to MiniLM went from {made.fit['similarity_error_before']:.3f} "
            f"to {made.fit['similarity_error_after']:.3f}",
            markup=False,
        )


@app.command("list")
def list_embedders(
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List the built-in embedders: installed or distilled, dimensions, folder.

    Example: costlab embedders list
    """
    found = embedders.available()
    if as_json:
        render.print_json([e.__dict__ for e in found])
        return
    rows = [[e.name, "yes" if e.ready else "no", str(e.dims or "—"), e.note] for e in found]
    render.out.print(render.table("Embedders", ["embedder", "ready", "dims", "note"], rows))
    for e in found:
        if e.where:
            render.out.print(f"{e.name}: {e.where}", markup=False)
