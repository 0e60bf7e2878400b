"""The few-shot method: keep the k examples that best cover the others, and everything else.

Examples are found as <example> blocks, "Example N" headers, or a run of paragraphs (or lines)
with the same "Key:" shape. The k kept are chosen by greedy max-coverage (facility location)
over the examples' embeddings: each pick adds the most similarity to the examples not yet covered.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costlab.compress import protect

Encode = Callable[[list[str]], npt.NDArray[np.float32]]

_TAG = re.compile(r"<example\b[^>]*>.*?</example>[ \t]*\n?", re.S | re.I)
_HEADER = re.compile(r"^\s*(?:#+\s*|\*\*)?(?:example|sample|shot)\b\s*#?\d*\b", re.I)
_KEY = re.compile(r"^\s*([A-Za-z][\w \-]{0,24}?)\s*:")
_INLINE_KEYS = re.compile(r"(?:^|\s)([A-Z][\w\-]{0,24}):\s|->|=>")
_LABEL_CHARS = 30


@dataclass(frozen=True)
class Cut:
    """A template with its few-shot block cut down, and what was found."""

    text: str
    examples: int  # found (0: no few-shot block)
    kept: int


def cut(text: str, keep: int, encode: Encode) -> Cut:
    """Keep `keep` representative examples of the template's few-shot block."""
    tagged = _tagged(text)
    if tagged:
        return _cut_tagged(text, tagged, keep, encode)
    lines = text.split("\n")
    spans = _by_header(lines) or _by_shape(lines)
    if spans is None or len(spans) <= keep:
        return Cut(text, len(spans or ()), len(spans or ()))
    units = ["\n".join(lines[a:b]) for a, b in spans]
    chosen = set(select(encode([u.strip() for u in units]), keep))
    first, last = spans[0][0], spans[-1][1]
    block = [units[i] for i in range(len(units)) if i in chosen]
    rule = _label_rule(units, chosen)
    after = lines[last:]
    ruled = [rule, ""] if rule and after and after[0].strip() else [rule] if rule else []
    out = lines[:first] + "\n".join(block).split("\n") + ruled + after
    return Cut("\n".join(out), len(units), len(chosen))


def select(vectors: npt.NDArray[np.float32], keep: int) -> list[int]:
    """Greedy max-coverage: indices of `keep` rows that together are most similar to all rows."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    similarity = np.clip(unit @ unit.T, 0.0, None)
    covered = np.zeros(len(unit))
    chosen: list[int] = []
    for _ in range(min(keep, len(unit))):
        gains = np.maximum(similarity - covered[:, None], 0.0).sum(axis=0)
        gains[chosen] = -1.0
        best = int(np.argmax(gains))
        chosen.append(best)
        covered = np.maximum(covered, similarity[:, best])
    return sorted(chosen)


def _tagged(text: str) -> list[tuple[int, int]] | None:
    found = [m.span() for m in _TAG.finditer(text)]
    return found if len(found) >= 2 else None


def _cut_tagged(text: str, spans: list[tuple[int, int]], keep: int, encode: Encode) -> Cut:
    if len(spans) <= keep:
        return Cut(text, len(spans), len(spans))
    units = [text[a:b] for a, b in spans]
    chosen = select(encode([u.strip() for u in units]), keep)
    between = text[spans[0][1] : spans[1][0]]
    block = between.join(units[i] for i in chosen)
    return Cut(text[: spans[0][0]] + block + text[spans[-1][1] :], len(units), len(chosen))


def _by_header(lines: list[str]) -> list[tuple[int, int]] | None:
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    if len(starts) < 2:
        return None
    spans = list(zip(starts, starts[1:], strict=False))
    longest = max(b - a for a, b in spans)
    end = starts[-1] + 1
    while end < len(lines) and end - starts[-1] < longest and lines[end].strip():
        end += 1
    while end < len(lines) and not lines[end].strip() and end - starts[-1] < longest:
        end += 1
    return [*spans, (starts[-1], end)]


def _by_shape(lines: list[str]) -> list[tuple[int, int]] | None:
    """The longest run of paragraphs (else single lines) that share one 'Key:' shape."""
    paragraphs, start = [], 0
    for i, line in enumerate([*lines, ""]):
        if not line.strip():
            if i > start:
                paragraphs.append((start, i + 1 if i < len(lines) else i))
            start = i + 1
    shape = [_paragraph_shape(lines[a:b]) for a, b in paragraphs]
    run = _longest_run(shape, at_least=2)
    if run:
        return paragraphs[run[0] : run[1]]
    line_shape = [_line_shape(line) for line in lines]
    run = _longest_run(line_shape, at_least=3)
    return [(i, i + 1) for i in range(*run)] if run else None


def _paragraph_shape(lines: list[str]) -> tuple[str, ...] | None:
    if any(protect.PLACEHOLDER.search(line) for line in lines):
        return None  # the slot the real input fills, not an example
    keys = [_KEY.match(line) for line in lines if line.strip()]
    if len(keys) < 2 or not all(keys):
        return None
    return tuple(k.group(1).lower() for k in keys if k)


def _line_shape(line: str) -> tuple[str, ...] | None:
    if protect.PLACEHOLDER.search(line):
        return None
    keys = tuple(m.group(0).strip().lower() for m in _INLINE_KEYS.finditer(line))
    return keys if len(keys) >= 2 or "->" in keys or "=>" in keys else None


def _longest_run(shapes: list[tuple[str, ...] | None], at_least: int) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    start = 0
    for i in range(1, len(shapes) + 1):
        if i == len(shapes) or shapes[i] != shapes[start] or shapes[i] is None:
            if shapes[start] is not None and i - start >= at_least:
                if best is None or i - start > best[1] - best[0]:
                    best = (start, i)
            start = i
    return best


def _label_rule(units: list[str], chosen: set[int]) -> str | None:
    """'Sentiment is one of: …' when dropped examples carry labels the kept ones do not show."""
    labels: list[tuple[str, str]] = []
    for unit in units:
        last = [line for line in unit.split("\n") if line.strip()][-1]
        found = _KEY.match(last)
        value = last[found.end() :].strip() if found else ""
        if not found or not value or len(value) > _LABEL_CHARS:
            return None
        labels.append((found.group(1).strip(), value))
    if len({key for key, _ in labels}) != 1:
        return None
    kept = {labels[i][1] for i in chosen}
    values = list(dict.fromkeys(value for _, value in labels))
    if set(values) <= kept:
        return None
    return f"{labels[0][0]} is one of: {', '.join(values)}."


_WORD = re.compile(r"\w+")
LEXICAL_DIM = 512


def lexical(texts: list[str]) -> npt.NDArray[np.float32]:
    """A model-free embedder: hashed word and word-pair counts, unit length (for speed, or CI)."""
    vectors = np.zeros((len(texts), LEXICAL_DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        words = _WORD.findall(text.lower())
        for gram in [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]:
            vectors[row, zlib.crc32(gram.encode()) % LEXICAL_DIM] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
