"""The token gate's report as a table, GitHub annotations, JSON or markdown."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from typing import Any

from rich.text import Text

from costlab.cli import render
from costlab.cli.render import Sheet
from costlab.tokens import Report
from costlab.tokens.gate import Row

_STYLE = {"fail": "bold red", "warn": "yellow"}
_MARK = {"fail": "✗ fail", "warn": "! warn", "pass": "ok"}
_TITLE = "costlab tokens"


def show(report: Report, fmt: str, *, show_all: bool = False) -> None:
    """Print the report in one format; `github` also appends it to $GITHUB_STEP_SUMMARY."""
    if fmt == "json":
        render.print_json(as_json(report))
    elif fmt == "markdown":
        sys.stdout.write(markdown(report, show_all=show_all))
    elif fmt == "github":
        for line in github_annotations(report):
            sys.stdout.write(line + "\n")
        sys.stdout.write(summary(report) + "\n")
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as out:
                out.write(markdown(report, show_all=show_all) + "\n")
    else:
        _table(report, show_all)


def show_update(report: Report, as_json: bool) -> None:
    """What `tokens update` wrote."""
    if as_json:
        render.print_json(as_json_update(report))
        return
    rows = [r for r in report.rows if r.status != "unchanged"]
    if rows:
        render.show([_sheet(report, rows, "Changes written to the baseline")], "table")
    present = len(report.rows) - len(report.with_status("removed"))
    if report.replaced_unreadable:
        render.out.print(f"replaced the unreadable baseline {report.baseline}", markup=False)
    render.out.print(
        f"wrote {report.baseline}: {present:,} templates ({_counts(report)})", markup=False
    )


def summary(report: Report) -> str:
    """One line: how many templates, and how many of each kind."""
    present = len(report.rows) - len(report.with_status("removed"))
    line = f"{_TITLE}: {present:,} templates against {report.baseline} ({_counts(report)})"
    if report.basis is not None:
        line += f"; traffic: {report.basis.describe()}"
    return line


def _counts(report: Report) -> str:
    parts = [
        (len(report.with_verdict("fail")), "over the limit"),
        (len(report.with_verdict("warn")), "near the limit"),
        (len(report.with_status("grown")), "grown"),
        (len(report.with_status("shrunk")), "shrunk"),
        (len(report.with_status("new")), "new"),
        (len(report.with_status("removed")), "removed"),
        (len(report.with_status("unchanged")), "unchanged"),
    ]
    return ", ".join(f"{n:,} {what}" for n, what in parts if n) or "none"


def github_annotations(report: Report) -> list[str]:
    """GitHub workflow commands: an error per failing template, a warning near a limit."""
    lines = []
    for row in report.rows:
        if row.verdict == "pass" and row.status not in ("new", "removed"):
            continue
        level = {"fail": "error", "warn": "warning"}.get(row.verdict, "notice")
        message = f"{row.id}: {'; '.join(row.reasons)}"
        if row.delta_usd_per_month:
            message += f" ({_signed_money(row.delta_usd_per_month)}/month at logged traffic)"
        where = "" if row.status == "removed" else f"file={_property(row.id)},line=1,"
        lines.append(f"::{level} {where}title={_property(_TITLE)}::{_data(message)}")
    return lines


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def markdown(report: Report, *, show_all: bool = False) -> str:
    """A pull-request comment: the verdict, then the templates that changed or need attention."""
    failed = len(report.with_verdict("fail"))
    head = f"{failed} template(s) over the limit" if failed else "all templates within limits"
    rows = _listed(report, show_all)
    text = f"## {_TITLE}: {head}\n\n{summary(report)}\n\n"
    if rows:
        text += render.markdown(_sheet(report, rows, "Templates"))
    return text


def _table(report: Report, show_all: bool) -> None:
    rows = _listed(report, show_all)
    if rows:
        sheet = _sheet(report, rows, f"Prompt tokens against {report.baseline}")
        marked = {4, 5, len(sheet.columns) - 2}  # Δ tokens, Δ %, verdict
        # One encoding in all rows: its column only takes room from the reasons.
        keep = [
            i for i in range(len(sheet.columns)) if i != 1 or len({r.encoding for r in rows}) > 1
        ]
        cells = [
            [Text(line[i], style=_style(r)) if i in marked else line[i] for i in keep]
            for r, line in zip(rows, sheet.rows, strict=True)
        ]
        render.out.print(render.table(sheet.title, [sheet.columns[i] for i in keep], cells))
        render.out.print()
    for row in report.rows:  # the reasons in full: the table cuts long text
        if row.verdict != "pass":
            line = Text(f"{_MARK[row.verdict]} {row.id}: {'; '.join(row.reasons)}")
            line.stylize(_style(row), 0, len(_MARK[row.verdict]))
            render.out.print(line)
    render.out.print(summary(report), markup=False)


def _style(row: Row) -> str:
    """Growth red when it fails, yellow near a limit; shrinking green."""
    if row.verdict != "pass":
        return _STYLE[row.verdict]
    return "green" if row.status == "shrunk" else ""


def _listed(report: Report, show_all: bool) -> list[Row]:
    return [r for r in report.rows if show_all or r.status != "unchanged" or r.verdict != "pass"]


def _sheet(report: Report, rows: list[Row], title: str) -> Sheet:
    traffic = report.basis is not None
    columns = ["template", "encoding", "baseline", "now", "Δ tokens", "Δ %"]
    columns += ["calls/month", "Δ $/month"] if traffic else []
    columns += ["verdict", "why"]
    lines = []
    for r in rows:
        line = [r.id, r.encoding, _count(r.baseline_tokens), _count(r.tokens)]
        line += [f"{r.delta:+,}" if r.status != "new" else "", _percent(r.delta_percent)]
        if traffic:
            calls = r.usage.monthly_calls if r.usage else None
            line += [_count(None if calls is None else round(calls)), _delta_money(r)]
        line += [_MARK[r.verdict], "; ".join(r.reasons)]
        lines.append(line)
    return Sheet(title, columns, lines, right=None)


def _count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def _delta_money(row: Row) -> str:
    value = row.delta_usd_per_month
    return "—" if value is None else _signed_money(value)


def _signed_money(value: Decimal) -> str:
    return ("+" if value >= 0 else "-") + render.money(abs(value), 2)


def as_json(report: Report) -> dict[str, Any]:
    """Every template, with its counts, verdict, reasons and traffic figures."""
    return {
        "baseline": str(report.baseline),
        "passed": not report.with_verdict("fail"),
        "traffic_basis": None if report.basis is None else report.basis.describe(),
        "templates": [_row_json(r) for r in report.rows],
    }


def as_json_update(report: Report) -> dict[str, Any]:
    return {
        "baseline": str(report.baseline),
        "replaced_unreadable": report.replaced_unreadable,
        "templates": [_row_json(r) for r in report.rows],
    }


def _row_json(r: Row) -> dict[str, Any]:
    return {
        "id": r.id,
        "encoding": r.encoding,
        "baseline_tokens": r.baseline_tokens,
        "tokens": r.tokens,
        "delta_tokens": r.delta,
        "delta_percent": None if r.delta_percent is None else round(r.delta_percent, 2),
        "status": r.status,
        "verdict": r.verdict,
        "reasons": list(r.reasons),
        "usd_per_call": r.usd_per_call,
        "monthly_calls": None if r.usage is None else r.usage.monthly_calls,
        "delta_usd_per_month": r.delta_usd_per_month,
    }
