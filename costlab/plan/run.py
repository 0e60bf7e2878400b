"""`costlab plan` from end to end: each lever standalone, then stacked, then ranked."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab import encodings, heap, prices
from costlab.cache import savings
from costlab.compress import run as compress_run
from costlab.errors import BadInput
from costlab.plan import emit, interval, levers, prefix_step, rank, stack, tariffs
from costlab.plan.result import Plan, Risk, Step
from costlab.prefix import report as prefix_report
from costlab.prefix import rules, traffic
from costlab.routing import compare, replay
from costlab.routing.policy import Policy
from costlab.scope import Scope
from costlab.store import Store

Progress = Callable[[str], None]
# A step from its lever, standalone saving, risk, action, setting and notes; a skipped one.
_Make = Callable[[str, Decimal | None, Risk, str, dict[str, Any], list[str]], Step]
_Skip = Callable[[str, levers.Skipped], Step]


@dataclass(frozen=True)
class PlanOptions:
    """The window, and each lever's own options (as its command takes them)."""

    scope: Scope = field(default_factory=Scope)
    cache: savings.CacheOptions | None = None  # None: the cache lever is off
    policies: tuple[Policy, ...] = ()
    min_quality: float | None = None
    compress_methods: tuple[str, ...] = ("minify",)
    compress_top: int = 20
    compress_model: str = compress_run.DEFAULT_TARGET
    rules: rules.RuleChoice = "auto"
    rule_overrides: tuple[str, ...] = ()
    batch_features: dict[str, str] = field(default_factory=dict)  # feature -> why eligible
    resamples: int = compare.DEFAULT_RESAMPLES
    seed: int = 0
    emit: Path | None = None  # write the changes to make here
    force: bool = False  # --emit into a folder that is not empty


@dataclass
class _Levers:
    """The standalone runs, as they come."""

    cache: levers.Cache | levers.Skipped
    routing: levers.Routing | levers.Skipped
    compression: levers.Compression | levers.Skipped
    prefix: prefix_report.PrefixReport


@dataclass(frozen=True)
class _Stacked:
    """What the stacking table gave, read before it is dropped."""

    totals: stack.Totals
    prefix: prefix_step.PrefixStep
    no_batch_price: int
    quality: Any  # per bootstrap group Δ quality over routed misses (None: no routing)
    groups: Any  # per bootstrap group logged and after $


