"""Masking of personal data and secrets in text before it is stored."""

from __future__ import annotations

import re

# Order matters: secrets and cards before phone numbers, whose pattern would eat their digits.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[EMAIL]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (
        "[SECRET]",
        re.compile(
            r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
            r"|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b"
        ),
    ),
    ("Bearer [SECRET]", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}")),
    ("[CARD]", re.compile(r"\b(?:\d[ -]?){12,18}\d\b")),
    (
        "[PHONE]",
        re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}\b"),
    ),
)


def redact(text: str) -> str:
    """The text with emails, API keys and tokens, card numbers and phone numbers masked."""
    for placeholder, pattern in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


# The password of a URL's user info (`scheme://user:password@host`, up to the last `@` of the
# authority) and a `password=` parameter (libpq reads one in the query string, or `sslpassword`).
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^/?#\s]*@")
_PASSWORD_PARAMETER = re.compile(r"(\b(?:ssl)?password=)[^&#\s]*", re.IGNORECASE)


def credentials(text: str) -> str:
    """The text with the passwords of the URLs in it masked (`user:***@host`, `password=***`)."""
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    return _PASSWORD_PARAMETER.sub(r"\1***", text)
