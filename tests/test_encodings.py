"""Offline tiktoken encodings: exact counts, model resolution, estimates, and clear errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from costlab import encodings
from costlab.errors import BadInput

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def test_cl100k_counts_match_known_values() -> None:
    # Known cl100k_base ids: "hello world" = [15339, 1917], "tiktoken is great!" has 6 tokens.
    tokenizer = encodings.load("cl100k_base")
    assert tokenizer.encoding.encode_ordinary("hello world") == [15339, 1917]
    assert tokenizer.count(["hello world", "tiktoken is great!", ""]) == [2, 6, 0]


def test_special_token_markers_in_a_template_count_as_text() -> None:
    assert encodings.load("cl100k_base").count(["<|endoftext|>"]) == [7]


def test_models_map_to_their_encodings() -> None:
    assert encodings.encoding_for_model("gpt-4") == "cl100k_base"
    assert encodings.encoding_for_model("gpt-3.5-turbo-0125") == "cl100k_base"
    assert encodings.encoding_for_model("gpt-4o-2024-08-06") == "o200k_base"


def test_a_model_without_an_encoding_costlab_counts_has_none() -> None:
    assert encodings.encoding_for_model("claude-3-5-sonnet") is None
    assert encodings.encoding_for_model("text-davinci-003") is None  # p50k_base


def test_a_model_is_counted_exactly_with_its_own_encoding() -> None:
    counter = encodings.counter("gpt-4")
    assert (counter.encoding, counter.exact) == ("cl100k_base", True)
    assert counter.count("hello world") == 2


def test_without_its_own_encoding_a_model_is_estimated_with_cl100k() -> None:
    for model in ("claude-3-5-sonnet", "gemini-2.5-pro"):
        counter = encodings.counter(model)
        assert (counter.encoding, counter.exact) == ("cl100k_base", False), model
        assert counter.count("hello world") == 2


def test_openai_models_of_today_are_counted_exactly_with_o200k_out_of_the_box() -> None:
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "o3", "o4-mini", "openai/gpt-4o"):
        counter = encodings.counter(model)
        assert (counter.encoding, counter.exact) == ("o200k_base", True), model
    assert encodings.encoding_for_model("gpt-oss-120b") == "o200k_base"  # harmony: same ranks


def test_an_unknown_encoding_is_bad_input() -> None:
    with pytest.raises(BadInput, match="unknown encoding 'p50k'"):
        encodings.load("p50k")


def test_o200k_is_found_by_tiktokens_cache_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    name = hashlib.sha1(O200K_URL.encode()).hexdigest()
    assert encodings.cache_file("o200k_base") == tmp_path / name


@pytest.fixture
def without_packaged_o200k(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if quicktok-v1 were not installed: o200k_base only from tiktoken's cache."""
    monkeypatch.setitem(encodings._PACKAGED, "o200k_base", ("no_such_pkg", "x", "quicktok-v1"))
    encodings.load.cache_clear()
    yield
    encodings.load.cache_clear()


@pytest.mark.usefixtures("without_packaged_o200k")
def test_without_the_package_a_missing_o200k_file_is_a_clear_error_not_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert not encodings.counter("gpt-4o").exact
    with pytest.raises(BadInput) as err:
        encodings.load("o200k_base")
    assert "o200k_base tokenizer is not available offline" in err.value.message
    assert str(encodings.cache_file("o200k_base")) in err.value.message
    assert "TIKTOKEN_CACHE_DIR" in err.value.hint and "ever downloaded" in err.value.hint


@pytest.mark.usefixtures("without_packaged_o200k")
def test_a_damaged_o200k_file_is_refused_before_tiktoken_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    path = encodings.cache_file("o200k_base")
    assert path is not None
    path.write_text("not a vocabulary")
    with pytest.raises(BadInput, match="sha256 differs"):
        encodings.load("o200k_base")
    assert path.read_text() == "not a vocabulary"  # tiktoken would have deleted and re-fetched


@pytest.mark.usefixtures("without_packaged_o200k")
def test_with_caching_off_and_no_package_o200k_is_not_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(BadInput, match="caching is off"):
        encodings.load("o200k_base")


def test_seeding_puts_the_offline_cl100k_file_where_tiktoken_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    encodings.seed_cl100k()
    path = encodings.cache_file("cl100k_base")
    assert path is not None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest.startswith("223921b76ee99bde")  # tiktoken's own hash check passes
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_o200k_counts_match_known_values() -> None:
    # Known o200k_base ids, written down independently of the conversion under test.
    tokenizer = encodings.load("o200k_base")
    assert tokenizer.encoding.encode_ordinary("hello world") == [24912, 2375]
    assert tokenizer.encoding.encode_ordinary("Hello, world!") == [13225, 11, 2375, 0]
    assert tokenizer.count(["<|endoftext|>"]) == [7]  # a marker in text is text
