"""A static embedder distilled from MiniLM: one vector per vocabulary token, no transformer.

Distilling (model2vec-style) runs MiniLM once on every WordPiece token alone, reduces the
vectors with PCA and weights them by token rank; encoding is then tokenise, average the token
vectors, normalise — numpy only, tens of times faster than the transformer. The matrix, the
tokenizer file and a JSON manifest live in one folder, built by `costlab embedders distill`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from costlab.cache import minilm
from costlab.errors import BadInput

# Bump when the recipe changes: the embedder's name (and so its rows in `embeddings`) changes too.
VERSION = 1
KIND = "minilm-static"
MATRIX, TOKENIZER, MANIFEST = "vectors.npy", "tokenizer.json", "manifest.json"
BATCH = 512
DEFAULT_DIMS = 256
TokenVectors = Callable[[list[int]], npt.NDArray[np.float32]]  # token ids -> one row each
Progress = Callable[[int, int], None]  # (tokens distilled, tokens in the vocabulary)


@dataclass(frozen=True)
class Recipe:
    """How the token vectors are made from the teacher's outputs."""

    dims: int | None = DEFAULT_DIMS  # PCA to this many dimensions; None keeps the teacher's
    sif: float | None = 1e-4  # SIF weight a/(a + p(rank)) with Zipf p; None leaves rows as they are


@dataclass(frozen=True)
class Manifest:
    name: str  # the key of its vectors in the `embeddings` table: version and content digest
    source_model: str
    source_path: str
    vocab_size: int
    dims: int
    created: str
    method: str
    recipe: dict[str, Any]
    distill_s: float
    fit: dict[str, Any] | None = None  # a corpus-fitted embedder's check (costlab.cache.tuned)


def folder(home: str | None = None) -> Path:
    """Where the static embedder lives: $COSTLAB_HOME/embedders/…, else ~/.cache/costlab/…."""
    root = home or os.environ.get("COSTLAB_HOME")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "costlab"
    return base / "embedders" / KIND


def distill(
    vocab_size: int,
    token_vectors: TokenVectors,
    recipe: Recipe = Recipe(),
    progress: Progress | None = None,
) -> npt.NDArray[np.float32]:
    """One row per token id: the teacher's vector of the token alone, reduced and weighted."""
    rows = []
    for start in range(0, vocab_size, BATCH):
        ids = list(range(start, min(start + BATCH, vocab_size)))
        rows.append(np.asarray(token_vectors(ids), dtype=np.float32))
        if progress:
            progress(ids[-1] + 1, vocab_size)
    matrix = np.concatenate(rows)
    if recipe.dims is not None and recipe.dims < matrix.shape[1]:
        matrix = _pca(matrix, recipe.dims)
    if recipe.sif is not None:
        # Token ids of a WordPiece vocabulary roughly follow frequency: a Zipf law stands in for
        # counts (as model2vec does), so frequent tokens weigh less in the average.
        inverse_rank = 1 / np.arange(2, vocab_size + 2)
        p = inverse_rank / inverse_rank.sum()
        matrix = matrix * (recipe.sif / (recipe.sif + p))[:, None]
    return matrix.astype(np.float32)


def _pca(matrix: npt.NDArray[np.float32], dims: int) -> npt.NDArray[np.float32]:
    centred = matrix - matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced: npt.NDArray[np.float32] = (centred @ vt[:dims].T).astype(np.float32)
    return reduced


def build(
    target: Path | None = None, recipe: Recipe = Recipe(), progress: Progress | None = None
) -> Manifest:
    """Distil the installed MiniLM into `target` (default `folder()`), replacing what is there."""
    target = target or folder()
    source = minilm.minilm_path()
    teacher = minilm.SentenceTransformerEmbedder(source, "all-MiniLM-L6-v2")
    tokenizer = _tokenizer(source / TOKENIZER)
    started = time.perf_counter()
    matrix = distill(tokenizer.get_vocab_size(), teacher.token_vectors, recipe, progress)
    manifest = Manifest(
        name=f"{KIND}-v{VERSION}-{hashlib.sha256(matrix.tobytes()).hexdigest()[:8]}",
        source_model="sentence-transformers/all-MiniLM-L6-v2",
        source_path=str(source),
        vocab_size=matrix.shape[0],
        dims=matrix.shape[1],
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        method="model2vec-style: mean-pooled MiniLM output of each token alone, "
        f"PCA to {recipe.dims}, SIF weights by token rank",
        recipe=asdict(recipe),
        distill_s=round(time.perf_counter() - started, 1),
    )
    save(target, matrix, source / TOKENIZER, manifest)
    return manifest


def save(
    target: Path, matrix: npt.NDArray[np.float32], tokenizer: Path, manifest: Manifest
) -> None:
    """Write the matrix, a copy of the tokenizer and the manifest; the manifest goes last."""
    target.mkdir(parents=True, exist_ok=True)
    (target / MANIFEST).unlink(missing_ok=True)  # a half-written folder never loads
    np.save(target / MATRIX, matrix)
    if tokenizer.resolve() != (target / TOKENIZER).resolve():
        shutil.copyfile(tokenizer, target / TOKENIZER)
    (target / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")


def manifest(source: Path | None = None) -> Manifest | None:
    """The manifest of a distilled embedder, or None when there is none (yet)."""
    path = (source or folder()) / MANIFEST
    if not path.is_file():
        return None
    return Manifest(**json.loads(path.read_text()))


class StaticEmbedder(minilm.Embedder):
    """Tokenise, average the token vectors, normalise: numpy only."""

    def __init__(self, source: Path, missing_hint: str = "") -> None:
        found = manifest(source)
        if found is None:
            raise BadInput(
                f"the {source.name} embedder is not distilled yet (nothing at {source})",
                missing_hint
                or "run `costlab embedders distill` once (a few minutes of CPU), then try again",
            )
        self.manifest, self.name, self.dim = found, found.name, found.dims
        self.matrix = np.load(source / MATRIX).astype(np.float32, copy=False)
        self.tokenizer = _tokenizer(source / TOKENIZER)

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return pool(self.matrix, self.tokenizer, texts)


def pool(
    matrix: npt.NDArray[np.float32], tokenizer: Any, texts: list[str]
) -> npt.NDArray[np.float32]:
    """The normalised sum of the token rows of each text; a text with no tokens is a zero row."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
    lengths = np.array([len(i) for i in ids])
    out = np.zeros((len(texts), matrix.shape[1]), dtype=np.float32)
    some = lengths > 0
    if some.any():
        starts = (np.cumsum(lengths) - lengths)[some]
        out[some] = np.add.reduceat(matrix[np.concatenate(ids)], starts)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def load(source: Path | None = None) -> StaticEmbedder:
    """The distilled static embedder; a clear error when it has not been distilled yet."""
    return StaticEmbedder(source or folder())


def _tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer
