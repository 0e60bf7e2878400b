"""The similarity index: entry lists over distinct texts, built once, kept in the store, extended.

Per embedder the store keeps one set of texts (keys are their positions in text_hash order), each
key's list (the keys that may serve it, with their similarities) and its `complete_from` bound
(costlab.cache.entries), and which search found them: `exact`, or `approx` with its probes.

A run over texts that are all in the stored set reads its lists from there, restricted to its own
texts, and replays; the vectors are fetched and a search is made only when the replay makes a key
an entry lower than its list is complete (another TTL, scope or capacity can). New texts (logs
ingested since) extend the stored lists rather than rebuild them: each new key is put in the
lists of its nearest keys, and searched for the stored keys whose promise it must keep (every key
at least `complete_from[v]` similar to v holds v). The set is written back when the run covered
every stored text (so nothing is dropped) and something changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from costlab.cache import entries, fidelity, simulate
from costlab.cache.entries import EntryLists
from costlab.cache.neighbours import ANY, Neighbours
from costlab.cache.search import ExactSearch, IndexSearch, Search
from costlab.store import Store

Mode = Literal["exact", "approx"]
Vectors = Callable[[], npt.NDArray[np.float32]]  # the keys' vectors, fetched only when needed
# Cells an approximate search scans for its nearest keys and at a radius of 0.95 and above, of
# ~4·sqrt(keys); up to 4x that at 0.80 (search.IndexSearch.probes_for). On 100,000 real requests
# (79,023 texts) this moved the hits by at most 0.12 % at any of 20 thresholds.
PROBES = 16


@dataclass(frozen=True)
class Replayed:
    """Every threshold's replay, the lists it ran over, and where they came from."""

    built: entries.Built
    mode: Mode
    reused: bool  # the stored lists were read (and extended where they had to be)
    new_keys: int  # keys the stored set did not hold, added to it
    whole: bool = False  # the stored set now holds exactly this run's keys, numbered alike


@dataclass(frozen=True)
class Request:
    """What to replay: the texts (sorted hashes, one key each), the traffic over them, how."""

    embedder: str
    hashes: list[str]
    traffic: simulate.Traffic
    thresholds: Sequence[float]
    settings: simulate.CacheSettings
    mode: Mode


def searcher(vectors: npt.NDArray[np.float32], mode: Mode) -> Search:
    """The search of `mode` over `vectors`, in this process."""
    return ExactSearch(vectors) if mode == "exact" else IndexSearch(vectors, PROBES)


def replay(
    store: Store,
    request: Request,
    vectors: Vectors,
    progress: entries.Progress | None = None,
    make_search: Callable[[npt.NDArray[np.float32], Mode], Search] = searcher,
) -> Replayed:
    """Replay every threshold over the stored lists where they serve, else over new ones.

    `make_search`: where the searches run (another engine's, costlab.cache.engine).
    """
    cached: dict[str, Search] = {}

    def search() -> Search:
        if "search" not in cached:
            cached["search"] = make_search(vectors(), request.mode)
        return cached["search"]

    stored = _stored(store, request.embedder, request.mode)
    start, reused, new = None, False, 0
    known = np.zeros(0, np.int64)
    if stored is not None:
        known = _positions(store, request.embedder, request.hashes)
        start, new = _from_stored(store, request.embedder, stored, known, search, progress)
        reused = True
    if start is None:
        start = entries.seed(search(), progress=progress)
    built = entries.build(
        request.traffic, request.thresholds, request.settings, start, search, progress
    )
    covers = stored is None or int((known >= 0).sum()) == stored or len(request.hashes) >= stored
    written = covers and (built.searched > 0 or new > 0 or not reused)
    if written:
        need = entries.needs(built.results, request.traffic, len(request.hashes))
        _write(store, request, entries.prune(built.entry_lists, need))
    whole = written or (stored == len(request.hashes) and new == 0 and bool((known >= 0).all()))
    return Replayed(built, request.mode, reused, new, whole)


