"""The tree is the architecture: these rules are checked on every module, new ones included."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "costlab"
HEAVY = {"torch", "sentence_transformers", "llmlingua", "transformers", "sklearn", "onnxruntime"}


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_only_the_store_imports_duckdb() -> None:
    users = [p.relative_to(PACKAGE).as_posix() for p in _modules() if "duckdb" in _imports(p)]
    assert users == ["store.py"]


def test_only_the_onnx_embedders_import_onnxruntime() -> None:
    users = [p.relative_to(PACKAGE).as_posix() for p in _modules() if "onnxruntime" in _imports(p)]
    assert users == ["cache/onnx.py"]


def test_only_the_cli_imports_typer_and_rich() -> None:
    for path in _modules():
        if "cli" not in path.relative_to(PACKAGE).parts:
            assert not {"typer", "rich"} & _imports(path), path


def test_heavy_libraries_are_never_imported_at_module_level() -> None:
    for path in _modules():
        assert not HEAVY & _imports(path, top_level_only=True), path


def test_modules_stay_small() -> None:
    for path in _modules():
        assert len(path.read_text().splitlines()) <= 420, f"{path} is past the ~400-line budget"
