"""Protected spans: what no method may alter, masked out before a method runs and put back after.

A template passes the check when its placeholders come out the same, in the same order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from costlab.errors import BadInput

# Private-use characters: no template, tokenizer rule or minifier touches them.
OPEN, CLOSE = "\ue000", "\ue001"
_SENTINEL = re.compile(f"{OPEN}(\\d+){CLOSE}")

FENCE = r"(?ms:^[ \t]*(?P<fence>```|~~~)[^\n]*\n.*?^[ \t]*(?P=fence)[ \t]*$)"
_PLACEHOLDER = (
    r"\{%-?.*?-?%\}"  # jinja statement
    r"|\{\{.*?\}\}"  # jinja expression
    r"|\{#.*?#\}"  # jinja comment
    r"|\{[A-Za-z_][\w.\[\]'\"-]*(?:![rsa])?(?::[^{}\n]*)?\}"  # Python format field
    r"|\{\d*\}"  # positional format field
    r"|\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*"  # shell-style variable
)
PLACEHOLDER = re.compile(_PLACEHOLDER, re.S)
# Order matters: earlier kinds win where spans overlap.
KINDS: tuple[tuple[str, str], ...] = (
    ("code", FENCE),
    ("code", r"`[^`\n]+`"),
    ("placeholder", _PLACEHOLDER),
    ("url", r"(?:https?://|www\.)[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]"),
    ("json_key", r"\"[^\"\n]{1,80}\"(?=\s*:)"),
    ("number", r"(?<!\w)[$€£]?\d+(?:[.,:/-]\d+)*%?(?!\w)"),
)
_ANY = re.compile("|".join(f"(?P<k{i}>{pattern})" for i, (_, pattern) in enumerate(KINDS)), re.S)


@dataclass(frozen=True)
class Masked:
    """A text with its protected spans swapped for sentinels, and the spans to put back."""

    text: str
    spans: tuple[str, ...]
    kinds: tuple[str, ...]

    def unmask(self, text: str) -> str:
        """Put the spans back; a sentinel lost or duplicated by a method is a failed check."""
        return _SENTINEL.sub(lambda m: self.spans[int(m.group(1))], text)


def mask(text: str) -> Masked:
    """Swap every protected span for a sentinel."""
    spans: list[str] = []
    kinds: list[str] = []

    def swap(found: re.Match[str]) -> str:
        kind = KINDS[int((found.lastgroup or "k0")[1:])][0]
        spans.append(found.group(0))
        kinds.append(kind)
        return f"{OPEN}{len(spans) - 1}{CLOSE}"

    return Masked(_ANY.sub(swap, text), tuple(spans), tuple(kinds))


def sentinels(text: str) -> list[int]:
    """The span numbers a masked text still holds, in order."""
    return [int(n) for n in _SENTINEL.findall(text)]


def split(text: str) -> list[tuple[str, bool]]:
    """A masked text as (piece, protected) pairs: sentinels and newlines are protected pieces."""
    pieces: list[tuple[str, bool]] = []
    for part in re.split(f"({OPEN}\\d+{CLOSE}|\\n)", text):
        if part:
            pieces.append((part, bool(_SENTINEL.fullmatch(part)) or part == "\n"))
    return pieces


def placeholders(text: str) -> list[str]:
    """The placeholders of a template, in order (code blocks excluded: they are literal)."""
    return PLACEHOLDER.findall(re.sub(FENCE, "", text))


def check(before: str, after: str) -> str | None:
    """None when `after` keeps the placeholders of `before` in order, else what went wrong."""
    was, now = placeholders(before), placeholders(after)
    if was == now:
        return None
    lost = [p for p in was if p not in now]
    added = [p for p in now if p not in was]
    if lost:
        return f"placeholder {lost[0]} lost"
    if added:
        return f"placeholder {added[0]} appeared"
    return "placeholders reordered"


def check_braces(text: str, name: str) -> None:
    """Refuse a template whose braces do not balance outside code blocks (BadInput)."""
    depth = 0
    body = re.sub(FENCE, lambda m: "\n" * m.group(0).count("\n"), text)
    for number, line in enumerate(body.split("\n"), 1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth < 0:
                raise BadInput(
                    f"{name}:{number}: unbalanced braces: '}}' without its '{{'",
                    "close every placeholder ({var}, {{ var }}) or write a literal brace as {{ }}",
                )
    if depth:
        raise BadInput(
            f"{name}: unbalanced braces: {depth} '{{' never closed",
            "close every placeholder ({var}, {{ var }}) before compressing",
        )
