"""`costlab route-replay` and `costlab ingest-outcomes`: routing policies replayed on the logs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from pydantic import ValidationError

from costlab import plot, prices
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.errors import BadInput
from costlab.routing import charts, compare, frontier, outcomes, policy, run, sweep, tables
from costlab.scope import from_flags
from costlab.settings import Settings
from costlab.store import Store

app = typer.Typer()
_CHART_WIDTH = 96


@app.command("route-replay")
def route_replay(
    ctx: typer.Context,
    policy_files: list[Path] = typer.Option(
        [], "--policy", help="A policy file (TOML, or YAML: .yaml/.yml), repeatable."
    ),
    min_quality: float | None = typer.Option(
        None, "--min-quality", help="The mean quality a policy must reach (outcome scale)."
    ),
    recommend: bool = typer.Option(
        False, "--recommend", help="Mark the cheapest policy that reaches --min-quality."
    ),
    resamples: int = typer.Option(
        compare.DEFAULT_RESAMPLES, "--resamples", min=0, help="Bootstrap resamples (0: none)."
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    sweep_values: str | None = typer.Option(
        None, "--sweep", help="Values of a rule's {t}: NAME=FROM:TO:STEPS, e.g. t=0:1:50."
    ),
    calibrate: float | None = typer.Option(
        None, "--calibrate", min=0, max=1, help="Calibrate {t} to this share of strong calls."
    ),
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    html: Path | None = typer.Option(
        None, "--html", help="Also write the tables and charts as one self-contained HTML page."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay the logged traffic through routing policies: cost, savings and quality.

    After the tables, charts of cost against quality: each sweep's curve, and every candidate
    with the Pareto frontier (the cheapest candidate for each level of quality).

    Examples:

      costlab route-replay --policy a.toml --policy b.yaml --min-quality 8 --recommend

      costlab route-replay --policy a.toml --policy swept.toml --sweep t=0:1:50 --html route.html
    """
    if recommend and min_quality is None:
        raise BadInput("--recommend needs --min-quality", "e.g. --min-quality 8 --recommend")
    settings: Settings = ctx.obj["settings"]
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    loaded = [policy.load(path, catalogue) for path in policy_files]
    values = _sweep_flag(sweep_values)
    with Store.open(ctx.obj["db"], create=False) as store:
        scope = from_flags(store, since, until, where)
        options = run.RunOptions(scope, min_quality, resamples, seed, values, calibrate)
        replayed = run.run(store, catalogue, loaded, options)
    result, sweeps, points = replayed.comparison, replayed.sweeps, replayed.points
    if html is not None:
        from costlab.routing import html as routing_html

        page = routing_html.Replay(result, sweeps, points, recommend)
        render.write_page(html, routing_html.render(page))
    if as_json:
        render.print_json(replayed.as_json())
        return
    render.show([sheet for s in sweeps for sheet in _sweep_sheets(s)], "table")
    for note in dict.fromkeys(n for s in sweeps for n in s.notes):
        render.out.print(note, markup=False)
    if result is not None:
        render.show(_sheets(result, recommend, points), "table")
        for p in result.policies:
            for note in p.notes:
                render.out.print(render.printable(f"{p.name}: {note}"), markup=False)
        for note in result.notes:
            render.out.print(render.printable(note), markup=False)
    _charts(result, sweeps, points)


def _charts(
    result: compare.Comparison | None,
    sweeps: list[sweep.SweepResult],
    points: list[frontier.PolicyPoint],
) -> None:
    width = min(render.out.width, _CHART_WIDTH)
    for k, s in enumerate(sweeps):
        render.out.print(plot.text(charts.sweep_curve(s, k + 1), width), markup=False)
        render.out.print()
    if len(points) > 1:
        render.out.print(plot.text(charts.candidates(result, sweeps, points), width), markup=False)


