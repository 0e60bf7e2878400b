"""The committed baseline: template id -> encoding and token count, as sorted, stable JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costlab.errors import BadInput

FORMAT_KEY = "costlab_tokens_baseline"
FORMAT_VERSION = 1
_REMAKE = (
    "restore it from git (`git checkout -- {path}`), or re-create it with `costlab tokens update`"
)


@dataclass(frozen=True)
class Entry:
    """A template's count when the baseline was written."""

    encoding: str
    tokens: int
    # md5 of the counted text: an unchanged template keeps its count, and its logged calls are
    # found by system_prompt_hash.
    md5: str | None = None


def read(path: Path) -> dict[str, Entry]:
    """The baseline at `path`; BadInput when it is missing or not a costlab baseline."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(
            f"no token baseline at {path}",
            "create it with `costlab tokens update` and commit it (or pass --baseline PATH)",
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"cannot read the token baseline {path}: {err}") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise _corrupt(path, f"not valid JSON ({err})") from None
    if not isinstance(data, dict) or data.get(FORMAT_KEY) != FORMAT_VERSION:
        raise _corrupt(path, f'no "{FORMAT_KEY}": {FORMAT_VERSION} marker')
    templates = data.get("templates")
    if not isinstance(templates, dict):
        raise _corrupt(path, 'no "templates" object')
    return {template_id: _entry(path, template_id, e) for template_id, e in templates.items()}


def _entry(path: Path, template_id: str, entry: Any) -> Entry:
    if not isinstance(entry, dict):
        raise _corrupt(path, f"templates.{template_id} is not an object")
    tokens, encoding = entry.get("tokens"), entry.get("encoding")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise _corrupt(path, f"templates.{template_id}.tokens is not a whole number ≥ 0")
    if not isinstance(encoding, str):
        raise _corrupt(path, f"templates.{template_id}.encoding is not a string")
    md5 = entry.get("md5")
    if md5 is not None and not isinstance(md5, str):
        raise _corrupt(path, f"templates.{template_id}.md5 is not a string")
    return Entry(encoding, tokens, md5)


def _corrupt(path: Path, detail: str) -> BadInput:
    return BadInput(f"{path} is not a costlab token baseline: {detail}", _REMAKE.format(path=path))


def write(path: Path, entries: Mapping[str, Entry]) -> None:
    """Write the baseline atomically: keys sorted, one field a line, so diffs stay small."""
    data = {
        FORMAT_KEY: FORMAT_VERSION,
        "templates": {
            template_id: {"encoding": e.encoding, "tokens": e.tokens}
            | ({"md5": e.md5} if e.md5 else {})
            for template_id, e in sorted(entries.items())
        },
    }
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        raise BadInput(f"cannot write the token baseline {path}: {err.strerror}") from None
