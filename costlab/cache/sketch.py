"""What the false-hit guard needs to know of every text at once, so most pairs are judged in numpy.

The guard's rules (costlab.cache.guard) read each text's facts in Python: about 30 µs a text, and
a few µs a pair, which at a million requests is most of a re-run. Yet most pairs are settled by
little: two texts whose numbers differ are refused whatever else they say, and two texts that
cannot disagree on any other rule keep their hit. A `Sketch` holds, per text:

- `numbers`: an id of the set of numbers it holds, exact (texts with the same numbers share it);
- `names`: an id of the set of names it holds (the guard's own `names` facts, read only for the
  texts with a capital where a name can be, the only ones that can): two texts naming the same
  cannot disagree on names;
- `holds` / `opposes`: which words of the guard's list of opposites it holds, and their
  opposites, as bit sets: a pair can disagree on opposites only where one side opposes what the
  other holds;
- `prefixed`: an id of its set of words beginning un-, dis- or non-: the prefix rule needs such a
  word on one side only.

Each is the guard's own reading of the words, done in Python only for the texts (and the runs
of letters in them) that RE2 over the whole column (pyarrow's compute) picks out as possibly
holding one; RE2 may pick too many, never too few. A pair the sketches cannot settle goes to the
guard's Python rules. So the verdicts are the guard's own, exactly (tests/test_guard_sketch.py
holds the two to the same answers), and only the pairs that could disagree on names, opposites or
negation are read in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from costlab.cache import guard

# Any decimal digit, as Python's \d reads one (the guard's numbers).
_DIGIT = r"\p{Nd}"
# Where the guard may find a name: two capitals in a row (an acronym, perhaps with an apostrophe
# between), or a capital opening a word that is not the text's first and is not a lone "I" / "I'm"
# (a name is capitalised inside a sentence; a sentence's first word never is one).
_NAMED = r"[A-Z]'?[A-Z]|(?s).[^A-Za-z](?:[A-HJ-Z]|I[A-Za-z])"
# The stems of the list of opposites, numbered: a text's opposable words are a bit set over them.
_STEMS = sorted(guard.OPPOSITES)
_BIT = {stem: k for k, stem in enumerate(_STEMS)}
_WORDS = 1 + (len(_STEMS) - 1) // 64  # uint64 words of a bit set
_PREFIXES = ("un", "dis", "non")


def _opening(stems: Sequence[str]) -> str:
    """RE2 for a token (a run of letters and apostrophes, lowered) in which a guard word may begin
    with one of `stems`: at its start or after an apostrophe, an apostrophe allowed between
    letters (a guard word may hold one, and its stem drops it)."""
    return "(?:^|')" + _spelt(stems)


def _opening_in_text(stems: Sequence[str]) -> str:
    """RE2 for a lowered text where `_opening` may match one of its tokens: a token opens at the
    start or after a character that is not a letter (an apostrophe is one)."""
    return "(?:^|[^a-z])" + _spelt(stems)


def _spelt(stems: Sequence[str]) -> str:
    spelt = ("'?".join(stem) for stem in sorted(stems, key=len, reverse=True))
    return "(?:" + "|".join(spelt) + ")"


@dataclass(frozen=True, eq=False)
class Sketch:
    """Per text, what the guard needs to settle most pairs without reading them."""

    numbers: npt.NDArray[np.int64]  # id of the text's set of numbers (0: none)
    names: npt.NDArray[np.int64]  # id of the text's set of names (0: none)
    holds: npt.NDArray[np.uint64]  # (texts, _WORDS): bit set of the opposable stems it holds
    opposes: npt.NDArray[np.uint64]  # the same, of their opposites
    prefixed: npt.NDArray[np.int64]  # id of its set of stems beginning un-, dis-, non- (0: none)


def sketch(texts: Sequence[str]) -> Sketch:
    """Every text's sketch: RE2 over the whole column, Python only where a digit, a possible name
    or a possible opposable or prefixed word is."""
    column = pa.array(texts, type=pa.large_string())
    digits, named = _matches(column, _DIGIT), _matches(column, _NAMED)
    numbers = _ids(
        len(texts), ((k, guard.numbers_of(texts[k])) for k in np.flatnonzero(digits).tolist())
    )
    names = _ids(
        len(texts), ((k, guard.names_of(texts[k])) for k in np.flatnonzero(named).tolist())
    )
    # only the texts where a stem or a prefix may open a token are split: the others hold none
    lowered = pc.ascii_lower(column)
    found = _matches(lowered, _opening_in_text(_STEMS))
    split = np.flatnonzero(found | _matches(lowered, _opening_in_text(_PREFIXES)))
    tokens = pc.split_pattern_regex(lowered.take(pa.array(split)), "[^a-z']+")
    flat, parent = pc.list_flatten(tokens), split[pc.list_parent_indices(tokens).to_numpy()]
    holds, opposes = _opposable(flat, parent, len(texts))
    prefixed = _prefixed(flat, parent, len(texts))
    return Sketch(numbers, names, holds, opposes, prefixed)


def _ids(n: int, found: Iterable[tuple[int, frozenset[str]]]) -> npt.NDArray[np.int64]:
    """Per text an id of the set found in it (equal sets, equal ids; 0 for none and for the
    texts not in `found`)."""
    out = np.zeros(n, dtype=np.int64)
    ids: dict[frozenset[str], int] = {frozenset(): 0}
    for k, value in found:
        out[k] = ids.setdefault(value, len(ids))
    return out


def _words(token: str) -> set[str]:
    """The guard's content stems of a token's words: the guard reads the same words in a run of
    letters and apostrophes as in the whole text."""
    stems = (guard.content_stem(word) for word in guard.WORD.findall(token))
    return {stem for stem in stems if stem is not None}


def _opposable(
    flat: pa.Array, parent: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Per text the bit sets of the opposable stems it holds and of their opposites."""
    holds = np.zeros((n, _WORDS), dtype=np.uint64)
    opposes = np.zeros((n, _WORDS), dtype=np.uint64)
    found = _matches(flat, _opening(_STEMS))
    distinct = pc.dictionary_encode(flat.filter(pa.array(found)))
    bits = [_bits(_words(token) & _BIT.keys()) for token in distinct.dictionary.to_pylist()]
    if bits:
        texts, which = parent[found], distinct.indices.to_numpy()
        np.bitwise_or.at(holds, texts, np.stack([held for held, _ in bits])[which])
        np.bitwise_or.at(opposes, texts, np.stack([opposed for _, opposed in bits])[which])
    return holds, opposes


