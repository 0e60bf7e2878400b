"""The traffic split by scope, then by time window where a TTL is set: replayed in parallel, exact.

Without a capacity an entry is live at request j exactly when it missed and `ts[j] - ts[entry] <
ttl_s` (costlab.cache.simulate: expiry counts from insertion, hits do not renew, nothing is
evicted), and which live entry serves j depends on the live entries alone. So j's hit and its
serving entry depend only on which requests before it, within one TTL of it, missed. Cut a scope's
requests at b_1 < b_2 < ...: window k is [b_k, b_k+1), and its *halo* the requests before b_k
within one TTL of ts[b_k]. Any replay that decides the halo's misses as the whole replay does
decides window k as it does too (by induction over j >= b_k: every entry j can see is in the halo
or in window k before j, as float subtraction keeps `ts[b_k] - ts[e] <= ts[j] - ts[e]`).

1. Speculation, in parallel: each window replayed from an empty cache, from `WARM_UP_TTLS` TTLs
   before its halo (window 0 from the scope's first request: exact as it is).
2. Verification, in time order, threshold by threshold: window k's replay is kept when its
   halo's misses are the exact ones (known once the windows before it are settled).
3. Otherwise a fix-up: window k replayed, for that threshold, after only its halo's exact misses
   at their times (its hits dropped: without a capacity a hit changes nothing). Each was a miss
   with the older entries too, so it is one with fewer; the cache then holds exactly the live
   entries of the whole replay at b_k, and the window's replay is exact by construction.
   A fix-up waits for the window before it: a run of fix-ups is a sequence of waves (in each, the
   thresholds and scopes in parallel). Speculation does not always converge: a text asked for
   more often than its TTL is inserted again at the first request after each expiry, so its
   entries keep the phase of its first request in the log; a window started empty has its own
   phase, and agrees only once that text and its near neighbours go a whole TTL unasked.
4. Expired misses: a miss i is one when an entry of its scope inserted before i, however old, is
   at least the threshold similar (it would have served i, so it expired). With every request's
   hit known, that is a question per key that ever missed, against the keys that ever missed:
   the earliest first entry among the keys at least the threshold similar to it; i is expired
   when that is before i. Answered in chunks of keys, in parallel: exact, as it asks every pair.

The results, the lists and the other rules merge as costlab.distributed.partitions says.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from costlab.cache import entries, simulate
from costlab.cache.search import ExactSearch
from costlab.distributed import partitions
from costlab.distributed.partitions import Part

WARM_UP_TTLS = 1.0  # a window's speculation starts this many TTLs before its halo
MIN_WINDOW_TTLS = 4.0  # a window spans at least this many TTLs (its overlap is two)
MIN_CHUNK = 2048  # keys per question of the expired-miss pass, at least

R = TypeVar("R")


class Run(Protocol):
    """Runs `task(shared, item)` for each item where the engine runs tasks; answers in order.
    Every call of one replay passes the same `shared` object: an engine may ship it once."""

    def __call__(self, task: Callable[[Any, Any], R], shared: Any, items: Sequence[Any]) -> list[R]:
        """The answers, one per item."""


def in_process(task: Callable[[Any, Any], R], shared: Any, items: Sequence[Any]) -> list[R]:
    """`Run` in this process, one item after the other."""
    return [task(shared, item) for item in items]


@dataclass(frozen=True)
class Windows:
    """One scope's cuts: window k is its requests [cuts[k], cuts[k+1]) (indices in the scope)."""

    cuts: npt.NDArray[np.int64]
    halo: npt.NDArray[np.int64]  # per window, its halo's first request
    start: npt.NDArray[np.int64]  # per window, where its speculation starts

    @property
    def count(self) -> int:
        return len(self.cuts) - 1


@dataclass(frozen=True, eq=False)
class Split:
    """Every threshold's replay over the whole traffic from its parts, and what it took."""

    results: list[simulate.SimResult]
    lists: entries.EntryLists
    rounds: int
    searched: int
    scopes: int
    windows: int
    fixed: int  # windows replayed again after their halo (per threshold)
    tasks: int


