"""The texts to embed elsewhere: what `costlab embeddings import` takes back, in the same keys.

`by="text"` writes each distinct key text once, as simulate-cache would embed it (normalised
unless `--no-normalize`), with its `text_hash` and `kind` "key"; and, unless `responses=False`,
each distinct logged response (`kind` "response", as is): simulate-cache without `--label` judges
a hit by how similar the two logged responses are, with the same embedder. Embed `text`, keep
`text_hash` (or `text` and `kind`) next to the vector. `by="request_id"` writes one row per
request: its id, its text as logged (what a production cache embedded) and the hash of its key.
`missing=NAME` keeps only the texts whose key has no vector under NAME yet. The file is written
next to its target and renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from costlab.cache import keyed
from costlab.cache.vectors import text_hash
from costlab.errors import BadInput
from costlab.store import Store

BY = ("text", "request_id")
_NO_RESPONSES = "\x00no responses"  # a name no embedder can have


@dataclass(frozen=True)
class Written:
    """What `export_texts` wrote."""

    path: str
    by: str
    rows: int
    keys: int  # distinct cache keys
    responses: int  # distinct responses (by="text" only)


def export_texts(
    store: Store,
    path: Path,
    keying: keyed.Keying,
    by: str = "text",
    missing: str | None = None,
    responses: bool = True,
) -> Written:
    """Write the texts to embed as Parquet at `path`, keyed `by` text or request_id."""
    if by not in BY:
        raise BadInput(f"--by {by}: unknown", f"use one of {', '.join(BY)}")
    found = keyed.requests(store, keying)
    keep = np.ones(len(found.texts), dtype=np.bool_)
    if missing is not None:
        keep = ~keyed.covered(store, missing, found.key_hashes)
    if by == "text":
        table = _by_text(store, found, keep, missing if responses else _NO_RESPONSES)
    else:
        rows = np.flatnonzero(keep[found.text_ids])
        ids = found.text_ids[rows].tolist()
        table = pa.table(
            {
                "request_id": [found.request_ids[i] for i in rows.tolist()],
                "text": [found.texts[i] for i in ids],
                "text_hash": [found.key_hashes[i] for i in ids],
            }
        )
    _write(table, path)
    kinds: list[str] = table["kind"].to_pylist() if by == "text" else []
    answers = kinds.count("response")
    keys = len(set(table["text_hash"].to_pylist())) - answers
    return Written(str(path), by, table.num_rows, keys, answers)


def _by_text(
    store: Store, found: keyed.Keyed, keep: npt.NDArray[np.bool_], missing: str | None
) -> pa.Table:
    """Distinct key texts, then the distinct responses (unless `missing` is _NO_RESPONSES)."""
    texts = {h: k for h, k, w in zip(found.key_hashes, found.keys, keep, strict=True) if w}
    hashes = sorted(texts)
    kinds = ["key"] * len(hashes)
    if missing is not _NO_RESPONSES:
        answers = {text_hash(r): r for r in keyed.responses(store)}
        answered = sorted(set(answers) - set(texts))
        if missing is not None:
            have = keyed.covered(store, missing, answered)
            answered = [h for h, c in zip(answered, have, strict=True) if not c]
        texts |= {h: answers[h] for h in answered}
        hashes, kinds = hashes + answered, kinds + ["response"] * len(answered)
    return pa.table({"text_hash": hashes, "text": [texts[h] for h in hashes], "kind": kinds})


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
