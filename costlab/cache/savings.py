"""What a semantic cache would have saved on the logged traffic, and how often it would be wrong.

Requests in scope are replayed in time order (`simulate.sweep`, exact against the naive replay);
each threshold gets its hits, the dollars, tokens and latency they would have saved, the age of
the entries they reused, and the hit precision: from a label when one is given, else estimated
from the logged responses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import numpy as np

from costlab.cache import assignment, auto, fidelity, guard, index, judged, logged, simulate, sketch
from costlab.cache import precision as judging
from costlab.cache.engine import Engine, Local
from costlab.cache.intents import ENTRY_OVERHEAD_BYTES, Health, Intent, clusters, health
from costlab.cache.vectors import vectors
from costlab.errors import BadInput
from costlab.scope import Scope
from costlab.store import Store

KEYS, SCOPE_COLUMNS = logged.KEYS, logged.SCOPE_COLUMNS
DEFAULT_MIN_PRECISION = 0.95
NEIGHBOURS = ("auto", "exact", "approx")
# Distinct keys up to which `auto` searches exactly: the exact search is quadratic (a few seconds
# here at this size); above it, the index (costlab.cache.search) and the run's own check.
EXACT_UP_TO = 20_000
SAME_ANSWER_SIMILARITY = judging.SAME_ANSWER_SIMILARITY
# Whether the false-hit guard is on unless --guard/--no-guard says (BENCHMARKS.md, "False-hit
# guard", for the measurement that chose it).
DEFAULT_GUARD = True


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
    embedder: str = auto.AUTO  # MiniLM where quick enough, else minilm-tuned (costlab.cache.auto)
    min_precision: float = DEFAULT_MIN_PRECISION
    intents: int = 10  # how many recurring intents to list
    save_intents: bool = True  # keep each request's intent in the store for route-replay
    neighbours: str = "auto"  # exact, approx, or auto (exact up to EXACT_UP_TO keys)
    check_sample: int = fidelity.SAMPLE  # keys an approximate run checks exactly
    # an approximate run's check of itself (reads every vector; no hit depends on it): plan
    # skips it, as it reports none of it
    self_check: bool = True
    guard: bool = DEFAULT_GUARD  # refuse hits whose texts disagree (costlab.cache.guard)


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold. With the guard on, refused hits are paid: hits, savings and precision
    are those of the hits it kept; `precision_unguarded` is every hit's."""

    threshold: float
    hits: int
    hit_rate: float
    saved_usd: Decimal
    saved_tokens: int
    saved_latency_ms: float
    precision: float | None  # None when there is none to show: see precision_unavailable
    precision_estimated: bool
    precision_unavailable: str | None  # why precision is None
    judged_hits: int  # hits precision is over (the others lack a label or a response)
    unjudged_hits: int
    guard_refused: int  # hits the guard refuses (paid when it is on)
    precision_guarded: float | None  # over the hits the guard keeps
    precision_unguarded: float | None  # over every hit
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
    embedder_reason: str  # why this embedder: the flag, or what `auto` weighed
    distinct_keys: int
    thresholds: list[ThresholdResult]
    recommended_threshold: float | None
    best_threshold: float | None  # the most precise one, named when none is recommended
    best_precision: float | None
    min_precision: float
    precision_method: str
    guard: bool
    unlabelled_requests: int  # with --label: requests without one (their hits are not judged)
    focus_threshold: float  # intents and health are read at this one
    intents: list[Intent]
    health: Health
    index: IndexStats
    approximation: fidelity.Approximation | None  # an approximate run's check of itself
    stages_s: dict[str, float]  # where the time went: load, embedder, embedding, neighbours, ...
    notes: list[str] = field(default_factory=list)
    engine: str = "local"  # where the embedding and the neighbour search ran


@dataclass(frozen=True)
class IndexStats:
    """How the neighbour lists were found and what they hold."""

    neighbours: str  # exact or approx
    reused: bool  # read from the store (and extended where needed)
    new_keys: int  # keys added to the stored lists this run
    pairs: int
    rounds: int  # replays until the lists settled (costlab.cache.entries)
    searched: int  # keys searched beyond their seed


Progress = Callable[[str, int, int], None]  # (stage, done, to do)


@dataclass(frozen=True)
class Simulated:
    """A run's report and, per threshold, each request's hit (for `costlab plan`'s stacking)."""

    report: CacheReport
    request_ids: list[str]  # in replay order
    hits: dict[float, np.ndarray]  # threshold -> each request hit, as counted (guard included)


