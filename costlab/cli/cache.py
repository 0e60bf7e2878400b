"""`costlab simulate-cache`: what a semantic cache would have saved, threshold by threshold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from costlab.cache import fidelity, savings, thresholds
from costlab.cache.intents import Health
from costlab.cli import render
from costlab.cli.flags import SinceFlag, UntilFlag, WhereFlag
from costlab.cli.render import Sheet
from costlab.distributed.engines import EngineChoice, opened
from costlab.scope import from_flags
from costlab.store import Store

app = typer.Typer()


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
        "auto",
        "--embedder",
        help="auto (MiniLM up to 5,000 texts, else minilm-tuned, made on first use), minilm, "
        "minilm-int8, paraphrase-l3, minilm-static, minilm-tuned, or a model folder.",
    ),
    min_precision: float = typer.Option(
        savings.DEFAULT_MIN_PRECISION,
        "--min-precision",
        help="Recommend the best threshold at this.",
    ),
    since: SinceFlag = None,
    until: UntilFlag = None,
    where: WhereFlag = None,
    intents: int = typer.Option(
        10, "--intents", min=0, help="How many recurring intents to list (0: none)."
    ),
    save_intents: bool = typer.Option(
        True,
        "--save-intents/--no-save-intents",
        help="Store each request's intent for route-replay rules (intent, intent_size).",
    ),
    neighbours: str = typer.Option(
        "auto",
        "--neighbours",
        help=f"How neighbours are found: exact, approx (an index), or auto (exact up to "
        f"{savings.EXACT_UP_TO:,} distinct texts).",
    ),
    check_sample: int = typer.Option(
        fidelity.SAMPLE,
        "--check-sample",
        min=1,
        help="Random texts an approximate run checks exactly to measure its own error.",
    ),
    guard: bool = typer.Option(
        savings.DEFAULT_GUARD,
        "--guard/--no-guard",
        help="Refuse hits whose texts disagree on numbers, names, negation or opposite words.",
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML page with the charts."
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="Where embedding and neighbour search run: local, or ray (pip install "
        "'costlab[ray]'). The results are the same.",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="A Ray cluster (HOST:6379); default: a local instance."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Ray workers (default: every CPU of the cluster)."
    ),
    device: str = typer.Option("cpu", "--device", help="Where the embedder runs: cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay the logged traffic through a semantic cache: hits, $ saved, hit precision.

    Requests are replayed in time order; a hit serves the most similar live entry of its scope
    at or above the threshold. Each distinct text is embedded once, ever, and the similarity
    index is kept in the store, so a re-run with other thresholds, TTL, scope or capacity
    skips both. Each request's recurring intent at the recommended threshold (else the
    highest) is kept in the store, for route-replay rules over `intent` and `intent_size`.
    The false-hit guard (on by default) refuses a hit whose request and entry disagree on
    numbers, names, negation or opposite words; refused hits are paid, and the table shows
    precision with and without it.

    Examples:

      costlab simulate-cache --sweep 0.80:0.99:0.01 --label metadata.intent

      costlab simulate-cache --threshold 0.92 --scope model,feature --ttl 24h --max-entries 10000

      costlab simulate-cache --sweep 0.85:0.97:0.02 --embedder minilm-static --html cache.html

      costlab simulate-cache --sweep 0.80:0.99:0.01 --neighbours approx --check-sample 2000

      costlab simulate-cache --threshold 0.92 --no-guard --label metadata.intent
      costlab simulate-cache --sweep 0.80:0.99:0.01 --engine ray --ray-address 10.0.0.1:6379
    """
    choice = EngineChoice(engine, ray_address, workers, device)
    with Store.open(ctx.obj["db"], create=False) as store, opened(choice) as runner:
        options = savings.CacheOptions(
            thresholds=thresholds.given(threshold, sweep),
            scope=from_flags(store, since, until, where),
            key=key,
            normalize=normalize,
            cache_scope=tuple(c.strip() for c in scope.split(",") if c.strip()),
            ttl_s=thresholds.ttl_s(ttl),
            max_entries=max_entries,
            label=label,
            embedder=embedder,
            min_precision=min_precision,
            intents=intents,
            save_intents=save_intents,
            neighbours=neighbours,
            check_sample=check_sample,
            guard=guard,
        )
        with render.ProgressBars(as_json, units="texts") as bars:
            result = savings.run(store, options, bars.update, runner)
    if html is not None:
        from costlab.cache import html as cache_html

        render.write_page(html, cache_html.render(result))
    if as_json:
        render.print_json(dataclasses.asdict(result))
        return
    render.show([_sheet(result)], "table")
    render.out.print(f"embedder: {result.embedder} ({result.embedder_reason})", markup=False)
    render.out.print(_index_line(result), markup=False)
    if result.engine != "local":
        render.out.print(f"engine: {result.engine}", markup=False)
    spent = ", ".join(f"{stage} {seconds:,.1f} s" for stage, seconds in result.stages_s.items())
    render.out.print(f"time: {spent}", markup=False)
    render.out.print(_verdict(result), markup=False)
    render.out.print(_curves(result), markup=False)
    render.out.print()
    render.show([_health(result.health)], "table")
    for alert in result.health.alerts:
        render.out.print(f"⚠ {alert}", markup=False)
    if result.intents:
        render.show([_intents(result)], "table")
    for note in result.notes:
        render.out.print(note, markup=False)


