"""Logged spend against spend with prefix caching, per request as columns and summed per group.

Per request: its logged cost; where it was replayed and priced both ways and the provider read no
more from its cache than the rule finds, it saves logged buckets − simulated buckets and carries
the simulated cache tokens; otherwise (kept) it stands at its logged cost and logged tokens.
A group's sums (the total, a feature, a template) add its requests' figures in request order,
from zero, exactly as adding one request at a time would (Decimal money, int tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

import numpy as np

from costlab.prefix import money, replay, traffic

ZERO = Decimal(0)


@dataclass
class Spend:
    """Logged spend against spend with prefix caching, and the cache tokens behind each."""

    requests: int = 0
    logged_usd: Decimal = ZERO
    with_cache_usd: Decimal = ZERO
    saved_usd: Decimal = ZERO
    logged_cached_tokens: int = 0  # cache reads the provider reported
    possible_cached_tokens: int = 0  # cache reads under the rule
    logged_write_tokens: int = 0
    possible_write_tokens: int = 0

    def add(self, other: Spend) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Columns:
    """Each Spend field but `requests`, one entry per request in traffic order (money: Decimal
    objects), and how many requests kept their logged buckets."""

    logged_usd: np.ndarray
    with_cache_usd: np.ndarray
    saved_usd: np.ndarray
    logged_cached_tokens: np.ndarray
    possible_cached_tokens: np.ndarray
    logged_write_tokens: np.ndarray
    possible_write_tokens: np.ndarray
    kept_logged: int

    def sums(self, group: np.ndarray, groups: int) -> list[Spend]:
        """One Spend per group (`group[i]` in 0 … groups − 1, −1: in none)."""
        member = np.flatnonzero(group >= 0)
        order = member[np.argsort(group[member], kind="stable")]
        counts = np.bincount(group[member], minlength=groups)
        filled = np.flatnonzero(counts)
        starts = (np.cumsum(counts) - counts)[filled]
        summed: list[list[object]] = [counts[filled].tolist()]
        for name in _SUMMED:
            column = getattr(self, name)[order]
            at = np.add.reduceat(column, starts).tolist() if len(filled) else []
            summed.append([ZERO + v for v in at] if column.dtype == object else at)
        made = [Spend(*values) for values in zip(*summed, strict=True)]
        if len(filled) == groups:  # every group has requests (templates always do)
            return made
        out = [Spend() for _ in range(groups)]
        for g, spend in zip(filled.tolist(), made, strict=True):
            out[g] = spend
        return out

    def total(self) -> Spend:
        return self.sums(np.zeros(len(self.logged_usd), np.int64), 1)[0]


_SUMMED = [f.name for f in fields(Spend) if f.name != "requests"]


def columns(found: traffic.Traffic, replayed: replay.Replayed, costs: money.Costs) -> Columns:
    """Per request, its Spend; where the provider read more from its cache than the rule finds
    (it saw more than the logged text), its logged buckets stand."""
    n = len(found)
    logged = np.array([c or ZERO for c in found.cost_usd], dtype=object)
    base = np.array(costs.logged_buckets, dtype=object)
    simulated = np.array(costs.simulated, dtype=object)
    priced = np.fromiter(
        (b is not None and s is not None for b, s in zip(costs.logged_buckets, costs.simulated,
                                                          strict=True)), bool, n
    )  # fmt: skip
    ok = priced & (replayed.template_of >= 0)
    taken = ok & (found.logged_cached <= replayed.cached)
    saved = np.full(n, ZERO, dtype=object)
    saved[taken] = base[taken] - simulated[taken]
    with_cache = logged.copy()
    with_cache[taken] = logged[taken] - saved[taken]
    written = replayed.write_5m + replayed.write_1h
    return Columns(
        logged,
        with_cache,
        saved,
        found.logged_cached.astype(np.int64),
        np.where(taken, replayed.cached, found.logged_cached).astype(np.int64),
        found.logged_written.astype(np.int64),
        np.where(taken, written, found.logged_written).astype(np.int64),
        int((ok & ~taken).sum()),
    )


def most_common(group: np.ndarray, code: np.ndarray, groups: int) -> np.ndarray:
    """Per group, the code its requests have most often; a tie goes to the code seen first (as
    `Counter.most_common(1)`); −1 for an empty group."""
    member = np.flatnonzero(group >= 0)
    width = int(code.max()) + 1 if len(code) else 1
    pair = group[member].astype(np.int64) * width + code[member]
    distinct, first, counts = np.unique(pair, return_index=True, return_counts=True)
    owner = distinct // width
    order = np.lexsort((member[first], -counts, owner))
    owner = owner[order]
    lead = np.ones(len(owner), bool)
    lead[1:] = owner[1:] != owner[:-1]
    out = np.full(groups, -1, np.int64)
    out[owner[lead]] = distinct[order][lead] % width
    return out
