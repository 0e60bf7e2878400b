"""The false-hit guard: a cache hit is refused when the two texts disagree on what embeddings blur.

A sentence embedding puts "send £200 to Anna" next to "send £500 to Anna", and "how do I lose
weight" next to "how do I gain weight": the words that change the answer are a small part of the
text. The guard reads the request's text and the entry's text as logged (before the cache key is
normalised, so numbers are still there) and refuses the hit when they disagree on:

- `numbers`: the numbers each holds (amounts, quantities, dates, times, ids with a digit), as
  values ("1,000" and "1000" agree); a text without numbers disagrees with none;
- `names`: a word capitalised inside a sentence, or an acronym, that the other text lacks in any
  case, while the other has such a word of its own (one side capitalising is not a disagreement);
- `negation`: one says not / no / never / n't / without and the other does not, when the two
  share nearly all their content words (otherwise it is as often a paraphrase: "has not
  arrived" / "where is it");
- `contrast`: one holds a word and the other its opposite, from a fixed list of pairs (gain /
  lose, increase / decrease, ...) and the prefixes un-, dis-, non- (lock / unlock), neither
  holds both, and both or neither are negated ("failed" / "not successful" agree).

Rules over the two texts, no model and no call out: microseconds a pair. Which rules are on by
default (DEFAULT_RULES) was chosen by measurement on labelled traffic (BENCHMARKS.md, "False-hit
guard").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Rule = Literal["numbers", "names", "negation", "contrast"]
RULES: tuple[Rule, ...] = ("numbers", "names", "negation", "contrast")
# The rules on by default, chosen on the development halves of Banking77 and CLINC150
# (BENCHMARKS.md, "False-hit guard"): `negation` is off, as 15 of the 16 hits it refused there
# were paraphrases ("I cannot get my card out of the ATM" / "How do I get my card out ...").
DEFAULT_RULES: frozenset[Rule] = frozenset({"numbers", "names", "contrast"})
# The share of their content words (Jaccard) two texts must share for a difference in negation
# to count: below it the wording differs anyway, and negation is often paraphrase ("not working"
# / "broken").
NEGATION_OVERLAP = 0.75

_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SENTENCE_END = re.compile(r"[.!?]\s+|\n")
_NEGATIONS = frozenset(
    "not no never nothing none nobody nowhere neither nor without cannot "
    "cant dont doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt "
    "havent hasnt hadnt aint".split()
)
_STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for from with about as into over "
    "i me my mine we our you your he she it its they them their this that these those "
    "is are was were be been being am do does did have has had can could will would "
    "shall should may might must what which who whom whose when where why how "
    "there here please just also too very any some all get got".split()
)
# Pairs of words of opposite meaning that an embedding puts close together.
_OPPOSITES = (
    "gain lose, increase decrease, raise lower, higher lower, more less, maximum minimum, "
    "max min, add remove, open close, start stop, begin end, enable disable, allow block, "
    "accept decline, accept reject, approve reject, buy sell, send receive, deposit withdraw, "
    "income expense, credit debit, import export, upload download, before after, early late, "
    "first last, cheap expensive, new old, hot cold, win lose, arrive leave, "
    "inbound outbound, incoming outgoing, sent received, pending completed, "
    "pending declined, failed successful, fail succeed, buyer seller, add delete, "
    "physical virtual, debit credit, top bottom, true false, positive negative, "
    "male female, past future, yesterday tomorrow, morning evening, day night, north south, "
    "east west, left right, fast slow, long short, big small, large small, heavy light, "
    "best worst, better worse, love hate, like dislike, always never, everyone nobody, "
    "import export, sunrise sunset, wake sleep, husband wife, boyfriend girlfriend"
)
_PREFIXES = ("un", "dis", "non")


@dataclass(frozen=True)
class Facts:
    """What the guard reads in one text."""

    numbers: frozenset[str]
    names: frozenset[str]  # casefolded
    negated: bool
    words: frozenset[str]  # content words, casefolded and stemmed
    all_words: frozenset[str]  # every word, casefolded


@dataclass(frozen=True)
class Guard:
    """The rules that are on; `refuses` says which one refuses a pair of texts, if any."""

    rules: frozenset[Rule] = DEFAULT_RULES

    def refuses(self, query: str, entry: str) -> Rule | None:
        """The first rule on which the two texts disagree, or None when the hit stands."""
        if query == entry:
            return None
        return self.disagree(facts(query), facts(entry))

    def disagree(self, a: Facts, b: Facts) -> Rule | None:
        """The first rule on which two texts' facts disagree, or None."""
        for rule in RULES:
            if rule in self.rules and _CHECKS[rule](a, b):
                return rule
        return None


