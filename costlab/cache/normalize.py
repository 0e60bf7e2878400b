"""The cache key of a request: its text, normalised so that trivial differences still match.

As the seed's `normalize_query` asks: lowercase, punctuation dropped, and the parts that vary
between otherwise identical questions (emails, dates, numbers, ids, @user names) replaced by
placeholders, so "Where is order #48213?" and "where is order 51120" are one key.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), " <email> "),
    (re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"), " <date> "),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), " <id> "),
    (re.compile(r"\b(?=[a-z0-9_-]*\d)(?=[a-z0-9_-]*[a-z])[a-z0-9_-]{6,}\b"), " <id> "),
    (re.compile(r"(?<!\w)@\w+"), " <user> "),
    (re.compile(r"\d+(?:[.,]\d+)*"), " <num> "),
    (re.compile(r"[^\w<>\s]+"), " "),
    (re.compile(r"\s+"), " "),
)


# Every rule but the last two needs an @, a hyphen or a digit to match: most prompts hold none,
# and skip them (a million prompts are normalised per run).
_VARIABLE = re.compile(r"[@\-\d]")
# For an ASCII text the last two rules are one byte table (each ASCII character the two rules
# turn into a space, made a space; read off the rules themselves) and a split: a third of the
# time of the two regular expressions.
_PUNCTUATION, _SPACE = (pattern for pattern, _ in _RULES[-2:])
_ASCII_TO_SPACE = bytes(
    32 if _PUNCTUATION.fullmatch(chr(c)) or _SPACE.fullmatch(chr(c)) else c for c in range(128)
) + bytes(range(128, 256))


def normalize(text: str) -> str:
    """The text as a cache key: lowercase, no punctuation, variable parts as placeholders."""
    text = text.lower()
    if not _VARIABLE.search(text):
        if text.isascii():
            return b" ".join(text.encode().translate(_ASCII_TO_SPACE).split()).decode()
        rules = _RULES[-2:]
    else:
        rules = _RULES
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text.strip()
