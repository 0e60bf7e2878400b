from __future__ import annotations

import pytest

from costlab.cache import logged, vectors


def _reference(texts: list[str], hash_of: object) -> tuple[list[int], list[str], list[str]]:
    """Keys numbered in hash order, ties by text: as the store's index is kept."""
    distinct = sorted(set(texts))
    hashes = [hash_of(t) for t in distinct]  # type: ignore[operator]
    order = sorted(range(len(distinct)), key=hashes.__getitem__)
    position = {distinct[k]: i for i, k in enumerate(order)}
    return [position[t] for t in texts], [distinct[k] for k in order], [hashes[k] for k in order]


@pytest.mark.parametrize("collide", [False, True])
def test_keys_are_numbered_in_hash_order_ties_by_text(
    collide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if collide:  # two keys of one hash: never seen, but the order must not depend on luck
        monkeypatch.setattr(logged, "text_hash", lambda t: f"{len(t) % 2:032x}")
    raw = ["Where is my card?", "where is my card", "Hi!", "hi", "Fee?", "é", "fee"]
    ids, keys, hashes = logged._keys(raw, True)
    hash_of = logged.text_hash if collide else vectors.text_hash  # type: ignore[attr-defined]
    want = _reference(logged._normalized(raw), hash_of)
    assert (ids.tolist(), keys, hashes) == want
