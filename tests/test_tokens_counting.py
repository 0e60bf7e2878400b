"""Exact counts with offline tiktoken encodings, and clear errors for one that is not here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from costlab.errors import BadInput
from costlab.tokens import counting

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def test_cl100k_counts_match_known_values() -> None:
    # Known cl100k_base ids: "hello world" = [15339, 1917], "tiktoken is great!" has 6 tokens.
    tokenizer = counting.load("cl100k_base")
    assert tokenizer.encoding.encode_ordinary("hello world") == [15339, 1917]
    assert tokenizer.count(["hello world", "tiktoken is great!", ""]) == [2, 6, 0]


def test_special_token_markers_in_a_template_count_as_text() -> None:
    assert counting.load("cl100k_base").count(["<|endoftext|>"]) == [7]


def test_models_map_to_their_encodings() -> None:
    assert counting.encoding_for_model("gpt-4") == "cl100k_base"
    assert counting.encoding_for_model("gpt-3.5-turbo-0125") == "cl100k_base"
    assert counting.encoding_for_model("gpt-4o-2024-08-06") == "o200k_base"


def test_a_model_without_a_known_encoding_says_how_to_count_it() -> None:
    with pytest.raises(BadInput) as err:
        counting.encoding_for_model("claude-3-5-sonnet")
    assert "claude-3-5-sonnet" in err.value.message
    assert 'encoding = "cl100k_base"' in err.value.hint


def test_an_unknown_encoding_is_bad_input() -> None:
    with pytest.raises(BadInput, match="unknown encoding 'p50k'"):
        counting.load("p50k")


def test_o200k_is_found_by_tiktokens_cache_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    name = hashlib.sha1(O200K_URL.encode()).hexdigest()
    assert counting.cache_file("o200k_base") == tmp_path / name


def test_a_missing_o200k_file_is_a_clear_error_not_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counting.load.cache_clear()
    with pytest.raises(BadInput) as err:
        counting.load("o200k_base")
    assert "o200k_base tokenizer is not available offline" in err.value.message
    assert str(counting.cache_file("o200k_base")) in err.value.message
    assert "TIKTOKEN_CACHE_DIR" in err.value.hint and "ever downloaded" in err.value.hint


def test_a_damaged_o200k_file_is_refused_before_tiktoken_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counting.load.cache_clear()
    path = counting.cache_file("o200k_base")
    assert path is not None
    path.write_text("not a vocabulary")
    with pytest.raises(BadInput, match="sha256 differs"):
        counting.load("o200k_base")
    assert path.read_text() == "not a vocabulary"  # tiktoken would have deleted and re-fetched


def test_with_caching_off_o200k_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    counting.load.cache_clear()
    with pytest.raises(BadInput, match="caching is off"):
        counting.load("o200k_base")


def _o200k_available() -> bool:
    path = counting.cache_file("o200k_base")
    return path is not None and path.is_file()


@pytest.mark.skipif(not _o200k_available(), reason="o200k_base is not in tiktoken's cache here")
def test_o200k_counts_match_known_values() -> None:
    counting.load.cache_clear()
    tokenizer = counting.load("o200k_base")
    assert tokenizer.encoding.encode_ordinary("hello world") == [24912, 2375]
