"""`costlab compress`: compressed prompt templates, and what each saves in tokens and dollars."""

from __future__ import annotations

from pathlib import Path

import typer

from costlab import prices
from costlab.cli import render
from costlab.cli.render import Sheet
from costlab.compress import fewshot, run
from costlab.compress.report import CompressReport, TemplateResult
from costlab.errors import BadInput
from costlab.store import Store

app = typer.Typer()
_METHODS = ", ".join(run.METHODS)


@app.command("compress")
def compress(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(None, help="Template files, folders or globs."),
    method: list[str] = typer.Option(
        ["minify"], "--method", help=f"Repeatable, applied in order: {_METHODS}."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write compressed templates here."),
    from_store: bool = typer.Option(
        False, "--from-store", help="Compress the logged prompts that cost the most input $."
    ),
    top: int = typer.Option(10, "--top", min=1, help="With --from-store: how many prompts."),
    rate: float = typer.Option(0.5, "--rate", help="LLMLingua: share of prose tokens to keep."),
    keep: int = typer.Option(1, "--keep", help="fewshot: how many examples to keep."),
    model: str | None = typer.Option(None, "--model", help="LLMLingua: a local model folder."),
    model_price: str = typer.Option(
        run.DEFAULT_TARGET, "--model-price", help="Count tokens and price them for this model."
    ),
    embedder: str = typer.Option(
        "minilm", "--embedder", help="fewshot: minilm, lexical (no model), or a model folder."
    ),
    fmt: str = typer.Option("table", "--format", help="table or markdown (a PR comment)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compress prompt templates and report the tokens and dollars each method saves.

    Placeholders, numbers, code blocks, JSON keys and URLs are never altered; a template whose
    placeholders do not come out the same, in the same order, is reported and not written.

    Examples:

      costlab compress prompts/ --method minify --method fewshot --out compressed/

      costlab compress --from-store --top 5 --method llmlingua2 --model ./llmlingua-2 --out c/

      costlab compress prompts/*.md --method gzip --format markdown
    """
    if fmt not in ("table", "markdown"):
        raise BadInput(f"--format {fmt}: use table or markdown (or --json)")
    methods = tuple(m.strip() for given in method for m in given.split(",") if m.strip())
    options = run.CompressOptions(
        methods,
        rate,
        keep,
        model,
        model_price,
        _encoder(embedder) if "fewshot" in methods else None,
    )
    sources = run.Sources(tuple(paths or ()), top if from_store else 0, out)
    catalogue = prices.Catalogue.load(overrides=ctx.obj["settings"].price_overrides())
    db = Path(ctx.obj["db"])
    if from_store and not db.is_file():
        raise BadInput(f"--from-store: no store at {db}", "run costlab ingest LOGS first, or --db")
    store = Store.open(db, read_only=True) if from_store or db.is_file() else None
    try:
        with render.ProgressBars(as_json, units="templates") as bars:
            report = run.run(sources, options, store, catalogue, bars.update)
    finally:
        if store is not None:
            store.close()
    if as_json:
        render.print_json(report.as_dict())
        return
    render.show([_sheet(report)], fmt)
    for note in _notes(report):
        render.out.print(render.printable(note), markup=False, soft_wrap=True)


def _encoder(name: str) -> fewshot.Encode:
    if name == "lexical":
        return fewshot.lexical
    from costlab.cache import embedders

    return embedders.load(name).encode


def _sheet(report: CompressReport) -> Sheet:
    rows = [_row(t) for t in report.templates]
    saved = report.tokens_before - report.tokens_after
    share = saved / report.tokens_before if report.tokens_before else 0.0
    rows.append(
        [
            f"total ({len(report.templates)})",
            render.count(report.tokens_before),
            render.count(report.tokens_after),
            f"{render.count(saved)} ({share:.0%})",
            "",
            "",
            "",
            "",
            render.money(report.saved_usd_month, 2),
            f"{report.failed} not written" if report.failed else "",
        ]
    )
    estimate = "" if report.exact_tokens else ", estimated"
    title = f"Compressed templates: tokens for {report.model} ({report.encoding}{estimate})"
    columns = [
        "template",
        "before",
        "after",
        "saved",
        "rate asked→got",
        "protected",
        "examples",
        "$/1k calls",
        "$/month",
        "status",
    ]
    return Sheet(title, columns, rows, right=None)


def _row(t: TemplateResult) -> list[str]:
    asked = f"{t.requested_rate:.2f}→" if t.requested_rate is not None else ""
    share = t.saved_tokens / t.tokens_before if t.tokens_before else 0.0
    status = (
        "written" if t.written else (f"not written: {t.problem}" if t.problem else "report only")
    )
    return [
        t.name,
        render.count(t.tokens_before),
        render.count(t.tokens_after),
        f"{render.count(t.saved_tokens)} ({share:.0%})",
        f"{asked}{t.achieved_rate:.2f}",
        render.count(t.protected_spans),
        t.examples or "",
        render.money(t.saved_usd_per_1k_calls, 4),
        render.money(t.saved_usd_month, 2),
        status,
    ]


def _notes(report: CompressReport) -> list[str]:
    lines = list(report.notes)
    for t in report.templates:
        if t.usage is not None:
            u = t.usage
            price = "unknown price" if u.usd_per_token is None else f"{u.price_source} price"
            lines.append(
                f"{t.name}: found in the logs ({u.match}): {u.requests:,} requests, "
                f"{u.requests_per_month:,.0f} a month, {price}"
            )
        lines += [f"{t.name}: {note}" for note in t.notes]
    if report.out:
        written = sum(1 for t in report.templates if t.written)
        lines.append(f"wrote {written} compressed template(s) to {report.out}")
    return lines