def sample(store: Store, embedder: str, keys: int) -> fidelity.Sample | None:
    """The exact lists of the check's sample kept for the stored set of `keys` keys, if any."""
    table = store.arrow(
        "SELECT floor, key, neighbours, similarities FROM entry_samples "
        "WHERE embedder = ? AND keys = ? ORDER BY key",
        [embedder, keys],
    )
    if table.num_rows == 0:
        return None
    drawn = table.column("key").to_numpy().astype(np.int64)
    column = table.column("neighbours").combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    v = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.int64)
    similarities = pc.list_flatten(table.column("similarities").combine_chunks())
    s = similarities.to_numpy(zero_copy_only=False).astype(np.float32)
    floor = float(table.column("floor")[0].as_py())
    return fidelity.Sample(keys, drawn, floor, (np.repeat(drawn, lengths), v, s))


def save_sample(store: Store, embedder: str, exact: fidelity.Sample) -> None:
    """Keep the check's sample for the stored set (a set of `exact.keys` keys, as written)."""
    u, v, s = exact.pairs
    order = np.lexsort((v, u))
    u, v, s = u[order], v[order], s[order]
    counts = np.bincount(np.searchsorted(exact.drawn, u), minlength=len(exact.drawn))
    offsets = np.zeros(len(exact.drawn) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    rows = pa.table(
        {
            "embedder": pa.array([embedder] * len(exact.drawn), pa.string()),
            "keys": pa.array(np.full(len(exact.drawn), exact.keys), pa.int64()),
            "floor": pa.array(np.full(len(exact.drawn), exact.floor), pa.float32()),
            "key": pa.array(exact.drawn, pa.int32()),
            "neighbours": pa.LargeListArray.from_arrays(
                pa.array(offsets, pa.int64()), pa.array(v.astype(np.int32), pa.int32())
            ),
            "similarities": pa.LargeListArray.from_arrays(
                pa.array(offsets, pa.int64()), pa.array(s, pa.float32())
            ),
        }
    )
    with store.transaction():
        store.execute("DELETE FROM entry_samples WHERE embedder = ?", [embedder])
        store.append("entry_samples", rows)


def _stored(store: Store, embedder: str, mode: Mode) -> int | None:
    """How many keys the stored set holds, when it can serve a run of `mode`."""
    row = store.row("SELECT search, keys FROM entry_sets WHERE embedder = ?", [embedder])
    if row is None or (mode == "exact" and row[0] != "exact"):
        return None  # an exact run never starts from lists an index found
    return int(row[1])


def _positions(store: Store, embedder: str, hashes: list[str]) -> npt.NDArray[np.int64]:
    """Each hash's stored key, -1 where the stored set does not hold it."""
    table = store.arrow(
        "SELECT text_hash FROM entry_lists WHERE embedder = ? ORDER BY key", [embedder]
    )
    stored = table.column("text_hash").to_pylist()
    # the stored set is this run's keys (a re-run): key i is key i, as the search finds it
    # where no two keys share a hash
    if stored == hashes and all(a != b for a, b in zip(hashes, hashes[1:], strict=False)):
        return np.arange(len(hashes), dtype=np.int64)
    known = np.asarray(stored, dtype=object)
    wanted = np.asarray(hashes, dtype=object)
    at = np.searchsorted(known, wanted) if len(known) else np.zeros(len(wanted), np.int64)
    found = at < len(known)
    found[found] = known[at[found]] == wanted[found]
    return np.where(found, at, -1).astype(np.int64)


def _from_stored(
    store: Store,
    embedder: str,
    count: int,
    known: npt.NDArray[np.int64],
    search: Callable[[], Search],
    progress: entries.Progress | None,
) -> tuple[EntryLists, int]:
    """The stored lists over this run's keys, new keys added; and how many were new."""
    stored = _read(store, embedder, count)
    old = np.flatnonzero(known >= 0)
    fresh = np.flatnonzero(known < 0)
    n = len(known)
    part = stored.restrict(known[old])
    # renumber: stored (restricted) key i is this run's key old[i]
    lists = part.lists
    owner = np.repeat(old, np.diff(lists.offsets))
    complete_from = np.full(n, entries.UNKNOWN, dtype=np.float32)
    complete_from[old] = part.complete_from
    seeded_from = np.full(n, entries.UNKNOWN, dtype=np.float32)
    seeded_from[old] = part.seeded_from
    pairs: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]]
    pairs = [(owner, old[lists.index], lists.similarity)]
    if len(fresh):
        pairs += _new_keys(search(), fresh, complete_from, progress)
        seeded_from[fresh] = complete_from[fresh]
    return EntryLists(entries.assemble(n, *pairs), complete_from, seeded_from), len(fresh)


