"""`compress.from_store.recurring`: the top recurring prompts by the input dollars their text costs,
counted in one batch and built only for those kept — the same list as one text at a time."""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import encodings, prices
from costlab.compress import from_store
from costlab.store import Store
from tests.conftest import flat, load

TEXTS = ["short", "a longer prompt " * 20, "日本語のテキスト " * 9, "twins", "twins ", "x" * 300]


def _reference(
    store: Store, catalogue: prices.Catalogue, counter: encodings.Counter, top: int
) -> list[tuple[str, str, Decimal, int, Decimal | None, str]]:
    """Every recurring text made into a row, one count at a time, sorted, then cut."""
    found = []
    for column, kind in (("system_prompt", "system"), ("prompt", "prompt")):
        for text, requests, model, feature, cost, tokens in from_store.texts(store, column):
            price, source = from_store._price(cost, tokens, model, catalogue)
            name = f"{kind}-{feature or 'all'}-{hashlib.md5(text.encode()).hexdigest()[:8]}.txt"
            usd = counter.count(text) * requests * (price or Decimal(0))
            found.append((name, text, usd, requests, price, source))
    found.sort(key=lambda row: (-row[2], row[0]))
    return found[:top]


@pytest.mark.parametrize("block", [1, 2, from_store.COUNT_BLOCK])
@pytest.mark.parametrize("seed", range(3))
def test_recurring_keeps_the_same_top_prompts_as_one_text_at_a_time(
    store: Store,
    catalogue: prices.Catalogue,
    tmp_path: Path,
    seed: int,
    block: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(from_store, "COUNT_BLOCK", block)  # small blocks: the cut is checked often
    rng = random.Random(seed)
    # one model and feature: their mode() over a tie may differ from one query to the next
    model, feature = rng.choice(["gpt-4o-mini", "gpt-4o"]), rng.choice(["a", None])
    records = [
        flat(
            n, prompt=rng.choice(TEXTS), system_prompt=rng.choice([None, *TEXTS[:3]]),
            model=model, feature=feature,
            input_tokens=rng.choice([0, 10, 1000]), cost=rng.choice([None, 0.0, 0.002]),
        )
        for n in range(80)
    ]  # fmt: skip
    load(store, catalogue, tmp_path, records)
    counter = encodings.counter("gpt-4o")
    for top in (0, 1, 3, 50):
        got = from_store.recurring(store, catalogue, counter.count, top)
        want = _reference(store, catalogue, counter, top)
        assert [
            (p.template.name, p.template.text, p.input_usd, p.usage.requests,
             p.usage.usd_per_token, p.usage.price_source)
            for p in got
        ] == want  # fmt: skip
        assert all(p.usage.match.endswith(" prompt") for p in got)
    assert len(want) > 3  # the store has that many recurring texts


def test_only_prompts_that_could_make_the_cut_are_counted(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    rng = random.Random(7)
    texts = [f"prompt {k} " + "word " * rng.randrange(1, 60) for k in range(700)]
    sent = [t for k, t in enumerate(texts) for _ in range(40 if k % 100 == 0 else 2)]
    records = [flat(n, prompt=t, cost=0.001 * rng.random()) for n, t in enumerate(sent)]
    load(store, catalogue, tmp_path, records)
    counter = encodings.counter("gpt-4o")
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return counter.count(text)

    got = from_store.recurring(store, catalogue, count, 5)
    want = _reference(store, catalogue, counter, 5)
    assert [(p.template.name, p.input_usd) for p in got] == [(w[0], w[2]) for w in want]
    assert len(want) == 5 and len(counted) < 700  # the rest were bounded out


def test_a_tie_between_features_or_models_is_broken_alike_every_time(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    """Two requests of a text in two features (and models): the first of each, by name."""
    records = [
        flat(0, prompt="the same words", feature="support", model="gpt-4o"),
        flat(1, prompt="the same words", feature="chat", model="gpt-4o-mini"),
        flat(2, prompt="the same words", feature="support", model="gpt-4o-mini"),
        flat(3, prompt="the same words", feature="chat", model="gpt-4o"),
    ]
    load(store, catalogue, tmp_path, records)
    for _ in range(5):
        (row,) = from_store.texts(store, "prompt")
        assert row[:4] == ("the same words", 4, "gpt-4o", "chat")


def test_a_missing_feature_counts_for_none(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    """Requests without a feature do not outvote one that has it; with none at all, none."""
    records = [
        flat(0, prompt="words with a feature", feature=None),
        flat(1, prompt="words with a feature", feature=None),
        flat(2, prompt="words with a feature", feature="support"),
        flat(3, prompt="words without one", feature=None),
        flat(4, prompt="words without one", feature=None),
    ]
    load(store, catalogue, tmp_path, records)
    rows = {row[0]: row for row in from_store.texts(store, "prompt")}
    assert rows["words with a feature"][1:4] == (3, "gpt-4o-mini", "support")
    assert rows["words without one"][1:4] == (2, "gpt-4o-mini", None)