def run(
    store: Store,
    options: CacheOptions,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> CacheReport:
    """Replay the traffic through the cache at every threshold (`engine`: where the embedding
    and the neighbour search run; this process by default)."""
    return with_hits(store, options, progress, engine).report


def with_hits(
    store: Store,
    options: CacheOptions,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> Simulated:
    """`run`, keeping which request hit at each threshold."""
    _check(options)
    engine = engine or Local()
    clock = _Clock()
    traffic = logged.load(
        store,
        options.scope,
        key=options.key,
        normalized=options.normalize,
        cache_scope=options.cache_scope,
        label=options.label,
    )
    if traffic.traffic.n == 0:
        raise BadInput(
            "no requests with prompt text in this scope",
            "ingest logs with their prompts (not --no-text), or widen --since/--until/--where",
        )
    store.trim()  # what DuckDB kept of reading the requests: not needed again
    clock.lap("load")
    choice = auto.choose(store, options.embedder, traffic.keys, traffic.key_hashes, progress)
    clock.lap("embedder")
    embedder = choice.embedder
    memo: dict[str, np.ndarray] = {}

    def key_vectors() -> np.ndarray:
        if "v" not in memo:
            clock.lap("neighbours")
            stage = _stage(progress, "embedding")
            encode = partial(engine.encode, embedder)
            memo["v"] = vectors(store, traffic.keys, embedder, stage, traffic.key_hashes, encode)
            store.trim()  # the vectors just written or read are held here, not twice
            clock.lap("embedding")
        return memo["v"]

    settings = simulate.CacheSettings(options.ttl_s, options.max_entries)
    thresholds = sorted(options.thresholds)
    request = index.Request(
        embedder.name,
        traffic.key_hashes,
        traffic.traffic,
        thresholds,
        settings,
        _mode(options.neighbours, len(traffic.keys)),
    )
    replayed = engine.replay(store, request, key_vectors, progress)
    clock.lap("neighbours")
    results = replayed.built.results
    approximation = None
    if request.mode == "approx" and options.self_check:
        exact = _exact_sample(store, request, replayed, options.check_sample, key_vectors)
        approximation = fidelity.checked(
            exact, replayed.built, traffic.traffic, thresholds, settings
        )
    memo.clear()  # the vectors are not needed past the check (the response judge has its own)
    clock.lap("check")
    if traffic.labels is not None:
        judge = judging.label_judge(traffic.labels)
    else:
        stage = _stage(progress, "responses")
        encode = partial(engine.encode, embedder)
        judge = judged.response_judge(store, embedder, traffic, results, stage, encode)
    entry_bytes = _entry_bytes(store, embedder.name, traffic)
    verdicts = sketch.Memo(guard.Guard(), traffic.prompts.distinct)
    checks = [
        judged.check(r, traffic, judge, verdicts, options.guard, options.label is None)
        for r in results
    ]
    rows = [_measure(c, traffic, entry_bytes) for c in checks]
    chosen = judging.choose(
        thresholds,
        [judging.Precision(r.precision, r.judged_hits, r.unjudged_hits) for r in rows],
        [float(r.saved_usd) for r in rows],
        options.min_precision,
    )
    recommended = chosen.recommended
    focus = _focus([c.result for c in checks], recommended)
    grouped = None  # the intents, made only when they are listed or saved (plan does neither)
    if options.save_intents or options.intents > 0:
        grouped = clusters(focus, traffic.traffic.keys, traffic.prompts, traffic.dollars)
    notes = _notes(traffic)
    if options.save_intents and grouped is not None:
        assignment.save(store, grouped, traffic.request_ids, _source(options, embedder.name, focus))
        notes.append(
            f"each request's intent at {focus.threshold:g} is stored for route-replay "
            f"({grouped.recurring:,} recurring intents): rules can use intent, intent_size and "
            "intent_prompt"
        )
    clock.lap("metrics")
    report = CacheReport(
        requests=traffic.traffic.n,
        skipped_without_text=traffic.skipped,
        embedder=embedder.name,
        embedder_reason=choice.reason,
        distinct_keys=len(traffic.keys),
        thresholds=rows,
        recommended_threshold=recommended,
        best_threshold=chosen.best,
        best_precision=chosen.best_precision,
        min_precision=options.min_precision,
        precision_method=_method(options),
        guard=options.guard,
        unlabelled_requests=0 if traffic.labels is None else int((traffic.labels < 0).sum()),
        focus_threshold=focus.threshold,
        intents=[] if grouped is None else grouped.listed(options.intents, traffic.dollars.sum()),
        health=health(focus, entry_bytes),
        index=IndexStats(
            neighbours=request.mode,
            reused=replayed.reused,
            new_keys=replayed.new_keys,
            pairs=replayed.built.entry_lists.pairs,
            rounds=replayed.built.rounds,
            searched=replayed.built.searched,
        ),
        approximation=approximation,
        stages_s=clock.laps,
        notes=notes,
        engine=engine.describe(),
    )
    return Simulated(
        report, traffic.request_ids, {c.result.threshold: c.result.hit for c in checks}
    )


class _Clock:
    """Seconds per stage of a run, for the report (a stage timed twice adds up)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(self.laps.get(stage, 0.0) + now - self._last, 2)
        self._last = now


def _exact_sample(
    store: Store,
    request: index.Request,
    replayed: index.Replayed,
    sample: int,
    key_vectors: Callable[[], np.ndarray],
) -> fidelity.Sample:
    """The check's exact lists: those kept for the stored set when they serve (no vector is
    read), else computed from the vectors and kept when the stored set is this run's keys."""
    keys = len(request.hashes)
    drawn = fidelity.draw(keys, sample)
    kept = index.sample(store, request.embedder, keys) if replayed.whole else None
    if kept is not None and kept.serves(keys, drawn, request.thresholds):
        return kept
    exact = fidelity.exact_sample(key_vectors(), drawn, min(request.thresholds))
    if replayed.whole:
        index.save_sample(store, request.embedder, exact)
    return exact


def _mode(neighbours: str, keys: int) -> index.Mode:
    if neighbours == "exact" or (neighbours == "auto" and keys <= EXACT_UP_TO):
        return "exact"
    return "approx"


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


def _entry_bytes(store: Store, embedder: str, t: logged.Logged) -> np.ndarray:
    """Per request, the bytes it would take as an entry: its key, its response and its vector."""
    found = store.row("SELECT max(dim) FROM embeddings WHERE embedder = ?", [embedder])
    vector = 4 * int(found[0] or 0) if found else 0
    key_bytes = np.array([len(k.encode()) for k in t.keys], dtype=np.int64)
    entry: np.ndarray = key_bytes[t.traffic.keys] + t.response_bytes + vector + ENTRY_OVERHEAD_BYTES
    return entry


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
    if options.neighbours not in NEIGHBOURS:
        raise BadInput(
            f"--neighbours {options.neighbours}: unknown", f"choose from {', '.join(NEIGHBOURS)}"
        )
    if options.check_sample < 1:
        raise BadInput(f"--check-sample {options.check_sample}: must be at least 1")
    if options.key not in KEYS:
        raise BadInput(f"--key {options.key}: unknown", f"choose from {', '.join(KEYS)}")
    unknown = [c for c in options.cache_scope if c not in SCOPE_COLUMNS]
    if unknown:
        raise BadInput(
            f"--scope {','.join(unknown)}: not a column entries can be scoped by",
            f"choose from {', '.join(SCOPE_COLUMNS)}",
        )


def _measure(c: judged.Checked, t: logged.Logged, entry_bytes: np.ndarray) -> ThresholdResult:
    result = c.result
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
        precision=c.shown.value,
        precision_estimated=c.estimated,
        precision_unavailable=c.shown.unavailable,
        judged_hits=c.shown.judged,
        unjudged_hits=c.shown.unjudged,
        guard_refused=c.guard_refused,
        precision_guarded=c.guarded.value,
        precision_unguarded=c.unguarded.value,
        reuse_age_p50_s=float(np.percentile(ages, 50)) if len(ages) else None,
        reuse_age_p95_s=float(np.percentile(ages, 95)) if len(ages) else None,
        expired_misses=result.expired_misses,
        evicted_misses=result.evicted_misses,
        live_entries_end=result.live_entries_end,
        memory_bytes=int(entry_bytes[result.live_at_end].sum()),
    )


def _method(options: CacheOptions) -> str:
    if options.label:
        return f"from labels: a hit is right when its entry has the same {options.label}"
    return (
        "estimated from logged responses: a hit is right when the response logged for the entry "
        f"and the one logged for the request are at least {SAME_ANSWER_SIMILARITY} similar "
        f"(cosine, {options.embedder})"
    )


def _notes(t: logged.Logged) -> list[str]:
    if not t.skipped:
        return []
    return [f"{t.skipped:,} requests without prompt text were left out (ingested with --no-text?)"]
