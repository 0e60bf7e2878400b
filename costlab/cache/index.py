"""The similarity index: neighbour lists over distinct texts, built once and kept in the store.

Per embedder the store keeps one set of texts (keys are their positions in text_hash order) and
each key's neighbour keys down to the set's `min_threshold`. A simulation whose texts are all in
the stored set, at thresholds no lower than its minimum, reads its lists from there (restricted
to its own texts) instead of multiplying vectors again; otherwise the lists are built and, when
they cover at least as many texts as the stored set, replace it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from costlab.cache.neighbours import Neighbours, Progress, neighbours
from costlab.store import Store

Vectors = Callable[[], npt.NDArray[np.float32]]  # the keys' vectors, fetched only when needed


def lists(
    store: Store,
    embedder: str,
    hashes: list[str],
    min_threshold: float,
    vectors: Vectors,
    progress: Progress | None = None,
) -> tuple[Neighbours, bool]:
    """Neighbour lists over `hashes` (sorted, distinct), and whether they came from the store."""
    stored = _stored_set(store, embedder)
    if stored is not None and stored[0] <= min_threshold:
        keys = _positions(store, embedder, hashes, stored[1])
        if keys is not None:
            return _read(store, embedder, stored[0], stored[1]).restrict(keys), True
    built = neighbours(vectors(), min_threshold, progress=progress)
    if stored is None or len(hashes) >= stored[1]:
        _write(store, embedder, hashes, built)
    return built, False


def _stored_set(store: Store, embedder: str) -> tuple[float, int] | None:
    row = store.row("SELECT min_threshold, keys FROM neighbour_sets WHERE embedder = ?", [embedder])
    return (float(row[0]), int(row[1])) if row else None


def _positions(
    store: Store, embedder: str, hashes: list[str], count: int
) -> npt.NDArray[np.int64] | None:
    """The stored keys of `hashes`, or None when one of them is not in the stored set."""
    if len(hashes) > count:
        return None
    table = store.arrow(
        "SELECT text_hash FROM neighbour_lists WHERE embedder = ? ORDER BY key", [embedder]
    )
    known = np.asarray(table.column("text_hash").to_pylist(), dtype=object)
    wanted = np.asarray(hashes, dtype=object)
    at = np.searchsorted(known, wanted)
    found = at < len(known)
    found[found] = known[at[found]] == wanted[found]
    return at.astype(np.int64) if found.all() else None


def _read(store: Store, embedder: str, min_threshold: float, count: int) -> Neighbours:
    table = store.arrow(
        "SELECT neighbours, similarities FROM neighbour_lists WHERE embedder = ? ORDER BY key",
        [embedder],
    )
    column = table.column("neighbours").combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.int64)
    similarity = pc.list_flatten(table.column("similarities").combine_chunks())
    return Neighbours(
        min_threshold, offsets, index, similarity.to_numpy(zero_copy_only=False).astype(np.float32)
    )


def _write(store: Store, embedder: str, hashes: list[str], built: Neighbours) -> None:
    offsets = pa.array(built.offsets, pa.int64())
    rows = pa.table(
        {
            "embedder": pa.array([embedder] * built.n, pa.string()),
            "key": pa.array(np.arange(built.n), pa.int32()),
            "text_hash": pa.array(hashes, pa.string()),
            "neighbours": pa.LargeListArray.from_arrays(
                offsets, pa.array(built.index.astype(np.int32), pa.int32())
            ),
            "similarities": pa.LargeListArray.from_arrays(
                offsets, pa.array(built.similarity, pa.float32())
            ),
        }
    )
    with store.transaction():
        store.execute("DELETE FROM neighbour_sets WHERE embedder = ?", [embedder])
        store.execute("DELETE FROM neighbour_lists WHERE embedder = ?", [embedder])
        store.execute(
            "INSERT INTO neighbour_sets VALUES (?, ?, ?, ?, ?)",
            [
                embedder,
                built.min_threshold,
                built.n,
                int(built.offsets[-1]),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        store.append("neighbour_lists", rows)
