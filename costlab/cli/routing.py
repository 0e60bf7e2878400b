"""`costlab route-replay` and `costlab ingest-outcomes`: routing policies replayed on the logs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from costlab import prices
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.errors import BadInput
from costlab.routing import compare, outcomes, policy
from costlab.scope import from_flags
from costlab.settings import Settings
from costlab.store import Store

app = typer.Typer()


@app.command("route-replay")
def route_replay(
    ctx: typer.Context,
    policy_files: list[Path] = typer.Option(
        [], "--policy", help="A policy file (TOML), repeatable."
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
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay the logged traffic through routing policies: cost, savings and quality.

    Example: costlab route-replay --policy a.toml --policy b.toml --min-quality 8 --recommend
    """
    if recommend and min_quality is None:
        raise BadInput("--recommend needs --min-quality", "e.g. --min-quality 8 --recommend")
    settings: Settings = ctx.obj["settings"]
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    policies = [policy.load(path, catalogue) for path in policy_files]
    with Store.open(ctx.obj["db"]) as store:
        options = compare.CompareOptions(
            scope=from_flags(store, since, until, where),
            min_quality=min_quality,
            resamples=resamples,
            seed=seed,
        )
        result = compare.run(store, catalogue, policies, options)
    if as_json:
        render.print_json(dataclasses.asdict(result))
        return
    render.show(_sheets(result, recommend), "table")
    for p in result.policies:
        for note in p.notes:
            render.out.print(f"{p.name}: {note}", markup=False)
    for note in result.notes:
        render.out.print(note, markup=False)


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


def _pct(value: float | None, signed: bool = False) -> str:
    return "—" if value is None else (f"{value:+.1%}" if signed else f"{value:.1%}")


def _num(value: float | None, signed: bool = False) -> str:
    return "—" if value is None else (f"{value:+.3f}" if signed else f"{value:.3f}")


def _interval(ci: compare.Interval | None, pct: bool) -> str:
    if ci is None:
        return "—"
    if pct:
        return f"{ci.low:+.1%} … {ci.high:+.1%}"
    return f"{ci.low:+.3f} … {ci.high:+.3f}"


def _sheets(result: compare.Comparison, recommend: bool) -> list[Sheet]:
    rows = []
    for p in result.policies:
        mark = " ◀" if recommend and p.name == result.recommended else ""
        quality = _num(p.quality) + ("~" if p.quality_estimated_share else "")
        rows.append(
            [
                p.name + mark,
                render.money(p.after_usd),
                _pct(p.savings),
                _interval(p.savings_ci, True),
                quality,
                _num(p.quality_delta, True),
                _interval(p.quality_delta_ci, False),
                _pct(p.quality_exact_share),
            ]
        )
    columns = [
        "policy", "cost", "savings", "95% CI", "quality", "Δ quality", "95% CI", "exact",
    ]  # fmt: skip
    title = (
        f"Routing policies over {result.requests:,} requests "
        f"(as logged: {render.money(result.logged_usd)}); ~ quality partly estimated"
    )
    shares = [
        [p.name, model, f"{share:.1%}", render.bar(share, 20)]
        for p in result.policies
        for model, share in p.models.items()
    ]
    sheets = [
        Sheet(title, columns, rows),
        Sheet("Share of traffic per model", ["policy", "model", "share", ""], shares),
    ]
    for p in result.policies:
        rule_rows = [
            [
                r.name,
                r.when or "(no rule matched)",
                r.route_to,
                "—" if r.matched is None else render.count(r.matched),
                render.count(r.took),
                render.money(r.before_usd),
                render.money(r.after_usd),
                _num(r.quality_delta, True),
            ]
            for r in p.rules
        ]
        sheets.append(
            Sheet(
                f"{p.name}: per rule (first match wins; input tokens estimated for "
                f"{p.input_estimated_share:.0%} of requests)",
                ["rule", "when", "route to", "matched", "took", "$ before", "$ after", "Δ quality"],
                rule_rows,
                right=3,
            )
        )
    return sheets
