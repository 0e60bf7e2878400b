"""o200k_base from the packaged vocabulary counts exactly as tiktoken's own o200k_base.

The reference is stock `tiktoken.get_encoding("o200k_base")`, reading the converted file from a
private TIKTOKEN_CACHE_DIR (tiktoken checks its sha256 itself, and parses it itself), and
quicktok's own C++ tokenizer, a second implementation over the same ranks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costlab import encodings
from costlab.errors import BadInput

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"

CORPUS = [
    # prose in several scripts
    "The quick brown fox jumps over the lazy dog. It's 3:45pm; DON'T panic, I'M fine.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "我能吞下玻璃而不伤身体。机器学习模型的成本分析。",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ。東京都の天気は晴れです。",
    "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
    "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق.",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम।",
    "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. עברית: דג סקרן שט בים מאוכזב",
    "Tiếng Việt có dấu: Những con chó nâu nhanh nhẹn nhảy qua.",
    # code
    "def f(x: int) -> int:\n    return x ** 2  # square\n\nclass A(B):\n\tpass\n",
    '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "n": 12345678}',
    "SELECT feature, sum(cost_usd) FROM requests WHERE ts >= '2026-11-01' GROUP BY ALL;",
    'fn main() { let v: Vec<u8> = vec![0xff, 0x10]; println!("{:?}", v); }',
    "https://example.com/a/b?c=1&d=%20e#frag  C:\\Users\\x\\file.txt  ~/src/*.py",
    # emoji: single, skin tones, ZWJ families, flags, keycaps
    "👍🏽 🎉🎉🎉 👨‍👩‍👧‍👦 🏳️‍🌈 🇬🇧🇫🇷 1️⃣ ❤️‍🔥 🤖→💸",
    # whitespace runs
    "a    b\t\t\tc\n\n\n\nd\r\n\r\ne \u00a0\u00a0f\u2003g\u3000h   \n   \n",
    " " * 37 + "\n" * 9 + "\t" * 5,
    "trailing spaces   ",
    # special-token look-alikes and markup
    "<|endoftext|> <|endofprompt|> <|im_start|>user\nhi<|im_end|> <|fim_prefix|><|fim_suffix|>",
    "<|start|>assistant<|channel|>final<|message|>ok<|return|> <|reserved_200000|>",
    "<s>[INST] <<SYS>>\nYou are\n<</SYS>> [/INST]</s> <think></think>",
    # numbers, punctuation, odd mixtures
    "1234567890 3.14159 -0.0001 1e-9 $1,234.56 ¥5000 €12,50 100% ±3σ",
    "!!!??? ... --- *** ___ ### ((([[[{{{}}}]]]))) '''\"\"\"",
    "mixedCASEIdentifiers_with_snake_and_kebab-case and ALLCAPS'S and Don'T",
    "\u0301\u0301 combining marks: e\u0301 a\u0308 \u200b\u200c\u200d zero widths \ufeff bom",
    "",
    "a",
    "antidisestablishmentarianism " * 20,
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Stock tiktoken's o200k_base, read from a private cache seeded with the converted file."""
    import tiktoken
    import tiktoken.registry

    folder = tmp_path_factory.mktemp("tiktoken-cache")
    (folder / encodings.cache_file_name("o200k_base")).write_bytes(
        encodings.tiktoken_file("o200k_base")
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
        patch.delitem(tiktoken.registry.ENCODINGS, "o200k_base", raising=False)
        yield tiktoken.get_encoding("o200k_base")
        tiktoken.registry.ENCODINGS.pop("o200k_base", None)


def test_the_converted_vocabulary_is_byte_for_byte_tiktokens_file() -> None:
    data = encodings.tiktoken_file("o200k_base")
    assert hashlib.sha256(data).hexdigest() == O200K_SHA256
    lines = data.splitlines()
    assert len(lines) == 199_998
    assert lines[0] == b"IQ== 0" and lines[-1].endswith(b" 199997")


def test_costlab_uses_tiktokens_pattern_and_special_tokens(reference: Any) -> None:
    ours = encodings.load("o200k_base").encoding
    assert ours._pat_str == reference._pat_str
    assert ours._special_tokens == reference._special_tokens
    assert ours.n_vocab == reference.n_vocab == 200_019


def test_counts_equal_tiktokens_own_o200k_on_a_varied_corpus(reference: Any) -> None:
    import quicktok

    ours = encodings.load("o200k_base")
    other = quicktok.get_encoding("o200k_base")
    for text in CORPUS:
        expected = reference.encode_ordinary(text)
        assert ours.ids([text]) == [expected], text
        assert list(other.encode_ordinary(text)) == expected, text
    assert ours.count(CORPUS) == [len(reference.encode_ordinary(t)) for t in CORPUS]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200))
def test_counts_equal_tiktokens_own_o200k_on_any_text(reference: Any, text: str) -> None:
    ours = encodings.load("o200k_base")
    assert ours.ids([text]) == [reference.encode_ordinary(text)]


@pytest.fixture
def damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Path]]:
    """Makes a damaged copy of the packaged vocabulary, in a package of its own on sys.path."""

    def make(how: str) -> Path:
        source = encodings.packaged_file("o200k_base")
        assert source is not None
        raw = bytearray(source.read_bytes())
        if how == "swap":  # "!" (rank 0, bytes 7:11) and '"' (rank 1, bytes 14:18) trade ranks
            raw[7:11], raw[14:18] = raw[14:18], raw[7:11]
        else:
            raw = raw[: len(raw) // 2]
        folder = tmp_path / "fakevocab" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / "o200k.vocab").write_bytes(bytes(raw))
        monkeypatch.syspath_prepend(str(tmp_path))
        entry = ("fakevocab", "data/o200k.vocab", "quicktok-v1")
        monkeypatch.setitem(encodings._PACKAGED, "o200k_base", entry)
        _clear()
        return folder / "o200k.vocab"

    yield make
    _clear()


def _clear() -> None:
    encodings.load.cache_clear()
    encodings._packaged.cache_clear()


def test_the_wrong_rank_for_one_token_fails_the_checksum(damaged: Callable[[str], Path]) -> None:
    path = damaged("swap")
    with pytest.raises(BadInput) as err:
        encodings.load("o200k_base")
    assert str(path) in err.value.message and "sha256" in err.value.message
    assert "never downloads" in err.value.hint


def test_a_damaged_vocabulary_is_an_error_naming_it_exit_2_never_a_fallback(
    damaged: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    damaged("truncate")
    (tmp_path / "p.txt").write_text("Summarise this.")
    monkeypatch.chdir(tmp_path)
    result = cli("tokens", "update", "p.txt", "--model", "gpt-4o")
    assert result.exit_code == 2
    assert "fakevocab" in result.output and "o200k_base vocabulary" in result.output
    assert not (tmp_path / "costlab-tokens.json").exists()
    with pytest.raises(BadInput):  # nor does the estimate step in for a model that has o200k
        encodings.counter("gpt-4o")
