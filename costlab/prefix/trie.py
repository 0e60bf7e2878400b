"""Prefix tries: every distinct prompt prefix gets one node id, shared by all prompts that have it.

`BlockTrie` works on tokens in fixed blocks (the automatic rule's cacheable lengths: a first block
of `first` tokens, then `step` tokens each); `SegmentTrie` works on whole segments (system prompt,
tools, each message: where a breakpoint can go). Both are exact: a node is keyed by its parent and
the block's content, never by a hash, so two prompts share a node only if they share the prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class BlockTrie:
    """Token prefixes of lengths first, first + step, first + 2*step, … as node ids."""

    def __init__(self, first: int, step: int) -> None:
        self.first, self.step = first, step
        self._nodes: dict[tuple[int, bytes], int] = {}

    def path(self, tokens: np.ndarray) -> list[int]:
        """The node of each whole block of `tokens`, shortest prefix first."""
        ids: list[int] = []
        parent, start, end = -1, 0, self.first
        nodes = self._nodes
        while end <= len(tokens):
            key = (parent, tokens[start:end].tobytes())
            parent = nodes.setdefault(key, len(nodes))
            ids.append(parent)
            start, end = end, end + self.step
        return ids

    def length(self, depth: int) -> int:
        """The tokens a path of `depth` nodes covers (0 for none)."""
        return 0 if depth == 0 else self.first + (depth - 1) * self.step

    def __len__(self) -> int:
        return len(self._nodes)


class SegmentTrie:
    """Prefixes of whole segments (by segment id) as node ids."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], int] = {}

    def path(self, segment_ids: Sequence[int]) -> list[int]:
        """The node of each segment boundary, first segment first."""
        ids: list[int] = []
        parent = -1
        for segment in segment_ids:
            parent = self._nodes.setdefault((parent, segment), len(self._nodes))
            ids.append(parent)
        return ids


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading tokens two sequences share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


def common_suffix(a: np.ndarray, b: np.ndarray) -> int:
    """How many trailing tokens two sequences share."""
    return common_prefix(a[::-1], b[::-1])
