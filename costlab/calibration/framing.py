"""A logged request's input as the provider frames it for counting, or why it cannot be.

OpenAI's chat format, as documented (OpenAI cookbook, "How to count tokens with tiktoken", for
gpt-3.5-turbo-0613 and later): every message costs `PER_MESSAGE` (3) tokens, plus the tokens of
each of its field values (role, content, name), plus `PER_NAME` (1) when it has a `name`; the
reply is primed with `REPLY_PRIMING` (3) more. Content given as a list of parts counts the text of
its text parts, joined. The system prompt logged beside the messages (Anthropic's `system`, which
is not one of them) is counted as a first system message.

Not documented, so not counted: a request is excluded, and counted under its reason, when it
declares tools, when its messages hold tool calls or tool results, images, audio or files, or
when it went through OpenAI's Responses API (whose input framing differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3

Exclusion = Literal[
    "no messages logged",
    "no billed input",
    "tools declared",
    "tool calls or results",
    "images",
    "audio or files",
    "Responses API",
    "unreadable messages",
]
EXCLUSIONS: tuple[Exclusion, ...] = (
    "no messages logged", "no billed input", "tools declared", "tool calls or results", "images",
    "audio or files", "Responses API", "unreadable messages",
)  # fmt: skip
_NOT_CHAT_FORMATS = {"openai_responses": "Responses API"}
_IMAGE_PARTS = {"image_url", "image", "input_image"}
_TEXT_PARTS = {"text", "input_text"}


@dataclass(frozen=True)
class Framed:
    """The texts whose tokens a request's input is made of, and the tokens the framing adds."""

    texts: tuple[str, ...]
    overhead: int


def frame(
    messages: str | None,
    system_prompt: str | None,
    tools: str | None,
    log_format: str | None,
) -> Framed | Exclusion:
    """The request framed as OpenAI's chat format counts it, or the reason it is excluded."""
    if log_format in _NOT_CHAT_FORMATS:
        return "Responses API"
    if tools not in (None, "null", "[]"):
        return "tools declared"
    if messages is None:
        return "no messages logged"
    try:
        turns = orjson.loads(messages)
    except orjson.JSONDecodeError:
        return "unreadable messages"
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return "unreadable messages"
    if system_prompt and not any(t.get("role") in ("system", "developer") for t in turns):
        turns = [{"role": "system", "content": system_prompt}, *turns]
    texts: list[str] = []
    overhead = REPLY_PRIMING
    for turn in turns:
        framed = _message(turn)
        if not isinstance(framed, tuple):
            return framed
        texts += framed[0]
        overhead += framed[1]
    return Framed(tuple(texts), overhead)


def _message(turn: dict[str, Any]) -> tuple[list[str], int] | Exclusion:
    if (
        turn.get("tool_calls")
        or turn.get("function_call")
        or turn.get("role") in ("tool", "function")
    ):
        return "tool calls or results"
    content, excluded = _content(turn.get("content"))
    if excluded is not None:
        return excluded
    texts = [str(turn.get("role") or ""), content]
    overhead = PER_MESSAGE
    if turn.get("name"):
        texts.append(str(turn["name"]))
        overhead += PER_NAME
    return texts, overhead


def _content(content: Any) -> tuple[str, Exclusion | None]:
    """A message's text, or why it cannot be counted."""
    if content is None or isinstance(content, str):
        return content or "", None
    if not isinstance(content, list):
        return "", "unreadable messages"
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in _IMAGE_PARTS:
            return "", "images"
        elif kind in ("tool_use", "tool_result"):
            return "", "tool calls or results"
        else:
            return "", "audio or files" if kind is not None else "unreadable messages"
    return "".join(texts), None
