"""`costlab ingest`: load logs into the store and print what happened."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import typer
from rich.markup import escape
from rich.text import Text

from costlab import ingest as library
from costlab import postgres, prices
from costlab.cli import render
from costlab.errors import BadInput, CostlabError, GateFailed, NothingLoaded
from costlab.formats import FORMATS
from costlab.ingest import parquet, sources
from costlab.settings import MAX_TOKENS_CEILING, Settings
from costlab.store import Store

app = typer.Typer()


@app.command()
def ingest(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        ..., help="Files, directories, globs, - for stdin, or postgresql:// URLs."
    ),
    log_format: str | None = typer.Option(
        None, "--format", help=f"Skip detection and read every record as: {', '.join(FORMATS)}."
    ),
    field_map: list[str] = typer.Option(
        [], "--map", help="Where a field lives, e.g. feature=metadata.app_feature (repeatable)."
    ),
    force: bool = typer.Option(False, "--force", help="Read files already ingested again."),
    strict: bool = typer.Option(
        False, "--strict", help="Store nothing of a file with any bad record, and exit 1."
    ),
    redact: bool = typer.Option(
        False, "--redact", help="Mask emails, phones, API keys and card numbers before storing."
    ),
    no_text: bool = typer.Option(
        False, "--no-text", help="Store hashes and token counts only, no prompt or response text."
    ),
    max_tokens: int | None = typer.Option(
        None,
        "--max-tokens",
        min=1,
        max=MAX_TOKENS_CEILING,
        help="Reject a record with a token count above this [default: ingest.max_tokens, 1e8].",
    ),
    table: str = typer.Option(
        postgres.DEFAULT_TABLE, "--table", help="The spend-log table of a postgresql:// URL."
    ),
    full: bool = typer.Option(
        False, "--full", help="Read a database table whole again, not only its new rows."
    ),
    overlap_minutes: int = typer.Option(
        60, "--overlap-minutes", min=0, help="Re-read this much before the last watermark."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Load LLM request logs (JSONL, JSON, .gz, .zst; formats detected per record).

    Also reads a Parquet dataset written by `costlab export` (a folder with manifest.json: every
    row as it was, in one transaction), Parquet files of the flat shape, and a LiteLLM proxy's
    PostgreSQL database (its new spend-log rows since the last run; docs/postgres.md).

    Example: costlab ingest logs/ 'archive/*.jsonl.gz' --map feature=metadata.app_feature

    Example: costlab ingest postgresql://costlab_reader@db.internal/litellm
    """
    settings: Settings = ctx.obj["settings"]
    options = library.IngestOptions(
        format=_format(log_format),
        force=force,
        strict=strict,
        redact=redact or settings.ingest.redact,
        no_text=no_text or settings.ingest.no_text,
        field_map={**settings.ingest.map, **_parse_map(field_map)},
        max_tokens=max_tokens or settings.ingest.max_tokens,
    )
    databases = [
        postgres.DatabaseSource(p, table, full, timedelta(minutes=overlap_minutes))
        for p in paths
        if postgres.is_url(p)
    ]
    split = parquet.split([p for p in paths if not postgres.is_url(p)])  # Parquet, or logs
    _check_dataset_flags(split, bool(log_format or field_map or redact or no_text))
    inputs = sources.expand(split.logs) if split.logs else []
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    with (
        parquet.flat_sources(split.parquet_files) as flat,
        Store.open(ctx.obj["db"]) as store,
        render.ProgressBars(as_json) as bars,
    ):
        result = library.ingest(store, inputs + flat, options, catalogue, bars.update)
        result.files += [parquet.load(store, d, result.run_id, force) for d in split.datasets]
        with render.ProgressBars(as_json, units="rows") as rows:
            result.files += [
                postgres.ingest(store, d, options, catalogue, result.run_id, rows.update)
                for d in databases
            ]
    failure = _failure(result, strict)
    if as_json:
        render.print_json(_as_dict(result) | render.error_json(failure))
        if failure is not None:
            raise typer.Exit(failure.exit_code)
    else:
        _print_summary(result)
    if failure is not None:
        raise failure


def _failure(result: library.IngestResult, strict: bool) -> CostlabError | None:
    """Exit 1 when --strict rolled files back, 3 when every record read was bad."""
    rejected = result.total("rejected")
    if strict and rejected:
        return GateFailed(
            f"--strict: {rejected:,} bad records; the files that held them were not stored",
            "costlab rejects lists them",
        )
    if result.all_bad:
        return NothingLoaded(
            f"nothing added: all {rejected:,} records or files read were bad",
            "costlab rejects lists the reasons",
        )
    return None


def _check_dataset_flags(split: parquet.Inputs, flagged: bool) -> None:
    if split.datasets and flagged:
        raise BadInput(
            f"{split.datasets[0]}: --format, --map, --redact and --no-text do not apply to a "
            "costlab dataset (its rows are stored as exported)",
            "ingest the dataset without them",
        )


