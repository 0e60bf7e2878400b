"""Templates found by file, folder and glob; rendered with fixture values; their static text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costlab.errors import BadInput
from costlab.tokens import templates


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "prompts" / "agents").mkdir(parents=True)
    (tmp_path / "prompts" / "a.txt").write_text("A")
    (tmp_path / "prompts" / "agents" / "b.j2").write_text("B {{ x }}")
    (tmp_path / "prompts" / "notes.py").write_text("not a template")
    (tmp_path / "prompts" / ".cache").mkdir()
    (tmp_path / "prompts" / ".cache" / "c.txt").write_text("hidden")
    return tmp_path


def _ids(found: list[templates.Template]) -> list[str]:
    return [t.id for t in found]


def test_a_folder_gives_its_template_files_recursively_without_hidden_ones(tree: Path) -> None:
    assert _ids(templates.discover(["prompts"], tree)) == ["prompts/a.txt", "prompts/agents/b.j2"]


def test_globs_files_and_duplicates(tree: Path) -> None:
    found = templates.discover(["prompts/**/*.j2", "prompts/a.txt", "prompts/*.txt"], tree)
    assert _ids(found) == ["prompts/a.txt", "prompts/agents/b.j2"]
    assert found[1].text == "B {{ x }}"
    with pytest.raises(BadInput, match="prompts/\\*.md: matches no prompt template"):
        templates.discover(["prompts/*.md"], tree)
    assert templates.discover(["prompts/*.md"], tree, allow_empty=True) == []


def test_a_missing_path_is_bad_input(tree: Path) -> None:
    with pytest.raises(BadInput, match="prompts/gone.txt: no such template"):
        templates.discover(["prompts/gone.txt"], tree)


def test_text_that_is_not_utf8_is_bad_input(tree: Path) -> None:
    (tree / "prompts" / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(BadInput, match="latin1.txt: not UTF-8"):
        templates.discover(["prompts"], tree)


def test_windows_line_ends_count_like_unix_ones(tree: Path) -> None:
    (tree / "prompts" / "a.txt").write_bytes(b"line one\r\nline two\r\n")
    assert templates.discover(["prompts/a.txt"], tree)[0].text == "line one\nline two\n"


def test_render_fills_known_variables_and_leaves_the_rest() -> None:
    text = "Hi {{ name }}, {{missing}} {topic} {{ topic }} {}"
    rendered = templates.render(text, {"name": "Ada", "topic": "tokens"})
    assert rendered == "Hi Ada, {{missing}} tokens tokens {}"
    assert templates.render(text, {}) == text


def test_fixtures_apply_globs_in_order_then_the_exact_id(tmp_path: Path) -> None:
    path = tmp_path / "fixtures.json"
    data = {
        "prompts/a.txt": {"name": "exact"},
        "*": {"name": "any", "n": 3},
        "prompts/*": {"name": "folder"},
    }
    path.write_text(json.dumps(data))
    fixtures = templates.load_fixtures(path)
    assert fixtures.values_for("prompts/a.txt") == {"name": "exact", "n": "3"}
    assert fixtures.values_for("prompts/b.txt") == {"name": "folder", "n": "3"}
    assert fixtures.values_for("other/c.txt") == {"name": "any", "n": "3"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not a JSON fixtures file"), ('{"*": 3}', "an object of objects")],
)
def test_bad_fixtures_are_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fixtures.json"
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        templates.load_fixtures(path)


def test_the_static_prefix_ends_at_the_first_variable() -> None:
    def prefix(text: str) -> str:
        return templates.Template("t", Path("t"), text).static_prefix()

    assert prefix("Intro text. {{ a }} more") == "Intro text. "
    assert prefix("Intro {% if x %}") == "Intro "
    assert prefix("Intro {name} and {{b}}") == "Intro "
    assert prefix("Intro ${user}") == "Intro "
    assert prefix('JSON {"a": 1} stays') == 'JSON {"a": 1} stays'
