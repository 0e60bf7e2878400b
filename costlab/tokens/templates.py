"""Prompt templates: found by path, folder or glob, read as text, rendered with fixture values."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from costlab.errors import BadInput

# A folder is searched (recursively, hidden folders skipped) for files with these suffixes.
TEMPLATE_SUFFIXES = frozenset(
    {".txt", ".md", ".prompt", ".j2", ".jinja", ".jinja2", ".tmpl", ".tpl", ".mustache", ".hbs"}
)
_GLOB_CHARS = frozenset("*?[")
# `{{ name }}` (Jinja, Mustache) or `{name}` (str.format, LangChain): filled when a fixture has it.
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}|\{([A-Za-z_]\w*)\}")
# Where the static text of a template ends: its first variable, tag or placeholder.
_DYNAMIC = re.compile(r"\{\{|\{%|\{#|\{[A-Za-z_]\w*\}|\$\{?[A-Za-z_]")


@dataclass(frozen=True)
class Template:
    """One template file; `id` is its path relative to the root, with `/`."""

    id: str
    path: Path
    text: str  # as written
    rendered: str | None = None  # with fixture values, when there are fixtures

    @property
    def counted(self) -> str:
        """The text whose tokens are counted: rendered when it was, else as written."""
        return self.text if self.rendered is None else self.rendered

    def md5(self) -> str:
        """md5 of the counted text (as the store hashes a system prompt)."""
        return hashlib.md5(self.counted.encode(), usedforsecurity=False).hexdigest()

    def static_prefix(self) -> str:
        """The text before the first variable: what every rendering of it starts with."""
        found = _DYNAMIC.search(self.text)
        return self.text if found is None else self.text[: found.start()]


def discover(patterns: Iterable[str], root: Path, *, allow_empty: bool = False) -> list[Template]:
    """The templates named by files, folders and globs (relative to `root`), sorted by id.

    A pattern that matches no template is an error (a typo would pass the gate by listing
    every baselined template as removed) unless `allow_empty`.
    """
    paths: dict[str, Path] = {}
    for pattern in patterns:
        found = _expand(pattern, root)
        if not found and not allow_empty:
            raise BadInput(
                f"{pattern}: matches no prompt template",
                "check the path or glob (quote globs so the shell leaves them), "
                "or pass --allow-empty",
            )
        for path in found:
            paths.setdefault(_template_id(path, root), path)
    return [Template(tid, path, _read(path)) for tid, path in sorted(paths.items())]


def _expand(pattern: str, root: Path) -> list[Path]:
    if _GLOB_CHARS & set(pattern):
        base = Path(pattern).anchor or root
        relative = pattern[len(Path(pattern).anchor) :] if Path(pattern).anchor else pattern
        found = [p for p in Path(base).glob(relative) if not _hidden(p, Path(base))]
        return [f for p in found for f in ([p] if p.is_file() else _folder(p))]
    path = Path(pattern) if Path(pattern).is_absolute() else root / pattern
    if path.is_file():
        return [path]
    if path.is_dir():
        return _folder(path)
    raise BadInput(f"{pattern}: no such template file or folder", "check the path, or use a glob")


def _folder(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in TEMPLATE_SUFFIXES and p.is_file() and not _hidden(p, folder)
    ]


def _hidden(path: Path, base: Path) -> bool:
    try:
        parts = path.relative_to(base).parts
    except ValueError:
        parts = path.parts
    return any(part.startswith(".") and part not in (".", "..") for part in parts)


def _template_id(path: Path, root: Path) -> str:
    try:  # a path found under `root` needs no resolving (a system call per part)
        return path.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _read(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(f"{path}: not UTF-8 text (byte {err.start})", "save it as UTF-8") from None
    except OSError as err:
        raise BadInput(f"{path}: cannot read: {err.strerror}") from None
    # A Windows checkout (core.autocrlf) must count the same as a Unix one.
    return text.replace("\r\n", "\n")


@dataclass(frozen=True)
class Fixtures:
    """Variable values per template: (glob over template ids, values) in the file's order."""

    entries: tuple[tuple[str, Mapping[str, str]], ...]

    def values_for(self, template_id: str) -> dict[str, str]:
        """The values that hold for one template: globs in file order, then its exact id."""
        values: dict[str, str] = {}
        for key, found in self.entries:
            if key != template_id and fnmatchcase(template_id, key):
                values.update(found)
        for key, found in self.entries:
            if key == template_id:
                values.update(found)
        return values


def load_fixtures(path: Path) -> Fixtures:
    """A JSON object: template id or glob -> {variable: value}. Non-strings are written as JSON."""
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{where}: no such fixtures file") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BadInput(f"{where}: not a JSON fixtures file: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise BadInput(
            f"{where}: fixtures must be an object of objects",
            'write {"*": {"name": "Ada"}, "prompts/summary.txt": {"document": "..."}}',
        )
    return Fixtures(
        tuple((key, {k: _text(v) for k, v in values.items()}) for key, values in data.items())
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render(text: str, values: Mapping[str, str]) -> str:
    """The template with its known variables filled; unknown ones stay as written."""
    if not values:
        return text

    def fill(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        return values.get(name, found.group(0))

    return _VARIABLE.sub(fill, text)
