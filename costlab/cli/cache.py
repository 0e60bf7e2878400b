"""`costlab simulate-cache`: what a semantic cache would have saved, threshold by threshold."""

from __future__ import annotations

import dataclasses
import re

import typer

from costlab.cache import embedders, savings
from costlab.cli import render
from costlab.cli.render import Sheet
from costlab.errors import BadInput
from costlab.scope import from_flags
from costlab.store import Store

app = typer.Typer()

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@app.command("simulate-cache")
def simulate_cache(
    ctx: typer.Context,
    threshold: list[float] = typer.Option(
        [], "--threshold", help="Similarity for a hit (repeatable)."
    ),
    sweep: str | None = typer.Option(
        None, "--sweep", help="Thresholds FROM:TO:STEP, e.g. 0.80:0.99:0.01."
    ),
    key: str = typer.Option(
        "prompt", "--key", help="The cache key: prompt, system+prompt or messages."
    ),
    normalize: bool = typer.Option(
        True, "--normalize/--no-normalize", help="Normalise keys first."
    ),
    scope: str = typer.Option(
        "", "--scope", help="Entries match only within these, e.g. model,feature."
    ),
    ttl: str | None = typer.Option(
        None, "--ttl", help="Entry lifetime from insertion, e.g. 24h, 30m."
    ),
    max_entries: int | None = typer.Option(None, "--max-entries", min=1, help="Capacity (LRU)."),
    label: str | None = typer.Option(
        None, "--label", help="Judge hits by a column or metadata.KEY."
    ),
    embedder: str = typer.Option(
        embedders.DEFAULT, "--embedder", help="minilm, minilm-static, or a model folder."
    ),
    min_precision: float = typer.Option(
        savings.DEFAULT_MIN_PRECISION,
        "--min-precision",
        help="Recommend the best threshold at this.",
    ),
    since: str | None = typer.Option(None, "--since", help="First day (UTC), YYYY-MM-DD."),
    until: str | None = typer.Option(None, "--until", help="Last day (UTC), inclusive."),
    where: str | None = typer.Option(None, "--where", help="A SQL condition over requests."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay the logged traffic through a semantic cache: hits, $ saved, hit precision.

    Example: costlab simulate-cache --sweep 0.80:0.99:0.01 --label metadata.intent --ttl 24h
    """
    with Store.open(ctx.obj["db"]) as store:
        options = savings.CacheOptions(
            thresholds=_thresholds(threshold, sweep),
            scope=from_flags(store, since, until, where),
            key=key,
            normalize=normalize,
            cache_scope=tuple(c.strip() for c in scope.split(",") if c.strip()),
            ttl_s=_duration(ttl),
            max_entries=max_entries,
            label=label,
            embedder=embedder,
            min_precision=min_precision,
        )
        with render.ProgressBars(as_json, units="texts") as bars:
            result = savings.run(
                store, options, lambda done, total: bars.update("embedding", done, total)
            )
    if as_json:
        render.print_json(dataclasses.asdict(result))
        return
    render.show([_sheet(result)], "table")
    for note in result.notes:
        render.out.print(note, markup=False)


def _thresholds(given: list[float], sweep: str | None) -> list[float]:
    values = list(given)
    if sweep:
        parts = sweep.split(":")
        try:
            start, stop, step = (float(p) for p in parts)
        except ValueError:
            raise BadInput(
                f"--sweep {sweep}: write FROM:TO:STEP", "e.g. --sweep 0.80:0.99:0.01"
            ) from None
        if step <= 0 or stop < start:
            raise BadInput(f"--sweep {sweep}: STEP must be positive and TO at least FROM")
        count = int(round((stop - start) / step)) + 1
        values += [round(start + i * step, 6) for i in range(count)]
    if not values:
        raise BadInput(
            "give --threshold or --sweep", "e.g. --threshold 0.92 or --sweep 0.80:0.99:0.01"
        )
    return sorted(set(values))


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    found = _DURATION.match(text.strip())
    if not found or float(found.group(1)) <= 0:
        raise BadInput(f"--ttl {text}: not a duration", "e.g. --ttl 24h, 30m, 90s or 7d")
    return float(found.group(1)) * _SECONDS[found.group(2)]


def _sheet(result: savings.CacheReport) -> Sheet:
    rows = []
    for r in result.thresholds:
        mark = " ◀" if r.threshold == result.recommended_threshold else ""
        precision = (
            "—"
            if r.precision is None
            else f"{r.precision:.1%}" + ("~" if r.precision_estimated else "")
        )
        age = "—" if r.reuse_age_p50_s is None else f"{r.reuse_age_p50_s / 3600:.1f}h"
        rows.append(
            [
                f"{r.threshold:.2f}{mark}",
                render.count(r.hits),
                f"{r.hit_rate:.1%}",
                render.bar(r.hit_rate, 15),
                render.money(r.saved_usd),
                render.count(r.saved_tokens),
                precision,
                age,
            ]
        )
    title = (
        f"Semantic cache over {result.requests:,} requests "
        f"({result.distinct_keys:,} distinct keys, {result.embedder}); "
        f"precision {result.precision_method}"
    )
    columns = ["threshold", "hits", "hit rate", "", "saved", "tokens saved", "precision", "age P50"]
    return Sheet(title, columns, rows)
