"""`heap.few_collections`: young collections wait longer inside, cycles are still freed, and the
thresholds in force before come back (also after an error, and when nested)."""

from __future__ import annotations

import gc
import weakref

import pytest

from costlab import heap


def test_young_collections_wait_inside_and_the_thresholds_come_back() -> None:
    before = gc.get_threshold()
    with heap.few_collections():
        assert gc.get_threshold() == (max(heap.YOUNG, before[0]), *before[1:])
        with heap.few_collections():
            assert gc.get_threshold()[0] == max(heap.YOUNG, before[0])
        assert gc.get_threshold()[0] == max(heap.YOUNG, before[0])
    assert gc.get_threshold() == before
    with pytest.raises(ZeroDivisionError), heap.few_collections():
        _ = 1 / 0
    assert gc.get_threshold() == before


def test_cycles_are_still_freed_inside() -> None:
    class Node:
        pass

    with heap.few_collections():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        gone = weakref.ref(node)
        del node
        kept = [[] for _ in range(3 * heap.YOUNG)]  # net allocations: young collections run
        assert gone() is None and len(kept) == 3 * heap.YOUNG
