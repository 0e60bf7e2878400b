"""A policy file read, TOML or YAML: its fields, and the line each stands on (for errors).

`.yaml` and `.yml` files are YAML, any other is TOML; both give the same fields to one schema.
YAML is read by the YAML 1.2 core schema, not PyYAML's YAML 1.1 one (where `no` and `on` are
booleans, `1:30` is 90, `017` is 15 and `2026-11-01` a date): a plain scalar is null, true or
false, a decimal integer, a float (`1e3` included) or else a string, and every key is a string.
A duplicate key, an empty value and any other tag are errors naming the file, line and field.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costlab.errors import BadInput

Loc = tuple[str | int, ...]  # a field's path: keys and list indexes, as pydantic gives them
HINT = "see docs for route-replay policy files: name, default, [models.NAME], [[rules]]"


@dataclass(frozen=True)
class Source:
    """A policy file's fields as parsed, and where each stands in the file."""

    path: Path
    data: dict[str, object]
    line_of: Callable[[Loc], int | None]  # 1-based; best effort: the nearest enclosing field

    def at(self, loc: Loc) -> str:
        """`FILE, line N` for a field, or the file alone when its line is not known."""
        line = self.line_of(loc)
        return f"{self.path}, line {line}" if line else str(self.path)


def read(path: Path) -> Source:
    """The fields of a policy file; BadInput naming the file and line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BadInput(
            f"--policy {path}: cannot read: {err.strerror}",
            "check the path: a policy is a TOML or YAML file",
        ) from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text", HINT) from None
    if path.suffix.lower() in {".yaml", ".yml"}:
        return _yaml(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BadInput(f"{path}: not valid TOML: {err}", HINT) from None
    return Source(path, data, functools.partial(_toml_line, text.splitlines()))


def dotted(loc: Loc) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _toml_line(lines: Sequence[str], loc: Loc) -> int | None:
    """The 1-based line of a field in TOML text, following its path (best effort)."""
    start, end, found, previous = 0, len(lines), None, ""
    for part in loc:
        if isinstance(part, int):  # the part-th [[previous]] block
            headers = [n for n in range(len(lines)) if _header(lines[n]) == ["[", previous]]
            if part < len(headers):
                start = found = headers[part]
                end = _block_end(lines, start)
            continue
        key = re.compile(rf"^\s*[\"']?{re.escape(part)}[\"']?\s*=")
        hit = next((n for n in range(start, end) if key.match(lines[n])), None)
        if hit is None:
            hit = next((n for n in range(start, len(lines)) if part in _header(lines[n])), None)
            if hit is not None:
                end = _block_end(lines, hit)
        if hit is not None:
            start = found = hit
        previous = part
    return None if found is None else found + 1


def _header(line: str) -> list[str]:
    """The dotted names of a [table] or [[array]] header line ('[' first for an array)."""
    text = line.strip()
    if not text.startswith("["):
        return []
    array = text.startswith("[[")
    inner = text.strip("[]").split("]")[0]
    names = [n.strip().strip("\"'") for n in re.split(r"\.(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", inner)]
    return ["[", *names] if array else names


def _block_end(lines: Sequence[str], header: int) -> int:
    return next((n for n in range(header + 1, len(lines)) if _header(lines[n])), len(lines))


_TAG = "tag:yaml.org,2002:"
# The YAML 1.2 core schema's plain scalars, as PyYAML resolvers (None: for any first character).
_CORE_SCHEMA = {
    None: [
        (_TAG + "null", re.compile(r"^(?:~|null|Null|NULL|)$")),
        (_TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")),
        (_TAG + "int", re.compile(r"^[-+]?[0-9]+$")),
        (_TAG + "float", re.compile(
            r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"
            r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
        )),
    ]
}  # fmt: skip
_SCALARS: dict[str, Callable[[str], object]] = {
    _TAG + "str": str,
    _TAG + "bool": lambda text: {"true": True, "false": False}[text.lower()],
    _TAG + "int": int,
    _TAG + "float": lambda text: float(text.lower().replace(".inf", "inf").replace(".nan", "nan")),
}
_READ_TAGS = {*_SCALARS, _TAG + "null", _TAG + "map", _TAG + "seq"}
_TAG_HINT = "policy files hold mappings, lists, strings, numbers and true/false"
_NO_VALUE_HINT = (
    "YAML reads an empty value, ~ and null as no value: give one, write {} for a model with no "
    "settings, or leave the field out"
)


def _yaml(path: Path, text: str) -> Source:
    import yaml  # only YAML policy files need it

    # Composing only: no Python object is constructed from a tag, as with yaml.safe_load.
    try:
        loader = yaml.SafeLoader(text)  # checks the characters: a YAMLError too
        loader.yaml_implicit_resolvers = _CORE_SCHEMA
        root = loader.get_single_node()
    except yaml.YAMLError as err:
        raise BadInput(_syntax_error(path, text, err), HINT) from None
    if root is None:  # an empty file: no field given
        return Source(path, {}, lambda loc: None)
    if root.id != "mapping":
        raise BadInput(
            f"{path}, line {root.start_mark.line + 1}: a policy file is a mapping of fields",
            "e.g. default: gpt-4o",
        )
    tree = _Tree(path)
    data = tree.value(root, ())
    assert isinstance(data, dict)  # the root is a mapping
    return Source(path, data, tree.line_of)


def _syntax_error(path: Path, text: str, err: Exception) -> str:
    """`FILE, line N: not valid YAML: PROBLEM`, from a PyYAML error's mark (or position)."""
    import yaml

    if isinstance(err, yaml.reader.ReaderError):  # a character YAML does not allow
        line = text.count("\n", 0, err.position) + 1
        return f"{path}, line {line}: not valid YAML: {err.reason} (#x{err.character:04x})"
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"{path}, line {mark.line + 1}" if mark else str(path)
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    return f"{where}: not valid YAML: {'; '.join(p for p in parts if p) or err}"


class _Tree:
    """Python values from composed YAML nodes, noting the line of each field on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.built: dict[int, object] = {}  # by node id: an alias shares its anchor's value
        self.building: set[int] = set()

    def line_of(self, loc: Loc) -> int | None:
        held = (self.lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in self.lines)
        return next(held, None)

    def value(self, node: Any, loc: Loc) -> object:
        if id(node) in self.building:
            raise BadInput(f"{self._where(node, loc)}: an alias inside its own anchor", HINT)
        if node.tag not in _READ_TAGS:  # !!timestamp, !!set, !!python/..., !custom
            tag = node.tag.replace(_TAG, "!!")
            raise BadInput(f"{self._where(node, loc)}: no {tag} in a policy file", _TAG_HINT)
        if id(node) not in self.built:
            build = {"mapping": self.mapping, "sequence": self.sequence}.get(node.id, self.scalar)
            self.building.add(id(node))
            self.built[id(node)] = build(node, loc)
            self.building.discard(id(node))
        return self.built[id(node)]

    def mapping(self, node: Any, loc: Loc) -> dict[str, object]:
        fields: dict[str, object] = {}
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                raise BadInput(f"{self._where(key_node, loc)}: a key must be a name", HINT)
            key = key_node.value  # as written: a model called `on` or `1` is that string
            field = (*loc, key)
            if key in fields:
                raise BadInput(
                    f"{self.path}, line {key_node.start_mark.line + 1}: {dotted(field)}: "
                    f"duplicate key (first on line "
                    f"{self.lines[field]})",
                    "YAML would silently keep the last one: remove one of them",
                )
            self.lines[field] = key_node.start_mark.line + 1
            fields[key] = self.value(value_node, field)
        return fields

    def sequence(self, node: Any, loc: Loc) -> list[object]:
        for n, item in enumerate(node.value):
            self.lines[(*loc, n)] = item.start_mark.line + 1
        return [self.value(item, (*loc, n)) for n, item in enumerate(node.value)]

    def scalar(self, node: Any, loc: Loc) -> object:
        if node.tag == _TAG + "null":
            raise BadInput(f"{self._where(node, loc)}: no value", _NO_VALUE_HINT)
        try:
            return _SCALARS[node.tag](node.value)
        except (KeyError, ValueError):  # an explicit tag on a value it does not fit: !!int abc
            tag = node.tag.replace(_TAG, "!!")
            raise BadInput(
                f"{self._where(node, loc)}: not a {tag}: {node.value!r}", _TAG_HINT
            ) from None

    def _where(self, node: Any, loc: Loc) -> str:
        """`FILE, line N: FIELD`: the line of the field's key (or of the node, at the top)."""
        line = self.line_of(loc) or node.start_mark.line + 1
        return ": ".join(filter(None, [f"{self.path}, line {line}", dotted(loc)]))