def _new_keys(
    search: Search,
    fresh: npt.NDArray[np.int64],
    complete_from: npt.NDArray[np.float32],
    progress: entries.Progress | None,
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
    """New keys: seeded like a fresh build, and put in the lists the stored promises require.

    Sets the new keys' `complete_from` in place.
    """
    stage = None if progress is None else (lambda d, t: progress("new texts", d, t))
    v, u, s = search.nearest(entries.SEED_K, stage, queries=fresh)
    if search.finds_all:  # an index's nearest promise nothing (costlab.cache.entries.seed)
        complete_from[fresh] = entries.seed_bounds(search.n, v, s, entries.SEED_K)[fresh]
    found = [(u, v, s)]
    promised = np.isfinite(complete_from)
    promised[fresh] = False
    if promised.any():  # every new key u with sim(u, v) >= complete_from[v] must hold v
        lowest = float(complete_from[promised].min())
        q, w, sim = search.within(fresh, lowest, stage)
        kept = promised[w] & (sim >= complete_from[w])
        found.append((q[kept], w[kept], sim[kept]))
    return found


def _read(store: Store, embedder: str, count: int) -> EntryLists:
    with store.lean():  # the lists are held here as numpy: DuckDB keeps no copy of them
        table = store.arrow(
            "SELECT complete_from, seeded_from, neighbours, similarities FROM entry_lists "
            "WHERE embedder = ? ORDER BY key",
            [embedder],
        )
    column = table.column("neighbours").combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.int64)
    similarity = pc.list_flatten(table.column("similarities").combine_chunks())
    lists = Neighbours(
        ANY,
        offsets,
        index,
        similarity.to_numpy(zero_copy_only=False).astype(np.float32),
        complete=False,
    )
    complete_from = table.column("complete_from").to_numpy().astype(np.float32)
    seeded_from = table.column("seeded_from").to_numpy().astype(np.float32)
    return EntryLists(lists, complete_from, seeded_from)


def _write(store: Store, request: Request, built: EntryLists) -> None:
    lists = built.lists
    offsets = pa.array(lists.offsets, pa.int64())
    rows = pa.table(
        {
            "embedder": pa.array([request.embedder] * lists.n, pa.string()),
            "key": pa.array(np.arange(lists.n), pa.int32()),
            "text_hash": pa.array(request.hashes, pa.string()),
            "complete_from": pa.array(built.complete_from, pa.float32()),
            "seeded_from": pa.array(built.seeded_from, pa.float32()),
            "neighbours": pa.LargeListArray.from_arrays(
                offsets, pa.array(lists.index.astype(np.int32), pa.int32())
            ),
            "similarities": pa.LargeListArray.from_arrays(
                offsets, pa.array(lists.similarity, pa.float32())
            ),
        }
    )
    with store.transaction():
        # a sample kept for another set of keys numbers them otherwise: it goes
        store.execute(
            "DELETE FROM entry_samples WHERE embedder = ? AND keys <> ?",
            [request.embedder, lists.n],
        )
        store.execute("DELETE FROM entry_sets WHERE embedder = ?", [request.embedder])
        store.execute("DELETE FROM entry_lists WHERE embedder = ?", [request.embedder])
        store.execute(
            "INSERT INTO entry_sets VALUES (?, ?, ?, ?, ?, ?)",
            [
                request.embedder,
                request.mode,
                PROBES if request.mode == "approx" else None,
                lists.n,
                built.pairs,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        store.append("entry_lists", rows)
