"""Every dependency pyproject.toml declares has a user, and every library costlab imports is
declared.

- The base install and the run-time extras are for `costlab/`: each distribution is imported there
  (an import name maps to it through the installed metadata), or costlab locates its files by its
  distribution name (the packaged model weights and vocabularies: a string naming it).
- `dev` and `plan-check` are for the checks: a distribution imported by the tests or run by the
  Makefile (one of its console scripts). `bench` is for the benchmark scripts: imported by
  scripts/.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Every extra but the tools' and the sum of them is for costlab/ at run time.
RUNTIME_EXTRAS = tuple(
    sorted(set(PROJECT["optional-dependencies"]) - {"dev", "plan-check", "bench", "all"})
)
# Declared for a library that imports it without declaring it: the one the scripts import.
UNDECLARED_BY = {"sqlalchemy": "gptcache"}  # GPTCache's sqlite store
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*groups: str) -> set[str]:
    """The distributions the base install (group "") and the named extras require."""
    found = set()
    for group in groups:
        requirements = (
            PROJECT["dependencies"] if group == "" else PROJECT["optional-dependencies"][group]
        )
        for requirement in requirements:
            name = normal(_NAME.match(requirement).group(1))  # type: ignore[union-attr]
            if name != "costlab":
                found.add(name)
    return found


@cache
def parsed(folder: str) -> tuple[frozenset[str], frozenset[str]]:
    """The top-level modules the Python files under `folder` import, and their string constants."""
    modules: set[str] = set()
    strings: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    return frozenset(modules), frozenset(strings)


def distributions(modules: frozenset[str]) -> set[str]:
    """The installed distributions that provide these import names (by the name itself when not
    installed)."""
    provided = _provided()
    found = set()
    for module in modules:
        found |= {normal(d) for d in provided.get(module, [module])}
    return found


@cache
def _provided() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def third_party(modules: frozenset[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in {"costlab"}}


@pytest.mark.parametrize("group", ["", *RUNTIME_EXTRAS])
def test_every_runtime_dependency_is_used_by_costlab(group: str) -> None:
    modules, strings = parsed("costlab")
    imported = distributions(third_party(modules))
    located = {normal(s) for s in strings if "-" in s or s.isidentifier()}
    unused = sorted(d for d in declared(group) if d not in imported and d not in located)
    assert not unused, f"declared in {group or 'dependencies'} but unused by costlab/: {unused}"


def test_every_library_costlab_imports_is_declared() -> None:
    modules, _ = parsed("costlab")
    runtime = declared("", *RUNTIME_EXTRAS)
    undeclared = {
        module: sorted(d for d in distributions(frozenset({module})))
        for module in third_party(modules)
        if not distributions(frozenset({module})) & runtime
    }
    assert not undeclared, f"imported by costlab/ but not declared: {undeclared}"


def test_dev_tools_are_imported_by_the_tests_or_run_by_the_makefile() -> None:
    """dev and plan-check (the libraries whose settings `costlab plan --emit` is checked by)."""
    modules, strings = parsed("tests")
    # pytest.importorskip("gptcache") imports by a string: count those that name a module
    imported = distributions(third_party(modules | {s for s in strings if s.isidentifier()}))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    unused = []
    for name in declared("dev", "plan-check"):
        run = any(f"$(BIN)/{program}" in makefile for program in programs(name))
        if name not in imported and not run:
            unused.append(name)
    assert not unused, f"declared in dev but neither imported by tests/ nor run by make: {unused}"


def programs(name: str) -> set[str]:
    """The commands a distribution installs: its console scripts and the files in bin/."""
    try:
        found = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return set()
    scripts = {e.name for e in found.entry_points if e.group == "console_scripts"}
    files = {Path(str(f)).name for f in found.files or () if Path(str(f)).parent.name == "bin"}
    return scripts | files


def test_bench_dependencies_are_imported_by_the_scripts() -> None:
    modules, _ = parsed("scripts")
    imported = distributions(third_party(modules)) | {normal(m) for m in modules}
    for name, user in UNDECLARED_BY.items():
        if user in imported:
            imported.add(name)
    unused = sorted(d for d in declared("bench") if d not in imported)
    assert not unused, f"declared in bench but not imported by scripts/: {unused}"


def test_the_light_install_needs_no_torch() -> None:
    assert not {"torch", "sentence-transformers", "scikit-learn"} & declared("")
    assert "pandas" in declared("")  # the Python API (costlab.api) is part of the light install
