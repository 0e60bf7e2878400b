"""minilm-tuned: the static embedder fitted to a corpus, checked against a fake teacher."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from costlab.cache import embedders, static, tuned
from costlab.errors import BadInput
from tests.conftest import Cli
from tests.test_static_embedder import VOCAB, _manifest, _teacher, _tokenizer_file

WORDS = ["lost", "my", "card", "stolen", "exchange", "rate", "cards", "euro"]
SUPPORT = Path(__file__).parent / "data" / "banking77" / "support_sample.jsonl"


class BagTeacher:
    """A stand-in for MiniLM that the static base cannot match: the sum of hidden token rows."""

    name, dim = "fake-teacher-12", 12

    def __init__(self, tokenizer: Path) -> None:
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.rows = np.random.default_rng(7).normal(size=(len(VOCAB), self.dim))
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        ids = [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        out = np.stack([self.rows[i].sum(axis=0) for i in ids])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _prompts() -> list[str]:
    """Every two- and three-word prompt over the vocabulary: 576 distinct texts."""
    return [" ".join(p) for n in (2, 3) for p in product(WORDS, repeat=n)]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """COSTLAB_HOME with a distilled minilm-static over the test vocabulary."""
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "home"))
    matrix = static.distill(len(VOCAB), _teacher, static.Recipe(dims=None, sif=None))
    tokenizer = _tokenizer_file(tmp_path / "tok.json")
    static.save(static.folder(), matrix, tokenizer, _manifest(matrix))
    return tmp_path / "home"


@pytest.fixture
def teacher(home: Path, monkeypatch: pytest.MonkeyPatch) -> BagTeacher:
    """The fake teacher, registered as the default embedder through the real seam."""
    fake = BagTeacher(static.folder() / static.TOKENIZER)
    monkeypatch.setitem(embedders.EMBEDDERS, embedders.DEFAULT, lambda: fake)  # type: ignore[arg-type, return-value]
    return fake


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    prompts = _prompts()
    np.random.default_rng(1).shuffle(prompts)
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(prompts[:400]) + "\n")  # the rest are never seen by the fit
    return path


def test_the_fit_brings_unseen_prompts_closer_to_the_teacher(
    teacher: BagTeacher, corpus: Path
) -> None:
    made = tuned.build(tuned.Tuning(str(corpus), sample=350))
    assert teacher.texts == 350  # the sample is embedded once, nothing else
    assert made.fit is not None and made.fit["texts"] == 315 and made.fit["checked_on"] == 35
    assert made.fit["similarity_error_after"] < made.fit["similarity_error_before"] / 2
    unseen = sorted(set(_prompts()) - set(corpus.read_text().splitlines()))
    target = teacher.encode(unseen)
    before = tuned.similarity_error(static.load().encode(unseen), target)
    fitted = embedders.load("minilm-tuned")
    assert fitted.name == made.name and fitted.dim == teacher.dim
    after = tuned.similarity_error(fitted.encode(unseen), target)
    assert after < before / 2


def test_the_manifest_records_the_recipe_and_the_name_changes_with_it(
    teacher: BagTeacher, corpus: Path
) -> None:
    made = tuned.build(tuned.Tuning(str(corpus), sample=350))
    saved = json.loads((tuned.folder() / static.MANIFEST).read_text())
    assert saved["name"] == made.name and made.name.startswith(f"minilm-tuned-v{tuned.VERSION}-")
    assert saved["recipe"] == {
        "corpus": str(corpus),
        "sample": 350,
        "alpha": 0.01,
        "seed": 0,
        "base": "minilm-static-v1-test",
        "base_recipe": {"dims": None, "sif": None},
    }
    assert saved["fit"]["similarity_error_after"] < saved["fit"]["similarity_error_before"]
    again = tuned.build(tuned.Tuning(str(corpus), sample=350, seed=1))
    assert again.name != made.name  # another sample, other vectors: never mixed in the store


def test_a_store_is_a_corpus_of_normalised_distinct_prompts(cli: Cli) -> None:
    assert cli("ingest", str(SUPPORT)).exit_code == 0
    prompts = tuned.corpus(cli.db)
    assert 300 < len(prompts) <= 600 and prompts == sorted(set(prompts))
    assert all(p == p.lower().strip() and "?" not in p for p in prompts)


def test_bad_corpora_are_input_errors(teacher: BagTeacher, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        tuned.build(tuned.Tuning(str(tmp_path / "missing.txt")))
    few = tmp_path / "few.txt"
    few.write_text("lost my card\nexchange rate\n")
    with pytest.raises(BadInput, match="at least 300") as err:
        tuned.build(tuned.Tuning(str(few)))
    assert "minilm-static" in err.value.hint
    binary = tmp_path / "prompts.bin"
    binary.write_bytes(b"lost card\nrefund\n\xff\xfe\x00lost")
    with pytest.raises(BadInput, match=r"prompts.bin, line 3: not UTF-8 text \(byte 0xff\)"):
        tuned.corpus(binary)
    assert teacher.texts == 0


def test_a_small_sample_is_refused(teacher: BagTeacher, corpus: Path) -> None:
    with pytest.raises(BadInput, match="--sample 100"):
        tuned.build(tuned.Tuning(str(corpus), sample=100))


def test_tuning_needs_minilm_static_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: Path
) -> None:
    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "empty"))
    with pytest.raises(BadInput, match="minilm-static embedder is not distilled") as err:
        tuned.build(tuned.Tuning(str(corpus)))
    assert "costlab embedders distill" in err.value.hint
    with pytest.raises(BadInput, match="minilm-tuned embedder is not distilled") as err:
        embedders.load("minilm-tuned")
    assert "--corpus" in err.value.hint


def test_cli_distill_corpus_then_list_and_simulate(
    cli: Cli, teacher: BagTeacher, corpus: Path
) -> None:
    made = cli("embedders", "distill", "--corpus", str(corpus), "--sample", "350")
    assert made.exit_code == 0, made.output
    assert (
        "minilm-tuned-v1-" in made.stdout and "similarity error to MiniLM went from" in made.stdout
    )
    listed = {e["name"]: e for e in json.loads(cli("embedders", "list", "--json").stdout)}
    assert listed["minilm-tuned"]["ready"] is True and listed["minilm-tuned"]["dims"] == 12
    bad = cli("embedders", "distill", "--corpus", str(corpus.with_name("nope.txt")))
    assert bad.exit_code == 2 and "no such file" in bad.stderr
    assert cli("ingest", str(SUPPORT)).exit_code == 0
    sim = cli("simulate-cache", "--threshold", "0.9", "--embedder", "minilm-tuned", "--json")
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["embedder"].startswith("minilm-tuned-v1-")
