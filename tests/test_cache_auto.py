"""`--embedder auto`: MiniLM where it is quick, else minilm-tuned, made on first use."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from costlab.cache import auto, embedders, static, tuned
from costlab.cache.vectors import text_hash, vectors
from costlab.errors import BadInput
from costlab.store import Store
from tests.conftest import FakeEmbedder

KEYS = [f"how do i do thing {i}" for i in range(40)]
HASHES = [text_hash(k) for k in KEYS]


class Named(FakeEmbedder):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Named]:
    made = {embedders.DEFAULT: Named("minilm-fake"), embedders.TUNED: Named("tuned-fake")}
    for name, fake in made.items():
        monkeypatch.setitem(embedders.EMBEDDERS, name, lambda fake=fake: fake)
    return made


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What got built, in order; manifests appear once built."""
    done: list[str] = []
    monkeypatch.setattr(static, "build", lambda **kw: done.append("static"))
    monkeypatch.setattr(tuned, "fitted", lambda keys, *a: done.append(f"tuned:{len(keys)}"))

    def manifest(source: Path | None = None) -> Any:
        wanted = "tuned" if source == tuned.folder() else "static"
        fit = {"texts": 36, "checked_on": 4, "similarity_error_after": 0.08}
        return SimpleNamespace(fit=fit) if any(d.startswith(wanted) for d in done) else None

    monkeypatch.setattr(static, "manifest", manifest)
    return done


def test_a_small_run_uses_minilm(
    store: Store, registry: dict[str, Named], builds: list[str]
) -> None:
    choice = auto.choose(store, auto.AUTO, KEYS, HASHES)
    assert (
        choice.embedder is registry[embedders.DEFAULT] and "MiniLM (the reference)" in choice.reason
    )
    assert builds == []


def test_a_large_run_makes_and_uses_minilm_tuned_once(
    store: Store, registry: dict[str, Named], builds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "MINILM_UP_TO", 10)
    stages: list[str] = []
    choice = auto.choose(store, auto.AUTO, KEYS, HASHES, lambda s, d, t: stages.append(s))
    assert choice.embedder is registry[embedders.TUNED]
    assert builds == ["static", "tuned:40"]  # distilled, then fitted to this run's texts
    assert "40 texts to embed" in choice.reason and "--embedder minilm" in choice.reason
    assert "fitted on 36 prompts" in choice.reason
    auto.choose(store, auto.AUTO, KEYS, HASHES)
    assert builds == ["static", "tuned:40"]  # kept for later runs


def test_texts_minilm_already_embedded_stay_with_minilm(
    store: Store, registry: dict[str, Named], builds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors(store, KEYS, registry[embedders.DEFAULT])
    monkeypatch.setattr(auto, "MINILM_UP_TO", 10)
    assert auto.choose(store, auto.AUTO, KEYS, HASHES).embedder is registry[embedders.DEFAULT]
    assert builds == []


def test_a_name_that_is_nothing_is_refused_when_chosen(store: Store) -> None:
    with pytest.raises(BadInput, match="not a known embedder"):
        auto.choose(store, "minlm", KEYS, HASHES)
