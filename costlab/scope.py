"""Which requests an analysis looks at: a date range and a validated SQL predicate.

A `--where` predicate is SQL over the `requests` columns, but only ever a filter: it is parsed by
DuckDB and refused when it holds anything but an expression over those columns (no subquery, no
second statement, no table function), then bound once so a misspelt column is a clear error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from costlab.errors import BadInput, StoreError
from costlab.store import Store

# Functions that read outside the row (environment, files, settings, sequences).
_REFUSED_FUNCTIONS = ("read_", "getenv", "current_setting", "setseed", "nextval", "currval")
_REFUSED_CLASSES = {"SUBQUERY", "WINDOW", "STAR", "PARAMETER", "DEFAULT", "LAMBDA_REF"}


@dataclass(frozen=True)
class Scope:
    """The requests to look at: `since` and `until` are inclusive days (UTC)."""

    since: date | None = None
    until: date | None = None
    where: str | None = None  # already validated by `checked_where`

    def sql(self, alias: str = "") -> tuple[str, list[Any]]:
        """A WHERE clause (or '') and its parameters."""
        prefix = f"{alias}." if alias else ""
        parts: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            parts.append(f"{prefix}ts >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append(f"{prefix}ts < ?")
            params.append(self.until + timedelta(days=1))
        if self.where:
            parts.append(f"({self.where})")
        return (" WHERE " + " AND ".join(parts)) if parts else "", params


def from_flags(store: Store, since: str | None, until: str | None, where: str | None) -> Scope:
    """The scope that `--since`, `--until` and `--where` describe; BadInput naming a bad one."""
    return Scope(
        parse_day(since, "--since"),
        parse_day(until, "--until"),
        checked_where(store, where) if where else None,
    )


def parse_day(text: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD flag value as a date (None stays None); BadInput naming the flag."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{flag} {text!r}: not a date", "write it as YYYY-MM-DD") from None


def checked_where(store: Store, predicate: str) -> str:
    """The predicate, if it is a filter over `requests` that binds; else BadInput saying why."""
    if not predicate.strip():
        raise BadInput("--where is empty")
    return checked_predicate(store, predicate, "requests", f"--where {predicate.strip()!r}", _HINT)


def checked_predicate(store: Store, predicate: str, relation: str, label: str, hint: str) -> str:
    """The predicate, if it is a filter over `relation` that binds; else BadInput `label: why`."""
    text = predicate.strip()
    if not text:
        raise BadInput(f"{label}: the condition is empty", hint)
    sql = f"SELECT * FROM {relation} WHERE {text}"
    row = store.row("SELECT json_serialize_sql(?)", [sql])
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        reason = str(tree.get("error_message"))
        if "Only SELECT statements" in reason:
            reason = "a second statement is not allowed in a filter"
        raise BadInput(f"{label}: {reason}", hint)
    statements = tree.get("statements", [])
    node = statements[0]["node"] if len(statements) == 1 else {}
    if not _is_plain_filter(node, relation):
        raise BadInput(f"{label}: only a filter expression is allowed", hint)
    refused = _refused(node["where_clause"])
    if refused:
        raise BadInput(f"{label}: {refused} is not allowed in a filter", hint)
    try:
        store.execute(f"EXPLAIN SELECT count(*) FROM {relation} WHERE {text}")
    except StoreError as err:
        raise BadInput(
            f"{label}: {err.message.removeprefix('store query failed: ')}", hint
        ) from None
    return text


def columns_named(store: Store, predicate: str, relation: str) -> set[str]:
    """The columns a (valid) predicate over `relation` refers to, lower-cased."""
    row = store.row("SELECT json_serialize_sql(?)", [f"SELECT * FROM {relation} WHERE {predicate}"])
    tree = json.loads(row[0]) if row else {}
    return {names[-1].lower() for names in _column_refs(tree) if names}


def _column_refs(node: Any) -> list[list[str]]:
    """The column_names of every column reference in a json_serialize_sql tree."""
    if isinstance(node, list):
        return [refs for item in node for refs in _column_refs(item)]
    if not isinstance(node, dict):
        return []
    if node.get("class") == "COLUMN_REF":
        return [[str(n) for n in node.get("column_names", [])]]
    return [refs for value in node.values() for refs in _column_refs(value)]


_HINT = (
    "write a SQL condition over the columns of requests, e.g. "
    "--where \"feature = 'chat' AND input_tokens > 2000\" (see the README for the columns)"
)


def _is_plain_filter(node: dict[str, Any], relation: str) -> bool:
    return (
        node.get("type") == "SELECT_NODE"
        and not node.get("modifiers")
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and not (node.get("cte_map") or {}).get("map")
        and (node.get("from_table") or {}).get("table_name") == relation
        and node.get("where_clause") is not None
    )


def _refused(expression: Any) -> str | None:
    """The first construct in a parsed expression that a filter may not hold."""
    if isinstance(expression, list):
        return next((r for r in map(_refused, expression) if r), None)
    if not isinstance(expression, dict):
        return None
    kind = expression.get("class")
    if kind in _REFUSED_CLASSES:
        return f"a {kind.lower().replace('_', ' ')}"
    name = expression.get("function_name")
    if isinstance(name, str) and name.lower().startswith(_REFUSED_FUNCTIONS):
        return f"the function {name}()"
    return next((r for r in map(_refused, expression.values()) if r), None)