@app.command("ingest-outcomes")
def ingest_outcomes(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., help="JSON lines or .csv: request_id|prompt, model, score|correct."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load recorded outcomes (a score, or correct) per request and model, for route-replay.

    Example: costlab ingest-outcomes judgements.jsonl
    """
    settings: Settings = ctx.obj["settings"]
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    with Store.open(ctx.obj["db"]) as store:
        loaded = outcomes.ingest(store, path, catalogue)
    if as_json:
        render.print_json(dataclasses.asdict(loaded))
        return
    rows = [[model, render.count(n)] for model, n in sorted(loaded.models.items())]
    title = (
        f"{loaded.path}: {loaded.rows:,} outcomes, for {loaded.matched_requests:,} logged requests"
        + (f" (replaced {loaded.replaced:,} from an earlier load)" if loaded.replaced else "")
    )
    render.out.print(title, markup=False, soft_wrap=True)
    render.show([Sheet("Outcomes per model", ["model", "outcomes"], rows)], "table")


def _sweep_flag(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        _, _, spec = text.rpartition("=")
        start, end, steps = spec.split(":")
        return policy.SweepRange.model_validate(
            {"from": float(start), "to": float(end), "steps": int(steps)}
        ).values()
    except (ValueError, ValidationError):
        raise BadInput(f"--sweep {text}: not NAME=FROM:TO:STEPS", "e.g. --sweep t=0:1:50") from None


def _sweep_sheets(s: sweep.SweepResult) -> list[Sheet]:
    points = [s.all, *s.points, s.none]
    rows = [
        [*row, render.bar(p.strong_share, 20)]
        for row, p in zip(tables.sweep_rows(s), points, strict=True)
    ]
    gap = "; ".join(
        f"{g.level:.0%} of the gap: "
        + ("never" if g.strong_share is None else f"{g.strong_share:.1%} strong calls, "
           f"{render.money(g.cost_usd)}")
        for g in s.gap_calls
    )  # fmt: skip
    apgr = "—" if s.apgr is None else f"{s.apgr:.3f}"
    title = (
        f"{s.policy}: {s.score} >= {{{s.parameter}}} → {s.strong_model} over {s.requests:,} "
        f"requests; APGR {apgr}; {gap}"
    )
    columns = ["t", *tables.SWEEP_COLUMNS, ""]
    sheets = [Sheet(title, columns, rows, right=1)]
    if s.calibrated is not None:
        c = s.calibrated
        sheets.append(
            Sheet(
                f"{s.policy}: calibrated to {s.target_share:.1%} strong calls",
                ["t", "strong calls", "cost", "quality", "PGR"],
                [[f"{c.threshold:g}", tables.pct(c.strong_share), render.money(c.cost_usd),
                  tables.num(c.quality), tables.num(c.pgr)]],
                right=1,
            )
        )  # fmt: skip
    return sheets


def _sheets(
    result: compare.Comparison, recommend: bool, points: list[frontier.PolicyPoint]
) -> list[Sheet]:
    on = {p.name for p in points if p.on_frontier and not p.swept}
    rows = tables.policy_rows(result, on, recommend)
    title = (
        f"Routing policies over {result.requests:,} requests "
        f"(as logged: {render.money(result.logged_usd)}); ~ quality partly estimated; "
        "◆ on the cost–quality frontier of every candidate"
    )
    shares = [
        [name, model, f"{share:.1%}", render.bar(share, 20)]
        for name, model, share in tables.share_rows(result)
    ]
    sheets = [
        Sheet(title, tables.POLICY_COLUMNS, rows),
        Sheet("Share of traffic per model", ["policy", "model", "share", ""], shares),
    ]
    for p in result.policies:
        sheets.append(
            Sheet(
                f"{p.name}: per rule (first match wins; input tokens estimated for "
                f"{p.input_estimated_share:.0%} of requests)",
                tables.RULE_COLUMNS,
                tables.rule_rows(p),
                right=3,
            )
        )
    return sheets
