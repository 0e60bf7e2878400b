"""`costlab tokens check | update`: a CI gate on prompt-template token counts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from costlab import settings as config
from costlab import tokens
from costlab.cli import tokens_report
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.errors import BadInput, GateFailed
from costlab.tokens.policy import Increase, Rule

app = typer.Typer(
    help="Count the tokens of prompt templates and gate them against a committed baseline.\n\n"
    "Example: costlab tokens update && git add costlab-tokens.json",
    no_args_is_help=True,
)


class Format(StrEnum):
    table = "table"
    github = "github"
    json = "json"
    markdown = "markdown"


Paths = Annotated[
    list[str] | None,
    typer.Argument(help="Template files, folders or globs [default: paths of [tokens]]."),
]
BaselineFlag = Annotated[
    Path | None, typer.Option("--baseline", help="Baseline file [default: costlab-tokens.json].")
]
VarsFlag = Annotated[
    Path | None, typer.Option("--vars", help="Fixture values to render templates with (JSON).")
]
EncodingFlag = Annotated[
    str | None, typer.Option("--encoding", help="cl100k_base or o200k_base, for every template.")
]
AllowEmptyFlag = Annotated[
    bool,
    typer.Option("--allow-empty", help="Let a path or glob match no template (else exit 2)."),
]
ModelFlag = Annotated[
    str | None, typer.Option("--model", help="Target model: its encoding and input price.")
]


@app.command("check")
def check(
    ctx: typer.Context,
    paths: Paths = None,
    baseline: BaselineFlag = None,
    max_increase: Annotated[
        str | None, typer.Option("--max-increase", help="Allowed growth: '10%' or tokens ('50').")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=0, help="Budget: tokens per template.")
    ] = None,
    max_usd_per_call: Annotated[
        str | None, typer.Option("--max-usd-per-call", help="Budget: input $ per call at --model.")
    ] = None,
    encoding: EncodingFlag = None,
    model: ModelFlag = None,
    fixtures: VarsFlag = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Weight growth by this store's logged traffic.")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="How to print the report.")] = (
        Format.table
    ),
    show_all: Annotated[bool, typer.Option("--all", help="List unchanged templates too.")] = False,
    allow_empty: AllowEmptyFlag = False,
) -> None:
    """Fail (exit 1) when a template grew past --max-increase or is over its budget.

    Example: costlab tokens check 'prompts/**/*.txt' --max-increase 10% --format github
    """
    flags = Rule(
        encoding=encoding,
        model=model,
        max_increase=_increase(max_increase),
        max_tokens=max_tokens,
        max_usd_per_call=_usd(max_usd_per_call),
    )
    options = _options(ctx, paths, baseline, fixtures, flags, _traffic_db(ctx, db))
    report = tokens.check(replace(options, allow_empty=allow_empty))
    tokens_report.show(report, output.value, show_all=show_all)
    failed = report.with_verdict("fail")
    if failed:
        raise GateFailed(
            f"{len(failed)} prompt template(s) over their token limits",
            f"if the growth is intended, run `costlab tokens update` and commit {report.baseline}",
        )


@app.command("update")
def update(
    ctx: typer.Context,
    paths: Paths = None,
    baseline: BaselineFlag = None,
    encoding: EncodingFlag = None,
    model: ModelFlag = None,
    fixtures: VarsFlag = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
    allow_empty: AllowEmptyFlag = False,
) -> None:
    """Write the baseline from the templates as they are now (sorted, stable JSON).

    Example: costlab tokens update 'prompts/**/*.txt' && git add costlab-tokens.json
    """
    flags = Rule(encoding=encoding, model=model)
    options = _options(ctx, paths, baseline, fixtures, flags, None)
    report = tokens.update(replace(options, allow_empty=allow_empty))
    tokens_report.show_update(report, as_json)


@app.command("calibrate")
def calibrate(
    ctx: typer.Context,
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    sample: Annotated[
        int, typer.Option("--sample", min=1, help="Requests compared per model, at most.")
    ] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check token counts against the input tokens providers billed, per model.

    OpenAI models must show 0 error on text-only chat requests; for Claude, Gemini and others
    it measures their tokens per cl100k token on your traffic, which route-replay then uses.

    Example: costlab tokens calibrate --since 2026-11-01 --where "provider = 'anthropic'"
    """
    from costlab import calibration
    from costlab.cli import calibration_sheets
    from costlab.scope import from_flags
    from costlab.store import Store

    with Store.open(ctx.obj["db"]) as store:
        scope = from_flags(store, since, until, where)
        result = calibration.calibrate(store, scope, sample)
    calibration_sheets.show(result, as_json)


def _options(
    ctx: typer.Context,
    paths: list[str] | None,
    baseline: Path | None,
    fixtures: Path | None,
    flags: Rule,
    db: str | None,
) -> tokens.Options:
    loaded: config.Settings = ctx.obj["settings"]
    section = loaded.tokens
    vars_file = fixtures or (Path(section.vars) if section.vars else None)
    return tokens.Options(
        patterns=tuple(paths or section.paths),
        baseline=baseline or Path(section.baseline),
        policy=section.policy().with_flags(flags),
        fixtures=vars_file,
        db=db,
        template_keys=tuple(section.template_keys),
        price_overrides=tuple(loaded.price_overrides()),
    )


def _traffic_db(ctx: typer.Context, flag: str | None) -> str | None:
    """The store of this --db or the global one; only a flag asks for traffic, not $COSTLAB_DB."""
    named = flag or ctx.find_root().params.get("db")
    return str(named) if named else None


def _increase(text: str | None) -> Increase | None:
    try:
        return None if text is None else Increase.parse(text)
    except ValueError as err:
        raise BadInput(f"--max-increase: {err}", "e.g. --max-increase 10% or 50") from None


def _usd(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        amount = Decimal(text.lstrip("$"))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise BadInput(f"--max-usd-per-call {text}: not an amount of dollars", "e.g. 0.01")
    return amount
