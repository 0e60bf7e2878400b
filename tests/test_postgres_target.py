"""The label of a database URL: what is shown and stored, never with a password."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from costlab.postgres import target
from costlab.redact import credentials


@pytest.mark.parametrize(
    ("url", "label"),
    [
        (
            "postgresql://reader:s3cr%40t@db.internal:5432/litellm?sslmode=require",
            "postgresql://reader@db.internal:5432/litellm?sslmode=require#LiteLLM_SpendLogs",
        ),
        (
            "postgres://reader@/litellm?host=/run/postgresql&password=pw-in-query",
            "postgres://reader@/litellm?host=/run/postgresql#LiteLLM_SpendLogs",
        ),
        ("postgresql://:only-pw@h1:1,h2:2/db", "postgresql://h1:1,h2:2/db#LiteLLM_SpendLogs"),
        ("postgresql:///litellm", "postgresql:///litellm#LiteLLM_SpendLogs"),
    ],
)
def test_the_label_keeps_the_url_without_its_password(url: str, label: str) -> None:
    assert target.parse(url).label == label


def test_the_table_may_name_its_schema() -> None:
    parsed = target.parse("postgresql://h/db", "litellm.LiteLLM_SpendLogs")
    assert (parsed.schema, parsed.table) == ("litellm", "LiteLLM_SpendLogs")
    assert parsed.label.endswith("#litellm.LiteLLM_SpendLogs")


def test_scrub_removes_every_known_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-env")
    parsed = target.parse("postgresql://u:s3cr%40t@h/db")
    message = "FATAL for u:s3cr@t@h/db, pw s3cr@t, env from-the-env"
    scrubbed = parsed.scrub(message)
    assert "s3cr@t" not in scrubbed and "from-the-env" not in scrubbed


def test_credentials_masks_urls_in_any_text() -> None:
    text = "x postgresql://u:p@ss@h/db?password=zz y mysql://a:b@c/d"
    assert credentials(text) == "x postgresql://u:***@h/db?password=*** y mysql://a:***@c/d"


def test_is_url() -> None:
    assert target.is_url("postgresql://h/db") and target.is_url("POSTGRES://h/db")
    assert not target.is_url("logs/postgresql.jsonl")


def test_only_the_reader_imports_psycopg() -> None:
    package = Path(__file__).parents[1] / "costlab"
    users = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "psycopg" for n in names):
                users.append(path.relative_to(package).as_posix())
    assert sorted(set(users)) == ["postgres/reader.py"]