def _sheet(result: savings.CacheReport) -> Sheet:
    check = result.approximation
    deviation = {t.threshold: t.deviation for t in check.thresholds} if check else {}
    rows = []
    for r in result.thresholds:
        mark = " ◀" if r.threshold == result.recommended_threshold else ""
        precision = _percent(r.precision, r.precision_estimated)
        other = r.precision_unguarded if result.guard else r.precision_guarded
        age = "—" if r.reuse_age_p50_s is None else f"{r.reuse_age_p50_s / 3600:.1f}h"
        extra = [f"{deviation[r.threshold]:+.2%}"] if deviation else []
        rows.append(
            [
                f"{r.threshold:.2f}{mark}",
                render.count(r.hits),
                f"{r.hit_rate:.1%}",
                render.bar(r.hit_rate, 10),
                render.money(r.saved_usd),
                render.count(r.saved_tokens),
                render.count(r.guard_refused),
                precision,
                _percent(other, r.precision_estimated),
                age,
                *extra,
            ]
        )
    title = (
        f"Semantic cache over {result.requests:,} requests "
        f"({result.distinct_keys:,} distinct keys, {result.embedder}); "
        f"precision {result.precision_method}; "
        + (
            "false-hit guard on: refused hits are paid"
            if result.guard
            else "false-hit guard off: 'refused' and 'guarded' show what it would do"
        )
    )
    columns = [
        "threshold",
        "hits",
        "hit rate",
        "",
        "saved",
        "tokens saved",
        "refused",
        "precision",
        "unguarded" if result.guard else "guarded",
        "age P50",
    ]
    return Sheet(title, columns + (["±exact"] if deviation else []), rows)


def _percent(value: float | None, estimated: bool) -> str:
    return "—" if value is None else f"{value:.1%}" + ("~" if estimated else "")


def _verdict(result: savings.CacheReport) -> str:
    """Which threshold is recommended, or that none is and the best there was; what was left
    out of precision and why a value is missing."""
    lines = []
    if result.recommended_threshold is not None:
        lines.append(
            f"recommended: {result.recommended_threshold:.2f} (the most saved at precision "
            f"{result.min_precision:.0%} or better, ◀)"
        )
    elif result.best_threshold is not None:
        lines.append(
            f"no threshold reaches --min-precision {result.min_precision:.0%}: the best is "
            f"{result.best_threshold:.2f} at {result.best_precision:.1%}"
        )
    else:
        lines.append("no threshold recommended: no precision could be measured")
    if result.unlabelled_requests:
        unjudged = max((r.unjudged_hits for r in result.thresholds), default=0)
        lines.append(
            f"{result.unlabelled_requests:,} requests carry no label: their hits (up to "
            f"{unjudged:,} a threshold) are left out of precision"
        )
    reasons = {r.precision_unavailable for r in result.thresholds if r.precision_unavailable}
    lines += [f"precision not shown where: {why}" for why in sorted(reasons - {"no hits"})]
    return "\n".join(lines)


def _index_line(result: savings.CacheReport) -> str:
    """How the neighbours were found and, when approximately, how far that moves the hits."""
    i, check = result.index, result.approximation
    where = "read from the store" if i.reused else "built"
    if i.new_keys:
        where += f", {i.new_keys:,} new texts added"
    line = f"neighbours: {i.neighbours} ({where}; {i.pairs:,} pairs, {i.rounds} replays)"
    if check is None:
        return line + ": the hits are exact for these vectors"
    verdict = "within" if check.within_goal else "NOT within"
    return (
        f"{line}\napproximation checked on {check.sample_keys:,} random texts of "
        f"{check.keys:,}: hits move by at most {check.max_deviation:.2%} at any threshold, "
        f"{verdict} the {fidelity.GOAL:.1%} goal (column ±exact; --neighbours exact "
        "for the reference)"
    )


def _curves(result: savings.CacheReport) -> str:
    """Hit rate, precision and $ saved against threshold, one sparkline each."""
    rows = result.thresholds
    first, last = f"{rows[0].threshold:.2f}", f"{rows[-1].threshold:.2f}"
    lines = [
        ("hit rate", [r.hit_rate for r in rows]),
        ("precision", [r.precision or 0.0 for r in rows]),
        ("$ saved", [float(r.saved_usd) for r in rows]),
    ]
    return "\n".join(
        f"{name:>10}  {first} {render.sparkline(values)} {last}" for name, values in lines
    )


def _health(h: Health) -> Sheet:
    rows = [
        ["entries live at the end", render.count(h.entries_live)],
        ["memory they would take", f"{h.memory_bytes / 1e6:,.2f} MB"],
        ["hits lost to TTL expiry", render.count(h.lost_to_ttl)],
        ["hits lost to eviction", render.count(h.lost_to_eviction)],
    ]
    return Sheet(f"Cache health at {h.threshold:.2f} (hit rate {h.hit_rate:.1%})", ["", ""], rows)


def _intents(result: savings.CacheReport) -> Sheet:
    rows = [
        [
            str(i.intent),
            render.count(i.requests),
            render.count(i.hits),
            render.money(i.spend_usd),
            f"{i.share_of_spend:.1%}",
            _clip(i.prompt, 70),
        ]
        for i in result.intents
    ]
    return Sheet(
        f"Recurring intents at {result.focus_threshold:.2f}: the largest groups of reused keys",
        ["intent", "requests", "hits", "spend", "share", "representative prompt"],
        rows,
        right=None,
    )


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
