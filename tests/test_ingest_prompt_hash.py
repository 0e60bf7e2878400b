"""The prompt hash taken on from each template's md5 state is the md5 of the whole text."""

from __future__ import annotations

from hashlib import md5
from pathlib import Path

import pytest

from costlab import ingest
from costlab.ingest import IngestOptions, prompt_hash, sources
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import flat, write_jsonl

# Templates around md5's 64-byte blocks, non-ASCII, and none at all.
TEMPLATES = [None, "", "a" * 63, "b" * 64, "c" * 65, "é" * 40, "🙂 " * 50, "d" * 1000]
PROMPTS = [None, "", "hi", "naïve ✓", "x" * 130]


def _stored(tmp_path: Path, catalogue: Catalogue) -> list[tuple[str, str, str]]:
    records = [
        flat(i, system_prompt=TEMPLATES[i % len(TEMPLATES)], prompt=PROMPTS[i % len(PROMPTS)])
        for i in range(len(TEMPLATES) * len(PROMPTS))
    ]
    store = Store.open(":memory:")
    path = write_jsonl(tmp_path / "a.jsonl", records)
    ingest.ingest(store, sources.expand([str(path)]), IngestOptions(), catalogue)
    return store.rows("SELECT system_prompt, prompt, prompt_hash FROM requests ORDER BY 3")


@pytest.mark.parametrize("templates", [prompt_hash.MAX_TEMPLATES, 0], ids=["states", "sql"])
def test_every_prompt_hash_is_the_md5_of_system_prompt_nul_prompt(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, templates: int
) -> None:
    monkeypatch.setattr(prompt_hash, "MAX_TEMPLATES", templates)
    rows = _stored(tmp_path, catalogue)
    assert len(rows) == len(TEMPLATES) * len(PROMPTS)
    for system, prompt, hashed in rows:
        if system is None and prompt is None:
            assert hashed is None
        else:
            assert hashed == md5(f"{system or ''}\0{prompt or ''}".encode()).hexdigest()


def test_python_hashes_only_the_rows_with_a_system_prompt(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    hasher = prompt_hash._hasher

    def counted(states: dict[str, prompt_hash.State]) -> object:
        inner = hasher(states)

        def call(template_md5: str | None, prompt: str | None) -> str:
            calls.append(template_md5)
            return str(inner(template_md5, prompt))

        return call

    monkeypatch.setattr(prompt_hash, "_hasher", counted)
    rows = _stored(tmp_path, catalogue)
    with_template = [r for r in rows if r[0] is not None]
    assert len(calls) == len(with_template) and None not in calls
    for system, prompt, hashed in rows:
        if system is not None or prompt is not None:
            assert hashed == md5(f"{system or ''}\0{prompt or ''}".encode()).hexdigest()
