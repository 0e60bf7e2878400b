"""The seed's gzip+base64 packing, measured honestly: base64 text costs more tokens, not fewer.

Models read tokens, not bytes: gzip shrinks the bytes, base64 turns them into a string that
tokenizes at about 1.3-2 characters a token, against about 4 for prose. The packed template is
reported, never written: nothing in it is readable, placeholders included.
"""

from __future__ import annotations

import base64
import gzip

PREAMBLE = (
    "The instructions below are gzip-compressed and base64-encoded. Decode them and follow them.\n"
)


def pack(text: str) -> str:
    """The template as the seed article packs it: a preamble and the base64 of its gzip."""
    packed = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    return PREAMBLE + base64.b64encode(packed).decode("ascii")
