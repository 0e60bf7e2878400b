"""Bring your own embeddings: vectors from the production cache's model, made outside costlab.

`import_file` loads a Parquet file of vectors under an embedder name, keyed by one of:

- `request_id`: the vector of that request's text as production embedded it;
- `text`: a text as logged, or a key text as `costlab embeddings export` writes it; it is keyed
  as simulate-cache keys it (normalised unless `--no-normalize`: a key text stays itself). Rows
  whose `kind` column says "response" are logged responses, kept as they are: simulate-cache
  without `--label` judges hits by the similarity of responses, with the same embedder;
- `text_hash`: the hash of a key text (`text_hash` of `costlab embeddings export`), as is.

A file with several of them is keyed by the first in the order request_id, text_hash, text (`by`
picks another): a file that keeps the export's columns next to its vectors imports as is.

The file is refused whole (BadInput naming it) for: no key or vector column, null keys or vectors,
duplicate keys, vectors of more than one length or of another length than the vectors already
stored under the name, NaN or infinite values, zero vectors. Vectors not of unit length are
scaled to it (cosine similarity is a dot product) and counted.

simulate-cache looks vectors up by the hash of the key text, so several requests (or texts) may
share one key. When they carry different vectors, the key keeps the vector of the request that
comes first in replay order (time, then request id), the one whose miss would have created the
cache entry; such keys are counted as `conflicting_keys`, never averaged. A request id that is
not stored cannot be keyed and is counted as unmatched. Requests whose key has no vector are
counted, never guessed: simulate-cache with the name stops and names how many texts lack one
(costlab.cache.vectors_only), and `costlab embeddings export --missing NAME` writes them. The
import is one transaction. Like a model's, the vectors under a name never change (simulate-cache
keeps its similarity index per name): a later import may add keys, or repeat the same vectors, but
a different vector for a key already stored is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from costlab.cache import keyed, vectors_only
from costlab.cache.embedders import EMBEDDERS
from costlab.cache.vectors import text_hash
from costlab.errors import BadInput
from costlab.store import Store

# In this order of preference when a file has several (an export's columns come back with it).
KEY_COLUMNS = ("request_id", "text_hash", "text")
VECTOR_COLUMNS = ("vector", "embedding")
UNIT_TOLERANCE = 1e-3  # a norm this close to 1 is already unit length
_HASH = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Coverage:
    """How much of the stored traffic has a vector under an embedder."""

    requests: int  # stored requests with a key text
    requests_covered: int
    keys: int
    keys_covered: int
    responses: int  # distinct logged responses (hit precision without --label embeds them)
    responses_covered: int


@dataclass(frozen=True)
class ImportReport:
    """What an import stored, and how much of the stored traffic now has a vector."""

    embedder: str
    source_file: str
    keyed_by: str
    keying: str
    dim: int
    vectors: int
    vectors_stored: int
    renormalized: int
    conflicting_keys: int
    unmatched: int  # request ids not stored (dropped) or texts no stored request has (kept)
    coverage: Coverage


def import_file(
    store: Store, path: Path, name: str, keying: keyed.Keying, by: str | None = None
) -> ImportReport:
    """Check the vector file whole, map it to simulate-cache's keys, store it in one transaction."""
    if not vectors_only.is_name(name, EMBEDDERS):
        raise BadInput(
            f"--embedder {name}: not a name for imported vectors",
            "letters, digits, '.', '_' and '-', not a built-in embedder's name",
        )
    table, by = _read(path, by)
    vectors, scaled = _unit(path, _matrix(path, table))
    _check_keys(path, table[by], by)
    _check_dim(store, path, name, vectors.shape[1])
    requests = keyed.requests(store, keying)
    answers = sorted({text_hash(r) for r in keyed.responses(store)})
    hashes, rank = _map(requests, table, by, keying)
    known = set(requests.key_hashes) | set(answers)
    kept, conflicting = _first_per_key(hashes, rank, vectors)
    _check_unchanged(store, path, name, [hashes[i] for i in kept], vectors[kept])
    with store.transaction():
        _save(store, name, [hashes[i] for i in kept], vectors[kept])
        report = ImportReport(
            name,
            str(path),
            by,
            keying.describe(),
            vectors.shape[1],
            len(vectors),
            len(kept),
            scaled,
            conflicting,
            sum(1 for h in hashes if h not in known),
            coverage(store, name, requests, answers),
        )
        _record(store, report, keying, _sha256(path))
    return report


@dataclass(frozen=True)
class Imported:
    """An embedder known by its imported vectors, as `costlab embeddings list` shows it."""

    embedder: str
    dim: int
    vectors: int  # stored now
    imports: int
    last_file: str
    last_at: str


