"""`costlab prices`: list, show and import the price catalogue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from costlab import price_import
from costlab.cli import render
from costlab.prices import PRICE_FIELDS, Catalogue, ModelPrices, PricePoint, user_catalogue_path

app = typer.Typer(
    help="List, show and import the model price catalogue (USD per 1M tokens).\n\n"
    "The shipped catalogue comes from LiteLLM's price list; `costlab prices import` writes a "
    f"user catalogue ({user_catalogue_path()}) that replaces it.\n\n"
    "Example: costlab prices show gpt-4o",
    no_args_is_help=True,
)
_MILLION = Decimal(1_000_000)
_LABELS = {
    "input": "input",
    "output": "output",
    "cache_read": "cache read",
    "cache_write_5m": "cache write 5m",
    "cache_write_1h": "cache write 1h",
    "reasoning": "reasoning",
}
# What a missing price falls back to when a request is priced (see costlab.prices).
_FALLBACK = {
    "cache_read": "= input",
    "cache_write_5m": "= input",
    "cache_write_1h": "= 5m write",
    "reasoning": "= output",
}

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _catalogue(ctx: typer.Context) -> Catalogue:
    """The catalogue in use, with the config file's price overrides when there is a config."""
    settings = ctx.obj.get("settings") if isinstance(ctx.obj, dict) else None
    return Catalogue.load(overrides=settings.price_overrides() if settings else ())


def per_million(price: Decimal | None) -> str | None:
    """A per-token price as exact decimal text per 1M tokens."""
    return None if price is None else _text(price * _MILLION)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _point_json(point: PricePoint) -> dict[str, Any]:
    prices = {name: getattr(point, name) for name in PRICE_FIELDS}
    return {
        "since": point.since.isoformat(),
        "above_tokens": point.above_tokens,
        "batch": point.batch,
        "per_token": {k: _text(v) for k, v in prices.items() if v is not None},
        "per_1m_tokens": {k: per_million(v) for k, v in prices.items() if v is not None},
    }


def _base(prices: ModelPrices, batch: bool) -> PricePoint | None:
    """The latest base-tier point of one kind (standard or batch)."""
    points = [p for p in prices.points if p.above_tokens == 0 and p.batch == batch]
    return max(points, key=lambda p: p.since, default=None)


@app.command("list")
def list_prices(
    ctx: typer.Context,
    provider: Annotated[
        str | None, typer.Option(help="Only providers whose LiteLLM name starts with this.")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Only models whose name has TEXT.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List catalogue models with their base prices per 1M tokens.

    Example: costlab prices list --provider anthropic --search sonnet
    """
    catalogue = _catalogue(ctx)
    rows = [catalogue.show(name) for name in catalogue.models(provider, search)]
    if as_json:
        listing = [_list_json(prices) for prices in rows]
        render.print_json(_provenance(catalogue) | {"models": listing})
        return
    title = f"Prices, USD per 1M tokens — {catalogue.source}, {catalogue.source_date}"
    columns = ["model", "provider", "input", "output", "cache read", "cache write 5m / 1h"]
    columns += ["batch in / out", "tiers above"]
    render.out.print(render.table(title, columns, [_list_row(p) for p in rows], right=2))
    render.out.print(f"{render.count(len(rows))} models", markup=False)


def _list_row(prices: ModelPrices) -> list[str]:
    std, batch = _base(prices, False), _base(prices, True)

    def cell(point: PricePoint | None, name: str) -> str:
        return (per_million(getattr(point, name)) or "—") if point else "—"

    tiers = sorted({p.above_tokens for p in prices.points if p.above_tokens})
    return [
        prices.model,
        prices.provider or "",
        cell(std, "input"),
        cell(std, "output"),
        cell(std, "cache_read"),
        f"{cell(std, 'cache_write_5m')} / {cell(std, 'cache_write_1h')}",
        f"{cell(batch, 'input')} / {cell(batch, 'output')}" if batch else "—",
        " ".join(f">{t // 1000}k" if t % 1000 == 0 else f">{t:,}" for t in tiers),
    ]


def _list_json(prices: ModelPrices) -> dict[str, Any]:
    std, batch = _base(prices, False), _base(prices, True)
    return {
        "model": prices.model,
        "provider": prices.provider,
        "mode": prices.mode,
        "per_1m_tokens": _point_json(std)["per_1m_tokens"] if std else None,
        "batch_per_1m_tokens": _point_json(batch)["per_1m_tokens"] if batch else None,
        "tiers_above_tokens": sorted({p.above_tokens for p in prices.points if p.above_tokens}),
    }


def _provenance(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "source": catalogue.source,
        "source_date": catalogue.source_date,
        "catalogue": str(catalogue.path),
    }


@app.command("show")
def show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name, as logged or as in the catalogue.")],
    as_json: JsonFlag = False,
) -> None:
    """Show every price point of a model: dates, prompt-size tiers, standard and batch.

    Example: costlab prices show anthropic/claude-sonnet-4-5-20250929
    """
    catalogue = _catalogue(ctx)
    prices = catalogue.show(model)
    if as_json:
        document = _provenance(catalogue) | {
            "logged_name": model,
            "model": prices.model,
            "provider": prices.provider,
            "note": prices.resolution.note,
            "mode": prices.mode,
            "max_input_tokens": prices.max_input_tokens,
            "points": [_point_json(p) for p in prices.points],
        }
        render.print_json(document)
        return
    console = render.out
    limit = f", max input {prices.max_input_tokens:,} tokens" if prices.max_input_tokens else ""
    console.print(f"{prices.model} ({prices.provider}, {prices.mode}{limit})", markup=False)
    if prices.resolution.note:
        console.print(f"note: {prices.resolution.note}", markup=False)
    console.print(f"source: {catalogue.source}, {catalogue.source_date}", markup=False)
    console.print(_show_table(prices.points))


def _show_table(points: tuple[PricePoint, ...]) -> Table:
    columns = ["USD per 1M tokens\n(per token)"]
    for point in points:
        tier = f"prompt > {point.above_tokens:,}" if point.above_tokens else "base"
        kind = "batch" if point.batch else "standard"
        columns.append(f"since {point.since}\n{tier}\n{kind}")
    rows = []
    for name in PRICE_FIELDS:
        cells = [_LABELS[name]]
        for point in points:
            price = getattr(point, name)
            missing = _FALLBACK.get(name, "none")
            if name == "cache_write_1h" and point.cache_write_5m is None:
                missing = "= input"
            cells.append(missing if price is None else f"{per_million(price)}\n({_text(price)})")
        rows.append(cells)
    return render.table("Price points", columns, rows)


@app.command("import")
def import_prices(
    file: Annotated[Path, typer.Argument(help="A LiteLLM model_prices_and_context_window.json.")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the catalogue (default: user catalogue).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Convert a newer LiteLLM price list into the user catalogue, which replaces the shipped one.

    Example: costlab prices import model_prices_and_context_window.json
    """
    result = price_import.import_litellm(file, out or user_catalogue_path())
    if as_json:
        document = {
            "path": str(result.path),
            "models": result.models,
            "skipped": result.skipped,
            "source": result.source,
            "source_date": result.source_date,
        }
        render.print_json(document)
        return
    render.out.print(
        f"Wrote {result.models} models to {result.path} "
        f"({result.skipped} entries skipped: not token-priced text models).",
        markup=False,
    )
    if out is None:
        render.out.print("costlab now prices with it instead of the shipped catalogue.")