def parse_rules(text: str) -> frozenset[Rule]:
    """Rules from a comma-separated list; ValueError naming an unknown one."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown guard rule {', '.join(unknown)}: choose from {', '.join(RULES)}")
    return frozenset(n for n in RULES if n in names)


@lru_cache(maxsize=4096)
def facts(text: str) -> Facts:
    """The numbers, names, negation and content words of a text."""
    words = [w.casefold() for w in WORD.findall(text)]
    bare = [_bare(w) for w in words]
    return Facts(
        numbers=numbers_of(text),
        names=names_of(text),
        negated=any(w in _NEGATIONS or w.endswith("n't") for w in words)
        or any(w in _NEGATIONS for w in bare),
        words=frozenset(c for c in map(_content, bare) if c is not None),
        all_words=frozenset(bare),
    )


def numbers_of(text: str) -> frozenset[str]:
    """The numbers a text holds, as values."""
    return frozenset(_value(n) for n in _NUMBER.findall(text))


def names_of(text: str) -> frozenset[str]:
    """The names a text holds, casefolded."""
    return frozenset(_names(text))


def content_stem(word: str) -> str | None:
    """A casefolded word's stem as the guard compares it, or None for a stop word or negation."""
    return _content(_bare(word))


def _content(bare: str) -> str | None:
    return None if bare in _STOPWORDS or bare in _NEGATIONS else _stem(bare)


def _bare(word: str) -> str:
    """A casefolded word without its possessive or apostrophe: "face's" -> "face"."""
    return word.removesuffix("'s").replace("'", "")


def _value(number: str) -> str:
    """A number as a value: thousands separators and trailing decimal zeros dropped."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", number):
        number = number.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", number):
        number = number.rstrip("0").rstrip(".")
    return number.lstrip("0") or "0"


def _names(text: str) -> Iterable[str]:
    """Capitalised words not opening a sentence, and acronyms (two capitals or more)."""
    for sentence in _SENTENCE_END.split(text):
        for k, match in enumerate(WORD.finditer(sentence)):
            word = match.group()
            if len(word) > 1 and word.isupper() and word not in ("I", "OK"):
                yield _bare(word.casefold())
            elif k > 0 and word[0].isupper() and word != "I" and not word.startswith("I'"):
                yield _bare(word.casefold())


def _stem(word: str) -> str:
    """A crude stem, so that inflections of a word in the list still meet."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _opposites() -> dict[str, frozenset[str]]:
    pairs: dict[str, set[str]] = {}
    for pair in _OPPOSITES.split(","):
        a, b = (_stem(w) for w in pair.split())
        pairs.setdefault(a, set()).add(b)
        pairs.setdefault(b, set()).add(a)
    return {w: frozenset(o) for w, o in pairs.items()}


OPPOSITES = _opposites()


def _numbers(a: Facts, b: Facts) -> bool:
    return a.numbers != b.numbers


def _names_differ(a: Facts, b: Facts) -> bool:
    return bool(_unmatched(a, b)) and bool(_unmatched(b, a))


def _unmatched(a: Facts, b: Facts) -> set[str]:
    """a's names that b lacks in any form: as a word, a word it begins or ends, or initials."""
    if not a.names:
        return set()  # most texts name nothing: skip reading b's initials
    initials = {w[0] for w in b.all_words}
    return {
        name
        for name in a.names
        if name not in b.all_words
        and not any(w.startswith(name) or name.startswith(w) for w in b.all_words if len(w) > 3)
        and not (len(name) <= 4 and set(name) <= initials)
    }


def _negation(a: Facts, b: Facts) -> bool:
    if a.negated == b.negated:
        return False
    shared = len(a.words & b.words) / max(len(a.words | b.words), 1)
    return shared >= NEGATION_OVERLAP


def _contrast(a: Facts, b: Facts) -> bool:
    # one side negated and the other not: an opposite then says the same thing
    # ("failed" / "not successful", "unsure" / "not sure")
    return a.negated == b.negated and (_opposed(a, b) or _opposed(b, a))


def _opposed(a: Facts, b: Facts) -> bool:
    """a holds a word whose opposite, or prefixed form (lock / unlock), b holds."""
    only_a, only_b = a.words - b.words, b.words - a.words
    for word in only_a:
        if OPPOSITES.get(word, frozenset()) & only_b:
            return True
        if any(p + word in only_b for p in _PREFIXES):
            return True
    return False


_CHECKS = {
    "numbers": _numbers,
    "names": _names_differ,
    "negation": _negation,
    "contrast": _contrast,
}
