"""Vectors of prompt texts, embedded once per (text, embedder) and kept in the store.

Embedding is the slow step, so it is written as it goes: every `SAVE_EVERY` vectors are committed
to the store, and an interrupted run (Ctrl-C, a kill) keeps all but the chunk in hand; the next
run embeds only what is still missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from costlab.cache.embedders import Embedder
from costlab.store import Store

BATCH = 256  # texts per call of the embedder
SAVE_EVERY = 8192  # vectors per write to the store
READ_ROWS = 16_384  # stored vectors per batch read (~25 MiB of 384 floats)
Progress = Callable[[int, int], None]  # (embedded so far, to embed)
# Texts to their vectors as consecutive batches, in order: where the embedding runs (an engine,
# costlab.cache.engine); by default in this process, `BATCH` texts per call of the embedder.
Encode = Callable[[list[str]], Iterable[npt.NDArray[np.float32]]]


def text_hash(text: str) -> str:
    """The key of a text in the `embeddings` table."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def vectors(
    store: Store,
    texts: list[str],
    embedder: Embedder,
    progress: Progress | None = None,
    hashes: list[str] | None = None,
    encode: Encode | None = None,
) -> npt.NDArray[np.float32]:
    """One unit vector per text, in order; texts never embedded before are embedded now.

    `hashes`: the texts' `text_hash`, when the caller has them already; `encode`: where the
    missing texts are embedded (default: here, by `embedder`).
    """
    if hashes is None:
        hashes = [text_hash(t) for t in texts]
    elif len(hashes) != len(texts):
        raise ValueError("hashes must hold one text_hash per text")
    distinct, first, where = np.unique(
        np.asarray(hashes, dtype=object), return_index=True, return_inverse=True
    )
    matrix, have = stored(store, distinct.tolist(), embedder.name)
    todo = np.flatnonzero(~have)
    pending: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = []
    done = 0
    for encoded in (encode or in_batches(embedder))([texts[i] for i in first[todo]]):
        batch = todo[done : done + len(encoded)]
        done += len(encoded)
        if matrix is None:
            matrix = np.zeros((len(distinct), encoded.shape[1]), dtype=np.float32)
        matrix[batch] = encoded
        pending.append((batch, encoded))
        if sum(len(b) for b, _ in pending) >= SAVE_EVERY:
            _save(store, distinct, pending, embedder.name)
            pending = []
        if progress:
            progress(done, len(todo))
    if pending:
        _save(store, distinct, pending, embedder.name)
    if matrix is None:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    where = where.reshape(-1)
    if len(where) == len(distinct) and bool((where == np.arange(len(where))).all()):
        return matrix  # distinct texts in hash order (the cache's keys): no copy
    return matrix[where]


def in_batches(embedder: Embedder) -> Encode:
    """Embedding in this process: `BATCH` texts per call of `embedder`."""

    def encode(texts: list[str]) -> Iterator[npt.NDArray[np.float32]]:
        for start in range(0, len(texts), BATCH):
            yield embedder.encode(texts[start : start + BATCH])

    return encode


def stored(
    store: Store, hashes: list[str], embedder: str
) -> tuple[npt.NDArray[np.float32] | None, npt.NDArray[np.bool_]]:
    """The stored vectors of `hashes` (distinct) as rows of one matrix, and which were found."""
    have = np.zeros(len(hashes), dtype=np.bool_)
    if not hashes:
        return None, have
    wanted = pa.table(
        {"text_hash": pa.array(hashes, pa.string()), "at": pa.array(np.arange(len(hashes)))}
    )
    store.register("_wanted", wanted)
    matrix: npt.NDArray[np.float32] | None = None
    try:  # in small batches into one matrix, DuckDB kept lean: the vectors are held once
        with store.lean():
            for batch in store.batches(
                "SELECT w.at, e.dim, e.vector FROM embeddings e "
                "JOIN _wanted w USING (text_hash) WHERE e.embedder = ?",
                [embedder],
                rows=READ_ROWS,
            ):
                if batch.num_rows == 0:
                    continue
                dim = int(batch.column(1)[0].as_py())
                if matrix is None:
                    matrix = np.zeros((len(hashes), dim), dtype=np.float32)
                at = batch.column(0).to_numpy()
                flat = batch.column(2).flatten().to_numpy(zero_copy_only=False)
                matrix[at] = flat.reshape(-1, dim)
                have[at] = True
    finally:
        store.unregister("_wanted")
    return matrix, have


def _save(
    store: Store,
    distinct: npt.NDArray[np.object_],
    pending: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]],
    embedder: str,
) -> None:
    rows = np.concatenate([b for b, _ in pending])
    encoded = np.concatenate([e for _, e in pending]).astype(np.float32, copy=False)
    dim = encoded.shape[1]
    flat = pa.array(encoded.ravel(), pa.float32())
    table = pa.table(
        {
            "text_hash": pa.array(distinct[rows].tolist(), pa.string()),
            "embedder": pa.array([embedder] * len(rows), pa.string()),
            "dim": pa.array(np.full(len(rows), dim, dtype=np.int32), pa.int32()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, dim).cast(pa.list_(pa.float32())),
        }
    )
    with store.lean():  # the vectors written are held by the caller: DuckDB keeps no copy
        store.append("embeddings", table)
