"""Bring your own embeddings: `costlab embeddings export|import`, then simulate-cache with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costlab.cache import embedders
from costlab.cache.normalize import normalize
from costlab.cache.vectors import text_hash
from costlab.errors import BadInput
from costlab.store import Store
from tests.conftest import DATA, Cli, FakeEmbedder, flat, write_jsonl

SAMPLE = DATA / "banking77" / "support_sample.jsonl"


@pytest.fixture
def banking(cli: Cli) -> Cli:
    assert cli("ingest", str(SAMPLE)).exit_code == 0
    return cli


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _vectors_file(path: Path, keys: dict[str, list[Any]], vectors: Any) -> Path:
    pq.write_table(pa.table({**keys, "vector": [list(map(float, v)) for v in vectors]}), path)
    return path


def _stored(db: Path, name: str) -> dict[str, np.ndarray]:
    with Store.open(db) as store:
        rows = store.rows("SELECT text_hash, vector FROM embeddings WHERE embedder = ?", [name])
    return {h: np.asarray(v, dtype=np.float32) for h, v in rows}


def test_vectors_made_elsewhere_give_the_same_simulation_as_the_model(
    banking: Cli, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    exported = tmp_path / "texts.parquet"
    written = _json(banking("embeddings", "export", str(exported), "--json"))
    texts = pq.read_table(exported)
    assert written["rows"] == texts.num_rows == written["keys"] + written["responses"]
    # "Elsewhere": the same model, run outside costlab, scaled by 3 (not unit length).
    vectors = fake_embedder.encode(texts["text"].to_pylist()) * 3
    # The export's own columns come back with the vectors: text_hash is the key used.
    columns = {name: texts[name].to_pylist() for name in texts.column_names}
    _vectors_file(tmp_path / "v.parquet", columns, vectors)
    report = _json(
        banking("embeddings", "import", str(tmp_path / "v.parquet"), "--embedder", "prod", "--json")
    )
    assert report["coverage"]["requests_covered"] == report["coverage"]["requests"] == 600
    assert report["renormalized"] == len(vectors) and report["unmatched"] == 0
    assert report["keyed_by"] == "text_hash"
    assert report["coverage"]["responses_covered"] == report["coverage"]["responses"] > 0
    args = ("simulate-cache", "--sweep", "0.90:0.99:0.03", "--json")
    mine = _json(banking(*args, "--embedder", "prod"))
    model = _json(banking(*args, "--embedder", "fake"))
    assert fake_embedder.calls > 0  # the model ran for `fake`; `prod` needed no model
    assert sum(t["hits"] for t in mine["thresholds"]) > 0
    for a, b in zip(mine["thresholds"], model["thresholds"], strict=True):
        assert (a["hits"], a["saved_usd"], a["precision"]) == (
            b["hits"],
            b["saved_usd"],
            b["precision"],
        )


def test_vectors_by_request_id_map_to_the_key_and_the_first_request_wins(
    cli: Cli, tmp_path: Path
) -> None:
    # Three requests share the normalised key "where is order <num>"; the first in time wins.
    records = [
        flat(1, timestamp="2026-11-01T10:00:03Z", prompt="Where is order 17?"),
        flat(2, timestamp="2026-11-01T10:00:01Z", prompt="where is order 18"),
        flat(3, timestamp="2026-11-01T10:00:02Z", prompt="Where is order 18?"),
        flat(4, timestamp="2026-11-01T10:00:04Z", prompt="refund please"),
    ]
    assert cli("ingest", str(write_jsonl(tmp_path / "log.jsonl", records))).exit_code == 0
    ids = ["req-1", "req-2", "req-3", "req-4", "req-unknown"]
    vectors = np.eye(5, 4, dtype=np.float32)[[0, 1, 1, 2, 3]]  # req-2 and req-3 agree
    vectors[0] = [0.0, 0.0, 0.0, 1.0]
    path = _vectors_file(tmp_path / "v.parquet", {"request_id": ids}, vectors)
    report = _json(cli("embeddings", "import", str(path), "--embedder", "prod", "--json"))
    assert (report["keyed_by"], report["vectors_stored"]) == ("request_id", 2)
    assert (report["conflicting_keys"], report["unmatched"]) == (1, 1)
    assert report["coverage"]["requests_covered"] == report["coverage"]["requests"] == 4
    stored = _stored(cli.db, "prod")
    assert np.array_equal(stored[text_hash(normalize("where is order 18"))], vectors[1])
    # --no-normalize: each text is its own key, and keeps its own vector.
    raw = _json(
        cli("embeddings", "import", str(path), "--embedder", "prod-raw", "--no-normalize", "--json")
    )
    assert (raw["vectors_stored"], raw["conflicting_keys"]) == (4, 0)
    assert np.array_equal(_stored(cli.db, "prod-raw")[text_hash("Where is order 17?")], vectors[0])


def test_requests_without_a_vector_are_counted_and_simulate_cache_says_how_to_add_them(
    banking: Cli, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    assert (
        banking(
            "embeddings", "export", str(tmp_path / "all.parquet"), "--by", "request_id"
        ).exit_code
        == 0
    )
    texts = pq.read_table(tmp_path / "all.parquet").slice(0, 100)
    vectors = fake_embedder.encode(texts["text"].to_pylist())
    path = _vectors_file(
        tmp_path / "v.parquet", {"request_id": texts["request_id"].to_pylist()}, vectors
    )
    report = _json(banking("embeddings", "import", str(path), "--embedder", "prod", "--json"))
    missing = report["coverage"]["keys"] - report["coverage"]["keys_covered"]
    assert (
        report["coverage"]["requests_covered"] < report["coverage"]["requests"] == 600
        and missing > 0
    )
    result = banking(
        "simulate-cache", "--threshold", "0.95", "--embedder", "prod", "--label", "metadata.intent"
    )
    assert result.exit_code == 2
    assert "texts have no vector imported under this name" in result.output
    assert "costlab embeddings export missing.parquet --missing prod" in result.output
    out = _json(
        banking(
            "embeddings",
            "export",
            str(tmp_path / "m.parquet"),
            "--missing",
            "prod",
            "--no-responses",
            "--json",
        )
    )
    assert out["keys"] == out["rows"] == missing
    left = pq.read_table(tmp_path / "m.parquet")
    _vectors_file(
        tmp_path / "rest.parquet",
        {"text": left["text"].to_pylist()},
        fake_embedder.encode(left["text"].to_pylist()),
    )
    rest = _json(
        banking(
            "embeddings", "import", str(tmp_path / "rest.parquet"), "--embedder", "prod", "--json"
        )
    )
    assert rest["coverage"]["requests_covered"] == 600
    assert (
        banking(
            "simulate-cache",
            "--threshold",
            "0.95",
            "--embedder",
            "prod",
            "--label",
            "metadata.intent",
        ).exit_code
        == 0
    )


BAD_FILES = {
    "dimensions": (
        {"text_hash": ["a" * 32, "b" * 32]},
        [[1.0, 0.0], [1.0, 0.0, 0.0]],
        "different dimensions",
    ),
    "nan": ({"text_hash": ["a" * 32, "b" * 32]}, [[1.0, 0.0], [float("nan"), 1.0]], "NaN"),
    "duplicates": ({"text": ["hello", "hello"]}, [[1.0, 0.0], [0.0, 1.0]], "more than once"),
    "zero": ({"text": ["hello", "bye"]}, [[0.0, 0.0], [0.0, 1.0]], "zero vectors"),
    "no key": ({"prompt": ["hello"]}, [[1.0, 0.0]], "no key column"),
    "bad hash": ({"text_hash": ["hello"]}, [[1.0, 0.0]], "not costlab text hashes"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_vector_file_exits_2_naming_it_and_stores_nothing(
    cli: Cli, tmp_path: Path, case: str
) -> None:
    keys, vectors, said = BAD_FILES[case]
    path = tmp_path / "vectors.parquet"
    pq.write_table(pa.table({**keys, "vector": vectors}), path)
    result = cli("embeddings", "import", str(path), "--embedder", "prod")
    assert result.exit_code == 2 and said in result.output and str(path) in result.output
    with Store.open(cli.db) as store:
        assert store.row("SELECT count(*) FROM embeddings") == (0,)
        assert store.row("SELECT count(*) FROM embedding_imports") == (0,)


def test_dimensions_must_match_the_vectors_already_imported(cli: Cli, tmp_path: Path) -> None:
    first = _vectors_file(tmp_path / "a.parquet", {"text": ["hello"]}, [[1.0, 0.0]])
    assert cli("embeddings", "import", str(first), "--embedder", "prod").exit_code == 0
    second = _vectors_file(tmp_path / "b.parquet", {"text": ["bye"]}, [[1.0, 0.0, 0.0]])
    result = cli("embeddings", "import", str(second), "--embedder", "prod")
    assert result.exit_code == 2 and "holds 1 of 2" in result.output


def test_names_of_built_in_embedders_and_paths_are_refused(cli: Cli, tmp_path: Path) -> None:
    path = _vectors_file(tmp_path / "a.parquet", {"text": ["hello"]}, [[1.0, 0.0]])
    for name in ("minilm", "models/mine"):
        result = cli("embeddings", "import", str(path), "--embedder", name)
        assert result.exit_code == 2 and "not a name for imported vectors" in result.output


def test_an_imported_name_loads_without_a_model_and_stops_on_missing_texts() -> None:
    embedder = embedders.load("text-embedding-3-small")
    assert embedder.name == "text-embedding-3-small"
    with pytest.raises(BadInput, match="3 texts have no vector imported"):
        embedder.encode(["a", "b", "c"])


def test_vectors_under_a_name_never_change(cli: Cli, tmp_path: Path) -> None:
    first = _vectors_file(tmp_path / "a.parquet", {"text": ["hello"]}, [[1.0, 0.0]])
    assert cli("embeddings", "import", str(first), "--embedder", "prod").exit_code == 0
    assert cli("embeddings", "import", str(first), "--embedder", "prod").exit_code == 0
    more = _vectors_file(tmp_path / "b.parquet", {"text": ["hello", "bye"]}, [[2, 0], [0, 1]])
    assert cli("embeddings", "import", str(more), "--embedder", "prod").exit_code == 0
    [listed] = _json(cli("embeddings", "list", "--json"))
    assert (listed["embedder"], listed["vectors"], listed["imports"]) == ("prod", 2, 3)
    changed = _vectors_file(tmp_path / "c.parquet", {"text": ["hello"]}, [[0.0, 1.0]])
    result = cli("embeddings", "import", str(changed), "--embedder", "prod")
    assert result.exit_code == 2 and "1 keys already have another vector" in result.output
    assert np.array_equal(_stored(cli.db, "prod")[text_hash("hello")], [1.0, 0.0])
