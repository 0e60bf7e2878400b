"""The LLMLingua code paths end to end with tiny random models built here (no download).

The compression is not meaningful (random weights); the integration is real: llmlingua loads
the folder offline, classifies or scores tokens, and costlab puts protected spans back.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

from costlab.compress import lingua, protect
from costlab.errors import BadInput
from tests.conftest import DATA, Cli

pytestmark = pytest.mark.slow  # importing torch, transformers and llmlingua takes seconds

CORPUS = [
    (DATA / "compress" / "sentiment_fewshot.txt").read_text(),
    "You are a helpful assistant. Answer the question politely and briefly.",
    string.printable,
]
TEMPLATE = (
    "You are a helpful assistant for {company}. Answer the question politely and briefly.\n"
    "- Refunds over $250.00 need a manager, see https://lumen.example/refunds for details.\n"
    "Question: {{ question }}\n"
)


def _tokenizer(kind: str) -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok.train_from_iterator(
            CORPUS, trainers.WordPieceTrainer(vocab_size=400, special_tokens=special)
        )
        names = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, **dict(zip(names, special, strict=True))
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<eos>"], initial_alphabet=alphabet
    )
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", bos_token="<eos>")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer BERT token classifier (2 labels), random weights; its name has no family marker."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    folder = tmp_path_factory.mktemp("models") / "tiny-classifier"
    tokenizer = _tokenizer("wordpiece")
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=2, architectures=["BertForTokenClassification"],
    )  # fmt: skip
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer GPT-2 with random weights and a byte-level BPE tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("models") / "tiny-gpt2"
    tokenizer = _tokenizer("bpe")
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=512, n_embd=16, n_layer=1, n_head=2,
        bos_token_id=0, eos_token_id=0, architectures=["GPT2LMHeadModel"],
    )  # fmt: skip
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_llmlingua2_compresses_prose_and_keeps_every_protected_span(classifier: Path) -> None:
    model = lingua.load("llmlingua2", str(classifier))
    out = model.compress(TEMPLATE, 0.3)
    assert protect.check(TEMPLATE, out) is None
    for span in ("{company}", "$250.00", "https://lumen.example/refunds", "{{ question }}"):
        assert span in out
    assert out.count("\n") == TEMPLATE.count("\n")  # lines stay lines
    assert out.startswith("- ", out.index("\n") + 1)  # list markers stay
    assert len(out.split()) < len(TEMPLATE.split())


def test_llmlingua_perplexity_path_runs_on_a_causal_lm(causal_lm: Path) -> None:
    long = TEMPLATE + " ".join(["Always answer politely, briefly and in plain words."] * 40)
    model = lingua.load("llmlingua", str(causal_lm))  # past the 200-token window: the KV path
    out = model.compress(long, 0.5)
    assert protect.check(long, out) is None and "$250.00" in out
    assert len(out) < len(long)


def test_the_wrong_kind_of_model_is_bad_input(classifier: Path, causal_lm: Path) -> None:
    with pytest.raises(BadInput, match="cannot run --method llmlingua2"):
        lingua.load("llmlingua2", str(causal_lm))
    with pytest.raises(BadInput, match="cannot run --method llmlingua$"):
        lingua.load("llmlingua", str(classifier))


def test_cli_llmlingua2_writes_the_compressed_template(
    classifier: Path, cli: Cli, tmp_path: Path
) -> None:
    source = tmp_path / "prompts"
    source.mkdir()
    (source / "support.txt").write_text(TEMPLATE)
    result = cli(
        "compress", str(source), "--method", "llmlingua2", "--model", str(classifier),
        "--rate", "0.4", "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / "support.txt").read_text()
    assert protect.placeholders(written) == ["{company}", "{{ question }}"]
    assert '"requested_rate": 0.4' in result.stdout