class _Clock:
    """Seconds per stage (a stage timed twice adds up), and the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.laps: dict[str, float] = {}
        self._stage, self._last = "checks", time.perf_counter()
        self._progress = progress

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[self._stage] = round(self.laps.get(self._stage, 0.0) + now - self._last, 2)
        self._stage, self._last = stage, now
        if self._progress is not None:
            self._progress(stage)


def run(
    store: Store,
    catalogue: prices.Catalogue,
    options: PlanOptions,
    progress: Progress | None = None,
) -> Plan:
    """Run every lever alone, stack them per request, and rank them."""
    with heap.few_collections():
        return _run(store, catalogue, options, _Clock(progress))


def _run(store: Store, catalogue: prices.Catalogue, options: PlanOptions, clock: _Clock) -> Plan:
    _check(store, options)
    requests = stack.create(store, options.scope)
    if requests == 0:
        raise BadInput(
            "no requests in this scope",
            "load logs first (costlab ingest PATH), or widen --since/--until/--where",
        )
    try:
        found, stacked = _stack(store, catalogue, options, clock)
    finally:
        stack.drop(store)
    clock.lap("ranking")
    days = _days(store, options.scope)
    totals = stacked.totals
    steps = _steps(found, stacked, options, days)
    ci = interval.after(stacked.groups, totals.logged_usd, options.resamples, options.seed)
    order = rank.ranking(steps)
    notes = []
    if totals.unpriced:
        notes.append(f"{totals.unpriced:,} requests have no logged cost: left out of the money")
    plan = Plan(
        requests, totals.unpriced, days, totals.logged_usd, totals.after_usd, ci, steps, order,
        rank.first(steps, order), options.resamples, options.seed, [], notes,
    )  # fmt: skip
    if options.emit is not None:
        chosen = {
            "cache": found.cache,
            "routing": found.routing,
            "compression": found.compression,
            "batch": sorted(options.batch_features),
        }
        paths = emit.write(options.emit, options.force, plan, chosen, found.prefix)
        plan = replace(plan, emitted=[str(options.emit / p) for p in paths])
    clock.lap("done")
    return replace(plan, stages_s=clock.laps)


def _stack(
    store: Store, catalogue: prices.Catalogue, options: PlanOptions, clock: _Clock
) -> tuple[_Levers, _Stacked]:
    """Each lever standalone, and its step on the stacking table, in the documented order."""
    clock.lap("cache")
    cache = _cache(store, options)
    if isinstance(cache, levers.Cache):
        stack.cache(store, cache.hit_ids)
    clock.lap("prefix standalone")
    memo: traffic.Memo = {}  # token ids, made once for both prefix replays
    found = _Levers(cache, levers.Skipped("", ""), levers.Skipped("", ""),
                    _prefix(store, catalogue, options, memo))  # fmt: skip
    clock.lap("routing")
    found.routing = levers.routing(store, catalogue, list(options.policies), _compare(options))
    policy = None
    if isinstance(found.routing, levers.Routing):
        policy = found.routing.policy
        stack.routing(store, catalogue, found.routing, options.scope)
    models = sorted(set(stack.routed_models(store)) | _logged_models(store))
    known = tariffs.tariffs(catalogue, models, options.rules, policy)
    stack.register_tariffs(store, known)
    try:
        clock.lap("compression")
        found.compression = levers.compression(
            store, catalogue, options.compress_methods, options.compress_top,
            options.compress_model,
        )  # fmt: skip
        rewrite = {}
        if isinstance(found.compression, levers.Compression):
            templates = found.compression.templates
            stack.compression(store, templates, _removed(templates, known))
            rewrite = {t.original: t.compressed for t in templates}
        clock.lap("prefix cache")
        step = prefix_step.apply(store, known, rewrite, options.rules, options.rule_overrides, memo)
        clock.lap("batch")
        no_batch_price = stack.batch(store, list(options.batch_features))
        clock.lap("totals")
        stacked = _Stacked(
            stack.totals(store), step, no_batch_price,
            stack.routed_quality(store) if policy else None, stack.groups(store),
        )  # fmt: skip
    finally:
        store.unregister(tariffs.TABLE)
    return found, stacked


def _check(store: Store, options: PlanOptions) -> None:
    """Every lever's own checks of its options, before the slow work starts."""
    rules.with_overrides(list(options.rule_overrides))
    if options.emit is not None:
        emit.check(options.emit, options.force)
    if options.policies:
        compare.check_names(options.policies)
        replay.prepare(store, list(options.policies))
    compress_run.check_options(compress_run.CompressOptions(methods=options.compress_methods))


def _cache(store: Store, options: PlanOptions) -> levers.Cache | levers.Skipped:
    if options.cache is None:
        return levers.Skipped("turned off", "drop --no-cache")
    return levers.cache(store, options.scope, options.cache)


def _prefix(
    store: Store, catalogue: prices.Catalogue, options: PlanOptions, memo: traffic.Memo
) -> prefix_report.PrefixReport:
    return levers.prefix(
        store,
        catalogue,
        prefix_report.PrefixOptions(
            scope=options.scope,
            rules=options.rules,
            overrides=options.rule_overrides,
            batch_features=options.batch_features,
            top=0,
            rows=options.emit is not None,  # the rows are read only by --emit
        ),
        memo,
    )


def _compare(options: PlanOptions) -> compare.CompareOptions:
    return compare.CompareOptions(
        options.scope, options.min_quality, options.resamples, options.seed
    )


def _logged_models(store: Store) -> set[str]:
    return {r[0] for r in store.rows(f"SELECT DISTINCT logged_model FROM {stack.TABLE}") if r[0]}


def _removed(
    templates: list[levers.Template], known: dict[str, tariffs.Tariff]
) -> dict[str, dict[str, int]]:
    """Per template, per encoding in use: the tokens compression removes."""
    wanted = sorted({t.encoding for t in known.values()})
    out: dict[str, dict[str, int]] = {}
    for template in templates:
        out[template.name] = {}
        for name in wanted:
            before, after = encodings.load(name).count([template.original, template.compressed])
            out[template.name][name] = before - after
    return out


def _days(store: Store, scope: Scope) -> float:
    where, params = scope.sql()
    row = store.row(f"SELECT epoch(max(ts)) - epoch(min(ts)) FROM requests{where}", params)
    seconds = float(row[0]) if row and row[0] is not None else 0.0
    return max(seconds / 86400, 1.0)


