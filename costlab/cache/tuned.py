"""minilm-tuned: the static embedder fitted to a sample of the user's own prompts.

minilm-static averages vectors that MiniLM made one token at a time, so it misses how the words
of real prompts combine. Tuning embeds a sample of the prompts with MiniLM once and fits, by
ridge least squares, a linear map from the static vectors of the sample to MiniLM's vectors of
the same texts ("tokenlearn"-style, with a map in place of per-token training). The map is
folded into the token matrix, so encoding stays a lookup and an average, at MiniLM's 384 dims.
A share of the sample is kept out of the fit to check it; the manifest records the check.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from costlab.cache import minilm, static
from costlab.cache.normalize import normalize
from costlab.errors import BadInput

# Bump when the recipe changes: the embedder's name (and so its rows in `embeddings`) changes too.
VERSION = 1
KIND = "minilm-tuned"
DEFAULT_SAMPLE = 2000
MIN_TEXTS = 300  # below this the 256 × 384 map is fitted to noise
CHECK_SHARE = 0.1  # of the sample, kept out of the fit to measure it
BATCH = 256
STORE_SUFFIXES = (".duckdb", ".db")


@dataclass(frozen=True)
class Tuning:
    """Which prompts the map is fitted to, how many, and how hard it is pulled to zero."""

    corpus: str  # a costlab store (.duckdb) or a UTF-8 text file, one prompt a line
    sample: int = DEFAULT_SAMPLE
    alpha: float = 1e-2  # ridge penalty on the map
    seed: int = 0


def folder(home: str | None = None) -> Path:
    """Where the tuned embedder lives, beside minilm-static."""
    return static.folder(home).parent / KIND


def corpus(path: Path) -> list[str]:
    """The distinct cache keys of a corpus: a store's prompts or a file's lines, normalised."""
    if not path.is_file():
        raise BadInput(f"--corpus {path}: no such file", "give a costlab store or a text file")
    if path.suffix in STORE_SUFFIXES:
        from costlab.store import Store

        with Store.open(path, read_only=True) as store:
            texts = [r[0] for r in store.rows("SELECT DISTINCT prompt FROM requests")]
    else:
        data = path.read_bytes()
        try:
            texts = data.decode("utf-8").splitlines()
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise BadInput(
                f"--corpus {path}, line {line}: not UTF-8 text (byte 0x{data[err.start]:02x})",
                "give a costlab store (.duckdb) or a text file with one prompt a line",
            ) from None
    return sorted({key for key in (normalize(t) for t in texts if t) if key})


def fit(
    base: npt.NDArray[np.float32],
    tokenizer: object,
    texts: list[str],
    target: npt.NDArray[np.float32],
    alpha: float,
) -> npt.NDArray[np.float32]:
    """The base matrix times the ridge map from the texts' static vectors to their targets."""
    x = static.pool(base, tokenizer, texts).astype(np.float64)
    gram = x.T @ x + alpha * np.eye(x.shape[1])
    mapping = np.linalg.solve(gram, x.T @ target.astype(np.float64))
    return (base @ mapping).astype(np.float32)


def similarity_error(vectors: npt.NDArray[np.float32], target: npt.NDArray[np.float32]) -> float:
    """Mean absolute difference between two embedders' cosine similarities over all text pairs."""
    upper = np.triu_indices(len(vectors), k=1)
    return float(np.abs((vectors @ vectors.T)[upper] - (target @ target.T)[upper]).mean())


def build(
    tuning: Tuning, target: Path | None = None, progress: static.Progress | None = None
) -> static.Manifest:
    """Fit minilm-static to a sample of the corpus and save it in `target` (default `folder()`)."""
    return fitted(corpus(Path(tuning.corpus)), tuning, target, progress)


def fitted(
    texts: list[str],
    tuning: Tuning,
    target: Path | None = None,
    progress: static.Progress | None = None,
) -> static.Manifest:
    """`build` on texts in hand (distinct cache keys): what simulate-cache's `auto` fits on."""
    if min(len(texts), tuning.sample) < MIN_TEXTS:
        raise BadInput(
            f"--corpus {tuning.corpus}: {len(texts):,} distinct prompts, --sample "
            f"{tuning.sample:,}; the fit needs at least {MIN_TEXTS}",
            "ingest more logs, or use minilm-static as it is",
        )
    base = static.load()
    started = time.perf_counter()
    rng = np.random.default_rng(tuning.seed)
    sample = [texts[i] for i in rng.permutation(len(texts))[: tuning.sample]]
    teacher = _teacher_vectors(sample, progress)
    held = max(1, round(CHECK_SHARE * len(sample)))
    matrix = fit(base.matrix, base.tokenizer, sample[held:], teacher[held:], tuning.alpha)
    check = teacher[:held]
    before = similarity_error(base.encode(sample[:held]), check)
    after = similarity_error(static.pool(matrix, base.tokenizer, sample[:held]), check)
    made = static.Manifest(
        name=f"{KIND}-v{VERSION}-{hashlib.sha256(matrix.tobytes()).hexdigest()[:8]}",
        source_model=base.manifest.source_model,
        source_path=base.manifest.source_path,
        vocab_size=matrix.shape[0],
        dims=matrix.shape[1],
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        method=f"{base.name} times a ridge map fitted to MiniLM's vectors of "
        f"{len(sample) - held:,} prompts of the corpus",
        recipe={**asdict(tuning), "base": base.name, "base_recipe": base.manifest.recipe},
        distill_s=round(time.perf_counter() - started, 1),
        fit={
            "texts": len(sample) - held,
            "checked_on": held,
            "similarity_error_before": round(before, 4),
            "similarity_error_after": round(after, 4),
        },
    )
    static.save(target or folder(), matrix, static.folder() / static.TOKENIZER, made)
    return made


def _teacher_vectors(texts: list[str], progress: static.Progress | None) -> npt.NDArray[np.float32]:
    teacher = minilm.EMBEDDERS[minilm.DEFAULT]()
    rows = []
    for start in range(0, len(texts), BATCH):
        rows.append(teacher.encode(texts[start : start + BATCH]))
        if progress:
            progress(min(start + BATCH, len(texts)), len(texts))
    return np.concatenate(rows)


def load(source: Path | None = None) -> static.StaticEmbedder:
    """The tuned embedder; a clear error when it has not been fitted yet."""
    return static.StaticEmbedder(
        source or folder(),
        "run `costlab embedders distill --corpus costlab.duckdb` once (minilm-static first)",
    )
