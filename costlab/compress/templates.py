"""Prompt template files: found (files, directories, globs), read strictly, written atomically.

A JSON or YAML prompt file is compressed string by string (its keys and structure stay as they
are); any other file is one text template.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from costlab.compress import protect
from costlab.errors import BadInput

EXTENSIONS = {".txt", ".md", ".jinja", ".jinja2", ".j2", ".prompt", ".json", ".yaml", ".yml"}
Kind = Literal["text", "json", "yaml"]
_MIN_WORDS = 3  # a JSON/YAML string shorter than this is a setting ("system", "gpt-4o"), not prose


@dataclass(frozen=True)
class Template:
    """One template: the name it is written under (mirroring its input), its text and kind."""

    name: str
    text: str
    kind: Kind = "text"
    path: Path | None = None  # the input file; None for a prompt taken from the store


@dataclass(frozen=True)
class Inputs:
    """The templates found, and the folders they came from (where --out may not point)."""

    templates: list[Template]
    roots: list[Path]


def discover(paths: list[str]) -> Inputs:
    """Every template file under the paths (files, directories searched recursively, globs)."""
    found: list[tuple[Path, str]] = []
    roots: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            roots.append(path.resolve())
            found += [(f, f.relative_to(path).as_posix()) for f in _files(path)]
        elif path.is_file():
            found.append((path, path.name))
        elif glob.has_magic(given):
            base = Path(given.split("*")[0].split("?")[0].split("[")[0] or ".")
            base = base if base.is_dir() else base.parent
            roots.append(base.resolve())
            matches = [Path(m) for m in sorted(glob.glob(given, recursive=True))]
            found += [(m, m.relative_to(base).as_posix()) for m in matches if m.is_file()]
        else:
            raise BadInput(f"{given}: no such file or directory")
    if not found:
        raise BadInput(
            f"no template files in {', '.join(paths)}",
            f"templates are files ending in {', '.join(sorted(EXTENSIONS))}",
        )
    names: dict[str, Path] = {}
    for path, name in found:
        if name in names and names[name].resolve() != path.resolve():
            raise BadInput(f"{names[name]} and {path} would both be written as {name}")
        names[name] = path
    return Inputs([read(path, name) for name, path in names.items()], roots)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def read(path: Path, name: str) -> Template:
    """A template file, refused (BadInput) when empty, binary, unparsable or unbalanced."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadInput(f"{path}: cannot read: {err.strerror}") from None
    if b"\x00" in data:
        raise BadInput(f"{path}: a binary file, not a text template")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text (a binary file?)") from None
    if not text.strip():
        raise BadInput(f"{path}: empty template", "remove it, or give the files to compress")
    suffix = path.suffix.lower()
    kind: Kind = "json" if suffix == ".json" else "yaml" if suffix in {".yaml", ".yml"} else "text"
    for piece in strings(parse(text, kind, path)) if kind != "text" else [text]:
        protect.check_braces(piece, str(path))
    return Template(name, text, kind, path)


def parse(text: str, kind: Kind, path: Path | None = None) -> Any:
    """The structure of a JSON or YAML prompt file (BadInput when it does not parse)."""
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as err:
            raise BadInput(f"{path}: not valid JSON: {err}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise BadInput(f"{path}: not valid YAML: {err}") from None


def strings(value: Any) -> list[str]:
    """The prose strings of a parsed prompt file, in document order."""
    if isinstance(value, str):
        return [value] if len(value.split()) >= _MIN_WORDS else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def rewrite(template: Template, change: Callable[[str], str], compact: bool) -> str:
    """The template with `change` applied to its text, or to each prose string of a JSON/YAML."""
    if template.kind == "text":
        return change(template.text)
    value = _map(parse(template.text, template.kind, template.path), change)
    if template.kind == "json":
        if compact:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"
        return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
    return _yaml(value)


def _map(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value) if len(value.split()) >= _MIN_WORDS else value
    if isinstance(value, dict):
        return {k: _map(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map(v, change) for v in value]
    return value


def _yaml(value: Any) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        pass

    def text(dumper: yaml.SafeDumper, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)
    return str(yaml.dump(value, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=10**6))


def check_out(out: Path, inputs: Inputs) -> None:
    """Refuse an --out folder inside an input folder: inputs are never overwritten."""
    target = out.expanduser().resolve()
    for root in inputs.roots:
        if target == root or root in target.parents:
            raise BadInput(
                f"--out {out} is inside the input folder {root}",
                "write the compressed templates to another folder: inputs are never overwritten",
            )
    if target.is_file():
        raise BadInput(f"--out {out} is a file, not a folder")
    for template in inputs.templates:
        if (
            template.path is not None
            and (target / template.name).resolve() == template.path.resolve()
        ):
            raise BadInput(
                f"--out {out} would overwrite the input {template.path}",
                "write the compressed templates to another folder: inputs are never overwritten",
            )


def write(out: Path, files: list[tuple[str, str]]) -> list[Path]:
    """Write every file, or none: all are staged next to their targets, then renamed."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in files:
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            partial.write_text(text, encoding="utf-8")
            staged.append((partial, target))
    except OSError as err:
        for partial, _ in staged:
            partial.unlink(missing_ok=True)
        raise BadInput(f"--out {out}: cannot write: {err.strerror}") from None
    for partial, target in staged:
        partial.replace(target)
    return [target for _, target in staged]