def _bits(held: set[str]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Opposable stems as a bit set, and their opposites'."""
    opposed = {o for stem in held for o in guard.OPPOSITES[stem]}
    return _bitset(held), _bitset(opposed)


def _bitset(stems: set[str]) -> npt.NDArray[np.uint64]:
    out = np.zeros(_WORDS, dtype=np.uint64)
    for stem in stems:
        out[_BIT[stem] // 64] |= np.uint64(1) << np.uint64(_BIT[stem] % 64)
    return out


def _prefixed(flat: pa.Array, parent: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """Per text an id of its set of stems beginning un-, dis- or non- (0: none)."""
    found = _matches(flat, _opening(_PREFIXES))
    sets: dict[int, set[str]] = {}
    tokens = flat.filter(pa.array(found)).to_pylist()
    for text, token in zip(parent[found].tolist(), tokens, strict=True):
        sets.setdefault(text, set()).update(w for w in _words(token) if w.startswith(_PREFIXES))
    return _ids(n, ((text, frozenset(stems)) for text, stems in sets.items()))


def settled(
    rules: frozenset[guard.Rule], s: Sketch, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per pair of texts (a[k], b[k]): whether the sketches settle it, and if so refused or not.

    Refused when the numbers differ (with that rule on). Kept when no other rule that is on can
    disagree: names only where both name something and not the same; opposites only where one
    side opposes a word the other holds, or their un-/dis-/non- words are not the same (the
    prefixed word must be on one side only); negation is read in Python whenever it is on."""
    refused = (s.numbers[a] != s.numbers[b]) if "numbers" in rules else np.zeros(len(a), np.bool_)
    open_ = np.zeros(len(a), dtype=np.bool_)
    if "names" in rules:
        open_ |= (s.names[a] != 0) & (s.names[b] != 0) & (s.names[a] != s.names[b])
    if "contrast" in rules:
        opposed = (s.opposes[a] & s.holds[b]) | (s.opposes[b] & s.holds[a])
        open_ |= opposed.any(axis=1) | (s.prefixed[a] != s.prefixed[b])
    if "negation" in rules:
        open_[:] = True
    return refused | ~open_ | (a == b), refused  # a text's numbers never differ from its own


def _matches(texts: pa.Array, pattern: str) -> npt.NDArray[np.bool_]:
    """Per text whether RE2 `pattern` matches somewhere in it."""
    found = pc.fill_null(pc.match_substring_regex(texts, pattern), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.bool_)


class Memo:
    """The guard's verdicts on pairs of texts: the sketches settle most pairs at once; each other
    text is read once and each other distinct pair judged once, however many thresholds ask."""

    def __init__(self, check: guard.Guard, texts: Sequence[str]) -> None:
        self.check, self.texts = check, texts
        self._sketch: Sketch | None = None
        self._facts: dict[int, guard.Facts] = {}
        self._verdicts: dict[int, bool] = {}

    def refused(self, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Per pair (text a[k], text b[k]), whether the guard refuses it."""
        n = len(self.texts)
        codes = a.astype(np.int64) * n + b
        distinct, inverse = np.unique(codes, return_inverse=True)
        x, y = np.divmod(distinct, n)
        if self._sketch is None:
            self._sketch = sketch(self.texts)
        done, verdict = settled(self.check.rules, self._sketch, x, y)
        open_ = np.flatnonzero(~done)
        verdict[open_] = [self._verdict(int(c)) for c in distinct[open_].tolist()]
        out: npt.NDArray[np.bool_] = verdict[inverse.reshape(-1)]
        return out

    def _verdict(self, code: int) -> bool:
        if code not in self._verdicts:
            x, y = divmod(code, len(self.texts))
            self._verdicts[code] = self.check.disagree(self._of(x), self._of(y)) is not None
        return self._verdicts[code]

    def _of(self, k: int) -> guard.Facts:
        if k not in self._facts:
            self._facts[k] = guard.facts(self.texts[k])
        return self._facts[k]