def listed(store: Store) -> list[Imported]:
    """The embedders whose vectors were imported into this store."""
    rows = store.rows(
        """
        SELECT i.embedder, any_value(i.dim), (SELECT count(*) FROM embeddings e
               WHERE e.embedder = i.embedder), count(*), arg_max(i.source_file, i.imported_at),
               CAST(max(i.imported_at) AS VARCHAR)
        FROM embedding_imports i GROUP BY i.embedder ORDER BY i.embedder
        """
    )
    return [Imported(*row) for row in rows]


def coverage(store: Store, name: str, requests: keyed.Keyed, answers: list[str]) -> Coverage:
    """Requests, keys and responses with a vector stored under `name`."""
    have = keyed.covered(store, name, requests.key_hashes)
    return Coverage(
        len(requests.request_ids),
        int(np.sum(have[requests.text_ids])),
        len(set(requests.key_hashes)),
        len({h for h, c in zip(requests.key_hashes, have, strict=True) if c}),
        len(answers),
        int(np.sum(keyed.covered(store, name, answers))),
    )


def _record(store: Store, report: ImportReport, keying: keyed.Keying, sha256: str) -> None:
    store.execute(
        "INSERT INTO embedding_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.embedder,
            report.source_file,
            sha256,
            report.keyed_by,
            keying.key,
            keying.normalized,
            report.dim,
            report.vectors,
            report.vectors_stored,
            report.renormalized,
            report.conflicting_keys,
            report.unmatched,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def _unit(path: Path, vectors: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], int]:
    """The vectors scaled to unit length, and how many were not; zero vectors are refused."""
    norms = np.linalg.norm(vectors, axis=1)
    if not np.all(norms > 0):
        raise BadInput(f"{path}: {int(np.sum(norms == 0))} zero vectors (no direction to compare)")
    scaled = int(np.sum(np.abs(norms - 1) > UNIT_TOLERANCE))
    return (vectors / norms[:, None]).astype(np.float32), scaled


def _read(path: Path, by: str | None) -> tuple[pa.Table, str]:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise BadInput(f"{path}: cannot read this Parquet file: {err}") from None
    present = [c for c in KEY_COLUMNS if c in table.column_names]
    if by is None and present:
        by = present[0]
    if by not in present:
        raise BadInput(
            f"{path}: no key column{' ' + by if by else ''} (columns: "
            f"{', '.join(table.column_names[:10])})",
            "key the vectors by request_id, text_hash or text (--by picks one when the file has "
            "several; by default the first of them it has)",
        )
    vector = next((c for c in VECTOR_COLUMNS if c in table.column_names), None)
    if vector is None:
        raise BadInput(f"{path}: no vector column", "name it vector (a list of floats)")
    kept = table.select([by]).append_column("vector", table[vector])
    if by == "text" and "kind" in table.column_names:
        kept = kept.append_column("kind", table["kind"])
    return kept, by


def _matrix(path: Path, table: pa.Table) -> npt.NDArray[np.float32]:
    column = table["vector"].combine_chunks()
    kind = column.type
    if not (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    ) or not pa.types.is_floating(kind.value_type):
        raise BadInput(f"{path}: the vector column is {kind}, not a list of floats")
    if column.null_count:
        raise BadInput(f"{path}: {column.null_count} rows have no vector")
    lengths = pc.value_counts(pc.list_value_length(column)).to_pylist()
    if len(lengths) > 1:
        seen = ", ".join(f"{c['values']} ({c['counts']:,} rows)" for c in lengths)
        raise BadInput(f"{path}: vectors of different dimensions: {seen}")
    values = column.flatten()
    dim = int(lengths[0]["values"]) if lengths else 0
    if values.null_count:
        raise BadInput(f"{path}: vectors hold {values.null_count} null values")
    flat = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)
    matrix: npt.NDArray[np.float32] = flat.reshape(-1, max(dim, 1))
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(bad):
        raise BadInput(f"{path}: {len(bad)} vectors hold NaN or infinite values (row {bad[0]})")
    return matrix


def _check_keys(path: Path, column: pa.ChunkedArray, by: str) -> None:
    if column.null_count:
        raise BadInput(f"{path}: {column.null_count} rows have no {by}")
    counts = pc.value_counts(column)
    repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1)).to_pylist()
    if repeated:
        first = repeated[0]["values"]
        raise BadInput(
            f"{path}: {len(repeated)} {by} values appear more than once (e.g. {str(first)[:60]!r})",
            "give one vector per key",
        )
    if by == "text_hash":
        wrong = [h for h in column.to_pylist() if not _HASH.match(str(h))]
        if wrong:
            raise BadInput(
                f"{path}: {len(wrong)} text_hash values are not costlab text hashes "
                f"(e.g. {str(wrong[0])[:40]!r})",
                "take text_hash from `costlab embeddings export`, or key by text",
            )


