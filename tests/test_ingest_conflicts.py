"""Content hashes across their definitions: a store hashed by an older one keeps deduplicating."""

from __future__ import annotations

from pathlib import Path

import pytest

from costlab import ingest
from costlab import store as store_module
from costlab.ingest import IngestOptions, conflicts, sources
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import flat, write_jsonl

TEMPLATE = "You are a helpful assistant.\nAnswer in one line."


def _run(store: Store, catalogue: Catalogue, path: Path, force: bool = False) -> ingest.FileResult:
    result = ingest.ingest(
        store, sources.expand([str(path)]), IngestOptions(force=force), catalogue
    )
    return result.files[0]


def _records(n: int) -> list[dict[str, object]]:
    return [flat(i, system_prompt=TEMPLATE if i % 2 else None) for i in range(1, n + 1)]


def test_migration_marks_the_hashes_already_stored_as_the_first_definition(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:13])
        with Store.open(db) as old:
            old.execute(
                "INSERT INTO requests (request_id, content_md5) VALUES ('a', 'x'), ('b', NULL)"
            )
    with Store.open(db) as store:
        rows = store.rows("SELECT request_id, content_md5_version FROM requests ORDER BY 1")
    assert rows == [("a", 1), ("b", None)]


@pytest.mark.parametrize("bulk_path", [True, False], ids=["fast path", "per-record path"])
def test_a_store_hashed_the_old_way_keeps_deduplicating_a_file_read_again(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, bulk_path: bool
) -> None:
    if not bulk_path:
        monkeypatch.setattr(ingest.bulk, "eligible", lambda *args: False)
    store = Store.open(":memory:")
    path = write_jsonl(tmp_path / "a.jsonl", _records(6))
    with monkeypatch.context() as patch:  # as a store written before migration 014 holds it
        patch.setattr(conflicts, "CONTENT_MD5_VERSION", 1)
        assert _run(store, catalogue, path).added == 6
    old = store.rows("SELECT request_id, content_md5 FROM requests ORDER BY 1")
    assert store.rows("SELECT DISTINCT content_md5_version FROM requests") == [(1,)]

    again = _run(store, catalogue, path, force=True)
    assert (again.added, again.duplicate, again.conflicting) == (0, 6, 0)
    changed = write_jsonl(
        tmp_path / "b.jsonl", [*_records(5), flat(6, system_prompt=TEMPLATE + "!"), flat(7)]
    )
    later = _run(store, catalogue, changed)
    assert (later.added, later.duplicate, later.conflicting) == (1, 5, 1)
    assert later.conflict_examples == [(6, "req-6", f"{path}:6")]
    assert store.rows("SELECT request_id, content_md5 FROM requests WHERE request_id <> 'req-7' "
                      "ORDER BY 1") == old  # fmt: skip
    assert store.row("SELECT content_md5_version FROM requests WHERE request_id = 'req-7'") == (2,)


def test_the_two_definitions_differ_only_where_a_system_prompt_is(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the comparison by version above is needed: a new hash never matches an old one."""
    hashes = []
    for version in (1, 2):
        monkeypatch.setattr(conflicts, "CONTENT_MD5_VERSION", version)
        store = Store.open(":memory:")
        _run(store, catalogue, write_jsonl(tmp_path / f"{version}.jsonl", _records(2)))
        hashes.append(store.rows("SELECT content_md5 FROM requests ORDER BY request_id"))
    assert hashes[0][0] != hashes[1][0]  # req-1 has a system prompt
    assert hashes[0][1] == hashes[1][1]  # req-2 has none
