"""Two sets of neighbour lists over the same keys merged list by list, in one pass.

Both hold each list most similar first, ties by smaller neighbour; so does the merge, and a pair
both hold (the same neighbour, scored alike whichever search found it) is kept once. Nothing is
gathered or sorted again: the memory is the two inputs and the output.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from costlab import jit
from costlab.cache.neighbours import ANY, Neighbours

# Below this many pairs the merge runs as plain Python: loading the compiled one costs more.
COMPILE_FROM = 200_000


def merged(old: Neighbours, new: Neighbours) -> Neighbours:
    """The lists of `old` with the pairs of `new` added (both over the same keys)."""
    if old.n != new.n:
        raise ValueError(f"lists over {old.n} and {new.n} keys cannot be merged")
    if not len(new.index):
        return old
    size = len(old.index) + len(new.index)
    run = jit.compiled(_merge) if size >= COMPILE_FROM else _merge
    offsets = np.zeros(old.n + 1, dtype=np.int64)
    arrays = (old.offsets, old.index, old.similarity, new.offsets, new.index, new.similarity)
    run(*arrays, offsets, None, None)  # lengths first: a pair both hold is counted once
    total = int(offsets[-1])
    index = np.empty(total, dtype=old.index.dtype)
    similarity = np.empty(total, dtype=np.float32)
    run(*arrays, offsets, index, similarity)
    return Neighbours(ANY, offsets, index, similarity, complete=False)


def _merge(  # noqa: PLR0913 (the two CSR inputs and the output, as numba takes them: arrays)
    a_offsets: npt.NDArray[np.int64],
    a_index: npt.NDArray[np.int64],
    a_similarity: npt.NDArray[np.float32],
    b_offsets: npt.NDArray[np.int64],
    b_index: npt.NDArray[np.int64],
    b_similarity: npt.NDArray[np.float32],
    offsets: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64] | None,
    similarity: npt.NDArray[np.float32] | None,
) -> None:
    """Without `index`: each merged list's end into `offsets[1:]`. With it: the merged lists
    written at those offsets."""
    write = 0
    for key in range(len(a_offsets) - 1):
        a, a_end = a_offsets[key], a_offsets[key + 1]
        b, b_end = b_offsets[key], b_offsets[key + 1]
        while a < a_end or b < b_end:
            if b == b_end:
                take_a, skip_b = True, False
            elif a == a_end:
                take_a, skip_b = False, False
            else:
                sa, sb = a_similarity[a], b_similarity[b]
                va, vb = a_index[a], b_index[b]
                take_a = sa > sb or (sa == sb and va <= vb)
                skip_b = sa == sb and va == vb  # held by both: kept once
            if index is not None and similarity is not None:
                if take_a:
                    index[write], similarity[write] = a_index[a], a_similarity[a]
                else:
                    index[write], similarity[write] = b_index[b], b_similarity[b]
            if take_a:
                a += 1
                if skip_b:
                    b += 1
            else:
                b += 1
            write += 1
        offsets[key + 1] = write
