"""What to change: templates whose variable part comes before a long static part (a reorder would
make it cacheable), template edits that broke a cached prefix, and where compression would.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from costlab import encodings
from costlab.prefix.replay import Replayed, UnitPrices
from costlab.prefix.rules import Rule, RuleName
from costlab.prefix.traffic import Traffic
from costlab.prefix.trie import common_prefix, common_suffix


@dataclass(frozen=True)
class Reorder:
    """Requests that share a long static tail after a variable part."""

    model: str
    rule: str
    feature: str
    requests: int
    static_prefix_tokens: int  # shared before the variable part (cacheable today when long)
    variable_tokens: int  # median length of the variable part
    static_tokens: int  # the shared tail that comes after it
    cacheable_tokens: int  # per request, newly cacheable with the tail moved before the variable
    saved_usd: Decimal  # upper bound: every request after the first reads them
    static_head: str  # the start of the static tail


def reorders(
    traffic: Traffic,
    replayed: Replayed,
    rules: dict[RuleName, Rule],
    prices: dict[str, UnitPrices],
    top: int,
) -> list[Reorder]:
    """Groups of requests whose last `min_tokens` tokens are the same but whose prompts differ
    earlier: the tail is static, so moving it in front of the variable part makes it cacheable."""
    groups: dict[tuple[str, bytes], Counter[int]] = defaultdict(Counter)
    rule_of: dict[str, RuleName] = {}
    for template in replayed.templates:
        rule = rules[template.rule]
        rule_of[template.model] = template.rule
        least = rule.min_for(template.model)
        for i in template.rows:
            s = int(traffic.sequence[i])
            tokens = traffic.tokens[s]
            if len(tokens) > least:
                groups[(template.model, tokens[-least:].tobytes())][s] += 1
    found = []
    for (model, _), sequences in groups.items():
        if len(sequences) < 2:
            continue  # one distinct prompt repeated: nothing varies, nothing to move
        rule = rules[rule_of[model]]
        found.append(_reorder(traffic, model, rule, sequences, prices[model]))
    kept = [r for r in found if r is not None and r.cacheable_tokens > 0]
    kept.sort(key=lambda r: -r.saved_usd)
    return kept[:top] if top else kept


def _reorder(
    traffic: Traffic,
    model: str,
    rule: Rule,
    sequences: Counter[int],
    prices: UnitPrices,
) -> Reorder | None:
    ids = list(sequences)
    first = traffic.tokens[ids[0]]
    prefix = min(common_prefix(first, traffic.tokens[s]) for s in ids[1:])
    suffix = min(common_suffix(first, traffic.tokens[s]) for s in ids[1:])
    variable = [len(traffic.tokens[s]) - prefix - suffix for s in ids]
    if min(variable) <= 0:
        return None
    requests = sum(sequences.values())
    cacheable = _cacheable(rule, model, prefix + suffix) - _cacheable(rule, model, prefix)
    saved = (requests - 1) * cacheable * (prices.input - prices.read)
    if rule.kind == "breakpoint":
        saved -= cacheable * (prices.write_5m - prices.input)
    features = Counter(traffic.features[i] for i in _rows(traffic, sequences, model))
    tokenizer = encodings.load(traffic.model_encodings.get(model, encodings.DEFAULT_ENCODING))
    head = tokenizer.encoding.decode(first[len(first) - suffix :][:16].tolist())
    return Reorder(
        model=model,
        rule=rule.name,
        feature=features.most_common(1)[0][0],
        requests=requests,
        static_prefix_tokens=prefix,
        variable_tokens=int(np.median(variable)),
        static_tokens=suffix,
        cacheable_tokens=cacheable,
        saved_usd=max(saved, Decimal(0)),
        static_head=" ".join(head.split()),
    )


def _cacheable(rule: Rule, model: str, tokens: int) -> int:
    """How much of a static prefix of `tokens` the rule can cache."""
    least = rule.min_for(model)
    if tokens < least:
        return 0
    if rule.kind == "automatic":
        return least + (tokens - least) // rule.increment_tokens * rule.increment_tokens
    return tokens


def _rows(traffic: Traffic, sequences: Counter[int], model: str) -> list[int]:
    wanted = np.isin(traffic.sequence, np.fromiter(sequences, dtype=np.int64))
    return [i for i in np.flatnonzero(wanted).tolist() if traffic.models[i] == model]


def template_changes(
    traffic: Traffic, replayed: Replayed, rules: dict[RuleName, Rule]
) -> list[str]:
    """A feature's template replaced by one that differs inside a cacheable first segment."""
    by_feature: dict[tuple[str, str], list[tuple[float, int, RuleName]]] = defaultdict(list)
    for template in replayed.templates:
        if len(template.rows) < 2:
            continue
        first = template.rows[0]
        feature = Counter(traffic.features[i] for i in template.rows).most_common(1)[0][0]
        start = traffic.ts_s[first] or 0.0
        by_feature[(template.model, feature)].append((start, first, template.rule))
    warnings = []
    for (model, feature), versions in by_feature.items():
        versions.sort()
        for (_, before, rule_name), (start, after, _) in zip(versions, versions[1:], strict=False):
            if traffic.short[traffic.sequence[before]]:
                continue  # fewer tokens than any rule caches: no cached prefix to break
            old, new = traffic.first_segment(before), traffic.first_segment(after)
            shared = common_prefix(old, new)
            if len(old) < rules[rule_name].min_for(model) or shared >= len(old):
                continue
            day = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M")
            warnings.append(
                f"{feature} ({model}): the first prompt segment changed at {day} UTC; the versions "
                f"share only the first {shared:,} of {len(old):,} tokens, so the cached prefix "
                f"broke at token {shared:,}. Put edits after the static part to keep it cached."
            )
    return warnings


def compression(
    traffic: Traffic, replayed: Replayed, prices: dict[str, UnitPrices], top: int
) -> list[str]:
    """Templates with a cached prefix: compressing it would break the cache and save little."""
    rows = []
    hit = (replayed.cached > 0) & (replayed.template_of >= 0)  # templates with a cache read
    counts = np.bincount(replayed.template_of[hit], minlength=len(replayed.templates))
    for k in np.flatnonzero(counts).tolist():
        template = replayed.templates[k]
        hits = replayed.cached[template.rows]
        hits = hits[hits > 0]
        if not len(hits):
            continue
        prefix = int(np.median(hits))
        p = prices[template.model]
        feature = Counter(traffic.features[i] for i in template.rows).most_common(1)[0][0]
        share = p.read / p.input if p.input else Decimal(0)
        rows.append(
            (
                int(hits.sum()),
                f"{feature} ({template.model}): compressing its first {prefix:,} tokens (the "
                f"cached prefix, read at {share:.0%} of the input price) saves little and breaks "
                f"the cache whenever the compressed text changes; compress after token {prefix:,}.",
            )
        )
    rows.sort(key=lambda r: -r[0])
    return [text for _, text in rows[: top or None]]
