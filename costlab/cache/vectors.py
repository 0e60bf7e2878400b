"""Vectors of prompt texts, embedded once per (text, embedder) and kept in the store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from costlab.cache.embedders import Embedder
from costlab.store import Store

BATCH = 256
Progress = Callable[[int, int], None]  # (embedded so far, to embed)


def text_hash(text: str) -> str:
    """The key of a text in the `embeddings` table."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def vectors(
    store: Store,
    texts: list[str],
    embedder: Embedder,
    progress: Progress | None = None,
    hashes: list[str] | None = None,
) -> npt.NDArray[np.float32]:
    """One unit vector per text, in order; texts never embedded before are embedded now.

    `hashes`: the texts' `text_hash`, when the caller has them already.
    """
    if hashes is None:
        hashes = [text_hash(t) for t in texts]
    elif len(hashes) != len(texts):
        raise ValueError("hashes must hold one text_hash per text")
    known = _stored(store, sorted(set(hashes)), embedder.name)
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
    todo = list(missing.items())
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        encoded = embedder.encode([t for _, t in batch])
        _save(store, [h for h, _ in batch], encoded, embedder)
        known.update({h: v for (h, _), v in zip(batch, encoded, strict=True)})
        if progress:
            progress(start + len(batch), len(todo))
    if not hashes:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)


def _stored(store: Store, hashes: list[str], embedder: str) -> dict[str, npt.NDArray[np.float32]]:
    if not hashes:
        return {}
    store.register("_wanted", pa.table({"text_hash": pa.array(hashes, pa.string())}))
    try:
        table = store.arrow(
            "SELECT e.text_hash, e.dim, e.vector FROM embeddings e "
            "JOIN _wanted w USING (text_hash) WHERE e.embedder = ?",
            [embedder],
        )
    finally:
        store.unregister("_wanted")
    if table.num_rows == 0:
        return {}
    dim = int(table.column("dim")[0].as_py())
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    matrix = flat.astype(np.float32).reshape(-1, dim)
    return dict(zip(table.column("text_hash").to_pylist(), matrix, strict=True))


def _save(
    store: Store, hashes: list[str], encoded: npt.NDArray[np.float32], embedder: Embedder
) -> None:
    rows = pa.table(
        {
            "text_hash": pa.array(hashes, pa.string()),
            "embedder": pa.array([embedder.name] * len(hashes), pa.string()),
            "dim": pa.array([encoded.shape[1]] * len(hashes), pa.int32()),
            "vector": pa.array(list(encoded), pa.list_(pa.float32())),
        }
    )
    store.append("embeddings", rows)
