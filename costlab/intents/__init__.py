"""`costlab intents`: the recurring intents of the logged traffic, from an order-independent
clustering of the prompts' stored vectors.

The requests in scope with prompt text (in time order) are keyed as simulate-cache keys them
(`--key`, normalised unless told not to); each distinct key is clustered once, by its vector
stored under one embedder (costlab.intents.stored: nothing is embedded here), and a request's
intent is its key's cluster. Methods:

- `agglomerative` (default): average-linkage clustering, cosine, cut at `min_similarity`
  (costlab.intents.agglomerative; sampled and assigned above `full_up_to` prompts);
- `leader`: the cache replay's own leader clusters at `min_similarity` (costlab.intents.leader),
  order-dependent, kept for comparison.

Requests whose key has no stored vector are left out and counted. Each intent gets its requests,
distinct prompts, spend and share of spend, cohesion and medoid prompt (costlab.intents.groups);
with a label, the agreement of the intents with it (costlab.intents.agreement). The intents are
stored where route-replay's rules read them (`intent`, `intent_size`, `intent_prompt`),
replacing whatever set simulate-cache or an earlier run stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from costlab.cache import assignment, logged
from costlab.cache.dollars import Dollars
from costlab.errors import BadInput
from costlab.intents import agglomerative, groups, leader, stored
from costlab.intents.agglomerative import Sampling
from costlab.intents.agreement import Agreement, measure
from costlab.scope import Scope
from costlab.store import Store

METHODS = ("agglomerative", "leader")
# On 3,080 labelled support questions (Banking77, MiniLM) 0.6 gave 358 intents for 77 labels and
# an adjusted Rand index of 0.48; the leader clusters at 0.80 scored 0.17 (issue 22).
DEFAULT_MIN_SIMILARITY = 0.6


@dataclass(frozen=True)
class IntentsOptions:
    """Which requests, how they are keyed, and how their prompts are clustered."""

    method: str = "agglomerative"
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    scope: Scope = Scope()
    key: str = "prompt"
    normalize: bool = True
    embedder: str | None = None  # None: the one whose stored vectors cover the most prompts
    label: str | None = None  # a column or metadata.KEY to measure the intents against
    top: int = 20  # how many recurring intents to list
    save: bool = True  # store each request's intent for route-replay's rules
    full_up_to: int = agglomerative.FULL_UP_TO  # prompts clustered in full, at most
    sample: int = agglomerative.SAMPLE  # prompts per sample round above that
    seed: int = 0


@dataclass(frozen=True)
class Intent:
    intent: int  # its id, as stored for route-replay's `intent` column: 1 is the largest
    requests: int
    prompts: int  # distinct prompts (keys) among them
    spend_usd: Decimal
    share_of_spend: float
    cohesion: float  # mean similarity over the pairs of its distinct prompts
    prompt: str  # the medoid prompt, as its first request logged it


@dataclass(frozen=True)
class IntentsReport:
    method: str
    min_similarity: float
    embedder: str
    requests: int  # requests clustered
    prompts: int  # distinct prompts clustered
    intents: int
    recurring: int  # intents with more than one request
    recurring_share: float  # of the requests clustered, those in a recurring intent
    spend_usd: Decimal
    listed: list[Intent]
    agreement: Agreement | None
    sampling: Sampling | None  # how a clustering above `full_up_to` prompts was sampled
    without_vector: int  # requests left out: their prompt has no stored vector
    skipped_without_text: int
    saved: bool
    stages_s: dict[str, float]  # where the time went
    notes: list[str] = field(default_factory=list)


def run(store: Store, options: IntentsOptions) -> IntentsReport:
    """Cluster the prompts in scope into intents, measure them, and store them."""
    _check(options)
    laps = _Laps()
    traffic = logged.load(
        store, options.scope, key=options.key, normalized=options.normalize, label=options.label
    )
    if traffic.traffic.n == 0:
        raise BadInput(
            "no requests with prompt text in this scope",
            "ingest logs with their prompts (not --no-text), or widen --since/--until/--where",
        )
    laps.lap("load")
    embedder = stored.choose(store, traffic.key_hashes, options.embedder)
    matrix, have = stored.read(store, traffic.key_hashes, embedder)
    laps.lap("vectors")
    kept = np.flatnonzero(have[traffic.traffic.keys])
    if options.method == "leader" and len(kept) < traffic.traffic.n:
        raise BadInput(
            f"--method leader: {traffic.traffic.n - len(kept):,} requests have no stored "
            f"vector under {embedder}, and the replay needs every one",
            stored.NO_VECTORS_HINT,
        )
    covered = np.flatnonzero(have)
    position = np.full(len(have), -1, dtype=np.int64)
    position[covered] = np.arange(len(covered))
    key = position[traffic.traffic.keys[kept]]
    vectors = matrix[covered] if len(covered) < len(have) else matrix
    sampling = None
    if options.method == "leader":
        group = leader.groups(store, embedder, traffic, vectors, options.min_similarity)
    else:
        clustering = agglomerative.cluster(
            vectors,
            options.min_similarity,
            full_up_to=options.full_up_to,
            sample=options.sample,
            seed=options.seed,
        )
        group, sampling = clustering.labels[key], clustering.sampling
    laps.lap("clustering")
    dollars = Dollars(traffic.dollars.micro[kept], traffic.dollars.atto[kept])
    described = groups.describe(
        group,
        key,
        vectors,
        lambda i: traffic.prompts[int(kept[i])],
        dollars,
        options.min_similarity,
    )
    laps.lap("describe")
    clusters = described.clusters
    found = None
    if traffic.labels is not None and options.label is not None:
        found = measure(options.label, traffic.labels[kept], clusters.of_request)
        laps.lap("agreement")
    if options.save:
        ids = traffic.request_ids
        request_ids = ids if len(kept) == len(ids) else [ids[i] for i in kept.tolist()]
        assignment.save(
            store, clusters, request_ids, _source(options, embedder), described.cohesion
        )
        laps.lap("save")
    total = dollars.sum()
    in_recurring = int(clusters.requests[: clusters.recurring].sum())
    return IntentsReport(
        method=options.method,
        min_similarity=options.min_similarity,
        embedder=embedder,
        requests=len(kept),
        prompts=len(covered),
        intents=len(clusters.requests),
        recurring=clusters.recurring,
        recurring_share=in_recurring / len(kept) if len(kept) else 0.0,
        spend_usd=total,
        listed=_listed(described, options.top, total),
        agreement=found,
        sampling=sampling,
        without_vector=traffic.traffic.n - len(kept),
        skipped_without_text=traffic.skipped,
        saved=options.save,
        stages_s=laps.laps,
        notes=_notes(traffic.traffic.n - len(kept), traffic.skipped, sampling, embedder, options),
    )


def _listed(described: groups.Described, top: int, total: Decimal) -> list[Intent]:
    c = described.clusters
    return [
        Intent(
            intent=r + 1,
            requests=int(c.requests[r]),
            prompts=int(described.prompts[r]),
            spend_usd=c.spend_usd[r],
            share_of_spend=float(c.spend_usd[r] / total) if total else 0.0,
            cohesion=round(float(described.cohesion[r]), 6),
            prompt=c.prompts[r],
        )
        for r in range(min(top, c.recurring))
    ]


def _source(options: IntentsOptions, embedder: str) -> assignment.Source:
    return assignment.Source(
        embedder=embedder,
        threshold=options.min_similarity,
        cache_key=options.key,
        normalized=options.normalize,
        cache_scope=(),
        ttl_s=None,
        max_entries=None,
        scope=options.scope,
        method=options.method,
    )


def _notes(
    without_vector: int,
    skipped: int,
    sampling: Sampling | None,
    embedder: str,
    options: IntentsOptions,
) -> list[str]:
    notes = []
    if without_vector:
        notes.append(
            f"{without_vector:,} requests were left out: their prompt has no stored vector "
            f"under {embedder} (simulate-cache --embedder {embedder} embeds them)"
        )
    if skipped:
        notes.append(f"{skipped:,} requests without prompt text were left out")
    if sampling is not None:
        notes.append(
            f"{sampling.prompts:,} prompts are more than {options.full_up_to:,}: clustered in "
            f"{sampling.rounds} sample rounds of {options.sample:,} ({sampling.sampled:,} "
            f"clustered in full, {sampling.assigned:,} joined a sample cluster"
            + (f", {sampling.alone:,} left as intents of their own" if sampling.alone else "")
            + ")"
        )
    if options.save:
        notes.append(
            "each request's intent is stored for route-replay: rules can use intent, "
            "intent_size and intent_prompt"
        )
    return notes


def _check(options: IntentsOptions) -> None:
    if options.method not in METHODS:
        raise BadInput(f"--method {options.method}: unknown", f"choose from {', '.join(METHODS)}")
    if not 0 < options.min_similarity <= 1:
        raise BadInput(
            f"--min-similarity {options.min_similarity} is outside (0, 1]",
            "similarities are cosines, e.g. --min-similarity 0.6",
        )
    if options.key not in logged.KEYS:
        raise BadInput(f"--key {options.key}: unknown", f"choose from {', '.join(logged.KEYS)}")
    if options.top < 0:
        raise BadInput(f"--top {options.top}: must be 0 or more")
    if options.full_up_to < 2 or options.sample < 2:
        raise BadInput("--full-up-to and --sample must be at least 2")


class _Laps:
    """Seconds per stage of a run, for the report."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._last, 3)
        self._last = now
