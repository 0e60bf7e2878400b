"""What a semantic cache would have saved on the logged traffic, and how often it would be wrong.

Requests in scope are replayed in time order (`simulate.sweep`, exact against the naive replay);
each threshold gets its hits, the dollars, tokens and latency they would have saved, the age of
the entries they reused, and the hit precision: from a label when one is given, else estimated
from the logged responses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from costlab.cache import assignment, embedders, index, simulate
from costlab.cache.dollars import Dollars
from costlab.cache.intents import ENTRY_OVERHEAD_BYTES, Health, Intent, clusters, health
from costlab.cache.normalize import normalize
from costlab.cache.vectors import text_hash, vectors
from costlab.errors import BadInput
from costlab.scope import Scope
from costlab.store import Store

KEYS = {
    "prompt": "prompt",
    "system+prompt": "concat_ws(chr(10), system_prompt, prompt)",
    "messages": "CAST(messages AS VARCHAR)",
}
SCOPE_COLUMNS = ("model", "feature", "system_prompt", "user_id", "team", "provider")
DEFAULT_MIN_PRECISION = 0.95
# Without labels, a hit is judged right when the response logged for the request and the one
# logged for the entry serving it are at least this similar (cosine, same embedder).
SAME_ANSWER_SIMILARITY = 0.9
_METADATA_KEY = re.compile(r"^metadata\.([A-Za-z0-9_\-]+)$")


@dataclass(frozen=True)
class CacheOptions:
    """One what-if: which requests, what the key is, and how the cache behaves."""

    thresholds: list[float]
    scope: Scope = Scope()
    key: str = "prompt"
    normalize: bool = True
    cache_scope: tuple[str, ...] = ()
    ttl_s: float | None = None
    max_entries: int | None = None
    label: str | None = None
    embedder: str = embedders.DEFAULT
    min_precision: float = DEFAULT_MIN_PRECISION
    intents: int = 10  # how many recurring intents to list
    save_intents: bool = True  # keep each request's intent in the store for route-replay


@dataclass(frozen=True)
class ThresholdResult:
    threshold: float
    hits: int
    hit_rate: float
    saved_usd: Decimal
    saved_tokens: int
    saved_latency_ms: float
    precision: float | None  # None when there were no hits to judge
    precision_estimated: bool
    reuse_age_p50_s: float | None
    reuse_age_p95_s: float | None
    expired_misses: int
    evicted_misses: int
    live_entries_end: int
    memory_bytes: int  # what the entries live at the end would take


@dataclass(frozen=True)
class CacheReport:
    requests: int
    skipped_without_text: int
    embedder: str
    distinct_keys: int
    thresholds: list[ThresholdResult]
    recommended_threshold: float | None
    precision_method: str
    focus_threshold: float  # intents and health are read at this one
    intents: list[Intent]
    health: Health
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Traffic:
    """The requests in scope, in time order, as the simulation and the metrics need them."""

    request_ids: list[str]
    keys: list[str]  # the distinct cache keys, in text_hash order (the index's key order)
    key_hashes: list[str]
    prompts: list[str]  # per request, the key text as logged (before normalising)
    traffic: simulate.Traffic
    dollars: Dollars  # the logged cost of each request (0 when unknown)
    tokens: np.ndarray
    latency_ms: np.ndarray
    responses: list[str | None]
    labels: list[str | None] | None
    skipped: int


Progress = Callable[[str, int, int], None]  # (stage, done, to do)


def run(store: Store, options: CacheOptions, progress: Progress | None = None) -> CacheReport:
    """Replay the traffic through the cache at every threshold."""
    _check(options)
    traffic = _load(store, options)
    if traffic.traffic.n == 0:
        raise BadInput(
            "no requests with prompt text in this scope",
            "ingest logs with their prompts (not --no-text), or widen --since/--until/--where",
        )
    embedder = embedders.load(options.embedder)

    def key_vectors() -> np.ndarray:
        return vectors(
            store, traffic.keys, embedder, _stage(progress, "embedding"), traffic.key_hashes
        )

    lists, _ = index.lists(
        store,
        embedder.name,
        traffic.key_hashes,
        min(options.thresholds),
        key_vectors,
        _stage(progress, "similarity"),
    )
    settings = simulate.CacheSettings(options.ttl_s, options.max_entries)
    results = simulate.sweep(lists, traffic.traffic, sorted(options.thresholds), settings)
    if traffic.labels is not None:
        judge = _label_judge(traffic.labels)
    else:
        judge = _response_judge(store, embedder, traffic, results, _stage(progress, "responses"))
    entry_bytes = _entry_bytes(store, embedder.name, traffic)
    rows = [_measure(r, traffic, judge, options.label is None, entry_bytes) for r in results]
    recommended = _recommend(rows, options.min_precision)
    focus = _focus(results, recommended)
    grouped = clusters(focus, traffic.traffic.keys, traffic.prompts, traffic.dollars)
    notes = _notes(traffic)
    if options.save_intents:
        assignment.save(store, grouped, traffic.request_ids, _source(options, embedder.name, focus))
        notes.append(
            f"each request's intent at {focus.threshold:g} is stored for route-replay "
            f"({grouped.recurring:,} recurring intents): rules can use intent, intent_size and "
            "intent_prompt"
        )
    return CacheReport(
        requests=traffic.traffic.n,
        skipped_without_text=traffic.skipped,
        embedder=embedder.name,
        distinct_keys=len(traffic.keys),
        thresholds=rows,
        recommended_threshold=recommended,
        precision_method=_method(options),
        focus_threshold=focus.threshold,
        intents=grouped.listed(options.intents, traffic.dollars.sum()),
        health=health(focus, entry_bytes),
        notes=notes,
    )


def _source(options: CacheOptions, embedder: str, focus: simulate.SimResult) -> assignment.Source:
    return assignment.Source(
        embedder=embedder,
        threshold=focus.threshold,
        cache_key=options.key,
        normalized=options.normalize,
        cache_scope=options.cache_scope,
        ttl_s=options.ttl_s,
        max_entries=options.max_entries,
        scope=options.scope,
    )


def _focus(results: list[simulate.SimResult], recommended: float | None) -> simulate.SimResult:
    """The threshold intents and health are shown for: the recommended one, else the highest."""
    for r in results:
        if r.threshold == recommended:
            return r
    return max(results, key=lambda r: r.threshold)


def _entry_bytes(store: Store, embedder: str, t: _Traffic) -> np.ndarray:
    """Per request, the bytes it would take as an entry: its key, its response and its vector."""
    found = store.row("SELECT max(dim) FROM embeddings WHERE embedder = ?", [embedder])
    vector = 4 * int(found[0] or 0) if found else 0
    key_bytes = [len(k.encode()) for k in t.keys]
    return np.array(
        [
            key_bytes[k] + len((r or "").encode()) + vector + ENTRY_OVERHEAD_BYTES
            for k, r in zip(t.traffic.keys.tolist(), t.responses, strict=True)
        ],
        dtype=np.int64,
    )


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _check(options: CacheOptions) -> None:
    if not options.thresholds:
        raise BadInput("no threshold given", "use --threshold 0.92 or --sweep 0.80:0.99:0.01")
    for t in options.thresholds:
        if not 0 < t <= 1:
            raise BadInput(f"threshold {t} is outside (0, 1]", "similarity thresholds are cosines")
    if options.key not in KEYS:
        raise BadInput(f"--key {options.key}: unknown", f"choose from {', '.join(KEYS)}")
    unknown = [c for c in options.cache_scope if c not in SCOPE_COLUMNS]
    if unknown:
        raise BadInput(
            f"--scope {','.join(unknown)}: not a column entries can be scoped by",
            f"choose from {', '.join(SCOPE_COLUMNS)}",
        )


def _label_sql(store: Store, label: str | None) -> str:
    if label is None:
        return "NULL"
    found = _METADATA_KEY.match(label)
    if found:
        return f"json_extract_string(metadata, '$.{found.group(1)}')"
    columns = {r[0] for r in store.rows("SELECT column_name FROM (DESCRIBE requests)")}
    if label not in columns:
        raise BadInput(
            f"--label {label}: not a column of requests",
            "give a column (e.g. feature) or metadata.KEY for a field kept in metadata",
        )
    return f"CAST({label} AS VARCHAR)"


def _load(store: Store, options: CacheOptions) -> _Traffic:
    where, params = options.scope.sql()
    text = KEYS[options.key]
    scope = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in options.cache_scope) or "''"
    rows = store.rows(
        f"""
        SELECT {text} AS text, epoch(ts), cost_usd, input_tokens + output_tokens,
               coalesce(latency_ms, 0), response, {_label_sql(store, options.label)},
               concat_ws(chr(31), {scope}), request_id
        FROM requests{where}{" AND" if where else " WHERE"} ts IS NOT NULL
        ORDER BY ts, request_id
        """,
        params,
    )
    kept = [r for r in rows if r[0]]
    texts = [r[0] for r in kept]
    if options.normalize:  # once per distinct text: logs repeat themselves
        normalized: dict[str, str] = {}
        texts = [
            normalized[x] if x in normalized else normalized.setdefault(x, normalize(x))
            for x in texts
        ]
    hashes = sorted((text_hash(t), t) for t in set(texts))
    key_ids = {text: k for k, (_, text) in enumerate(hashes)}
    scope_ids: dict[str, int] = {}
    traffic = simulate.Traffic(
        ts=np.array([r[1] for r in kept], dtype=np.float64),
        scope=np.array([scope_ids.setdefault(r[7], len(scope_ids)) for r in kept], dtype=np.int64),
        keys=np.array([key_ids[t] for t in texts], dtype=np.int64),
    )
    return _Traffic(
        request_ids=[r[8] for r in kept],
        keys=[t for _, t in hashes],
        key_hashes=[h for h, _ in hashes],
        prompts=[r[0] for r in kept],
        traffic=traffic,
        dollars=Dollars.of([r[2] for r in kept]),
        tokens=np.array([r[3] or 0 for r in kept], dtype=np.int64),
        latency_ms=np.array([r[4] for r in kept], dtype=np.float64),
        responses=[r[5] for r in kept],
        labels=[r[6] for r in kept] if options.label else None,
        skipped=len(rows) - len(kept),
    )


# Which hits got a right answer: (hitting requests, the entries serving them) -> one bool each.
Judge = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _label_judge(labels: list[str | None]) -> Judge:
    """A hit is right when its entry has the same label (a missing label is never right)."""
    codes: dict[str | None, int] = {None: -1}
    coded = np.array([codes.setdefault(x, len(codes)) for x in labels], dtype=np.int64)
    return lambda hits, served: (coded[hits] == coded[served]) & (coded[hits] >= 0)


def _response_judge(
    store: Store,
    embedder: embedders.Embedder,
    t: _Traffic,
    results: list[simulate.SimResult],
    progress: Callable[[int, int], None] | None,
) -> Judge:
    """Hits judged by how similar the two logged responses are (embedded once, like prompts)."""
    involved: set[int] = set()
    for r in results:
        hits = np.flatnonzero(r.hit)
        involved.update(hits.tolist(), r.served_by[hits].tolist())
    texts = sorted({text for i in involved if (text := t.responses[i])})
    ids = {text: k for k, text in enumerate(texts)}
    response = np.array([ids.get(x, -1) if x else -1 for x in t.responses], dtype=np.int64)
    found = vectors(store, texts, embedder, progress) if texts else np.zeros((1, 1), np.float32)

    def judge(hits: np.ndarray, served: np.ndarray) -> np.ndarray:
        a, b = response[hits], response[served]
        logged = (a >= 0) & (b >= 0)
        similar = np.einsum("ij,ij->i", found[np.maximum(a, 0)], found[np.maximum(b, 0)])
        right: np.ndarray = logged & ((a == b) | (similar >= SAME_ANSWER_SIMILARITY))
        return right

    return judge


def _measure(
    result: simulate.SimResult,
    t: _Traffic,
    judge: Judge,
    estimated: bool,
    entry_bytes: np.ndarray,
) -> ThresholdResult:
    hits = np.flatnonzero(result.hit)
    served = result.served_by[hits]
    ages = t.traffic.ts[hits] - t.traffic.ts[served]
    return ThresholdResult(
        threshold=result.threshold,
        hits=len(hits),
        hit_rate=result.hit_rate,
        saved_usd=t.dollars.sum(hits),
        saved_tokens=int(t.tokens[hits].sum()),
        saved_latency_ms=float(t.latency_ms[hits].sum()),
        precision=_precision(hits, served, judge),
        precision_estimated=estimated,
        reuse_age_p50_s=float(np.percentile(ages, 50)) if len(ages) else None,
        reuse_age_p95_s=float(np.percentile(ages, 95)) if len(ages) else None,
        expired_misses=result.expired_misses,
        evicted_misses=result.evicted_misses,
        live_entries_end=result.live_entries_end,
        memory_bytes=int(entry_bytes[result.live_at_end].sum()),
    )


def _precision(hits: np.ndarray, served: np.ndarray, judge: Judge) -> float | None:
    if not len(hits):
        return None
    return float(judge(hits, served).mean())


def _recommend(rows: list[ThresholdResult], min_precision: float) -> float | None:
    good = [r for r in rows if r.precision is not None and r.precision >= min_precision]
    if not good:
        return None
    return float(max(good, key=lambda r: (r.saved_usd, r.threshold)).threshold)


def _method(options: CacheOptions) -> str:
    if options.label:
        return f"from labels: a hit is right when its entry has the same {options.label}"
    return (
        "estimated from logged responses: a hit is right when the response logged for the entry "
        f"and the one logged for the request are at least {SAME_ANSWER_SIMILARITY} similar "
        f"(cosine, {options.embedder})"
    )


def _notes(t: _Traffic) -> list[str]:
    if not t.skipped:
        return []
    return [f"{t.skipped:,} requests without prompt text were left out (ingested with --no-text?)"]
