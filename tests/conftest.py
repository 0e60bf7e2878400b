"""Shared fixtures: a throwaway migrated store, small JSONL writers, and a CLI runner."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from costlab import prices
from costlab.cli import app
from costlab.store import Store
from tests.postgres_fixtures import database, server  # noqa: F401  (one cluster per session)

DATA = Path(__file__).parent / "data"

# One record of each common shape that a gateway or tracing format must not claim as its own.
OTHER_FORMATS: list[dict[str, Any]] = [
    {
        "request_id": "r1",
        "timestamp": "2025-01-01T00:00:00Z",
        "model": "gpt-4o",
        "input_tokens": 1,
        "output_tokens": 2,
        "cost": 0.1,
    },
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet",
        "content": [],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
]


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open(":memory:") as s:
        yield s


@pytest.fixture(scope="session")
def catalogue() -> prices.Catalogue:
    return prices.Catalogue.load()


def write_jsonl(path: Path, records: list[Any], *, compress: bool = False) -> Path:
    """Records as JSON lines (a str record is written as-is, to make bad lines)."""
    lines = [r.encode() if isinstance(r, str) else orjson.dumps(r) for r in records]
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def flat(n: int, **overrides: Any) -> dict[str, Any]:
    """A flat record with known usage: gpt-4o-mini, 1000 input + 200 output tokens."""
    record = {
        "request_id": f"req-{n}",
        "timestamp": f"2026-11-0{1 + n % 7}T10:00:{n % 60:02d}Z",
        "model": "gpt-4o-mini",
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_hit": False,
        "user_id": f"user-{n % 3}",
        "feature": ["chat", "support"][n % 2],
        "duration_ms": 420,
        "prompt": f"question number {n}",
    }
    record.update(overrides)
    return record


def load(store: Store, catalogue: prices.Catalogue, tmp_path: Path, records: list[Any]) -> None:
    """Ingest records through the real path, as one JSONL file."""
    from costlab import ingest
    from costlab.ingest import sources

    path = write_jsonl(tmp_path / "log.jsonl", records)
    ingest.ingest(store, sources.expand([str(path)]), ingest.IngestOptions(), catalogue)


class Cli:
    """Runs costlab commands in-process against one store file."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Any:
        return self.runner.invoke(app, ["--db", str(self.db), *args], input=input)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "test.duckdb")


class FakeEmbedder:
    """A deterministic embedder for tests: equal texts give equal vectors, no model needed.

    Texts sharing their first word land near each other, so tests can build near-duplicates.
    """

    name = "fake-8"
    dim = 8

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def encode(self, texts: list[str]) -> Any:
        import hashlib

        import numpy as np

        self.calls += 1
        self.texts += len(texts)
        rows = []
        for text in texts:
            head = text.split(" ", 1)[0]
            base = np.frombuffer(hashlib.sha256(head.encode()).digest()[:32], dtype=np.uint8)
            noise = np.frombuffer(hashlib.sha256(text.encode()).digest()[:32], dtype=np.uint8)
            vector = base[:8].astype(np.float32) + 0.05 * noise[:8].astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows).astype(np.float32)


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    """The fake, registered through the real seam under the name 'fake'."""
    from costlab.cache import embedders

    fake = FakeEmbedder()
    monkeypatch.setitem(embedders.EMBEDDERS, "fake", lambda: fake)  # type: ignore[arg-type, return-value]
    return fake
