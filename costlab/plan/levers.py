"""Each lever alone on the logged traffic, through its own command's library function.

A lever that cannot run (no prompt text, no policy, no recurring prompt, no batch-eligible
feature) comes back as a `Skipped` with the reason and what would enable it; a mistake in a
lever's own options is its command's error (BadInput), raised before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from costlab import calibration, encodings, prices
from costlab.cache import savings
from costlab.compress import from_store
from costlab.compress import run as compress_run
from costlab.prefix import report as prefix_report
from costlab.prefix import traffic
from costlab.routing import compare
from costlab.routing.policy import Policy
from costlab.scope import Scope
from costlab.store import Store

# The thresholds tried when none is given: the recommended one (at --min-precision) is used.
DEFAULT_SWEEP = tuple(round(0.80 + 0.01 * i, 2) for i in range(20))


@dataclass(frozen=True)
class Skipped:
    reason: str
    enable: str  # what would let the lever run


@dataclass(frozen=True)
class Cache:
    """simulate-cache at the chosen threshold, and which requests hit there."""

    report: savings.CacheReport
    row: savings.ThresholdResult
    hit_ids: list[str]
    how: str  # why this threshold


@dataclass(frozen=True)
class Routing:
    """route-replay of the policies, and the one the plan uses."""

    comparison: compare.Comparison
    chosen: compare.PolicyResult
    policy: Policy
    how: str  # why this policy


@dataclass(frozen=True)
class Template:
    """A recurring prompt and its compressed text (both as sent)."""

    name: str
    original: str
    compressed: str


@dataclass(frozen=True)
class Compression:
    """compress over the store's recurring prompts (in memory: nothing is written)."""

    templates: list[Template]  # those that passed the checks and changed
    tokens_before: int
    tokens_after: int
    saved_usd: Decimal  # tokens removed × requests × each prompt's logged input price
    encoding: str
    exact_tokens: bool
    notes: list[str]


def cache(store: Store, scope: Scope, options: savings.CacheOptions) -> Cache | Skipped:
    """The cache at --threshold, else at the best threshold that keeps --min-precision."""
    with_text = store.row(_COUNT_TEXT.format(where=scope.sql()[0]), scope.sql()[1])
    if not with_text or not with_text[0]:
        return Skipped(
            "no request in scope has prompt text",
            "ingest logs with their prompts (not --no-text)",
        )
    given = bool(options.thresholds)
    thresholds = list(options.thresholds) or list(DEFAULT_SWEEP)
    # the approximate search's self-check reads every vector and moves no hit: plan reports none
    chosen = replace(options, scope=scope, thresholds=thresholds, self_check=False)
    run = savings.with_hits(store, chosen)
    report = run.report
    if given and len(thresholds) == 1:
        threshold, how = thresholds[0], "--threshold"
    elif report.recommended_threshold is not None:
        threshold = report.recommended_threshold
        how = f"the most saving threshold with hit precision ≥ {options.min_precision:.0%}"
    else:
        return Skipped(
            f"no threshold reaches hit precision {options.min_precision:.0%}",
            "lower --min-precision, or give --threshold",
        )
    row = next(r for r in report.thresholds if r.threshold == threshold)
    hits = run.hits[threshold]
    ids = [run.request_ids[i] for i in hits.nonzero()[0].tolist()]
    return Cache(report, row, ids, how)


_COUNT_TEXT = (
    "SELECT count(*) FROM (SELECT * FROM requests{where}) "
    "WHERE prompt IS NOT NULL AND length(trim(prompt)) > 0"
)


def routing(
    store: Store,
    catalogue: prices.Catalogue,
    policies: list[Policy],
    options: compare.CompareOptions,
) -> Routing | Skipped:
    """route-replay of the policies; the cheapest that meets --min-quality is used."""
    if not policies:
        return Skipped("no routing policy given", "give --policy FILE (repeatable)")
    ratios = options.ratios or calibration.ratios(store)
    comparison = compare.run(store, catalogue, policies, replace(options, ratios=ratios))
    by_name = {p.name: p for p in policies}
    if options.min_quality is not None:
        if comparison.recommended is None:
            return Skipped(
                f"no policy reaches a mean quality of {options.min_quality:g}",
                "lower --min-quality, or give a policy that keeps quality",
            )
        name = comparison.recommended
        how = f"the cheapest policy with mean quality ≥ {options.min_quality:g}"
    else:
        name = min(comparison.policies, key=lambda p: p.after_usd).name
        how = "the cheapest policy (no --min-quality given: quality not required)"
    chosen = next(p for p in comparison.policies if p.name == name)
    return Routing(comparison, chosen, by_name[name], how)


def compression(
    store: Store, catalogue: prices.Catalogue, methods: tuple[str, ...], top: int, target: str
) -> Compression | Skipped:
    """compress --from-store over the `top` recurring prompts, with `methods`."""
    options = compress_run.CompressOptions(methods=methods, target_model=target)
    compress_run.check_options(options)
    if "gzip" in methods:
        return Skipped("gzip output cannot be sent to a model", "use --compress-method minify")
    counter = encodings.counter(target)
    stored = from_store.recurring(store, catalogue, counter.count, top)
    if not stored:
        return Skipped(
            "no recurring prompt (none sent twice or more, or no prompt text)",
            "ingest logs with their prompts (not --no-text)",
        )
    items = [p.template for p in stored]
    usage = {p.template.name: p.usage for p in stored}
    report, files = compress_run.compress(items, options, usage, None)
    texts = dict(files)
    originals = {t.name: t.text for t in items}
    templates = [
        Template(name, originals[name], texts[name])
        for name in originals
        if name in texts and texts[name] != originals[name]
    ]
    if not templates:
        return Skipped(
            f"no recurring prompt gets shorter with {' + '.join(methods)}",
            "--compress-method fewshot, or costlab compress with llmlingua2 and a local model",
        )
    saved = Decimal(0)
    for result in report.templates:
        u = result.usage
        if result.written and u is not None and u.usd_per_token is not None:
            saved += result.saved_tokens * u.requests * u.usd_per_token
    return Compression(
        templates,
        report.tokens_before,
        report.tokens_after,
        saved,
        report.encoding,
        report.exact_tokens,
        [*report.notes, "standalone: over every request in the store, as compress --from-store "
         "counts it (the stacked step keeps to --since/--until/--where)"],
    )  # fmt: skip


def prefix(
    store: Store,
    catalogue: prices.Catalogue,
    options: prefix_report.PrefixOptions,
    memo: traffic.Memo,
) -> prefix_report.PrefixReport:
    """simulate-prefix-cache, with its batch rows (its token ids kept in `memo` for the stack)."""
    return prefix_report.run(store, options, catalogue, memo=memo)


def batch_saved(report: prefix_report.PrefixReport) -> Decimal:
    return sum((b.saved_usd for b in report.batch), Decimal(0))


def as_dict(lever: Any) -> dict[str, Any]:
    """What a lever's standalone run chose, for --json (not its whole report)."""
    if isinstance(lever, Cache):
        return {"threshold": lever.row.threshold, "how": lever.how}
    if isinstance(lever, Routing):
        return {"policy": lever.policy.name, "path": str(lever.policy.path), "how": lever.how}
    if isinstance(lever, Compression):
        return {"templates": [t.name for t in lever.templates], "encoding": lever.encoding}
    return {}