def _format(name: str | None) -> str | None:
    if name is not None and name not in FORMATS:
        raise BadInput(f"--format {name}: unknown format", f"known formats: {', '.join(FORMATS)}")
    return name


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        target, sep, path = item.partition("=")
        if not sep or not target or not path:
            raise BadInput(
                f"--map {item}: expected FIELD=PATH", "e.g. --map feature=metadata.app_feature"
            )
        mapping[target.strip()] = path.strip()
    return mapping


def _as_dict(result: library.IngestResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "db": result.db,
        "files": [asdict(f) for f in result.files],
        "totals": {
            name: result.total(name)
            for name in (
                "records_read",
                "added",
                "duplicate",
                "conflicting",
                "rejected",
                "flagged",
                "no_timestamp",
                "mismatched_cost",
            )
        }
        | {"spend_usd": result.spend_usd, "unknown_models": result.unknown_models()},
    }


def _print_summary(result: library.IngestResult) -> None:
    names = _short_names([f.source for f in result.files])
    rows: list[list[str | Text]] = [
        [
            names[f.source],
            f.status,
            render.count(f.records_read),
            render.count(f.added),
            render.count(f.duplicate),
            render.count(f.rejected),
            render.count(f.flagged),
            render.money(f.spend_usd),
        ]
        for f in result.files
    ]
    rows.append(
        [
            Text("total", style="bold"),
            "",
            *(
                render.count(result.total(n))
                for n in ("records_read", "added", "duplicate", "rejected", "flagged")
            ),
            Text(render.money(result.spend_usd), style="bold"),
        ]
    )
    columns = ["file", "status", "read", "added", "duplicate", "rejected", "flagged", "spend"]
    render.out.print(render.table(f"Ingested into {result.db}", columns, rows, right=2))
    for line in _notes(result):
        render.out.print(line, soft_wrap=True)


def _short_names(sources: list[str]) -> dict[str, str]:
    """File names relative to the folder they share, so the table stays narrow."""
    files = [s for s in sources if not s.startswith("<") and "://" not in s]  # a URL: as is
    paths = [os.path.abspath(s) for s in files]
    common = (
        os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0]) if paths else ""
    )
    return {
        s: os.path.relpath(os.path.abspath(s), common) if s in files and common else s
        for s in sources
    }


def _notes(result: library.IngestResult) -> list[str]:
    notes = []
    skipped = [f.source for f in result.files if f.status == "skipped"]
    if skipped:
        notes.append(
            f"skipped {len(skipped)} file(s) already ingested (same sha256, or nothing "
            "appended); --force reads them again"
        )
    resumed = [f for f in result.files if f.resumed_at and f.status != "skipped"]
    for f in resumed[:5]:
        notes.append(escape(f"{f.source}: appended lines only, from byte {f.resumed_at:,}"))
    rejected = result.total("rejected")
    if rejected:
        notes.append(
            f"[yellow]{rejected:,} bad records[/] kept in the rejects table; list them: "
            + escape(f"costlab --db {result.db} rejects --run {result.run_id}")
        )
        for f in result.files:
            for line, reason in f.reject_examples[:3]:
                where = f"{f.source}:{line}" if line else f.source
                notes.append(escape(render.printable(f"  {where}: {reason}")))
    notes += _conflict_notes(result)
    unknown = result.unknown_models()
    if unknown:
        listed = ", ".join(f"{m} ({n:,})" for m, n in list(unknown.items())[:8])
        listed = escape(render.printable(listed))
        notes.append(
            f"[yellow]unknown models[/], cost NULL unless logged: {listed}; add a price "
            + escape("in costlab.toml ([[prices]]) or run costlab prices import")
        )
    if result.total("mismatched_cost"):
        notes.append(
            f"{result.total('mismatched_cost'):,} requests have a logged cost that disagrees with "
            "the catalogue price (>1%); see price_note in requests"
        )
    flags: dict[str, int] = {}
    for f in result.files:
        for flag, n in f.flags.items():
            flags[flag] = flags.get(flag, 0) + n
    if flags:
        notes.append("flagged: " + ", ".join(f"{flag} {n:,}" for flag, n in sorted(flags.items())))
    return notes


def _conflict_notes(result: library.IngestResult) -> list[str]:
    conflicting = result.total("conflicting")
    if not conflicting:
        return []
    notes = [
        f"[yellow]{conflicting:,} conflicting duplicates[/] (a request id already kept, with "
        "other content) were not stored; they are kept in the conflicts table"
    ]
    for f in result.files:
        for line, request_id, kept in f.conflict_examples[:3]:
            text = f"  {f.source}:{line}: {request_id} differs from the one kept from {kept}"
            notes.append(escape(render.printable(text)))
    return notes
