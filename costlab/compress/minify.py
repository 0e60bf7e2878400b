"""The model-free method: whitespace, markdown and JSON minification, duplicate lines removed."""

from __future__ import annotations

import json
import re

from costlab.compress import protect

_JSON_FENCE = re.compile(r"(?ms)^([ \t]*```json[ \t]*\n)(.*?)(^[ \t]*```[ \t]*$)")
_JSON_START = re.compile(r"(?m)^[ \t]*[\[{]")
_SPACES = re.compile(r"(?<=\S)[ \t]{2,}")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_RULE = re.compile(r"(?m)^[ \t]*(?:[-*_][ \t]*){3,}$\n?")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLANKS = re.compile(r"\n{3,}")
# A repeated line is dropped only when it is a sentence, not a label such as "Sentiment: positive".
_MIN_DUPLICATE_WORDS = 5


def minify(text: str) -> str:
    """The same template in fewer tokens; protected spans come out byte for byte."""
    text = _compact_json(text)
    masked = protect.mask(text)
    body = _COMMENT.sub("", masked.text)
    body = _RULE.sub("", body)
    body = _EMPHASIS.sub(r"\2", body)
    lines = [_SPACES.sub(" ", line.rstrip()) for line in body.split("\n")]
    body = _BLANKS.sub("\n\n", "\n".join(_drop_repeats(lines)))
    return masked.unmask(body.strip("\n"))


def _drop_repeats(lines: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for line in lines:
        key = " ".join(line.split()).lower()
        repeat = key in seen and len(key.split()) >= _MIN_DUPLICATE_WORDS
        if repeat and protect.OPEN not in line:
            continue
        seen.add(key)
        kept.append(line)
    return kept


def _compact_json(text: str) -> str:
    """JSON that parses (a ```json block, or a block starting a line) without its whitespace."""
    text = _JSON_FENCE.sub(lambda m: m.group(1) + _compact(m.group(2)) + m.group(3), text)
    fenced = [m.span() for m in re.finditer(protect.FENCE, text)]
    decoder = json.JSONDecoder()
    pieces, at = [], 0
    for found in _JSON_START.finditer(text):
        start = found.end() - 1
        if start < at or any(a <= start < b for a, b in fenced):
            continue
        try:
            end = decoder.raw_decode(text, start)[1]
        except ValueError:
            continue
        if "\n" in text[start:end]:
            pieces += [text[at:start], _squeeze(text[start:end])]
            at = end
    return "".join(pieces) + text[at:]


def _compact(block: str) -> str:
    try:
        json.loads(block)
    except ValueError:
        return block
    return _squeeze(block) + "\n"


def _squeeze(json_text: str) -> str:
    """Valid JSON without the whitespace between its tokens: every key and value as written."""
    out, in_string, escaped = [], False, False
    for char in json_text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char.isspace():
            continue
        out.append(char)
    return "".join(out)
