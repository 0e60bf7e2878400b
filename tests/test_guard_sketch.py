"""The guard's sketches settle pairs in numpy with exactly the guard's own verdicts."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from costlab.cache import guard, sketch

DATA = Path(__file__).parent / "data" / "banking77" / "support_sample.jsonl"

# Texts that sit on the edges of what the sketches read: apostrophes inside prefixes and stems,
# digits that are not ASCII, capitals only at the start, non-ASCII letters beside ASCII words.
EDGES = [
    "u'nlock my card",
    "unlock my card",
    "lock my card",
    "di'sable the app",
    "dis'able the app",
    "enable the app",
    "n'on-stop flight",
    "stop flight",
    "x'y'unlock it",
    "\u212aunlock it",  # a Kelvin sign, not a letter of the guard's words, then "unlock"
    "lo'se weight fast",
    "gain weight fast",
    "lose weight fast",
    "send ٣ pounds",  # an Arabic-Indic digit is a number to the guard
    "send 3 pounds",
    "send 1,000 pounds",
    "send 1000 pounds",
    "send 1000.50 pounds",
    "send 1000.5 pounds",
    "ATM took my card",
    "the ATM took my card",
    "The atm took my card",
    "Anna sent me money",
    "Can Anna send me money?",
    "Can Bob send me money?",
    "I can't log in",
    "I can log in",
    "I cannot log in",
    "my transfer failed",
    "my transfer was not successful",
    "my transfer was successful",
    "",
    "İncrease my limit",
    "increase my limit",
    "decrease my limit",
]


def _texts() -> list[str]:
    real = [json.loads(line)["prompt"] for line in DATA.read_text().splitlines()]
    return real + EDGES


RULE_SETS = [
    guard.DEFAULT_RULES,
    frozenset(guard.RULES),
    frozenset({"contrast"}),
    frozenset({"names"}),
    frozenset({"numbers", "negation"}),
]


def test_sketch_flags_never_miss_what_the_guard_reads() -> None:
    texts = _texts()
    s = sketch.sketch(texts)
    prefixes = ("un", "dis", "non")
    for k, text in enumerate(texts):
        f = guard.facts(text)
        assert (s.names[k] == 0) == (not f.names), text
        assert (s.numbers[k] == 0) == (not f.numbers), text
        for stem in f.words & set(guard.OPPOSITES):
            assert _has(s.holds[k], stem), (text, stem)
            for opposite in guard.OPPOSITES[stem]:
                assert _has(s.opposes[k], opposite), (text, opposite)
        assert (s.prefixed[k] == 0) == (not any(w.startswith(prefixes) for w in f.words)), text
    for j, k in itertools.combinations(range(len(texts)), 2):
        a, b = guard.facts(texts[j]), guard.facts(texts[k])
        assert (s.numbers[j] == s.numbers[k]) == (a.numbers == b.numbers)
        assert (s.names[j] == s.names[k]) == (a.names == b.names)
        assert (s.prefixed[j] == s.prefixed[k]) == (
            {w for w in a.words if w.startswith(prefixes)}
            == {w for w in b.words if w.startswith(prefixes)}
        )


def _has(bits: np.ndarray, stem: str) -> bool:
    k = sketch._STEMS.index(stem)
    return bool(int(bits[k // 64]) >> (k % 64) & 1)


def test_the_sketches_hold_exactly_the_opposable_words() -> None:
    texts = _texts()[:600]
    s = sketch.sketch(texts)
    held = sum(len(guard.facts(t).words & set(guard.OPPOSITES)) for t in texts)
    sketched = sum(_has(s.holds[k], stem) for k in range(len(texts)) for stem in sketch._STEMS)
    assert sketched == held


@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda r: ",".join(sorted(r)))
def test_the_memo_gives_the_guards_verdict_on_every_pair(rules: frozenset[guard.Rule]) -> None:
    texts = _texts()
    rng = np.random.default_rng(7)
    edges = np.arange(len(texts) - len(EDGES), len(texts))
    pairs = np.array(list(itertools.product(edges, edges)), dtype=np.int64)
    randoms = rng.integers(0, len(texts), size=(4000, 2))
    a = np.concatenate([pairs[:, 0], randoms[:, 0]])
    b = np.concatenate([pairs[:, 1], randoms[:, 1]])
    check = guard.Guard(rules)
    expected = [check.refuses(texts[x], texts[y]) is not None for x, y in zip(a, b, strict=True)]
    memo = sketch.Memo(check, texts)
    assert memo.refused(a, b).tolist() == expected
    assert any(expected) and not all(expected)


def test_only_pairs_that_could_disagree_are_read_in_python() -> None:
    texts = ["send 200 to Anna", "send 500 to Anna", "what is my balance", "what's my balance"]
    memo = sketch.Memo(guard.Guard(), texts)
    refused = memo.refused(np.array([1, 3]), np.array([0, 2]))
    assert refused.tolist() == [True, False]
    assert not memo._verdicts  # numbers settled one pair, nothing to disagree on the other
