"""Reading chat messages, whatever the provider's content shape."""

from __future__ import annotations

from typing import Any


def text_of(content: Any) -> str | None:
    """The text of a message content: a string, or the text parts of a list of parts."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif isinstance(part.get("content"), str | list):
                    inner = text_of(part["content"])
                    if inner:
                        parts.append(inner)
        return "\n".join(parts) if parts else None
    if isinstance(content, dict):
        return text_of(content.get("text") or content.get("content"))
    return None


def system_prompt(messages: Any) -> str | None:
    """The joined text of the system (or developer) messages."""
    if not isinstance(messages, list):
        return None
    texts = [
        text_of(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("system", "developer")
    ]
    joined = "\n".join(t for t in texts if t)
    return joined or None


def last_user_turn(messages: Any) -> str | None:
    """The text of the last user message."""
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return None


def unmapped(record: dict[str, Any], mapped: frozenset[str]) -> dict[str, Any]:
    """The fields of a record that a format did not map, kept as metadata."""
    return {k: v for k, v in record.items() if k not in mapped}
