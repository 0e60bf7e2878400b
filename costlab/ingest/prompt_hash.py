"""`prompt_hash`: the md5 of a call's system prompt, a NUL and its prompt (no text: '').

A system prompt is most often one of a few templates of a few KB: the md5 state after a
template's whole 64-byte blocks is taken once per distinct text, and each row's hash goes on
from that state with the rest of the template, the NUL and the row's prompt (hashlib, in a
DuckDB function called once a row: an Arrow one would import pandas). The same bytes are
hashed, so the digest is the same: ~0.6 s of CPU less per 100,000 rows of 3.5 KB templates
than hashing each row's whole text in SQL. A row with no system prompt, and every row past
`MAX_TEMPLATES` distinct system prompts, is hashed in SQL (a Python call costs ~1 µs a row, three
times the md5 of a short prompt in SQL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from costlab.store import Store

# Distinct system prompts read into Python at most (their texts are held while a file lands).
MAX_TEMPLATES = 1000
# Each row's whole text hashed in SQL: the definition, and the path past MAX_TEMPLATES.
WHOLE_TEXT_SQL = "md5(coalesce(system_prompt, '') || chr(0) || coalesce(prompt, ''))"
_FUNCTION = "_prompt_md5"
_BLOCK = 64  # md5's block size: a state can be copied after any whole number of blocks


@contextmanager
def sql(store: Store, templates: str) -> Iterator[str]:
    """SQL of a row's prompt hash, valid inside: from its `prompt` and `system_prompt_md5`, the
    md5 of its system prompt as `templates` (text, md5) has it, or its `system_prompt`."""
    row = store.row(f"SELECT count(*) FROM {templates}")
    if not row or not row[0] or row[0] > MAX_TEMPLATES:
        yield WHOLE_TEXT_SQL  # no system prompt at all: hashing in SQL costs a third of a call
        return
    states = {
        md5: _state(text.encode("utf-8"))
        for text, md5 in store.rows(f"SELECT text, md5 FROM {templates}")
    }
    with store.function(_FUNCTION, _hasher(states), ["VARCHAR", "VARCHAR"], "VARCHAR"):
        # Python is called only for the rows with a system prompt.
        yield (
            f"CASE WHEN system_prompt_md5 IS NULL THEN {WHOLE_TEXT_SQL} "
            f"ELSE {_FUNCTION}(system_prompt_md5, prompt) END"
        )


State = tuple[Any, bytes]  # md5 after a template's whole blocks, and the bytes left to hash


def _state(template: bytes) -> State:
    whole = len(template) - len(template) % _BLOCK
    return hashlib.md5(template[:whole], usedforsecurity=False), template[whole:] + b"\0"


_NO_TEMPLATE: State = (hashlib.md5(usedforsecurity=False), b"\0")


def _hasher(states: dict[str, State]) -> Any:
    def prompt_md5(template_md5: str | None, prompt: str | None) -> str:
        head, rest = _NO_TEMPLATE if template_md5 is None else states[template_md5]
        digest = head.copy()
        digest.update(rest + (prompt or "").encode("utf-8"))
        return str(digest.hexdigest())

    return prompt_md5
