"""`costlab plan`: one savings plan across every lever: stacked, ranked, and what to change."""

from __future__ import annotations

from pathlib import Path

import typer

from costlab import prices
from costlab.cache import savings
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.errors import BadInput
from costlab.plan import run
from costlab.plan.result import Plan
from costlab.routing import compare, policy
from costlab.scope import from_flags
from costlab.settings import Settings
from costlab.store import Store

app = typer.Typer()


@app.command("plan")
def plan(
    ctx: typer.Context,
    threshold: list[float] = typer.Option([], "--threshold", help="Cache similarity for a hit."),
    min_precision: float = typer.Option(
        savings.DEFAULT_MIN_PRECISION, "--min-precision", help="Else the best threshold at this."
    ),
    embedder: str = typer.Option("auto", "--embedder", help="The cache's embedder."),
    label: str | None = typer.Option(None, "--label", help="Judge hits by a column."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Leave the cache lever out."),
    policy_files: list[Path] = typer.Option([], "--policy", help="A routing policy (repeatable)."),
    min_quality: float | None = typer.Option(
        None, "--min-quality", help="The mean quality the policy used must reach."
    ),
    compress_method: list[str] = typer.Option(
        ["minify"], "--compress-method", help="compress methods for the recurring prompts."
    ),
    compress_top: int = typer.Option(20, "--compress-top", min=1, help="Recurring prompts."),
    rules: str = typer.Option("auto", "--rules", help="Prefix rule: auto, openai or anthropic."),
    rule: list[str] = typer.Option([], "--rule", help="Override a prefix rule field."),
    batch_feature: list[str] = typer.Option([], "--batch-feature", help="A batchable feature."),
    resamples: int = typer.Option(
        compare.DEFAULT_RESAMPLES, "--resamples", min=0, help="Bootstrap resamples (0: none)."
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    emit: Path | None = typer.Option(None, "--emit", help="Write the changes to make here."),
    force: bool = typer.Option(False, "--force", help="--emit into a folder that is not empty."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained page."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """One plan across every lever: cache → routing → compression → prefix cache → batch.

    Each lever runs alone (its own command's figure) and stacked per request on what the
    earlier ones left, so nothing is counted twice; levers are ranked by saving per unit of risk.

    Examples:

      costlab plan --policy cheap.toml --policy strong.toml --min-quality 8

      costlab plan --threshold 0.92 --batch-feature summarize --emit plan/ --html plan.html
    """
    settings: Settings = ctx.obj["settings"]
    if rules not in ("auto", "openai", "anthropic"):
        raise BadInput(f"--rules {rules}: unknown", "use auto, openai or anthropic")
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    policies = tuple(policy.load(path, catalogue) for path in policy_files)
    eligible = settings.batch.eligible()
    eligible.update({f: "--batch-feature" for f in batch_feature if f not in eligible})
    with Store.open(ctx.obj["db"], create=False) as store:
        scope = from_flags(store, since, until, where)
        cache = None if no_cache else savings.CacheOptions(
            thresholds=threshold, embedder=embedder, label=label, min_precision=min_precision,
            save_intents=False, intents=0,
        )  # fmt: skip
        options = run.PlanOptions(
            scope, cache, policies, min_quality,
            tuple(m for given in compress_method for m in given.split(",") if m),
            compress_top, rules=rules, rule_overrides=tuple(rule),  # type: ignore[arg-type]
            batch_features=eligible, resamples=resamples, seed=seed, emit=emit, force=force,
        )  # fmt: skip
        with render.ProgressBars(as_json, units="steps") as bars:
            result = run.run(store, catalogue, options, lambda s: bars.update(s, 0, None))
    if html is not None:
        from costlab.plan import html as plan_html

        render.write_page(html, plan_html.render(result))
    if as_json:
        render.print_json(result.as_dict())
        return
    show(result)


def show(result: Plan) -> None:
    """The plan for people: the waterfall, the table of steps, the ranking."""
    render.out.print(waterfall(result), markup=False)
    render.show([_sheet(result)], "table")
    if result.first:
        render.out.print(render.printable(result.first), markup=False, soft_wrap=True)
    for s in result.steps:
        for note in s.notes:
            render.out.print(render.printable(f"{s.lever}: {note}"), markup=False)
    for line in [*result.notes, *(f"wrote {p}" for p in result.emitted)]:
        render.out.print(render.printable(line), markup=False)


def waterfall(result: Plan, width: int = 40) -> str:
    """Logged spend, then the spend left after each lever, as bars."""
    top = float(result.logged_usd) or 1.0
    lines = [f"{'logged':>12}  {render.bar(1.0, width)} {render.money(result.logged_usd, 2)}"]
    left = result.logged_usd
    for s in result.steps:
        if s.status != "applied":
            continue
        left -= s.saved_usd
        share = max(0.0, float(left) / top)
        lines.append(
            f"{s.lever:>12}  {render.bar(share, width)} {render.money(left, 2)} "
            f"(−{render.money(s.saved_usd, 2)})"
        )
    ci = result.after_usd_ci
    if ci:
        lines.append(f"{'':>12}  95 % interval of the total: {render.money(ci[0], 2)} … "
                     f"{render.money(ci[1], 2)}")  # fmt: skip
    return "\n".join(lines)


def _sheet(result: Plan) -> Sheet:
    rows = []
    for s in result.steps:
        standalone = (
            "—" if s.standalone_saved_usd is None else render.money(s.standalone_saved_usd, 2)
        )
        risk = "—" if s.risk is None else f"{s.risk.measure}: {s.risk.value}"
        if s.risk and s.risk.estimated_share:
            risk += f"; {s.risk.estimated_share:.0%} estimated"
        rank = str(result.ranking.index(s.lever) + 1) if s.status == "applied" else "—"
        rows.append([
            rank, s.lever, s.status, render.money(s.saved_usd, 2), standalone,
            f"{s.share_of_spend:.1%}", render.money(s.monthly_saved_usd, 2), risk, s.action,
        ])  # fmt: skip
    title = (
        f"Plan over {result.requests:,} requests ({result.days:,.1f} days): "
        f"{render.money(result.logged_usd, 2)} logged → {render.money(result.after_usd, 2)}"
    )
    columns = ["rank", "lever", "status", "stacked", "standalone", "of spend", "a month", "risk",
               "change (or what would enable it)"]  # fmt: skip
    return Sheet(title, columns, rows, right=None)
