"""The prompt vectors `costlab intents` clusters: read from the store, never embedded here.

Embedding is simulate-cache's step (or `costlab embeddings import`'s); intents reads what they
kept. Unless one is named, the embedder is the one whose stored vectors cover the most of the
prompts in scope (ties: MiniLM, the reference, then by name).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from costlab.cache import embedders
from costlab.cache.vectors import stored
from costlab.errors import BadInput
from costlab.store import Store

NO_VECTORS_HINT = (
    "run `costlab simulate-cache --threshold 0.9` first: it embeds each distinct prompt once and "
    "keeps the vectors (or bring your own: costlab embeddings import FILE --embedder NAME)"
)


def choose(store: Store, hashes: list[str], name: str | None) -> str:
    """The embedder whose stored vectors to cluster; BadInput when none covers any prompt."""
    counts = _coverage(store, hashes)
    if name is not None:
        if counts.get(name, 0) == 0:
            found = ", ".join(f"{e} ({n:,})" for e, n in counts.items()) or "none"
            raise BadInput(
                f"--embedder {name}: no stored vector of it for the {len(hashes):,} prompts in "
                f"scope (stored for them: {found})",
                NO_VECTORS_HINT.replace("--threshold 0.9", f"--threshold 0.9 --embedder {name}"),
            )
        return name
    if not counts:
        raise BadInput(
            f"no stored embeddings for the {len(hashes):,} prompts in scope", NO_VECTORS_HINT
        )
    return min(counts, key=lambda e: (-counts[e], e != embedders.DEFAULT, e))


def read(
    store: Store, hashes: list[str], embedder: str
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Per prompt its stored vector (zeros where none), and which have one."""
    matrix, have = stored(store, hashes, embedder)
    if matrix is None:
        return np.zeros((len(hashes), 1), dtype=np.float32), have
    return matrix, have


def _coverage(store: Store, hashes: list[str]) -> dict[str, int]:
    """Per embedder, how many of `hashes` it has a vector of."""
    if not hashes:
        return {}
    store.register("_intent_hashes", pa.table({"text_hash": pa.array(hashes, pa.string())}))
    try:
        rows = store.rows(
            "SELECT e.embedder, count(*) FROM embeddings e "
            "JOIN _intent_hashes h USING (text_hash) GROUP BY e.embedder"
        )
    finally:
        store.unregister("_intent_hashes")
    return {str(e): int(n) for e, n in rows}
