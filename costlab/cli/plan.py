"""`costlab plan`: one savings plan across every lever: stacked, ranked, and what to change."""

from __future__ import annotations

from pathlib import Path

import typer

from costlab.cache import savings
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.plan import request
from costlab.plan.result import Plan
from costlab.routing import compare
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
    args = request.PlanArgs(
        thresholds=threshold, min_precision=min_precision, embedder=embedder, label=label,
        cache=not no_cache, policies=policy_files, min_quality=min_quality,
        compress_methods=compress_method, compress_top=compress_top, rules=rules,
        rule_overrides=rule, batch_features=batch_feature, resamples=resamples, seed=seed,
        since=since, until=until, where=where, emit=emit, force=force,
    )  # fmt: skip
    with Store.open(ctx.obj["db"], create=False) as store:
        with render.ProgressBars(as_json, units="steps") as bars:
            result = request.plan(store, settings, args, lambda s: bars.update(s, 0, None))
    if html is not None:
        from costlab.plan import html as plan_html

        render.write_page(html, plan_html.render(result))
    if as_json:
        render.print_json(result.as_dict())
        return
    show(result)


def show(result: Plan) -> None:
    """The plan for people: the waterfall, the table of steps, the changes in rank order."""
    render.out.print(waterfall(result), markup=False)
    render.show([_sheet(result)], "table")
    if result.first:
        render.out.print(render.printable(result.first), markup=False, soft_wrap=True)
    by_lever = {s.lever: s for s in result.steps}
    number = _numbers(result)
    for lever in result.ranking:
        s = by_lever[lever]
        head = f"{number[lever]}. {lever}: {s.action}" if lever in number else (
            f"-  {lever} (skipped): {'; '.join(s.notes)} — to enable: {s.action}"
        )  # fmt: skip
        render.out.print(render.printable(head), markup=False, soft_wrap=True)
        for note in s.notes if s.status == "applied" else []:
            render.out.print(render.printable(f"     {note}"), markup=False, soft_wrap=True)
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
        standalone = s.standalone_saved_usd
        risk = "—" if s.risk is None else f"{s.risk.measure}: {s.risk.value}"
        if s.risk and s.risk.estimated_share:
            risk += f"; {s.risk.estimated_share:.0%} estimated"
        applied = s.status == "applied"
        rows.append([
            str(_numbers(result).get(s.lever, "—")),
            s.lever if applied else f"{s.lever} (skipped)",
            render.money(s.saved_usd, 2),
            "—" if standalone is None else render.money(standalone, 2),
            f"{s.share_of_spend:.1%}", render.money(s.monthly_saved_usd, 2), risk,
        ])  # fmt: skip
    title = (
        f"Plan over {result.requests:,} requests ({result.days:,.1f} days): "
        f"{render.money(result.logged_usd, 2)} logged → {render.money(result.after_usd, 2)}"
    )
    columns = ["rank", "lever", "stacked", "standalone", "of spend", "a month", "risk"]
    return Sheet(title, columns, rows, right=None)


def _numbers(result: Plan) -> dict[str, int]:
    """The rank of each applied lever (skipped ones have none)."""
    applied = {s.lever for s in result.steps if s.status == "applied"}
    return {lever: k + 1 for k, lever in enumerate(x for x in result.ranking if x in applied)}
