"""Time-ordered replay of the traffic under prefix-caching rules: simulated cache reads and writes.

Automatic rule (OpenAI): each request reads the longest prefix, in the rule's cacheable lengths,
that an earlier request of the same model left in the cache and that has not been idle past the
expiry; then every prefix it has is (re)used. Breakpoint rule (Anthropic): per template (model and
first segment) every breakpoint policy and both TTLs are replayed, and the cheapest is kept; a
request reads the longest live prefix at a segment boundary at or before its breakpoint (looking
back at most `lookback_blocks` boundaries) and writes the rest up to the breakpoint.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain

import numpy as np

from costlab import jit
from costlab.prefix.rules import Rule, RuleName
from costlab.prefix.traffic import Traffic
from costlab.prefix.trie import BlockTrie, SegmentTrie

MAX_BREAKPOINT_SEGMENT = 6  # fixed breakpoints tried: after segment 1 … 6


@dataclass(frozen=True)
class UnitPrices:
    """Per-token USD prices of a model's input buckets (catalogue, else the rule's multipliers)."""

    input: Decimal
    read: Decimal
    write_5m: Decimal
    write_1h: Decimal


@dataclass
class Template:
    """Requests of one model that start with the same segment, and how they are cached."""

    model: str
    rule: RuleName
    first_segment: int
    rows: list[int] = field(default_factory=list)
    breakpoint: str = "automatic"  # or "after segment K", "before the last turn", "none"
    ttl: str | None = None  # "5m" or "1h" for a breakpoint rule
    input_cost_5m: Decimal | None = None  # best policy's input cost with each TTL
    input_cost_1h: Decimal | None = None
    gaps: tuple[int, int, int] = (0, 0, 0)  # inter-arrival gaps: ≤ 5m TTL, up to 1h TTL, longer
    break_even: Decimal | None = None  # 1h pays when mid gaps / long gaps exceed this


@dataclass(frozen=True)
class Replayed:
    """Simulated input buckets per request (zeros where nothing was replayed)."""

    cached: np.ndarray
    write_5m: np.ndarray
    write_1h: np.ndarray
    templates: list[Template]
    template_of: np.ndarray  # per request: index into `templates`, -1 when not replayed


def replay(
    traffic: Traffic,
    rule_of: list[RuleName | None],
    rules: dict[RuleName, Rule],
    prices: dict[str, UnitPrices],
) -> Replayed:
    """Every request with a time, prompt text, a rule and known prices, replayed in time order."""
    n = len(traffic)
    out = Replayed(
        np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64), [],
        np.full(n, -1, np.int64),
    )  # fmt: skip
    _group(traffic, rule_of, prices, out)
    automatic = [t for t in out.templates if rules[t.rule].kind == "automatic"]
    if automatic:
        _automatic(traffic, automatic, rules, out)
    segments = SegmentTrie()
    for template in out.templates:
        if rules[template.rule].kind == "breakpoint":
            _choose(traffic, template, rules[template.rule], prices[template.model], segments, out)
    return out


def _group(
    traffic: Traffic,
    rule_of: list[RuleName | None],
    prices: dict[str, UnitPrices],
    out: Replayed,
) -> None:
    """Requests that can be replayed, grouped by model and first segment into templates (in
    order of their first request, with its rule), written into `out`."""
    n = len(traffic)
    replayable = np.fromiter(
        (r is not None and t is not None and m in prices
         for r, t, m in zip(rule_of, traffic.ts_s, traffic.models, strict=True)), bool, n,
    ) & (traffic.sequence >= 0)  # fmt: skip
    rows = np.flatnonzero(replayable)
    if not len(rows):
        return
    codes = {m: k for k, m in enumerate(dict.fromkeys(traffic.models))}
    model = np.fromiter((codes[m] for m in traffic.models), np.int64, n)
    first_segment = np.fromiter((ids[0] for ids in traffic.segment_ids), np.int64)
    segment = first_segment[traffic.sequence[rows]]
    key = model[rows] * (len(traffic.segment_texts) + 1) + segment
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    by_start = np.argsort(first)  # templates in order of their first request
    number = np.empty_like(by_start)
    number[by_start] = np.arange(len(by_start))
    out.template_of[rows] = number[inverse.reshape(-1)]
    ordered = rows[np.argsort(out.template_of[rows], kind="stable")].tolist()
    bounds = [0, *np.cumsum(np.bincount(out.template_of[rows], minlength=len(first))).tolist()]
    starts = rows[first[by_start]]
    heads = first_segment[traffic.sequence[starts]].tolist()
    for k, start in enumerate(starts.tolist()):
        rule = rule_of[start]
        assert rule is not None
        template = Template(traffic.models[start], rule, heads[k])
        template.rows = ordered[bounds[k] : bounds[k + 1]]
        out.templates.append(template)


def _automatic(
    traffic: Traffic, templates: list[Template], rules: dict[RuleName, Rule], out: Replayed
) -> None:
    """One replay per automatic rule and model over all its requests (templates share the cache;
    an entry is one model's, so models replay apart)."""
    by_group: dict[tuple[RuleName, str], list[int]] = defaultdict(list)
    for template in templates:
        by_group[(template.rule, template.model)].extend(template.rows)
    for (name, _), rows in by_group.items():
        rule = rules[name]
        order = np.sort(np.asarray(rows, np.int64))
        # a short sequence has no whole block: it reads and writes nothing, and caches nothing
        order = order[~traffic.short[traffic.sequence[order]]]
        if not len(order):
            continue
        trie = BlockTrie(rule.min_tokens, rule.increment_tokens)
        distinct, local = np.unique(traffic.sequence[order], return_inverse=True)
        paths = [trie.path(traffic.tokens[s]) for s in distinct.tolist()]
        offsets = np.zeros(len(paths) + 1, np.int64)
        np.cumsum([len(p) for p in paths], out=offsets[1:])
        nodes = np.fromiter(chain.from_iterable(paths), np.int64, int(offsets[-1]))
        ts = np.fromiter((traffic.ts_s[i] for i in order.tolist()), np.float64, len(order))
        visits = int((offsets[1:] - offsets[:-1])[local].sum())
        walk = jit.compiled(_walk) if visits >= COMPILE_FROM else _walk
        out.cached[order] = walk(
            local.reshape(-1).astype(np.int64), ts, offsets, nodes, len(trie),
            float(rule.idle_expiry_s), trie.first, trie.step, traffic.input_tokens[order],
        )  # fmt: skip


# Below this many trie nodes visited the walk runs as plain Python: importing numba and loading
# the compiled walk costs more than the walk.
COMPILE_FROM = 200_000


def _walk(
    sequence: np.ndarray,
    ts: np.ndarray,
    offsets: np.ndarray,
    nodes: np.ndarray,
    node_count: int,
    idle_s: float,
    first: int,
    step: int,
    available: np.ndarray,
) -> np.ndarray:
    """The automatic rule over one model's requests in time order: each reads the deepest node of
    its path whose ancestors and itself were used within `idle_s`, then uses its whole path.
    `sequence[r]` is request r's path, `nodes[offsets[p]:offsets[p + 1]]` path p's nodes."""
    last = np.full(node_count, np.nan)
    cached = np.zeros(len(sequence), np.int64)
    for r in range(len(sequence)):
        p, t = sequence[r], ts[r]
        depth = 0
        for k in range(offsets[p], offsets[p + 1]):
            seen = last[nodes[k]]
            if np.isnan(seen) or t - seen > idle_s:
                break
            depth += 1
        for k in range(offsets[p], offsets[p + 1]):
            last[nodes[k]] = t
        length = 0 if depth == 0 else first + (depth - 1) * step
        cached[r] = min(length, available[r])
    return cached


def _choose(
    traffic: Traffic,
    template: Template,
    rule: Rule,
    prices: UnitPrices,
    segments: SegmentTrie,
    out: Replayed,
) -> None:
    """The cheapest breakpoint policy and TTL for one template, written into `out`."""
    rows = template.rows
    paths = {
        s: segments.path(traffic.segment_ids[s]) for s in {int(traffic.sequence[i]) for i in rows}
    }
    most = max(len(traffic.segment_ends[int(traffic.sequence[i])]) for i in rows)
    policies = list(range(1, min(most, MAX_BREAKPOINT_SEGMENT) + 1)) + [-1]
    uncached_cost = prices.input * int(traffic.input_tokens[rows].sum())
    best: tuple[Decimal, int, int, str, tuple[list[int], list[int]]] | None = None
    by_ttl: dict[str, Decimal] = {}
    for ttl_name, ttl_s, write_price in (
        ("5m", rule.ttl_5m_s, prices.write_5m),
        ("1h", rule.ttl_1h_s, prices.write_1h),
    ):
        for order, policy in enumerate(policies):
            reads, writes = _breakpoints(traffic, rows, policy, rule, ttl_s, paths)
            read, written = sum(reads), sum(writes)
            cost = uncached_cost - prices.input * (read + written)
            cost += prices.read * read + write_price * written
            by_ttl[ttl_name] = min(cost, by_ttl.get(ttl_name, cost))
            candidate = (cost, 0 if ttl_name == "5m" else 1, order, ttl_name, (reads, writes))
            if written and (best is None or candidate[:3] < best[:3]):
                best = candidate
    template.input_cost_5m, template.input_cost_1h = by_ttl.get("5m"), by_ttl.get("1h")
    template.gaps = _gaps(traffic, rows, rule)
    spread = prices.write_5m - prices.read
    if spread > 0:
        template.break_even = (prices.write_1h - prices.write_5m) / spread
    if best is None or best[0] >= uncached_cost:
        template.breakpoint = "none"
        return
    _, _, order, ttl_name, (reads, writes) = best
    policy = policies[order]
    template.breakpoint = "before the last turn" if policy < 0 else f"after segment {policy}"
    template.ttl = ttl_name
    written_to = out.write_5m if ttl_name == "5m" else out.write_1h
    out.cached[rows] = reads
    written_to[rows] = writes


def _breakpoints(
    traffic: Traffic,
    rows: list[int],
    policy: int,
    rule: Rule,
    ttl_s: float,
    paths: dict[int, list[int]],
) -> tuple[list[int], list[int]]:
    """Cache reads and writes per request with the breakpoint after segment `policy`
    (-1: before the last segment), entries living `ttl_s` after their last use."""
    reads, writes = [0] * len(rows), [0] * len(rows)
    last_used: dict[int, float] = {}
    min_tokens = rule.min_for(traffic.models[rows[0]])
    for k, i in enumerate(rows):
        s = int(traffic.sequence[i])
        ends, path = traffic.segment_ends[s], paths[s]
        b = min(policy, len(ends)) if policy > 0 else len(ends) - 1
        if b < 1 or ends[b - 1] < min_tokens:
            continue
        t = traffic.ts_s[i]
        assert t is not None
        hit = 0
        for j in range(b, max(0, b - rule.lookback_blocks - 1), -1):
            if ends[j - 1] < min_tokens:
                break
            seen = last_used.get(path[j - 1])
            if seen is not None and t - seen <= ttl_s:
                hit = j
                break
        available = int(traffic.input_tokens[i])
        reads[k] = min(ends[hit - 1], available) if hit else 0
        writes[k] = min(ends[b - 1], available) - reads[k]
        last_used[path[b - 1]] = t
        if hit:
            last_used[path[hit - 1]] = t
    return reads, writes


def _gaps(traffic: Traffic, rows: list[int], rule: Rule) -> tuple[int, int, int]:
    times = np.asarray([traffic.ts_s[i] for i in rows], dtype=np.float64)
    gaps = np.diff(times)
    short = int((gaps <= rule.ttl_5m_s).sum())
    mid = int(((gaps > rule.ttl_5m_s) & (gaps <= rule.ttl_1h_s)).sum())
    return short, mid, len(gaps) - short - mid
