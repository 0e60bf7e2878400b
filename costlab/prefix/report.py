"""`simulate-prefix-cache` as one result: logged spend against spend with prefix caching, per
feature and template, what the logs already cache against what was possible, reorder
opportunities, warnings, and batch eligibility.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from costlab import heap, prices
from costlab.errors import BadInput
from costlab.prefix import advice, money, replay, rules, traffic
from costlab.prefix.advice import Reorder
from costlab.prefix.spend import Columns, Spend, columns, most_common
from costlab.scope import Scope
from costlab.store import Store

ZERO = Decimal(0)


@dataclass(frozen=True)
class PrefixOptions:
    """One what-if: which requests, which rules (with overrides), which features may batch."""

    scope: Scope = Scope()
    rules: rules.RuleChoice = "auto"
    overrides: tuple[str, ...] = ()
    encoding: str = traffic.AUTO  # or one encoding for every request
    batch_features: dict[str, str] = field(default_factory=dict)  # feature -> why eligible
    top: int = 10
    # False: the totals and batch rows only, no feature or template rows, advice or notes
    # (`costlab plan` without --emit reads no more: at 1M requests, ~600k template rows)
    rows: bool = True


@dataclass
class FeatureRow:
    feature: str
    spend: Spend
    batch_reason: str | None = None
    batch_saved_usd: Decimal = ZERO


@dataclass
class TemplateRow:
    model: str
    rule: str
    feature: str  # the template's most frequent feature
    head: str  # the start of its first segment
    breakpoint: str
    ttl: str | None
    prefix_tokens: int  # median cached tokens of the requests that read the cache
    spend: Spend
    input_cost_5m_usd: Decimal | None
    input_cost_1h_usd: Decimal | None
    gaps: tuple[int, int, int]
    break_even: Decimal | None


@dataclass(frozen=True)
class BatchRow:
    feature: str
    reason: str
    requests: int
    cost_usd: Decimal  # computed at standard rates (logged buckets)
    batch_usd: Decimal
    saved_usd: Decimal
    no_batch_price: int  # requests whose model has no batch price


@dataclass(frozen=True)
class PrefixReport:
    requests: int
    replayed: int
    encoding: str
    rules: list[rules.Rule]
    total: Spend
    features: list[FeatureRow]
    templates: list[TemplateRow]
    reorders: list[Reorder]
    warnings: list[str]
    batch: list[BatchRow]
    notes: list[str]
    template_count: int  # templates replayed (all of them, whatever `templates` lists)


def run(
    store: Store,
    options: PrefixOptions,
    catalogue: prices.Catalogue,
    progress: Callable[[str, int, int | None], None] | None = None,
    memo: traffic.Memo | None = None,
) -> PrefixReport:
    """Replay the requests in scope under the prefix-caching rules, and price every what-if.

    `memo`: token ids already made in this run, shared with its other loads (`costlab plan`).
    """
    with heap.few_collections():
        return _run(store, options, catalogue, progress, memo)


def _run(
    store: Store,
    options: PrefixOptions,
    catalogue: prices.Catalogue,
    progress: Callable[[str, int, int | None], None] | None,
    memo: traffic.Memo | None,
) -> PrefixReport:
    table = rules.with_overrides(list(options.overrides))
    tick = progress or (lambda label, done, total: None)
    tick("tokenizing", 0, None)
    below = rules.smallest_prefix(table)
    found = traffic.load(store, options.scope, options.encoding, below=below, memo=memo)
    if not len(found):
        raise BadInput(
            "no requests to replay: the store (or the --since/--until/--where scope) is empty",
            "ingest logs first: costlab ingest PATH",
        )
    rule_of = [
        rules.rule_for(p, m, options.rules)
        for p, m in zip(found.providers, found.models, strict=True)
    ]
    rule_by_model = {m: table[r] for m, r in zip(found.models, rule_of, strict=True) if r}
    points = money.filled_points(catalogue, rule_by_model)
    units = money.unit_prices(points)
    tick("replaying", 0, None)
    replayed = replay.replay(found, rule_of, table, units)
    eligible = [f in options.batch_features for f in found.features]
    costs = money.costs(store, found, replayed, eligible, points)
    per_request = columns(found, replayed, costs)
    report = PrefixReport(
        requests=len(found),
        replayed=int((replayed.template_of >= 0).sum()),
        encoding=found.describe_encodings(),
        rules=[table[name] for name in sorted({r for r in rule_of if r})],
        total=per_request.total(),
        features=[],
        templates=[],
        reorders=[],
        warnings=[],
        batch=_batch(found, costs, options.batch_features),
        notes=[],
        template_count=len(replayed.templates),
    )
    if not options.rows:
        return report
    warnings = advice.template_changes(found, replayed, table)
    warnings += advice.compression(found, replayed, units, options.top)
    return replace(
        report,
        features=_features(found, per_request, costs, options.batch_features),
        templates=_templates(found, replayed, per_request, options.top),
        reorders=advice.reorders(found, replayed, table, units, options.top),
        warnings=warnings,
        notes=_notes(found, rule_of, replayed, units, per_request.kept_logged),
    )


def _features(
    found: traffic.Traffic, spend: Columns, costs: money.Costs, eligible: dict[str, str]
) -> list[FeatureRow]:
    names = list(dict.fromkeys(found.features))  # in order of first request
    index = {name: k for k, name in enumerate(names)}
    code = np.fromiter((index[f] for f in found.features), np.int64, len(found))
    rows = [
        FeatureRow(name, s, eligible.get(name))
        for name, s in zip(names, spend.sums(code, len(names)), strict=True)
    ]
    for i in np.flatnonzero(np.isin(code, [index[f] for f in eligible if f in index])).tolist():
        base, batch = costs.logged_buckets[i], costs.batch[i]
        if base is not None and batch is not None and batch < base:
            rows[code[i]].batch_saved_usd += base - batch
    return sorted(rows, key=lambda r: (-r.spend.saved_usd, -r.spend.logged_usd))


def _templates(
    found: traffic.Traffic, replayed: replay.Replayed, spend: Columns, top: int
) -> list[TemplateRow]:
    count = len(replayed.templates)
    sums = spend.sums(replayed.template_of, count)
    names = list(dict.fromkeys(found.features))
    index = {name: k for k, name in enumerate(names)}
    code = np.fromiter((index[f] for f in found.features), np.int64, len(found))
    feature = most_common(replayed.template_of, code, count).tolist()
    hit = replayed.cached > 0
    with_hits = (
        np.bincount(replayed.template_of[hit], minlength=count).tolist() if hit.any() else []
    )
    rows = []
    for k, t in enumerate(replayed.templates):
        tokens = 0
        if with_hits and with_hits[k]:
            hits = replayed.cached[t.rows]
            tokens = int(np.median(hits[hits > 0]))
        rows.append(
            TemplateRow(
                model=t.model,
                rule=t.rule,
                feature=names[feature[k]],
                head=_clip(found.segment_texts[t.first_segment], 80),
                breakpoint=t.breakpoint,
                ttl=t.ttl,
                prefix_tokens=tokens,
                spend=sums[k],
                input_cost_5m_usd=t.input_cost_5m,
                input_cost_1h_usd=t.input_cost_1h,
                gaps=t.gaps,
                break_even=t.break_even,
            )
        )
    rows.sort(key=lambda r: (-r.spend.saved_usd, -r.spend.logged_usd))
    return rows[:top] if top else rows


def _batch(found: traffic.Traffic, costs: money.Costs, eligible: dict[str, str]) -> list[BatchRow]:
    sums: dict[str, list[Decimal]] = {}
    counts: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for i, feature in enumerate(found.features):
        base, batch = costs.logged_buckets[i], costs.batch[i]
        if feature not in eligible or found.batch[i] or base is None or batch is None:
            continue
        acc = sums.setdefault(feature, [ZERO, ZERO])
        acc[0] += base
        acc[1] += batch
        counts[feature] += 1
        if "no batch price" in (costs.batch_notes[i] or ""):
            missing[feature] += 1
    rows = [
        BatchRow(f, eligible[f], counts[f], acc[0], acc[1], acc[0] - acc[1], missing[f])
        for f, acc in sums.items()
    ]
    return sorted(rows, key=lambda r: -r.saved_usd)


def _notes(
    found: traffic.Traffic,
    rule_of: list[rules.RuleName | None],
    replayed: replay.Replayed,
    units: dict[str, replay.UnitPrices],
    kept_logged: int,
) -> list[str]:
    no_text = int((found.sequence < 0).sum())
    no_time = sum(1 for t in found.ts_s if t is None)
    no_rule = Counter(found.providers[i] or "(unknown)" for i, r in enumerate(rule_of) if r is None)
    unpriced = sorted({m for m, r in zip(found.models, rule_of, strict=True) if r} - set(units))
    notes = [
        f"Token positions from {found.describe_encodings()}; billed token counts are the logged "
        "ones (a simulated cache read never exceeds the request's logged input tokens)."
    ]
    if no_text:
        notes.append(f"{no_text:,} requests have no prompt text: kept at their logged cost.")
    if no_time:
        notes.append(f"{no_time:,} requests have no timestamp: not replayed, kept at logged cost.")
    if no_rule:
        names = ", ".join(f"{p} ({n:,})" for p, n in no_rule.most_common())
        notes.append(
            f"No prefix-caching rule for these providers, kept at logged cost: {names}; "
            "--rules openai (or anthropic) replays all traffic under one rule."
        )
    if unpriced:
        notes.append(f"No catalogue price, not replayed: {', '.join(unpriced)}.")
    if kept_logged:
        notes.append(
            f"{kept_logged:,} requests: the logs show more cache reads than the rule finds "
            "(the provider saw more than the logged text); their logged buckets stand."
        )
    return notes


def _clip(text: str, width: int) -> str:
    # a short printable text with single inner spaces is its own flattening (the only printable
    # whitespace is the space): most templates' heads, a million at scale
    if len(text) <= width and text.isprintable() and "  " not in text:
        if text[:1] != " " and text[-1:] != " ":
            return text
    # the flattened start of a text is the start of the flattened text: flatten a long text's
    # start only, unless that comes out short
    flat = " ".join(text[: width * 4].split())
    if len(flat) <= width:
        flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
