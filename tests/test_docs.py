"""The reference is docs/, one page per command: every command and option is documented there,
and every option the docs (or the README) write exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from costlab.cli import app

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_CODE_SPAN = re.compile(r"`([^`]+)`")
# A snippet running something else than costlab: its options are that tool's.
_OTHER_TOOL = re.compile(r"\b(python|pip|make|mypy|ruff|pytest|duckdb|ray)\b|scripts/")


def _params(command: Any) -> list[set[str]]:
    """The long names of each option (a flag and its negation are one option)."""
    found = [
        {o for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} for p in command.params
    ]
    return [names for names in found if names and names != {"--help"}]


def _options(command: Any) -> set[str]:
    return {"--help"}.union(*_params(command))


def _commands() -> dict[str, set[str]]:
    """Every command path ('ingest', 'tokens check', '' for the root) and its long options."""
    root = typer.main.get_command(app)
    ctx = root.make_context("costlab", [], resilient_parsing=True)
    found = {"": root}
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        found[name] = command
        for sub, child in getattr(command, "commands", {}).items():
            found[f"{name} {sub}"] = child
    return found


CLI = _commands()
COMMANDS = {path: _options(command) for path, command in CLI.items()}
TOP = sorted({path.split(" ")[0] for path in COMMANDS if path})


def _snippets(text: str) -> list[str]:
    """The code of a page: each line of a code block, each inline code span, and the prose."""
    found, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif fence:
            found.append(line.split(" # ")[0])
        else:
            spans = _CODE_SPAN.findall(line)
            found += spans
            found.append(_CODE_SPAN.sub(" ", line))
    return found


def _invocations(snippet: str) -> list[tuple[str, list[str]]]:
    """(command path, options written) for each `costlab ...` call in a snippet."""
    calls = []
    for part in re.split(r"&&|\|", snippet):
        words = part.split()
        if "costlab" not in words:
            continue
        words = words[words.index("costlab") + 1 :]
        while words and words[0] in ("--db", "--config"):
            words = words[2:]
        path = words[0] if words else ""
        if len(words) > 1 and f"{path} {words[1]}" in COMMANDS:
            path = f"{path} {words[1]}"
        if path in COMMANDS:
            calls.append((path, _OPTION.findall(" ".join(words))))
    return calls


@pytest.mark.parametrize("name", TOP)
def test_every_command_has_a_page_linked_from_the_readme(name: str) -> None:
    page = DOCS / f"{name}.md"
    assert page.is_file(), f"{name} has no reference page ({page.relative_to(ROOT)})"
    assert f"(docs/{name}.md)" in (ROOT / "README.md").read_text(), f"README links no {name} page"


@pytest.mark.parametrize("path", sorted(p for p in COMMANDS if p))
def test_every_option_is_documented_on_its_commands_page(path: str) -> None:
    text = (DOCS / f"{path.split(' ')[0]}.md").read_text()
    written = set(_OPTION.findall(text))
    missing = sorted("/".join(sorted(p)) for p in _params(CLI[path]) if not p & written)
    assert not missing, f"`costlab {path}` options missing from its page: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_documented_option_exists(page: Path) -> None:
    every = set().union(*COMMANDS.values())
    wrong = []
    for snippet in _snippets(page.read_text()):
        calls = _invocations(snippet)
        for path, options in calls:
            allowed = COMMANDS[path] | COMMANDS[""]
            wrong += [f"costlab {path} {o}" for o in options if o not in allowed]
        if not calls and not _OTHER_TOOL.search(snippet):
            wrong += [o for o in _OPTION.findall(snippet) if o not in every]
    assert not wrong, f"{page.name} documents options that do not exist: {wrong}"


def test_the_checks_catch_a_made_up_option() -> None:
    assert _invocations("costlab ingest logs/ --bogus && costlab report --by model") == [
        ("ingest", ["--bogus"]),
        ("report", ["--by"]),
    ]
    assert _invocations("costlab --db x.duckdb tokens check --format github") == [
        ("tokens check", ["--format"])
    ]
    assert "--bogus" not in set().union(*COMMANDS.values())