def _steps(found: _Levers, stacked: _Stacked, options: PlanOptions, days: float) -> list[Step]:
    totals, step, quality = stacked.totals, stacked.prefix, stacked.quality
    monthly = Decimal(30) / Decimal(repr(days))

    def make(lever: str, standalone: Decimal | None, risk: Risk, action: str,
             setting: dict[str, Any], notes: list[str]) -> Step:  # fmt: skip
        saved = totals.saved_usd[lever]
        return Step(
            lever, "applied", saved, standalone, rank.share(saved, totals.logged_usd),
            (saved * monthly).quantize(Decimal("1e-6")), totals.affected[lever], risk, action,
            setting, notes,
        )  # fmt: skip

    def skipped(lever: str, why: levers.Skipped) -> Step:
        return Step(lever, "skipped", Decimal(0), None, 0.0, Decimal(0), 0, None,
                    why.enable, {}, [why.reason])  # fmt: skip

    steps = []
    c = found.cache
    if isinstance(c, levers.Cache):
        risk = rank.cache(c.row.precision, c.row.precision_estimated)
        steps.append(make("cache", c.row.saved_usd, risk,
                          f"a semantic cache at cosine similarity ≥ {c.row.threshold:.2f}",
                          levers.as_dict(c), [f"threshold: {c.how}"]))  # fmt: skip
    else:
        steps.append(skipped("cache", c))
    r = found.routing
    if isinstance(r, levers.Routing):
        delta, ci = interval.quality(quality, options.resamples, options.seed)
        p = r.chosen
        risk = rank.routing(delta, ci, p.quality_before,
                            max(p.input_estimated_share, p.quality_estimated_share))  # fmt: skip
        standalone = p.before_usd - p.after_usd
        steps.append(make("routing", standalone, risk,
                          f"route with policy '{p.name}' ({p.path})", levers.as_dict(r),
                          [f"policy: {r.how}", *p.notes]))  # fmt: skip
    else:
        steps.append(skipped("routing", r))
    k = found.compression
    if isinstance(k, levers.Compression):
        risk = rank.compression(k.tokens_before, k.tokens_after, k.encoding, k.exact_tokens)
        action = f"send the {len(k.templates)} compressed templates instead of the originals"
        steps.append(make("compression", k.saved_usd, risk, action, levers.as_dict(k), k.notes))
    else:
        steps.append(skipped("compression", k))
    steps.append(_prefix_step(found.prefix, step, make))
    steps.append(_batch_step(found.prefix, options, stacked.no_batch_price, make, skipped))
    return steps


def _prefix_step(
    report: prefix_report.PrefixReport, step: prefix_step.PrefixStep, make: Any
) -> Step:
    if report.replayed == 0 and step.replayed == 0:
        why = "no request could be replayed (no prompt text, time or rule)"
        return Step("prefix", "skipped", Decimal(0), None, 0.0, Decimal(0), 0, None,
                    "ingest logs with prompt text and timestamps", {}, [why])  # fmt: skip
    rules_used = ", ".join(f"{rule} {n:,}" for rule, n in sorted(step.by_rule.items()))
    notes = [f"{step.replayed:,} misses replayed as routed ({rules_used or 'no rule'})"]
    if step.lost:
        notes.append(
            f"{step.lost:,} compressed requests read less from cache than their logs did: "
            "compression shortened or broke their cached prefix"
        )
    setting: dict[str, Any] = {"templates": report.template_count}
    saved: Decimal = report.total.saved_usd
    risk = rank.prefix(step.replayed, step.estimated)
    action = "static parts first; Anthropic breakpoints as emitted"
    made: Step = make("prefix", saved, risk, action, setting, notes)
    return made


def _batch_step(
    report: prefix_report.PrefixReport,
    options: PlanOptions,
    no_batch_price: int,
    make: _Make,
    skipped: _Skip,
) -> Step:
    if not options.batch_features:
        why = levers.Skipped(
            "no batch-eligible feature", "--batch-feature NAME or [batch] in config"
        )
        return skipped("batch", why)
    standalone = levers.batch_saved(report)
    features = ", ".join(sorted(options.batch_features))
    notes = [f"{no_batch_price:,} eligible misses: no batch price"] if no_batch_price else []
    return make("batch", standalone, rank.batch(), f"send {features} through the batch API",
                {"features": sorted(options.batch_features)}, notes)  # fmt: skip