def _check_dim(store: Store, path: Path, name: str, dim: int) -> None:
    row = store.row("SELECT any_value(dim), count(*) FROM embeddings WHERE embedder = ?", [name])
    stored_dim, stored = (row[0], row[1]) if row else (None, 0)
    if stored and stored_dim != dim:
        raise BadInput(
            f"{path}: vectors of {dim} dimensions, but {name} holds {stored:,} of {stored_dim}",
            "import under another --embedder name",
        )
    if stored and not store.row("SELECT 1 FROM embedding_imports WHERE embedder = ?", [name]):
        raise BadInput(
            f"--embedder {name}: vectors computed by costlab are stored under this name",
            "import under another --embedder name",
        )


def _check_unchanged(
    store: Store, path: Path, name: str, hashes: list[str], vectors: npt.NDArray[np.float32]
) -> None:
    """Vectors under a name never change: simulate-cache keeps its similarity index per name."""
    store.register("_incoming", pa.table({"text_hash": hashes, "at": np.arange(len(hashes))}))
    try:
        table = store.arrow(
            "SELECT i.at, e.vector FROM _incoming i JOIN embeddings e USING (text_hash) "
            "WHERE e.embedder = ? ORDER BY i.at",
            [name],
        )
    finally:
        store.unregister("_incoming")
    if not table.num_rows:
        return
    at = table["at"].to_numpy()
    stored = np.asarray(table["vector"].to_pylist(), dtype=np.float32)
    changed = int(np.sum(np.any(np.abs(stored - vectors[at]) > 1e-6, axis=1)))
    if changed:
        raise BadInput(
            f"{path}: {changed:,} keys already have another vector under {name}",
            "vectors under a name never change (simulate-cache keeps its index per name): "
            "import another model's vectors under a new --embedder name",
        )


def _map(
    requests: keyed.Keyed, table: pa.Table, by: str, keying: keyed.Keying
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Per vector its key hash ("" when it has none) and rank (replay position of its first
    request; rows no stored request has come after all of them, in file order)."""
    keys = table[by].to_pylist()
    late = np.arange(len(keys), dtype=np.int64) + len(requests.request_ids)
    if by == "text_hash":
        return list(keys), late
    if by == "text":
        first = _first_position(requests)
        kinds = table["kind"].to_pylist() if "kind" in table.column_names else [None] * len(keys)
        hashes = [
            text_hash(t if kind == "response" else keying.of(t))
            for t, kind in zip(keys, kinds, strict=True)
        ]
        rank = np.array([first.get(t, late[i]) for i, t in enumerate(keys)], dtype=np.int64)
        return hashes, rank
    position = {r: i for i, r in enumerate(requests.request_ids)}
    found = [position.get(r) for r in keys]
    key_of = requests.request_hashes()
    hashes = [key_of[p] if p is not None else "" for p in found]
    return hashes, np.array([p or 0 for p in found], dtype=np.int64)


def _first_position(requests: keyed.Keyed) -> dict[str, int]:
    """Per distinct logged text, the replay position of its first request."""
    first: dict[str, int] = {}
    for position, text_id in enumerate(requests.text_ids.tolist()):
        first.setdefault(requests.texts[text_id], position)
    return first


def _first_per_key(
    hashes: list[str], rank: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], int]:
    """The row kept per key (lowest rank), and how many keys had rows with other vectors."""
    usable = np.flatnonzero(np.array([bool(h) for h in hashes], dtype=np.bool_))
    if not len(usable):
        return usable.astype(np.int64), 0
    codes = np.unique(np.asarray([hashes[i] for i in usable], dtype=object), return_inverse=True)
    code = np.asarray(codes[1]).reshape(-1)
    sort = np.lexsort((rank[usable], code))  # by key, then replay order
    rows, sorted_codes = usable[sort], code[sort]
    first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    leader = rows[np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))]
    others = ~first
    differs = np.any(np.abs(vectors[rows[others]] - vectors[leader[others]]) > 1e-6, axis=1)
    return rows[first], len(np.unique(sorted_codes[others][differs]))


def _save(store: Store, name: str, hashes: list[str], vectors: npt.NDArray[np.float32]) -> None:
    """Store the vectors under `name`, replacing those of the same keys."""
    dim = vectors.shape[1]
    table = pa.table(
        {
            "text_hash": pa.array(hashes, pa.string()),
            "embedder": pa.array([name] * len(hashes), pa.string()),
            "dim": pa.array(np.full(len(hashes), dim, dtype=np.int32), pa.int32()),
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.ravel(), pa.float32()), dim
            ).cast(pa.list_(pa.float32())),
        }
    )
    store.register("_imported", table)
    try:
        store.execute(
            "DELETE FROM embeddings WHERE embedder = ? "
            "AND text_hash IN (SELECT text_hash FROM _imported)",
            [name],
        )
        store.execute("INSERT INTO embeddings SELECT * FROM _imported")
    finally:
        store.unregister("_imported")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