def windows(ts: npt.NDArray[np.float64], ttl_s: float | None, pieces: int) -> Windows:
    """Cuts at equal request counts into at most `pieces` windows of `MIN_WINDOW_TTLS` TTLs."""
    n = len(ts)
    count = 1
    if ttl_s is not None and n:
        count = max(1, min(pieces, n, int((ts[-1] - ts[0]) // (MIN_WINDOW_TTLS * ttl_s))))
    cuts = np.unique(np.linspace(0, n, count + 1).round().astype(np.int64))
    if ttl_s is None or len(cuts) < 3:
        zero = np.zeros(1, np.int64)
        return Windows(np.array([0, n], np.int64), zero, zero.copy())
    # the first request with ts[b] - ts[e] below the reach (the replay's own subtraction)
    halo = np.array([_reach(ts, b, ttl_s) for b in cuts[:-1]], np.int64)
    start = np.array([_reach(ts, b, (1 + WARM_UP_TTLS) * ttl_s) for b in cuts[:-1]], np.int64)
    halo[0] = start[0] = 0
    return Windows(cuts, halo, start)


def _reach(ts: npt.NDArray[np.float64], b: int, span: float) -> int:
    """The first request e <= b with `ts[b] - ts[e] < span` (true from there on: ts ascends)."""
    return bisect.bisect_left(range(b + 1), True, key=lambda e: bool(ts[b] - ts[e] < span))


def splits(traffic: simulate.Traffic, settings: simulate.CacheSettings, pieces: int) -> bool:
    """Whether the traffic splits exactly into several parts: scopes, or windows under a TTL."""
    if not traffic.n or not partitions.separable(traffic, settings):
        return False
    return sum(cut.count for _, cut in plan(traffic, settings.ttl_s, pieces)) > 1


def plan(traffic: simulate.Traffic, ttl_s: float | None, pieces: int) -> list[tuple[Part, Windows]]:
    """Each scope's part and its windows: its share of the `pieces`, by its requests."""
    return [
        (p, windows(p.traffic.ts, ttl_s, -(-pieces * p.traffic.n // traffic.n)))
        for p in partitions.by_scope(traffic)
    ]


@dataclass(frozen=True, eq=False)
class Piece:
    """Requests of one scope to replay together, and at which thresholds."""

    part: Part  # over the whole traffic's requests and keys
    local: npt.NDArray[np.int64]  # its requests as indices in the scope, in time order
    thresholds: list[float]

    @property
    def cost(self) -> int:
        return self.part.cost


def piece(scope: Part, local: npt.NDArray[np.int64], thresholds: list[float]) -> Piece:
    """The scope's requests `local` as a piece of their own."""
    return Piece(partitions.within(scope, local), local, thresholds)


def replay_pieces(
    shared: tuple[npt.NDArray[np.float32], simulate.CacheSettings], pieces: Sequence[Piece]
) -> list[partitions.Replayed]:
    """A task: each piece replayed over its own keys' vectors (of all keys', `shared`)."""
    vectors, settings = shared
    return [partitions.replay(p.part, vectors[p.part.keys], p.thresholds, settings) for p in pieces]


@dataclass(frozen=True, eq=False)
class Question:
    """Some keys of a scope that ever missed, asked which earliest entry could have served them."""

    keys: npt.NDArray[np.int64]  # the scope's keys that ever missed (ids of all keys)
    first: npt.NDArray[np.int64]  # thresholds × keys: each key's first entry (NEVER: none)
    queries: npt.NDArray[np.int64]  # positions in `keys` asked about, ascending
    thresholds: list[float]

    @property
    def cost(self) -> int:
        return len(self.keys) * len(self.queries)


def answer(
    shared: tuple[npt.NDArray[np.float32], simulate.CacheSettings], questions: Sequence[Question]
) -> list[npt.NDArray[np.int64]]:
    """A task: each question's `earliest` over the vectors of all keys (`shared`)."""
    return [earliest(shared[0], q) for q in questions]


def earliest(vectors: npt.NDArray[np.float32], question: Question) -> npt.NDArray[np.int64]:
    """Per threshold and query, the first entry among the keys at least that similar to it."""
    out = np.full((len(question.thresholds), len(question.queries)), entries.NEVER, np.int64)
    search = ExactSearch(vectors[question.keys])
    for v, u, s in search.within_blocks(question.queries, min(question.thresholds)):
        at = np.searchsorted(question.queries, v)
        similarity = s.astype(np.float64)  # compared as the replay compares
        for t, threshold in enumerate(question.thresholds):
            near = similarity >= threshold
            np.minimum.at(out[t], at[near], question.first[t, u[near]])
    return out


class _Settling:
    """One scope's windows settled in time order, threshold by threshold (steps 2 and 3)."""

    def __init__(
        self,
        scope: Part,
        cut: Windows,
        speculated: list[tuple[Piece, partitions.Replayed]],
        thresholds: list[float],
    ) -> None:
        self.scope, self.cut, self.speculated, self.thresholds = scope, cut, speculated, thresholds
        self.hit = np.zeros((len(thresholds), scope.traffic.n), np.bool_)
        self.served = np.full((len(thresholds), scope.traffic.n), -1, np.int64)
        self.next = [0] * len(thresholds)  # per threshold, the first window not settled

    def advance(self) -> list[tuple[int, Piece]]:
        """Settle the windows whose speculation agrees; the fix-ups then due, per threshold."""
        due = []
        cut = self.cut
        for t, threshold in enumerate(self.thresholds):
            k = self.next[t]
            while k < cut.count and self._agrees(t, k):
                guess, replayed = self.speculated[k]
                self._fill(t, k, guess.local, replayed.results[t])
                k += 1
            self.next[t] = k
            if k < cut.count:
                halo = np.arange(cut.halo[k], cut.cuts[k])
                window = np.arange(cut.cuts[k], cut.cuts[k + 1])
                local = np.concatenate([halo[~self.hit[t, halo]], window])
                due.append((t, piece(self.scope, local, [threshold])))
        return due

    def fixed(self, t: int, done: Piece, replayed: partitions.Replayed) -> None:
        """The fix-up of threshold t's next window."""
        self._fill(t, self.next[t], done.local, replayed.results[0])
        self.next[t] += 1

    def _agrees(self, t: int, k: int) -> bool:
        cut = self.cut
        first, halo = cut.start[k], slice(cut.halo[k], cut.cuts[k])
        guessed = self.speculated[k][1].results[t].hit[halo.start - first : halo.stop - first]
        return bool(np.array_equal(guessed, self.hit[t, halo]))

    def _fill(
        self, t: int, k: int, local: npt.NDArray[np.int64], result: simulate.SimResult
    ) -> None:
        inside = local >= self.cut.cuts[k]  # the window (its overlap comes before it)
        self.hit[t, local[inside]] = result.hit[inside]
        served = result.served_by[inside]
        self.served[t, local[inside]] = np.where(served >= 0, local[np.maximum(served, 0)], -1)

    def results(self, expired: npt.NDArray[np.int64], ttl_s: float) -> list[simulate.SimResult]:
        """Each threshold's replay over the scope (request indices in it)."""
        if self.cut.count == 1:  # window 0 alone: its replay is the scope's, expired misses too
            return self.speculated[0][1].results
        ts = self.scope.traffic.ts
        out = []
        for t, threshold in enumerate(self.thresholds):
            live = np.flatnonzero(~self.hit[t] & (ts[-1] - ts < ttl_s))
            out.append(
                simulate.SimResult(
                    threshold, self.hit[t].copy(), self.served[t].copy(), int(expired[t]), 0, live
                )
            )
        return out

    def question(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The keys (in the scope) that ever missed, and per threshold each one's first entry."""
        keys = self.scope.traffic.keys
        ever = np.unique(keys[(~self.hit).any(axis=0)])
        first = np.full((len(self.thresholds), len(ever)), entries.NEVER, np.int64)
        for t in range(len(self.thresholds)):
            missed = np.flatnonzero(~self.hit[t])
            np.minimum.at(first[t], np.searchsorted(ever, keys[missed]), missed)
        return ever, first

    def expired(self, ever: npt.NDArray[np.int64], earliest: npt.NDArray[np.int64]) -> list[int]:
        """Per threshold, the misses an earlier entry at least that similar would have served."""
        keys = self.scope.traffic.keys
        counts = []
        for t in range(len(self.thresholds)):
            missed = np.flatnonzero(~self.hit[t])
            counts.append(int((earliest[t, np.searchsorted(ever, keys[missed])] < missed).sum()))
        return counts


def replay(
    traffic: simulate.Traffic,
    vectors: npt.NDArray[np.float32],
    thresholds: Sequence[float],
    settings: simulate.CacheSettings,
    run: Run = in_process,
    pieces: int = 1,
) -> Split:
    """Every threshold's replay by scope and time window (the module's steps) through `run`;
    `pieces`: about how many tasks each step is cut into."""
    if settings.max_entries is not None:
        raise ValueError("a capacity ties every request to every other: no partition is exact")
    thresholds = list(thresholds)
    planned = plan(traffic, settings.ttl_s, pieces)
    shared = (vectors, settings)
    # 1. every window's speculation
    speculation = [
        piece(scope, np.arange(cut.start[k], cut.cuts[k + 1]), thresholds)
        for scope, cut in planned
        for k in range(cut.count)
    ]
    groups = partitions.balance(speculation, pieces)
    answers = run(replay_pieces, shared, groups)
    found = dict(
        zip((id(p) for g in groups for p in g), (r for a in answers for r in a), strict=True)
    )
    done = [(p, found[id(p)]) for p in speculation]
    states, at = [], 0
    for scope, cut in planned:
        states.append(_Settling(scope, cut, done[at : at + cut.count], thresholds))
        at += cut.count
    tasks, fixed = len(groups), 0
    # 2. and 3. settled in time order; the fix-ups due run in waves
    while due := [(state, t, p) for state in states for t, p in state.advance()]:
        answers = run(replay_pieces, shared, [[p] for _, _, p in due])
        for (state, t, p), (fix,) in zip(due, answers, strict=True):
            state.fixed(t, p, fix)
            done.append((p, fix))
        tasks, fixed = tasks + len(due), fixed + len(due)
    # 4. the expired misses of the windowed scopes
    expired, asked = _expired(run, shared, [s for s in states if s.cut.count > 1], pieces)
    ttl_s = math.inf if settings.ttl_s is None else settings.ttl_s
    results = [s.results(expired.get(id(s), np.zeros(0, np.int64)), ttl_s) for s in states]
    replays = [r for _, r in done]
    return Split(
        partitions.merge(traffic, [s.scope for s in states], results, settings),
        partitions.merged_lists(len(vectors), [(p.part.keys, r.lists) for p, r in done]),
        max((r.rounds for r in replays), default=0),
        sum(r.searched for r in replays),
        len(states),
        len(speculation),
        fixed,
        tasks + asked,
    )


def _expired(
    run: Run,
    shared: tuple[npt.NDArray[np.float32], simulate.CacheSettings],
    states: Sequence[_Settling],
    pieces: int,
) -> tuple[dict[int, npt.NDArray[np.int64]], int]:
    """Step 4 for each scope's settled hits: per scope (by id), each threshold's expired misses;
    and how many tasks asked."""
    questions, owners, evers = [], [], {}
    for state in states:
        ever, first = state.question()
        evers[id(state)] = ever
        keys = state.scope.keys[ever]
        chunk = max(MIN_CHUNK, -(-len(ever) // max(1, pieces)))
        for s in range(0, len(ever), chunk):
            queries = np.arange(s, min(s + chunk, len(ever)), dtype=np.int64)
            questions.append(Question(keys, first, queries, state.thresholds))
            owners.append(state)
    groups = partitions.balance(questions, pieces)
    answered = run(answer, shared, groups)
    found = {
        id(q): a
        for g, answers in zip(groups, answered, strict=True)
        for q, a in zip(g, answers, strict=True)
    }
    out = {}
    for state in states:
        mine = [found[id(q)] for q, owner in zip(questions, owners, strict=True) if owner is state]
        out[id(state)] = np.array(
            state.expired(evers[id(state)], np.concatenate(mine, axis=1)), np.int64
        )
    return out, len(groups)
