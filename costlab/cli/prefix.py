"""`costlab simulate-prefix-cache`: provider prefix caching and batch prices on the logs."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import typer

from costlab import prices
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.errors import BadInput
from costlab.prefix import report
from costlab.scope import from_flags
from costlab.settings import Settings
from costlab.store import Store

app = typer.Typer()


@app.command("simulate-prefix-cache")
def simulate_prefix_cache(
    ctx: typer.Context,
    rules: str = typer.Option(
        "auto", "--rules", help="auto (each provider's own), openai or anthropic for all traffic."
    ),
    rule: list[str] = typer.Option(
        [], "--rule", help="Override a rule field, e.g. openai.idle_expiry_s=600 (repeatable)."
    ),
    encoding: str = typer.Option(
        "auto",
        "--encoding",
        help="Tokenizer: auto (each model's own, cl100k_base as an estimate for the rest), "
        "cl100k_base or o200k_base.",
    ),
    batch_feature: list[str] = typer.Option(
        [], "--batch-feature", help="A feature that may go through a batch API (repeatable)."
    ),
    top: int = typer.Option(10, "--top", min=0, help="Templates and reorders to list (0: all)."),
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML page."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """What provider-side prefix caching and batch pricing would have saved on the logged traffic.

    Prompts are tokenized in the order providers read them (system, tools, messages) and the
    requests are replayed in time order under each provider's caching rule: OpenAI's automatic
    prefix cache, Anthropic's breakpoints (the best breakpoint and TTL per template). Features
    in [batch] of the config, or named by --batch-feature, are re-priced at batch rates.

    Examples:

      costlab simulate-prefix-cache

      costlab simulate-prefix-cache --rules anthropic --rule anthropic.ttl_5m_s=240 --json

      costlab simulate-prefix-cache --batch-feature nightly-summary --html prefix.html
    """
    settings: Settings = ctx.obj["settings"]
    if rules not in ("auto", "openai", "anthropic"):
        raise BadInput(f"--rules {rules}: unknown", "use auto, openai or anthropic")
    eligible = settings.batch.eligible()
    eligible.update({f: "--batch-feature" for f in batch_feature if f not in eligible})
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    with Store.open(ctx.obj["db"], create=False) as store:
        options = report.PrefixOptions(
            scope=from_flags(store, since, until, where),
            rules=rules,  # type: ignore[arg-type]
            overrides=tuple(rule),
            encoding=encoding,
            batch_features=eligible,
            top=top,
        )
        with render.ProgressBars(as_json, units="steps") as bars:
            result = report.run(store, options, catalogue, bars.update)
    if html is not None:
        from costlab.prefix import html as prefix_html

        render.write_page(html, prefix_html.render(result))
    if as_json:
        shown = dataclasses.asdict(result)
        del shown["template_count"]  # for `costlab plan`, which lists no templates
        render.print_json(shown)
        return
    render.show(sheets(result), "table")
    for warning in result.warnings:
        render.out.print(render.printable(f"⚠ {warning}"), markup=False)
    for note in result.notes:
        render.out.print(render.printable(note), markup=False)


def sheets(r: report.PrefixReport) -> list[Sheet]:
    """The result as tables: features, templates, reorders, batch."""
    t = r.total
    out = [
        Sheet(
            f"Prefix caching over {r.requests:,} requests ({r.replayed:,} replayed): "
            f"{render.money(t.logged_usd, 2)} logged, {render.money(t.with_cache_usd, 2)} with "
            f"prefix caching, {render.money(t.saved_usd, 2)} saved "
            f"({_share(t.saved_usd, t.logged_usd)})",
            [
                "feature",
                "requests",
                "logged",
                "with caching",
                "saved",
                "cached now",
                "possible",
                "batch saves",
            ],  # fmt: skip
            [
                [
                    f.feature,
                    render.count(f.spend.requests),
                    render.money(f.spend.logged_usd),
                    render.money(f.spend.with_cache_usd),
                    render.money(f.spend.saved_usd),
                    render.count(f.spend.logged_cached_tokens),
                    render.count(f.spend.possible_cached_tokens),
                    "—" if f.batch_reason is None else render.money(f.batch_saved_usd),
                ]
                for f in r.features
            ],
            right=1,
        ),
        Sheet(
            "Templates (model + first segment): the breakpoint and TTL chosen, and what it saves",
            ["model", "rule", "breakpoint", "requests", "prefix", "saved", "template"],
            [
                [
                    x.model,
                    x.rule,
                    x.breakpoint + (f" ({x.ttl})" if x.ttl else ""),
                    render.count(x.spend.requests),
                    render.count(x.prefix_tokens),
                    render.money(x.spend.saved_usd),
                    f"{x.feature}: {x.head}",
                ]
                for x in r.templates
            ],
            right=None,
        ),
    ]
    ttl = [x for x in r.templates if x.input_cost_5m_usd is not None]
    if ttl:
        out.append(
            Sheet(
                "TTL per breakpoint template: input cost with each, and inter-arrival gaps "
                "(1h pays when gaps of 5-60m outnumber gaps over 1h by more than the break-even)",
                [
                    "5m TTL",
                    "1h TTL",
                    "gaps ≤5m",
                    "5-60m",
                    ">60m",
                    "break-even",
                    "chosen",
                    "template",
                ],
                [_ttl(x) for x in ttl],
            )
        )
    if r.reorders:
        out.append(
            Sheet(
                "Reorder opportunities: a static part after a variable one (move it first)",
                [
                    "feature",
                    "model",
                    "requests",
                    "variable",
                    "static after it",
                    "cacheable",
                    "saves up to",
                    "static part starts",
                ],  # fmt: skip
                [
                    [
                        x.feature,
                        x.model,
                        render.count(x.requests),
                        render.count(x.variable_tokens),
                        render.count(x.static_tokens),
                        render.count(x.cacheable_tokens),
                        render.money(x.saved_usd),
                        x.static_head,
                    ]
                    for x in r.reorders
                ],
                right=None,
            )
        )
    if r.batch:
        out.append(
            Sheet(
                "Batch eligibility: the same calls at batch rates",
                ["feature", "why", "requests", "cost now", "at batch rates", "saved"],
                [
                    [
                        b.feature,
                        b.reason
                        + (
                            f"; {b.no_batch_price:,} without batch price"
                            if b.no_batch_price
                            else ""
                        ),
                        render.count(b.requests),
                        render.money(b.cost_usd),
                        render.money(b.batch_usd),
                        render.money(b.saved_usd),
                    ]
                    for b in r.batch
                ],
                right=2,
            )
        )
    return out


def _ttl(t: report.TemplateRow) -> list[str]:
    return [
        render.money(t.input_cost_5m_usd),
        render.money(t.input_cost_1h_usd),
        *(render.count(n) for n in t.gaps),
        "—" if t.break_even is None else f"{t.break_even:.2f}",
        t.ttl or "none",
        f"{t.feature}: {t.head}",
    ]


def _share(part: Decimal, whole: Decimal) -> str:
    return f"{float(part / whole):.1%}" if whole else "—"
