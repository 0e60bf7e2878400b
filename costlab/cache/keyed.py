"""The cache key of each stored request, as simulate-cache computes it, for vectors made elsewhere.

simulate-cache looks a vector up by `text_hash(key)`, where the key is the `--key` text of a
request (the prompt by default), normalised unless `--no-normalize` (costlab.cache.logged). Here
every request with a key text gets that hash, in replay order (time, then request id; requests
without a timestamp last), so vectors keyed by request id or by text can be mapped to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from costlab.cache.logged import KEYS
from costlab.cache.normalize import normalize
from costlab.cache.vectors import text_hash
from costlab.errors import BadInput
from costlab.store import Store


@dataclass(frozen=True)
class Keying:
    """How simulate-cache keys a request: its --key and --normalize/--no-normalize."""

    key: str = "prompt"
    normalized: bool = True

    def __post_init__(self) -> None:
        if self.key not in KEYS:
            raise BadInput(f"--key {self.key}: unknown", f"use one of {', '.join(KEYS)}")

    def of(self, text: str) -> str:
        """The key text simulate-cache embeds for a text as logged."""
        return normalize(text) if self.normalized else text

    def describe(self) -> str:
        return f"--key {self.key} {'normalised' if self.normalized else '--no-normalize'}"


@dataclass(frozen=True)
class Keyed:
    """Requests with a key text, in replay order: id, the text as logged, key text, key hash."""

    request_ids: list[str]
    texts: list[str]  # distinct texts as logged
    text_ids: npt.NDArray[np.int64]  # per request, its text in `texts`
    keys: list[str]  # per distinct text, its key text
    key_hashes: list[str]  # per distinct text, text_hash(key)

    def request_hashes(self) -> list[str]:
        return [self.key_hashes[i] for i in self.text_ids.tolist()]


def requests(store: Store, keying: Keying) -> Keyed:
    """Every request with a non-empty key text, keyed as simulate-cache keys it."""
    table = store.arrow(
        f"""
        SELECT request_id, {KEYS[keying.key]} AS text FROM requests
        WHERE coalesce(length({KEYS[keying.key]}), 0) > 0
        ORDER BY ts NULLS LAST, request_id
        """
    )
    encoded = pc.dictionary_encode(table["text"]).combine_chunks()
    texts: list[str] = encoded.dictionary.to_pylist()
    keys = [keying.of(t) for t in texts]
    return Keyed(
        request_ids=table["request_id"].to_pylist(),
        texts=texts,
        text_ids=encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        keys=keys,
        key_hashes=[text_hash(k) for k in keys],
    )


def responses(store: Store) -> list[str]:
    """The distinct logged responses: simulate-cache without --label judges a hit by the
    similarity of two of them, embedded as they are (text_hash of the raw response)."""
    rows = store.rows(
        "SELECT DISTINCT response FROM requests WHERE coalesce(length(response), 0) > 0 ORDER BY 1"
    )
    return [r[0] for r in rows]


def covered(store: Store, name: str, hashes: list[str]) -> npt.NDArray[np.bool_]:
    """Per key hash, whether a vector is stored for it under `name`."""
    wanted = pa.table({"text_hash": pa.array(hashes, pa.string()), "at": np.arange(len(hashes))})
    store.register("_wanted_keys", wanted)
    try:
        found = store.rows(
            "SELECT w.at FROM _wanted_keys w JOIN embeddings e USING (text_hash) "
            "WHERE e.embedder = ?",
            [name],
        )
    finally:
        store.unregister("_wanted_keys")
    have = np.zeros(len(hashes), dtype=np.bool_)
    have[[r[0] for r in found]] = True
    return have
