"""`costlab intents`: the recurring intents of the traffic, clustered from the stored vectors."""

from __future__ import annotations

import dataclasses

import typer

from costlab import intents as library
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.scope import from_flags
from costlab.store import Store

app = typer.Typer()


@app.command()
def intents(
    ctx: typer.Context,
    method: str = typer.Option(
        "agglomerative",
        "--method",
        help="agglomerative (order-independent; cosine, average linkage) or leader (the "
        "cache replay's own clusters, for comparison).",
    ),
    min_similarity: float = typer.Option(
        library.DEFAULT_MIN_SIMILARITY,
        "--min-similarity",
        help="Clusters merge while their mean similarity is at least this (cosine).",
    ),
    label: str | None = typer.Option(
        None, "--label", help="Measure the intents against a column or metadata.KEY (ARI, ...)."
    ),
    embedder: str | None = typer.Option(
        None,
        "--embedder",
        help="Whose stored vectors to cluster [default: the one covering most prompts].",
    ),
    key: str = typer.Option("prompt", "--key", help="prompt, system+prompt or messages."),
    normalize: bool = typer.Option(
        True, "--normalize/--no-normalize", help="Normalise keys first, as simulate-cache does."
    ),
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    top: int = typer.Option(20, "--top", min=0, help="How many recurring intents to list."),
    save: bool = typer.Option(
        True, "--save/--no-save", help="Store each request's intent for route-replay rules."
    ),
    full_up_to: int = typer.Option(
        library.agglomerative.FULL_UP_TO,
        "--full-up-to",
        min=2,
        help="Distinct prompts clustered in full; above, a sample is, and the rest assigned.",
    ),
    sample: int = typer.Option(
        library.agglomerative.SAMPLE, "--sample", min=2, help="Prompts per sample round."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Group the logged prompts into recurring intents: size, spend, share, a representative.

    Clusters the distinct prompts' vectors that simulate-cache stored (run it first), with
    scikit-learn: average linkage over cosine similarity, so the intents do not depend on the
    order requests came in. Each request's intent is stored for route-replay rules over
    `intent`, `intent_size` and `intent_prompt`.

    Examples:

      costlab intents --min-similarity 0.6 --top 50

      costlab intents --label metadata.intent --method leader --min-similarity 0.8
    """
    with Store.open(ctx.obj["db"], create=False) as store:
        options = library.IntentsOptions(
            method=method,
            min_similarity=min_similarity,
            scope=from_flags(store, since, until, where),
            key=key,
            normalize=normalize,
            embedder=embedder,
            label=label,
            top=top,
            save=save,
            full_up_to=full_up_to,
            sample=sample,
        )
        result = library.run(store, options)
    if as_json:
        render.print_json(dataclasses.asdict(result))
        return
    render.show([_sheet(result)], "table")
    render.out.print(_summary(result), markup=False)
    for note in result.notes:
        render.out.print(note, markup=False)


def _sheet(result: library.IntentsReport) -> Sheet:
    rows = [
        [
            str(i.intent),
            render.count(i.requests),
            render.count(i.prompts),
            render.money(i.spend_usd),
            f"{i.share_of_spend:.1%}",
            f"{i.cohesion:.2f}",
            render.printable(_clip(i.prompt, 70)),
        ]
        for i in result.listed
    ]
    title = (
        f"Recurring intents ({result.method}, similarity ≥ {result.min_similarity:g}, "
        f"{result.embedder}): {result.recurring:,} of {result.intents:,} intents hold "
        f"{result.recurring_share:.1%} of {result.requests:,} requests"
    )
    columns = ["intent", "requests", "prompts", "spend", "share", "cohesion", "medoid prompt"]
    return Sheet(title, columns, rows, right=None)


def _summary(result: library.IntentsReport) -> str:
    spent = ", ".join(f"{stage} {s:,.1f} s" for stage, s in result.stages_s.items())
    line = f"time: {spent}"
    a = result.agreement
    if a is not None:
        line += (
            f"\nagreement with {a.label} ({a.labels:,} labels, {a.requests:,} requests): "
            f"adjusted Rand {a.adjusted_rand:.3f}, homogeneity {a.homogeneity:.3f}, "
            f"completeness {a.completeness:.3f}, V-measure {a.v_measure:.3f}"
        )
    return line


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
